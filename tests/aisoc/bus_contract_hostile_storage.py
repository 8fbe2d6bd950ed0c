"""The bus contract under storage written by a bad actor or a broken disk, part two: stored types no
release has, payloads of a future schema, huge entries. ``BusContract`` includes it; each backend's
test class writes with ``inject_raw`` (straight into its storage, no bus API in between)."""

from __future__ import annotations

import json
import logging

import pytest

from aisoc import Bus
from tests.aisoc.bus_contract_events import alert_event


class StorageHostileContract:
    """What a group does with entries no release of the bus would write."""

    def inject_raw(self, bus: Bus, stream: str, event_type: str, payload: bytes | None) -> None:
        raise NotImplementedError

    def test_an_entry_stored_under_no_known_type_is_dead_lettered_by_each_group_never_skipped(
        self, bus: Bus
    ) -> None:
        """Given entries stored under types no release has (garbage, a newer release's type) with a
        good alert as payload, ahead of a good alert, when Sentinel (types=alert.received) and Tier 2
        (another type on the same stream) consume, then each group files each as a dead letter
        naming the stored type (before, a group that filters by type acked them silently: an alert
        behind a typo in 't' was lost for every role), the good alert is delivered, and nothing
        is left pending."""
        hidden = alert_event(1)
        self.inject_raw(bus, "alerts", "alert.recieved", hidden.to_json().encode())
        self.inject_raw(bus, "alerts", "alert.received.v9", hidden.to_json().encode())
        good = alert_event(2)
        bus.publish(good)
        got = bus.consume("sentinel", "s", types=["alert.received"], count=10)
        assert [d.event.event_id for d in got] == [good.event_id]
        got[0].ack()
        assert bus.consume("tier2", "t", types=["triage.verdict"], streams=["alerts"], count=10) == []
        letters = bus.dead_letters()
        assert sorted((dl.group, dl.event_type) for dl in letters) == [
            ("sentinel", "alert.received.v9"),
            ("sentinel", "alert.recieved"),
            ("tier2", "alert.received.v9"),
            ("tier2", "alert.recieved"),
        ]
        assert {dl.reason for dl in letters} == {
            "cannot decode: stored as 'alert.recieved', which is no event type of this release",
            "cannot decode: stored as 'alert.received.v9', which is no event type of this release",
        }
        assert all(dl.payload == hidden.to_json() for dl in letters)
        assert all(g.pending == 0 for s in bus.stats().streams for g in s.groups)

    def test_an_event_of_a_future_schema_version_is_dead_lettered_and_the_group_moves_on(
        self, bus: Bus
    ) -> None:
        """Given an alert whose payload says a schema version newer than this code (a newer release
        wrote it), ahead of a good alert, when Sentinel consumes, then the good alert is delivered and
        the newer one is a dead letter saying to upgrade, its payload kept as written."""
        newer = json.loads(alert_event(1).to_json())
        newer["schema_version"] = 99
        text = json.dumps(newer)
        self.inject_raw(bus, "alerts", "alert.received", text.encode())
        good = alert_event(2)
        bus.publish(good)
        (d,) = bus.consume("sentinel", "s", types=["alert.received"], count=10)
        assert d.event == good
        d.ack()
        (letter,) = bus.dead_letters()
        assert "schema_version': 99 is newer than this code" in letter.reason
        assert "upgrade aisoc" in letter.reason and letter.payload == text
        assert bus.consume("sentinel", "s", types=["alert.received"], count=10) == []

    def test_a_huge_garbage_entry_is_dead_lettered_whole_and_the_group_moves_on(self, bus: Bus) -> None:
        """Given a 6 MB entry that is not an event (what a runaway bridge writes) ahead of a good
        alert, when Sentinel consumes, then the good alert is delivered and the huge entry is one dead
        letter holding every byte of it."""
        huge = b'{"type": "alert.received", "junk": "' + b"x" * 6_000_000 + b'"}'
        self.inject_raw(bus, "alerts", "alert.received", huge)
        good = alert_event(2)
        bus.publish(good)
        (d,) = bus.consume("sentinel", "s", types=["alert.received"], count=10)
        assert d.event == good
        d.ack()
        (letter,) = bus.dead_letters()
        assert letter.reason.startswith("cannot decode: alert.received: field")
        assert letter.payload is not None and letter.payload.encode() == huge

    def test_a_stream_no_group_reads_is_trimmed_to_its_newest_entries(self) -> None:
        """Given a bound of four entries for a stream no group reads, when ten alerts wait on it and
        the bus trims, then the six oldest go (before, a stream without a group was never trimmed and
        grew until Redis ran out of memory), a group that starts reading gets the newest four, and
        from then on the group's floor, not the bound, decides: nothing it has not acked is trimmed."""
        bus = self.create_bus(trim_every=0, ungrouped_max_len=4)
        try:
            alerts = [alert_event(i) for i in range(10)]
            for a in alerts:
                bus.publish(a)
            assert bus.trim() == 6 and bus.trim() == 0
            got = bus.consume("sentinel", "s", types=["alert.received"], count=10)
            assert [d.event for d in got] == alerts[6:]
            for a in [alert_event(i) for i in range(10, 20)]:
                bus.publish(a)
            assert bus.trim() == 0  # the group has acked nothing: everything stays
            bus.ack_many(got)
            assert bus.trim() == 4
            assert len(bus.consume("sentinel", "s", types=["alert.received"], count=20)) == 10
            assert len(bus.audit) == 20  # the audit log keeps every event whatever the bound
        finally:
            bus.close()

    def test_waiting_entries_of_types_a_new_reader_no_longer_reads_are_settled_at_its_first_read(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Given 40 alerts waiting for the group's model (in two runs of the stream, with other
        entries between them) and a deploy after which the group reads only verdicts on the same
        streams, when a reader of the new subscription first reads, then every waiting alert is acked
        with its record (one WARNING naming their types) and a verdict published meanwhile is
        delivered; a reader that still reads alerts settles nothing."""
        from tests.aisoc.bus_contract_events import verdict_for

        bus = self.create_bus(retry_base_s=3600, retry_max_s=3600)
        try:
            alerts = [alert_event(i) for i in range(60)]
            bus.publish_many(alerts)
            batch = bus.consume("g", "old", types=["alert.received"], count=60)
            for n, d in enumerate(batch):
                if n < 20 or n >= 40:
                    d.retry_later("model unreachable")
                else:
                    d.ack()
            verdict = verdict_for(alert_event(999))
            bus.publish(verdict)
            both = bus.consume("g", "still", types=["alert.received", "triage.verdict"])
            assert [d.event for d in both] == [verdict] and len(bus.waiting("g")) == 40
            both[0].release()
            with caplog.at_level(logging.WARNING):
                got = bus.consume("g", "new", types=["triage.verdict"], streams=["alerts", "cases"])
            assert [d.event for d in got] == [verdict]
            assert bus.waiting("g") == []
            assert (
                "g: 40 waiting entries of alerts acked: the group no longer reads their types" in caplog.text
            )
        finally:
            bus.close()

    def test_a_dead_letter_replayed_without_a_type_is_routed_by_its_payload(self, bus: Bus) -> None:
        """Given a bad input filed without an event type whose payload is a good alert (corrected by
        hand), and a bridge's injected payload of unknown type, when the letter is replayed and
        Sentinel consumes by type, then both alerts are delivered (before, both were stored as type
        'unknown' and acked silently by every group that reads by type)."""
        fixed, bridged = alert_event(1), alert_event(2)
        letter = bus.dead_letter("could not normalize", fixed.to_json(), stream="alerts", group="sentinel")
        assert bus.consume("sentinel", "s", types=["alert.received"]) == []
        bus.replay_dead_letter(letter)
        bus.inject("alerts", bridged.to_json())
        got = bus.consume("sentinel", "s", types=["alert.received"], count=10)
        assert [d.event for d in got] == [fixed, bridged]
        bus.ack_many(got)
        assert bus.dead_letters() == []
