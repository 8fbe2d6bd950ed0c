"""The bus contract under hostile input: unvalidated events, raw garbage written straight into a
backend's storage, retries, starvation and expiry. ``BusContract`` includes it; each backend's test
class implements ``inject_raw`` by writing to its storage directly (no bus API in between)."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from aisoc import Bus, events
from aisoc.bus import Delivery
from aisoc.errors import BusError, ContractError
from tests.aisoc.bus_contract_events import HUMAN, SENTINEL, alert_event, paused, verdict_for

GARBAGE = b'\xff\xfe{"type": "alert.received"}\x80'
"""Bytes that are not UTF-8: what a broken bridge or a disk error leaves behind."""


def closed(cause: events.Event) -> events.CaseClosed:
    return events.CaseClosed(
        disposition="benign",
        reason="r",
        closed_by={"role": "sentinel"},
        case_id=cause.case_id,
        produced_by=SENTINEL,
    )


class HostileContract:
    """Semantics every backend keeps when what it is given, or what it stores, is broken."""

    def create_bus(self, **options: object) -> Bus:
        raise NotImplementedError

    def inject_raw(self, bus: Bus, stream: str, event_type: str, payload: bytes | None) -> None:
        """Write an entry straight into the backend's storage (None: no payload at all)."""
        raise NotImplementedError

    def inject_targeted(self, bus: Bus, stream: str, event: events.Event, group: str) -> None:
        """Write a work entry for one consumer group only (what a dead-letter replay writes)."""
        raise NotImplementedError

    def written(self, bus: Bus) -> int:
        return len(bus.audit) + sum(s.length for s in bus.stats().streams if s.name != "audit")

    # --- validation at the door -------------------------------------------------------------------

    def test_publish_refuses_events_built_without_validation(self, bus: Bus) -> None:
        """Given events that skipped validation (model_copy, model_construct, a field set after
        validation, a bare envelope, a dict, None), when published, then a ContractError names the
        field and nothing is written."""
        good = alert_event(1)
        bad_verdict = verdict_for(good).model_copy(update={"verdict": "nonsense"})
        tampered = verdict_for(good)
        object.__setattr__(tampered, "confidence", 7.0)  # changed after validation, in place
        cases = [
            (tampered, "field 'confidence'"),
            (bad_verdict, "field 'verdict'"),
            (events.TriageVerdict.model_construct(case_id="jsonl:1"), "field 'produced_by'"),
            (events.Event(produced_by=HUMAN), "not a registered event type"),
            (good.model_copy(update={"type": "triage.verdict"}), "field 'type'"),
            ({"type": "alert.received"}, "expected an event, got dict"),
            (None, "expected an event, got NoneType"),
        ]
        for event, message in cases:
            with pytest.raises(ContractError, match=message):
                bus.publish(event)  # type: ignore[arg-type]
        with pytest.raises(ContractError, match=r"events\[1\]: .*field 'verdict'"):
            bus.publish_many([good, bad_verdict], once=("sentinel", good.event_id))
        assert self.written(bus) == 0 and not bus.seen("sentinel", good.event_id)

    # --- poison never blocks --------------------------------------------------------------------

    def test_raw_garbage_in_storage_is_dead_lettered_and_the_group_moves_on(self, bus: Bus) -> None:
        """Given bytes that are not UTF-8, an entry without payload and an entry whose payload is
        another type than the stored one, written straight into storage ahead of a good alert, when
        the group consumes, then the good alert arrives and each bad entry is in the DLQ with its
        reason (raw bytes as base64); none of them can be replayed."""
        verdict = verdict_for(alert_event(0))
        self.inject_raw(bus, "alerts", "alert.received", GARBAGE)
        self.inject_raw(bus, "alerts", "alert.received", None)
        self.inject_raw(bus, "alerts", "alert.received", verdict.to_json().encode())
        good = alert_event(2)
        bus.publish(good)
        got = bus.consume("sentinel", "s", types=["alert.received"], count=10)
        assert [d.event.event_id for d in got] == [good.event_id]
        letters = bus.dead_letters()
        assert [dl.reason for dl in letters] == [
            "cannot decode: the payload is not UTF-8 text",
            "cannot decode: the entry has no payload",
            "cannot decode: stored as 'alert.received' but the payload is 'triage.verdict'",
        ]
        raw = letters[0]
        assert raw.encoding == "base64" and base64.b64decode(raw.payload or "") == GARBAGE
        assert letters[1].payload is None and letters[2].payload == verdict.to_json()
        assert [dl.event_id for dl in letters] == [None, None, None]  # none is the entry's event
        assert all(dl.group == "sentinel" and dl.stream == "alerts" for dl in letters)
        for dl in letters[:2]:
            with pytest.raises(BusError, match="no text payload to replay"):
                bus.replay_dead_letter(dl.id)
        assert bus.consume("sentinel", "s", types=["alert.received"], count=10) == []

    def test_an_entry_for_a_group_that_does_not_exist_is_dead_lettered_not_lost(self, bus: Bus) -> None:
        """Given two groups on the alerts stream and, written around the bus, an alert for a group
        that does not exist and one for Tier 2's group, when both groups consume, then Tier 2 gets
        its alert, each group dead-letters the other with a reason naming the 'g' field, and the
        replayed letter reaches its group."""
        for group in ("sentinel", "tier2"):
            assert bus.consume(group, "c", types=["alert.received"]) == []
        lost, mine = alert_event(1), alert_event(2)
        self.inject_targeted(bus, "alerts", lost, "ghost")
        self.inject_targeted(bus, "alerts", mine, "tier2")
        assert bus.consume("sentinel", "s", types=["alert.received"], count=10) == []
        (d,) = bus.consume("tier2", "t", types=["alert.received"], count=10)
        assert d.event == mine
        d.ack()
        letters = bus.dead_letters()
        assert sorted(dl.group for dl in letters) == ["sentinel", "tier2"]
        assert {dl.reason for dl in letters} == {
            "cannot deliver: the entry's 'g' field names no consumer group of alerts: 'ghost'"
        }
        assert all(dl.event_type == "alert.received" for dl in letters)
        bus.replay_dead_letter(next(dl.id for dl in letters if dl.group == "sentinel"))
        (again,) = bus.consume("sentinel", "s", types=["alert.received"], count=10)
        assert again.event == lost
        assert bus.consume("tier2", "t", types=["alert.received"], count=10) == []

    def test_garbage_of_another_type_is_skipped_by_groups_that_do_not_want_it(self, bus: Bus) -> None:
        """Given garbage stored under a type a group does not consume, the group acks it silently and
        its wanted events flow; read() skips what does not decode."""
        self.inject_raw(bus, "cases", "case.closed", GARBAGE)
        cause = alert_event(1)
        bus.publish(verdict_for(cause))
        (d,) = bus.consume("tier2", "t", types=["triage.verdict"], count=10)
        d.ack()
        assert bus.dead_letters() == []
        assert [e.event.type for e in bus.read("cases")] == ["triage.verdict"]

    def test_large_events_round_trip_exactly_everywhere(self, bus: Bus) -> None:
        """Given an alert with a 20 KB raw record (stored compressed where the backend does), it
        reads back equal from its group, the audit log, the case index and read()."""
        big = alert_event(9)
        big = type(big).model_validate(
            {
                **big.to_dict(),
                "alert": {**big.alert.model_dump(mode="json"), "raw": {"blob": "x" * 20_000, "n": 9}},
            }
        )
        bus.publish(big)
        (d,) = bus.consume("g", "c", types=["alert.received"])
        assert d.event == big
        assert list(bus.audit) == [big] and bus.audit.for_case(big.case_id or "") == [big]
        assert [e.event for e in bus.read("alerts")] == [big]
        only = bus.audit.last_id()
        assert only == bus.audit.first_id() and only is not None and len(bus.audit) == 1
        assert {s.name: s.length for s in bus.stats().streams}["alerts"] == 1

    # --- exactly-once under retries -------------------------------------------------------------

    def test_publishing_an_event_again_writes_nothing(self, bus: Bus) -> None:
        """Given a publish retried with the same event (a lost reply, an ingest run repeated), the
        second call returns the first entry id and the log holds the event once."""
        a, b = alert_event(1), alert_event(2)
        first = bus.publish(a)
        assert bus.publish(a) == first
        assert bus.publish_many([b, paused()]) and bus.publish_many([b, paused()])
        assert [e.event_id for e in bus.audit][:2] == [a.event_id, b.event_id]
        assert len(bus.audit) == 3  # a, b and the control event of the first call only

    def test_a_wanted_event_behind_many_others_is_never_starved(self, bus: Bus) -> None:
        """Given a wanted type behind more than ``count`` entries of other types on one stream, a
        non-blocking consume still returns it, and drain() delivers it."""
        cause = alert_event(1)
        for _ in range(25):
            bus.publish(closed(cause))
        bus.publish(verdict_for(cause))
        (d,) = bus.consume("tier2", "t", types=["triage.verdict"], count=10, block_ms=0)
        d.ack()
        bus.publish(verdict_for(alert_event(2)))
        for _ in range(25):
            bus.publish(closed(cause))
        bus.publish(verdict_for(alert_event(3)))
        got: list[Delivery] = []
        bus.subscribe("tier2b", lambda d: (got.append(d), d.ack()), types=["triage.verdict"], count=5)
        bus.drain()
        assert len(got) == 3

    # --- bounded state --------------------------------------------------------------------------

    def test_idempotency_marks_expire_with_the_retention(self) -> None:
        """Given a mark retention of one second, a mark (and a publish's event id) is forgotten after
        it: seen() says False and publish_many(once=...) runs again; trim() purges them."""
        bus = self.create_bus(mark_ttl_s=1)
        try:
            cause = alert_event(1)
            assert bus.publish_many([verdict_for(cause)], once=("sentinel", cause.event_id))
            bus.publish(cause)
            time.sleep(1.2)
            assert not bus.seen("sentinel", cause.event_id)
            assert bus.publish_many([verdict_for(cause)], once=("sentinel", cause.event_id))
            bus.publish(cause)  # the publish's own mark expired too: written again
            assert len(bus.audit) == 4
            bus.trim()
        finally:
            bus.close()

    def test_trim_audit_takes_the_cases_index_with_it(self, bus: Bus) -> None:
        """Given a case with events before and after a retention cut, for_case returns only the
        events still in the log."""
        cause = alert_event(1)
        bus.publish(cause)
        bus.publish(verdict_for(cause))
        later = closed(cause)
        bus.publish(later)
        ids = [x.id for x in bus.audit.entries()]
        bus.trim_audit(ids[1])
        assert [e.event_id for e in bus.audit.for_case(cause.case_id or "")] == [later.event_id]


