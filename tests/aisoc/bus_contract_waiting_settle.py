"""The bus contract for how waiting records go and what a batch reads of them: an entry settled for
any reason (handled, of a type the group no longer reads, a dead letter) takes its record with it
and frees its case at once, and a batch reads the records of its own entries and cases, not every
record of the group. ``BusContract`` includes it; the clock is frozen and moved by hand."""

from __future__ import annotations

import time
from typing import Any

from aisoc import Bus, events
from aisoc.bus import Delivery
from tests.aisoc.bus_contract_events import SENTINEL, alert_event, verdict_for
from tests.aisoc.bus_contract_waiting import Clock

BEFORE = ["triage.verdict", "case.closed"]
"""What the group read before a deploy: two types of the cases stream."""
AFTER = ["case.closed"]
"""What it reads after: the verdicts are no longer its business."""


def closed(cause: events.Event) -> events.CaseClosed:
    return events.CaseClosed(
        disposition="benign",
        reason="routine",
        closed_by={"role": "sentinel"},
        case_id=cause.case_id,
        causation_id=cause.event_id,
        produced_by=SENTINEL,
    )


class Reads:
    """Counts the waiting records a bus reads from its backend: what its waiting primitives return."""

    def __init__(self, bus: Bus) -> None:
        self.records = 0
        for name in ("_waiting", "_waiting_for", "_claim_waiting"):
            setattr(bus, name, self._counted(getattr(bus, name)))

    def _counted(self, primitive: Any) -> Any:
        def counted(*args: Any) -> Any:
            result = primitive(*args)
            parts = result if isinstance(result, tuple) else (result,)
            self.records += sum(len(part) for part in parts)
            return result

        return counted


class WaitingSettleContract:
    """Every backend: a settled entry's record goes with it; a batch reads what it needs."""

    visibility_timeout_ms: int

    def create_bus(self, **options: object) -> Bus:
        raise NotImplementedError

    def _case_with_a_held_close(self, bus: Bus) -> tuple[Delivery, events.CaseClosed]:
        """A verdict that waits (the model is down) and its case's close held behind it."""
        a = alert_event(1)
        verdict, close = verdict_for(a), closed(a)
        bus.publish(verdict)
        bus.publish(close)
        first, second = bus.consume("g", "c1", types=BEFORE)
        first.retry_later("model unreachable")
        assert second.hold_back()
        return first, close

    def test_a_waiting_entry_of_a_type_the_group_no_longer_reads_frees_its_case_when_read_again(
        self,
    ) -> None:
        """Given a verdict waiting and its case's close held behind it, when a deploy drops verdicts
        from the group's types and the group is read again, the verdict is acked with its record
        and the close is delivered in that first consume (not when the verdict would have fallen
        due; the take-over leaves waiting entries alone)."""
        clock = Clock()
        bus = self.create_bus(visibility_timeout_ms=self.visibility_timeout_ms, clock=clock)
        try:
            _, close = self._case_with_a_held_close(bus)
            (d,) = bus.consume("g", "c2", types=AFTER)
            assert d.event.event_id == close.event_id
            d.ack()
            assert bus.waiting("g") == [] and bus.dead_letters() == []
            assert bus.consume("g", "c2", types=AFTER) == []
        finally:
            bus.close()

    def test_a_waiting_entry_claimed_when_due_by_a_group_that_no_longer_reads_its_type_frees_its_case(
        self,
    ) -> None:
        """Given a verdict waiting and its case's close held behind it, when the verdict falls due
        after a deploy dropped verdicts from the group's types, it is acked with its record (no
        record stays in flight for ever) and the close is delivered in the same call."""
        clock = Clock()
        bus = self.create_bus(visibility_timeout_ms=60_000, clock=clock)
        try:
            _, close = self._case_with_a_held_close(bus)
            clock.now += 5
            (d,) = bus.consume("g", "c2", types=AFTER)
            assert d.event.event_id == close.event_id
            d.ack()
            assert bus.waiting("g") == []
        finally:
            bus.close()

    def test_a_dead_lettered_waiting_entry_frees_its_case_at_once(self) -> None:
        """Given a verdict that waited and is then filed as a dead letter, its record goes and the
        close held behind it is delivered next, without the clock moving."""
        clock = Clock()
        bus = self.create_bus(visibility_timeout_ms=60_000, clock=clock)
        try:
            _, close = self._case_with_a_held_close(bus)
            clock.now += 5
            (d,) = bus.consume("g", "c1", types=BEFORE)
            d.dead_letter("cannot be handled")
            assert d.entry_id not in {r.entry_id for r in bus.waiting("g")}
            (d,) = bus.consume("g", "c1", types=BEFORE)
            assert d.event.event_id == close.event_id
            d.ack()
            assert bus.waiting("g") == [] and len(bus.dead_letters()) == 1
        finally:
            bus.close()

    def test_an_entry_acked_by_a_consumer_that_was_slow_leaves_no_record(self) -> None:
        """Given a close being handled by a slow consumer while its case's verdict begins to wait,
        and the close taken over and held behind the verdict meanwhile, when the slow consumer acks
        the close, its held record goes too: nothing of it waits."""
        clock = Clock()
        bus = self.create_bus(visibility_timeout_ms=self.visibility_timeout_ms, clock=clock)
        try:
            a = alert_event(1)
            verdict, close = verdict_for(a), closed(a)
            bus.publish(verdict)
            (v,) = bus.consume("g", "c1", types=BEFORE)
            bus.publish(close)
            (slow,) = bus.consume("g", "slow", types=BEFORE)
            v.retry_later("model unreachable")
            time.sleep(self.visibility_timeout_ms / 1000 * 1.5)
            assert bus.consume("g", "c2", types=BEFORE) == []  # the close is held behind the verdict
            assert {r.entry_id for r in bus.waiting("g")} == {v.entry_id, slow.entry_id}
            slow.ack()
            assert [r.entry_id for r in bus.waiting("g")] == [v.entry_id]
        finally:
            bus.close()

    def test_a_batch_reads_only_the_waiting_records_of_its_own_entries_and_cases(self) -> None:
        """Given 5,000 events of other cases waiting, a batch that delivers a new alert reads none
        of their records; once all are due, a batch of 10 reads 10 records and the heads of its 10
        cases, not 5,000."""
        clock = Clock()
        bus = self.create_bus(visibility_timeout_ms=600_000, clock=clock)
        try:
            n = 5000
            for start in range(0, n, 500):
                bus.publish_many([alert_event(i) for i in range(start, start + 500)])
            parked = 0
            while parked < n:
                batch = bus.consume("g", "c1", types=["alert.received"], count=500)
                for d in batch:
                    d.retry_later("model unreachable")
                parked += len(batch)
            reads = Reads(bus)
            new = alert_event(n + 1)
            bus.publish(new)
            clock.now += 2  # past the due-scan interval; none is due before 5 s
            (d,) = bus.consume("g", "c1", types=["alert.received"])
            assert d.event.event_id == new.event_id
            d.ack()
            assert reads.records == 0
            clock.now += 5
            batch = bus.consume("g", "c1", types=["alert.received"], count=10)
            assert len(batch) == 10 and all(d.waiting is not None for d in batch)
            assert reads.records <= 3 * 10
            bus.ack_many(batch)
            assert len(bus.waiting("g")) == n - 10
        finally:
            bus.close()
