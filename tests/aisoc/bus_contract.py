"""One contract for every bus backend: subclass ``BusContract`` and implement ``create_bus``."""

from __future__ import annotations

import threading
import time

import pytest

from aisoc import Bus, events
from aisoc.bus import Delivery, id_key
from aisoc.errors import BusError
from tests.aisoc.bus_contract_events import HUMAN, SENTINEL, alert_event, paused, verdict_for
from tests.aisoc.bus_contract_groups import GroupsContract
from tests.aisoc.bus_contract_hostile import HostileContract
from tests.aisoc.bus_contract_hostile_storage import StorageHostileContract
from tests.aisoc.bus_contract_waiting import WaitingContract
from tests.aisoc.bus_contract_waiting_settle import WaitingSettleContract
from tests.aisoc.bus_contract_waiting_unwanted import WaitingUnwantedContract

__all__ = ["HUMAN", "SENTINEL", "BusContract", "alert_event", "paused", "verdict_for"]


class BusContract(
    HostileContract,
    StorageHostileContract,
    WaitingContract,
    WaitingSettleContract,
    WaitingUnwantedContract,
    GroupsContract,
):
    """Semantics every backend must share (memory, SQLite, Redis, Redis Cluster)."""

    visibility_timeout_ms = 200

    def create_bus(self, **options: object) -> Bus:
        raise NotImplementedError

    @pytest.fixture
    def bus(self) -> Bus:
        bus = self.create_bus(visibility_timeout_ms=self.visibility_timeout_ms)
        yield bus
        bus.close()

    # --- publish and audit ----------------------------------------------------------------------

    def test_publish_routes_by_type_and_mirrors_to_audit(self, bus: Bus) -> None:
        """Given events of two streams, when published, then each lands on its stream and in audit."""
        a, p = alert_event(1), paused()
        bus.publish(a)
        bus.publish(p)
        stats = {s.name: s.length for s in bus.stats().streams}
        assert stats["alerts"] == 1 and stats["control"] == 1 and stats["audit"] == 2
        assert [e.event_id for e in bus.audit] == [a.event_id, p.event_id]

    def test_events_round_trip_exactly(self, bus: Bus) -> None:
        """An event read back from the bus equals the one published, field for field."""
        a = alert_event(7)
        bus.publish(a)
        (d,) = bus.consume("g", "c", types=["alert.received"])
        assert d.event == a and d.event.to_dict() == a.to_dict()
        assert next(iter(bus.audit)).to_dict() == a.to_dict()

    def test_audit_cursor_since_and_for_case(self, bus: Bus) -> None:
        """audit.since(cursor) yields only later entries; for_case filters by case; ids are monotonic."""
        evs = [alert_event(i) for i in range(5)]
        for e in evs:
            bus.publish(e)
        entries = list(bus.audit.entries())
        ids = [e.id for e in entries]
        assert ids == sorted(ids, key=id_key) and len(set(ids)) == 5
        later = list(bus.audit.since(ids[1]))
        assert [x.event.event_id for x in later] == [e.event_id for e in evs[2:]]
        assert list(bus.audit.since(ids[-1])) == []
        assert [e.event_id for e in bus.audit.for_case(evs[3].case_id or "")] == [evs[3].event_id]
        assert bus.audit.last_id() == ids[-1] and bus.audit.first_id() == ids[0]
        assert len(bus.audit) == 5 and bus.audit.epoch == bus.audit.epoch

    # --- exactly-once effects -------------------------------------------------------------------

    def test_publish_many_with_mark_is_all_or_nothing(self, bus: Bus) -> None:
        """Given a mark already written, publish_many publishes nothing and returns False."""
        cause = alert_event(1)
        first = [verdict_for(cause), paused()]
        assert not bus.seen("sentinel", cause.event_id)
        assert bus.publish_many(first, once=("sentinel", cause.event_id)) is True
        assert bus.seen("sentinel", cause.event_id)
        assert bus.publish_many([verdict_for(cause)], once=("sentinel", cause.event_id)) is False
        assert [e.event_id for e in bus.audit] == [e.event_id for e in first]
        assert not bus.seen("tier2", cause.event_id)

    def test_publish_many_without_events_still_writes_the_mark(self, bus: Bus) -> None:
        """A handler that returns nothing still records that it ran."""
        assert bus.publish_many([], once=("sentinel", "e1")) is True
        assert bus.seen("sentinel", "e1") and len(bus.audit) == 0

    # --- delivery -------------------------------------------------------------------------------

    def test_every_group_reads_the_whole_stream(self, bus: Bus) -> None:
        """Two groups on one stream each receive every event."""
        for i in range(3):
            bus.publish(alert_event(i))
        for group in ("a", "b"):
            got = bus.consume(group, f"{group}-1", types=["alert.received"], count=10)
            assert len(got) == 3
            bus.ack_many(got)

    def test_types_filter_acks_other_types_silently(self, bus: Bus) -> None:
        """Entries of other types are acked for the group, never delivered, never pending."""
        cause = alert_event(1)
        bus.publish(verdict_for(cause))
        bus.publish(
            events.CaseClosed(
                disposition="benign",
                reason="r",
                closed_by={"role": "sentinel"},
                case_id=cause.case_id,
                produced_by=SENTINEL,
            )
        )
        got = bus.consume("tier2", "t-1", types=["triage.verdict"], count=10)
        assert [d.event.type for d in got] == ["triage.verdict"]
        got[0].ack()
        time.sleep(self.visibility_timeout_ms / 1000 * 1.5)
        assert bus.consume("tier2", "t-2", types=["triage.verdict"], count=10) == []
        (cases,) = [s for s in bus.stats().streams if s.name == "cases"]
        assert cases.groups[0].pending == 0

    def test_unacked_delivery_goes_to_another_consumer_after_visibility_timeout(self, bus: Bus) -> None:
        """A consumer that never acks loses the event to another consumer, with a higher count."""
        bus.publish(alert_event(1))
        (first,) = bus.consume("g", "dies", types=["alert.received"])
        assert first.delivery_count == 1
        assert bus.consume("g", "other", types=["alert.received"]) == []
        time.sleep(self.visibility_timeout_ms / 1000 * 1.5)
        (again,) = bus.consume("g", "other", types=["alert.received"])
        assert again.event == first.event and again.delivery_count == 2
        again.ack()

    def test_fail_redelivers_then_dead_letters_after_max_deliveries(self) -> None:
        """A handler that always fails: redelivered max_deliveries times, then dead-lettered once."""
        bus = self.create_bus(max_deliveries=3, visibility_timeout_ms=60_000)
        try:
            bus.publish(alert_event(1))
            counts = []
            for _ in range(5):
                got = bus.consume("g", "c", types=["alert.received"])
                for d in got:
                    counts.append(d.delivery_count)
                    d.fail("boom")
            assert counts == [1, 2, 3]
            (dl,) = bus.dead_letters()
            assert dl.group == "g" and dl.stream == "alerts" and "boom" in dl.reason
            assert "3" in dl.reason and dl.delivery_count == 3
            assert bus.stats().dead_letters == 1
        finally:
            bus.close()

    def test_release_redelivers_without_counting_a_failure(self, bus: Bus) -> None:
        """A released delivery (shutdown) comes back at once with the same delivery count."""
        bus.publish(alert_event(1))
        (d,) = bus.consume("g", "c1", types=["alert.received"])
        d.release()
        (again,) = bus.consume("g", "c2", types=["alert.received"])
        assert again.delivery_count == 1
        again.ack()

    def test_undecodable_payload_is_dead_lettered_and_the_stream_keeps_flowing(self, bus: Bus) -> None:
        """A payload that cannot decode goes to the DLQ with the reason; later events still arrive."""
        bus.inject("alerts", "{not json", "alert.received")
        bus.inject("alerts", '{"type": "alert.received", "alert": {}}', "alert.received")
        good = alert_event(2)
        bus.publish(good)
        got = bus.consume("g", "c", types=["alert.received"], count=10)
        assert [d.event.event_id for d in got] == [good.event_id]
        reasons = [dl.reason for dl in bus.dead_letters()]
        assert len(reasons) == 2 and all("cannot decode" in r for r in reasons)
        assert "JSON" in reasons[0] and "field 'produced_by'" in reasons[1]

    def test_handler_that_always_raises_ends_in_dlq_while_others_flow(self) -> None:
        """drain(): a raising handler's event is dead-lettered with the error, the rest handled."""
        bus = self.create_bus(max_deliveries=2, visibility_timeout_ms=60_000)
        try:
            handled: list[int] = []

            def handler(d: Delivery) -> None:
                n = d.event.alert.raw["n"]  # type: ignore[attr-defined]
                if n == 1:
                    raise RuntimeError("poison alert")
                handled.append(n)
                d.ack()

            bus.subscribe("sentinel", handler, types=["alert.received"])
            for i in range(4):
                bus.publish(alert_event(i))
            bus.drain()
            assert sorted(handled) == [0, 2, 3]
            (dl,) = bus.dead_letters()
            assert "RuntimeError: poison alert" in dl.reason and dl.event_type == "alert.received"
        finally:
            bus.close()

    def test_replayed_dead_letter_goes_to_its_group_only_and_clears_the_mark(self) -> None:
        """Replay puts the dead letter back for its group alone, and its mark is cleared."""
        bus = self.create_bus(max_deliveries=1, visibility_timeout_ms=60_000)
        try:
            cause = alert_event(1)
            bus.publish(cause)
            bus.ack_many(bus.consume("other", "o", types=["alert.received"]))
            bus.publish_many([], once=("g", cause.event_id))
            (d,) = bus.consume("g", "c", types=["alert.received"])
            d.fail("model down")
            (dl,) = bus.dead_letters()
            bus.replay_dead_letter(dl.id)
            assert bus.dead_letters() == [] and not bus.seen("g", cause.event_id)
            assert bus.consume("other", "o", types=["alert.received"]) == []
            (again,) = bus.consume("g", "c", types=["alert.received"])
            assert again.event == cause
            again.ack()
            with pytest.raises(BusError, match="no dead letter"):
                bus.replay_dead_letter(dl.id)
        finally:
            bus.close()

    def test_a_letter_past_max_deliveries_names_its_event_and_replays_once(self) -> None:
        """Given a consumer that recorded its mark and died before its ack, when the take-over
        finds the entry past max_deliveries, then its dead letter names the event id; replaying
        it clears the group's mark, so the event is delivered to that group exactly once and the
        handler (which passes by what it has seen, as the role runtime does) has its effect."""
        bus = self.create_bus(max_deliveries=1, visibility_timeout_ms=self.visibility_timeout_ms)
        try:
            cause = alert_event(1)
            bus.publish(cause)
            (first,) = bus.consume("g", "dies", types=["alert.received"])
            bus.publish_many([], once=("g", cause.event_id))  # its effects, then it died unacked
            time.sleep(self.visibility_timeout_ms / 1000 * 1.5)
            assert bus.consume("g", "other", types=["alert.received"]) == []
            (dl,) = bus.dead_letters()
            assert dl.reason.startswith("delivered 1 times without an ack")
            assert (dl.group, dl.entry_id, dl.event_id) == ("g", first.entry_id, cause.event_id)
            effects: list[str] = []

            def handle(d: Delivery) -> None:
                if not bus.seen("g", d.event.event_id):
                    verdict = verdict_for(d.event)
                    bus.publish_many([verdict], once=("g", d.event.event_id))
                    effects.append(verdict.event_id)
                d.ack()

            bus.replay_dead_letter(dl.id)
            got = bus.consume("g", "other", types=["alert.received"], count=10)
            assert [d.event for d in got] == [cause]
            handle(got[0])
            assert len(effects) == 1 and [e.event_id for e in bus.audit][-1] == effects[0]
            time.sleep(self.visibility_timeout_ms / 1000 * 1.5)
            assert bus.consume("g", "other", types=["alert.received"], count=10) == []
            assert bus.dead_letters() == []
        finally:
            bus.close()

    def test_a_redelivery_knows_when_it_is_past_the_mark_window(self) -> None:
        """Given an entry redelivered, when asked at the time its idempotency mark may have expired
        (its TTL after the entry was added, less the visibility timeout), then it is past the
        window; a first delivery, or a redelivery within the TTL, is not."""
        bus = self.create_bus(mark_ttl_s=3600, visibility_timeout_ms=60_000)
        try:
            added = time.time()
            bus.publish(alert_event(1))
            (first,) = bus.consume("g", "c", types=["alert.received"])
            assert not bus.past_mark_window(first, now=added + 10 * 3600)
            first.fail("model down")
            (again,) = bus.consume("g", "c", types=["alert.received"])
            assert again.delivery_count == 2
            assert not bus.past_mark_window(again, now=added + 3600 - 60 - 5)
            assert bus.past_mark_window(again, now=added + 3600 - 60 + 5)
        finally:
            bus.close()

    def test_bad_inputs_can_be_dead_lettered_directly(self, bus: Bus) -> None:
        """A record that never became an event is kept in the DLQ with its reason."""
        bus.dead_letter("cannot normalize: no timestamp", '{"x": 1}', stream="alerts")
        (dl,) = bus.dead_letters()
        assert dl.payload == '{"x": 1}' and dl.reason.startswith("cannot normalize")

    def test_consume_requires_something_to_read(self, bus: Bus) -> None:
        """consume() without types or streams is a clear error, as is an unknown type."""
        with pytest.raises(BusError, match="types= or streams="):
            bus.consume("g", "c")
        with pytest.raises(events.ContractError, match="unknown event type"):
            bus.consume("g", "c", types=["no.such"])

    def test_blocking_consume_wakes_on_publish(self, bus: Bus) -> None:
        """A consumer blocked on an empty stream receives an event published meanwhile."""
        got: list[Delivery] = []
        t = threading.Thread(
            target=lambda: got.extend(bus.consume("g", "c", types=["control.paused"], block_ms=5000))
        )
        t.start()
        time.sleep(0.2)
        bus.publish(paused())
        t.join(10)
        assert len(got) == 1

    # --- concurrency and scale ------------------------------------------------------------------

    def test_concurrent_publishers_lose_nothing(self, bus: Bus) -> None:
        """Eight threads publishing at once: every event in the audit log exactly once."""

        def work(k: int) -> None:
            for i in range(50):
                bus.publish(alert_event(k * 1000 + i))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = [e.event_id for e in bus.audit]
        assert len(ids) == 400 == len(set(ids))

    def test_competing_consumers_handle_each_event_once(self, bus: Bus) -> None:
        """Four consumers of one group over 1,000 events: each event's effect exactly once."""
        evs = [alert_event(i) for i in range(1000)]
        for e in evs:
            bus.publish(e)

        def work(name: str) -> None:
            while True:
                got = bus.consume("sentinel", name, types=["alert.received"], count=50)
                if not got:
                    return
                for d in got:
                    bus.publish_many([verdict_for(d.event)], once=("sentinel", d.event.event_id))
                bus.ack_many(got)

        threads = [threading.Thread(target=work, args=(f"s-{k}",)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        causes = [e.causation_id for e in bus.audit if e.type == "triage.verdict"]
        assert sorted(causes) == sorted(e.event_id for e in evs)

    # --- trimming and stats ---------------------------------------------------------------------

    def test_trim_never_drops_what_a_group_has_not_acked(self, bus: Bus) -> None:
        """Trim keeps every entry some group still holds; the audit log is never trimmed."""
        for i in range(6):
            bus.publish(alert_event(i))
        bus.ack_many(bus.consume("fast", "f", types=["alert.received"], count=10))
        slow = bus.consume("slow", "s", types=["alert.received"], count=2)
        bus.ack_many(slow[:1])
        removed = bus.trim()
        assert removed == 1  # only the entry both groups acked
        stats = {s.name: s for s in bus.stats().streams}
        assert stats["alerts"].length == 5 and stats["audit"].length == 6
        rest = bus.consume("slow", "s", types=["alert.received"], count=10)
        bus.ack_many([slow[1], *rest])
        assert bus.trim() == 5
        assert len(bus.audit) == 6

    def test_acks_trim_their_stream_every_trim_every_acks(self) -> None:
        """Work streams stay bounded between maintenance runs: after ``trim_every`` acks the
        acking process trims what every group acked, never what a slower group still needs."""
        bus = self.create_bus(visibility_timeout_ms=self.visibility_timeout_ms, trim_every=4)
        try:
            published = [alert_event(i) for i in range(6)]
            for e in published:
                bus.publish(e)
            slow = bus.consume("slow", "s", types=["alert.received"], count=2)
            bus.ack_many(slow)  # 2 acks: below trim_every, nothing trimmed
            fast = bus.consume("fast", "f", types=["alert.received"], count=10)
            for d in fast[:3]:
                d.ack()  # the 5th ack overall trims: only the 2 entries both groups acked go
            lengths = {s.name: s.length for s in bus.stats().streams}
            assert lengths["alerts"] == 4 and lengths["audit"] == 6
            rest = bus.consume("slow", "s", types=["alert.received"], count=10)
            assert [d.event for d in rest] == published[2:]
        finally:
            bus.close()

    def test_trim_every_zero_leaves_trimming_to_maintenance(self) -> None:
        """``trim_every=0``: acks never trim; a negative value is refused."""
        bus = self.create_bus(visibility_timeout_ms=self.visibility_timeout_ms, trim_every=0)
        try:
            for i in range(3):
                bus.publish(alert_event(i))
            bus.ack_many(bus.consume("g", "c", types=["alert.received"], count=10))
            assert {s.name: s.length for s in bus.stats().streams}["alerts"] == 3
        finally:
            bus.close()
        with pytest.raises(BusError, match="trim_every"):
            self.create_bus(trim_every=-1)

    def test_stats_report_pending_and_lag(self, bus: Bus) -> None:
        """stats(): per group the pending count and the lag (entries never delivered)."""
        for i in range(5):
            bus.publish(alert_event(i))
        bus.consume("g", "c", types=["alert.received"], count=2)
        (alerts,) = [s for s in bus.stats().streams if s.name == "alerts"]
        (g,) = alerts.groups
        assert (g.name, g.pending, g.lag) == ("g", 2, 3)

    # --- coordination ---------------------------------------------------------------------------

    def test_lock_is_exclusive_until_it_expires(self, bus: Bus) -> None:
        """lock(key) succeeds once; after its TTL it can be taken again."""
        assert bus.lock("sched:soc_manager:2026-01-01T06:00", 0.3) is True
        assert bus.lock("sched:soc_manager:2026-01-01T06:00", 0.3) is False
        time.sleep(0.4)
        assert bus.lock("sched:soc_manager:2026-01-01T06:00", 0.3) is True

    def test_a_hold_names_its_holder_renews_for_it_and_is_let_go_by_it_only(self, bus: Bus) -> None:
        """hold(key) is taken by one holder, renewed by it, refused to another, let go by its holder
        only, and read by anyone; it expires when not renewed."""
        assert bus.holder_of("retention-pass") is None
        assert bus.hold("retention-pass", 0.3, "a") is True
        assert bus.hold("retention-pass", 0.3, "b") is False
        assert bus.hold("retention-pass", 0.3, "a") is True  # renewed
        assert bus.holder_of("retention-pass") == "a"
        assert bus.unhold("retention-pass", "b") is False and bus.holder_of("retention-pass") == "a"
        assert bus.unhold("retention-pass", "a") is True and bus.holder_of("retention-pass") is None
        assert bus.hold("retention-pass", 0.3, "b") is True
        time.sleep(0.4)
        assert bus.holder_of("retention-pass") is None and bus.hold("retention-pass", 0.3, "a") is True

    def test_heartbeats_expire(self, bus: Bus) -> None:
        """A heartbeat is visible until its TTL passes."""
        bus.heartbeat("sentinel-1", {"role": "sentinel"}, ttl_s=0.3)
        assert bus.heartbeats()["sentinel-1"]["role"] == "sentinel"
        time.sleep(0.4)
        assert "sentinel-1" not in bus.heartbeats()

    # --- restore, retention, tailing --------------------------------------------------------------

    def test_restore_audit_fills_an_empty_log_only_and_touches_no_work_stream(self, bus: Bus) -> None:
        """An export restored into an empty bus is its audit log again (order, ids of events, cases);
        no group receives anything, and a second restore is refused."""
        source = [alert_event(i) for i in range(3)] + [paused()]
        assert bus.restore_audit(source) == 4
        assert [e.to_dict() for e in bus.audit] == [e.to_dict() for e in source]
        assert [e.event_id for e in bus.audit.for_case(source[1].case_id or "")] == [source[1].event_id]
        assert bus.consume("sentinel", "s", types=["alert.received"]) == []
        with pytest.raises(BusError, match="not empty"):
            bus.restore_audit(source)

    def test_trim_audit_drops_old_entries_and_keeps_pending_work_readable(self, bus: Bus) -> None:
        """Retention removes audit entries through an id; an event still pending in a work stream
        is still delivered whole."""
        evs = [alert_event(i) for i in range(5)]
        for e in evs:
            bus.publish(e)
        ids = [x.id for x in bus.audit.entries()]
        assert bus.trim_audit(ids[2]) == 3
        assert [e.event_id for e in bus.audit] == [e.event_id for e in evs[3:]]
        got = bus.consume("late", "l", types=["alert.received"], count=10)
        assert [d.event for d in got] == evs

    def test_control_history_survives_trim_and_can_be_read_without_a_group(self, bus: Bus) -> None:
        """The kill switch's stream is never trimmed; read() tails it from any point."""
        first, second = paused("sentinel"), paused("all")
        bus.publish(first)
        bus.publish(second)
        bus.ack_many(bus.consume("bot", "b", streams=["control"], count=10))
        bus.trim()
        entries = bus.read("control")
        assert [x.event for x in entries] == [first, second]
        assert [x.event for x in bus.read("control", after=entries[0].id)] == [second]