class RawAuditContract:
    """For a backend whose storage holds bytes (SQLite, Redis): a broken audit entry written around
    the bus (the in-memory bus stores event objects and cannot hold one)."""

    def inject_raw_audit(self, bus: Bus, event_type: str, payload: bytes | None, case_id: str) -> None:
        """Write an audit entry straight into storage, indexed under ``case_id``."""
        raise NotImplementedError

    # --- poison in the audit log ------------------------------------------------------------------

    def test_a_broken_audit_entry_is_skipped_by_every_reader_and_kept(self, bus: Bus) -> None:
        """Given an audit entry that is not UTF-8 and one that is not an event, written straight into
        storage between good events (and indexed under a case), when the log is read (whole, in pages
        of one, per case) and memory folds it, then every good event is read, memory knows the later
        case, and the broken entries stay in the log."""
        from aisoc.memory import Memory

        first, later = alert_event(1), alert_event(2)
        verdict = verdict_for(first)
        bus.publish(first)
        self.inject_raw_audit(bus, "alert.received", GARBAGE, first.case_id or "")
        self.inject_raw_audit(bus, "triage.verdict", b'{"not": "an event"}', first.case_id or "")
        bus.publish(verdict)
        bus.publish(later)
        good = [first.event_id, verdict.event_id, later.event_id]
        assert [e.event_id for e in bus.audit] == good
        paged, cursor = [], None
        while page := list(bus.audit.entries(since=cursor, limit=1)):
            paged.append(page[0].event.event_id)
            cursor = page[0].id
        assert paged == good
        assert [e.event_id for e in bus.audit.for_case(first.case_id or "")] == good[:2]
        mem = Memory(bus.audit)
        assert mem.refresh() == 3 and mem.case_file(later.case_id or "").alert == later.alert
        assert len(bus.audit) == 5  # the broken entries are the record: readers never remove them

    def test_a_broken_entry_at_the_end_of_the_log_is_passed_once_and_kept(self, bus: Bus) -> None:
        """Given a broken audit entry at the very end of the log (no good entry after it), when
        memory and the report feed refresh, then each moves its cursor past it
        (the next refresh reads nothing again), scan() shows it with its stored bytes, it stays in
        the log, and an event published later is folded."""
        from aisoc.memory import Memory
        from aisoc.runtime.feed import AuditFeed

        first = alert_event(1)
        bus.publish(first)
        self.inject_raw_audit(bus, "alert.received", GARBAGE, first.case_id or "")
        broken = bus.audit.last_id()
        mem, feed = Memory(bus.audit), AuditFeed(bus.audit)
        assert (mem.refresh(), feed.refresh()) == (1, 1)
        assert mem.cursor == feed.cursor == broken
        assert (mem.refresh(), feed.refresh()) == (0, 0) and mem.cursor == broken
        from aisoc.bus import BrokenEntry  # (after the cursors: what an older kernel fails first)

        (item,) = [x for x in bus.audit.scan() if isinstance(x, BrokenEntry)]
        assert (item.id, item.event_type, item.encoding) == (broken, "alert.received", "base64")
        assert base64.b64decode(item.payload or "") == GARBAGE
        assert len(bus.audit) == 2 and [e.event_id for e in bus.audit] == [first.event_id]
        later = alert_event(2)
        bus.publish(later)
        assert (mem.refresh(), feed.refresh()) == (1, 1)
        assert mem.case_file(later.case_id or "") is not None and mem.cursor == bus.audit.last_id()

    def test_retention_archives_broken_entries_as_stored_before_it_trims_them(
        self, bus: Bus, tmp_path: Path
    ) -> None:
        """Given good and broken audit entries interleaved, when retention keeps the newest two, then
        the archive holds every trimmed entry (the broken one with its stored bytes), the archive
        reader yields it, a restore takes the events, and what retention left is still in the log."""
        from aisoc import audit
        from aisoc.bus import AuditEntry, BrokenEntry

        first, second, newest = alert_event(1), alert_event(2), alert_event(3)
        bus.publish(first)
        self.inject_raw_audit(bus, "alert.received", GARBAGE, first.case_id or "")
        bus.publish(second)
        self.inject_raw_audit(bus, "triage.verdict", b'{"not": "an event"}', second.case_id or "")
        bus.publish(newest)
        result = audit.retain(bus, None, tmp_path, max_entries=2)
        assert result is not None and (result.count, result.unreadable) == (2, 1)
        archived = list(audit.read_archive(result.path))
        assert [type(x) for x in archived] == [AuditEntry, BrokenEntry, AuditEntry]
        broken = archived[1]
        assert isinstance(broken, BrokenEntry) and broken.event_type == "alert.received"
        assert broken.encoding == "base64" and base64.b64decode(broken.payload or "") == GARBAGE
        assert [e.event_id for e in audit.read_export(result.path)] == [first.event_id, second.event_id]
        assert len(bus.audit) == 2 and [e.event_id for e in bus.audit] == [newest.event_id]
        assert audit.restore(Bus(), result.path) == 2


