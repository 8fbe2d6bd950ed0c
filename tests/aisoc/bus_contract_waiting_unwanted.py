"""The bus contract for waiting entries no one will handle and for what the take-over touches: a
waiting entry of a stream its group no longer reads is settled when a reader starts (or at its
next look, once a minute) so its case's later events go on, and the take-over passes by the
waiting entries whose records say when they go next while still taking over a crashed consumer's
work. ``BusContract`` includes it; the clock is frozen and moved by hand."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from aisoc import Bus
from aisoc.bus.waiting import UNWANTED_SCAN_S
from tests.aisoc.bus_contract_events import alert_event, verdict_for
from tests.aisoc.bus_contract_waiting import Clock

BOTH = ["alert.received", "triage.verdict"]
"""What the group read before a deploy: alerts and verdicts, two streams."""
VERDICTS = ["triage.verdict"]
"""What it reads after: the alerts stream is no longer its business."""


def pending(bus: Bus, stream: str, group: str = "g") -> int:
    """How many entries of ``stream`` are pending for ``group``."""
    counts = {(s.name, g.name): g.pending for s in bus.stats().streams for g in s.groups}
    return counts.get((stream, group), 0)


def settle_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "no longer reads" in r.getMessage()]


class Counted:
    """Counts what a bus's take-over returns and how often it gives an entry back to wait."""

    def __init__(self, bus: Bus) -> None:
        self.taken_over = 0
        self.parked = 0
        take_over, park = bus._take_over, bus._park

        def counted_take_over(*args: Any) -> Any:
            out = take_over(*args)
            self.taken_over += len(out)
            return out

        def counted_park(*args: Any) -> None:
            self.parked += 1
            park(*args)

        bus._take_over = counted_take_over  # type: ignore[method-assign]
        bus._park = counted_park  # type: ignore[method-assign]


class WaitingUnwantedContract:
    """Every backend: what no reader will handle frees its case; waiting entries stay put."""

    visibility_timeout_ms: int

    def create_bus(self, **options: object) -> Bus:
        raise NotImplementedError

    def test_a_waiting_entry_of_a_stream_the_group_no_longer_reads_frees_its_case(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Given two alerts waiting (one parked, one in flight with a consumer that died) and a
        verdict of the first's case held behind it, when the group is read again without the alerts
        stream, then both alerts are acked with their records (one warning names the stream and the
        count; no dead letter), the verdict is delivered on that first consume, and nothing is
        delivered twice."""
        clock = Clock()
        bus = self.create_bus(visibility_timeout_ms=60_000, clock=clock)
        try:
            a1, a2 = alert_event(1), alert_event(2)
            v1 = verdict_for(a1)
            for e in (a1, a2, v1):
                bus.publish(e)
            first, second, verdict = bus.consume("g", "c1", types=BOTH)
            assert [d.event.event_id for d in (first, second, verdict)] == [
                a1.event_id,
                a2.event_id,
                v1.event_id,
            ]
            second.retry_later("model unreachable")  # due in 5 s
            clock.now += 1
            first.retry_later("model unreachable")  # due in 6 s
            assert verdict.hold_back()
            clock.now += 4
            (in_flight,) = bus.consume("g", "died", types=BOTH, count=1)  # never settled
            assert in_flight.event.event_id == a2.event_id and in_flight.waiting is not None
            with caplog.at_level(logging.WARNING, logger="aisoc.bus"):
                (d,) = bus.consume("g", "c2", types=VERDICTS)
            assert d.event.event_id == v1.event_id
            d.ack()
            assert settle_warnings(caplog) == [
                "g: 2 waiting entries of alerts acked: the group no longer reads that stream (the "
                "later events of their cases go on)"
            ]
            assert bus.waiting("g") == [] and bus.dead_letters() == []
            assert pending(bus, "alerts") == 0 and pending(bus, "cases") == 0
            clock.now += 3600
            assert bus.consume("g", "c2", types=VERDICTS) == []
            assert bus.consume("g", "c3", types=BOTH) == []  # the alerts are not handed out again
        finally:
            bus.close()

    def test_an_entry_parked_after_the_reader_started_is_settled_at_its_next_look(self) -> None:
        """Given a reader of verdicts only and, during a rolling deploy, a process of the old
        subscription that parks an alert with a verdict of its case behind it, the verdict waits
        until the reader's next look for unread waiting entries (once a minute), then goes."""
        clock = Clock()
        bus = self.create_bus(visibility_timeout_ms=60_000, clock=clock)
        try:
            assert bus.consume("g", "new", types=VERDICTS) == []
            a1 = alert_event(1)
            v1 = verdict_for(a1)
            bus.publish(a1)
            bus.publish(v1)
            alert, verdict = bus.consume("g", "old", types=BOTH)
            alert.retry_later("model unreachable")
            assert verdict.hold_back()
            clock.now += UNWANTED_SCAN_S / 2  # the alert is due, but no reader of alerts is left
            assert bus.consume("g", "new", types=VERDICTS) == []
            clock.now += UNWANTED_SCAN_S / 2
            (d,) = bus.consume("g", "new", types=VERDICTS)
            assert d.event.event_id == v1.event_id
            d.ack()
            assert bus.waiting("g") == [] and pending(bus, "alerts") == 0
        finally:
            bus.close()

    def test_the_take_over_passes_waiting_entries_by_and_takes_over_a_crashed_consumers(self) -> None:
        """Given 50 alerts waiting an hour, an alert that waited and was claimed when due by a
        consumer that then died, and a new alert read by that consumer, when the visibility timeout
        has passed, the next take-over returns the dead consumer's two entries (the waiting one with
        its record) and takes over or gives back none of the 50."""
        clock = Clock()
        bus = self.create_bus(visibility_timeout_ms=self.visibility_timeout_ms, clock=clock)
        try:
            n = 50
            bus.publish_many([alert_event(i) for i in range(n)])
            for d in bus.consume("g", "c1", types=BOTH, count=n):
                d.retry_later("model unreachable", after_s=3600)
            bus.publish(alert_event(n))
            (w,) = bus.consume("g", "c1", types=BOTH)
            w.retry_later("model unreachable")  # due in 5 s
            clock.now += 5
            (claimed,) = bus.consume("g", "died", types=BOTH, count=1)
            assert claimed.entry_id == w.entry_id and claimed.waiting is not None
            bus.publish(alert_event(n + 1))
            (plain,) = bus.consume("g", "died", types=BOTH, count=1)
            assert plain.waiting is None
            time.sleep(self.visibility_timeout_ms / 1000 * 1.5)
            counted = Counted(bus)
            batch = bus.consume("g", "c2", types=BOTH, count=n + 10)
            assert sorted(d.entry_id for d in batch) == sorted([w.entry_id, plain.entry_id])
            assert next(d for d in batch if d.entry_id == w.entry_id).waiting is not None
            assert (counted.taken_over, counted.parked) == (2, 0)
            bus.ack_many(batch)
            waiting = bus.waiting("g")
            assert len(waiting) == n and all(r.due is not None for r in waiting)
        finally:
            bus.close()