class UntypedEntryContract:
    """For a backend whose work entries may lack a type field (Redis; SQLite's schema requires one)."""

    def inject_untyped(self, bus: Bus, stream: str, payload: bytes) -> None:
        """Write a work entry that carries no event type at all."""
        raise NotImplementedError

    def test_an_entry_without_a_type_is_delivered_by_its_payload_or_dead_lettered(self, bus: Bus) -> None:
        """Given a good alert and a garbage entry stored without an event type (written around the
        bus), when Sentinel's group and Tier 2's group consume, then Sentinel gets the alert, Tier 2
        acks it as another type, and the garbage is a dead letter of each group (never acked
        silently)."""
        untyped = alert_event(1)
        self.inject_untyped(bus, "alerts", untyped.to_json().encode())
        self.inject_untyped(bus, "alerts", b"{not json")
        (d,) = bus.consume("sentinel", "s", types=["alert.received"])
        assert d.event == untyped
        d.ack()
        assert bus.consume("tier2", "t", types=["triage.verdict"], streams=["alerts"]) == []
        letters = bus.dead_letters()
        assert sorted(dl.group for dl in letters) == ["sentinel", "tier2"]
        assert all(dl.reason.startswith("cannot decode: payload is not valid JSON") for dl in letters)
        assert bus.consume("sentinel", "s", types=["alert.received"]) == []
