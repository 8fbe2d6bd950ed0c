"""The bus contract for deliveries that wait (``Delivery.retry_later``): a dependency that is down
for longer than the old ~15 s window loses nothing, dead-letters nothing, and keeps each case's
events in order. ``BusContract`` includes it; the clock is frozen and moved by hand."""

from __future__ import annotations

import time

from aisoc import Bus
from aisoc.bus import Delivery
from tests.aisoc.bus_contract_events import alert_event, verdict_for

TYPES = ["alert.received", "triage.verdict"]
"""What the test group reads: alerts and verdicts, two streams, so one case spans both."""
START = 1_900_000_000.0


class Clock:
    """A frozen clock (POSIX seconds) that tests move forward."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class WaitingContract:
    """Every backend: a transient outage never dead-letters, waits grow, a case keeps its order."""

    visibility_timeout_ms: int

    def create_bus(self, **options: object) -> Bus:
        raise NotImplementedError

    def waiting_bus(self, clock: Clock, **options: object) -> Bus:
        return self.create_bus(visibility_timeout_ms=self.visibility_timeout_ms, clock=clock, **options)

    @staticmethod
    def take(bus: Bus, consumer: str = "c1", count: int = 10) -> list[Delivery]:
        return bus.consume("g", consumer, types=TYPES, count=count)

    def test_an_outage_longer_than_the_old_window_dead_letters_nothing(self) -> None:
        """Given max_deliveries=2 and a dependency down for 15 minutes, when each try is given back
        with retry_later, then it comes back after 5, 10, 20 ... 300 s, never sooner, with its
        delivery count untouched, and nothing is dead-lettered."""
        clock = Clock()
        bus = self.waiting_bus(clock, max_deliveries=2)
        try:
            a = alert_event(1)
            bus.publish(a)
            delays = []
            (d,) = self.take(bus)
            while clock.now - START < 900:
                assert d.delivery_count == 1
                d.retry_later("model unreachable: ConnectError")
                (record,) = bus.waiting("g")
                assert record.due is not None and record.reason.startswith("model unreachable")
                delays.append(round(record.due - clock.now))
                clock.now = record.due - 1.5
                assert self.take(bus) == []  # not due yet
                clock.now = record.due
                (d,) = self.take(bus)
                assert d.event.event_id == a.event_id
            assert delays == [5, 10, 20, 40, 80, 160, 300, 300]
            d.ack()
            assert bus.dead_letters() == [] and bus.waiting("g") == []
            assert self.take(bus) == []
        finally:
            bus.close()

    def test_retry_after_sets_the_least_delay(self) -> None:
        """Given the dependency asked for 120 s (Retry-After), the first retry waits 120 s, not 5."""
        clock = Clock()
        bus = self.waiting_bus(clock)
        try:
            bus.publish(alert_event(1))
            (d,) = self.take(bus)
            d.retry_later("429", after_s=120)
            (record,) = bus.waiting("g")
            assert record.due == clock.now + 120
        finally:
            bus.close()

    def test_later_events_of_a_case_wait_behind_the_waiting_one(self) -> None:
        """Given case A's alert waiting, its verdict in the same batch and one published later are
        held behind it (another case is not), and once the alert is handled they come in order."""
        clock = Clock()
        bus = self.waiting_bus(clock)
        try:
            a, b = alert_event(1), alert_event(2)
            v1 = verdict_for(a)
            for e in (a, b, v1):
                bus.publish(e)
            batch = self.take(bus)
            assert [d.event.event_id for d in batch] == [a.event_id, b.event_id, v1.event_id]
            handled = []
            for d in batch:
                if d.hold_back():
                    continue
                if d.event.event_id == a.event_id:
                    d.retry_later("model unreachable")
                else:
                    handled.append(d.event.event_id)
                    d.ack()
            assert handled == [b.event_id]  # v1 was held behind a
            v2 = verdict_for(a)
            bus.publish(v2)
            assert self.take(bus) == []  # v2 is held at once; a is not due
            assert {r.entry_id for r in bus.waiting("g")} >= {batch[0].entry_id, batch[2].entry_id}
            assert len(bus.waiting("g")) == 3
            clock.now += 5
            got = []
            for _ in range(3):
                (d,) = self.take(bus)  # one at a time: only a case's oldest waiting event goes
                got.append(d.event.event_id)
                assert d.delivery_count == 1
                d.ack()
            assert got == [a.event_id, v1.event_id, v2.event_id]
            assert self.take(bus) == [] and bus.waiting("g") == [] and bus.dead_letters() == []
        finally:
            bus.close()

    def test_a_poison_event_that_waited_still_dead_letters_and_frees_its_case(self) -> None:
        """Given an event that waited and then fails by a bug, it is dead-lettered after
        max_deliveries failures, and the event held behind it is delivered next."""
        clock = Clock()
        bus = self.waiting_bus(clock, max_deliveries=3)
        try:
            a = alert_event(1)
            bus.publish(a)
            (d,) = self.take(bus)
            d.retry_later("model unreachable")
            v = verdict_for(a)
            bus.publish(v)
            assert self.take(bus) == []
            clock.now += 5
            failures = 0
            while not bus.dead_letters():
                (d,) = self.take(bus)
                assert d.event.event_id == a.event_id
                d.fail("KeyError: 'x'")
                failures += 1
                clock.now += 1
            assert failures == 3
            (letter,) = bus.dead_letters()
            assert letter.event_id == a.event_id and "KeyError" in letter.reason
            clock.now += 1
            (d,) = self.take(bus)
            assert d.event.event_id == v.event_id
            d.ack()
            assert bus.waiting("g") == []
        finally:
            bus.close()

    def test_a_waiting_event_taken_over_is_not_run_before_it_is_due(self) -> None:
        """Given a waiting event idle past the visibility timeout, another consumer's take-over
        gives it back unrun, its count untouched; when due it comes once, count 1."""
        clock = Clock()
        bus = self.waiting_bus(clock)
        try:
            bus.publish(alert_event(1))
            (d,) = self.take(bus)
            d.retry_later("model unreachable")
            time.sleep(self.visibility_timeout_ms / 1000 * 1.5)
            assert self.take(bus, "c2") == []
            time.sleep(self.visibility_timeout_ms / 1000 * 1.5)
            assert self.take(bus, "c3") == []
            clock.now += 5
            (d,) = self.take(bus, "c2")
            assert d.delivery_count == 1
            assert self.take(bus, "c3") == []  # claimed once
            bus.ack_many([d])
            assert bus.waiting("g") == []
        finally:
            bus.close()

    def test_a_consumer_that_dies_running_a_waited_event_loses_nothing(self) -> None:
        """Given a waiting event claimed when due by a consumer that then dies, another consumer
        takes it over after the visibility timeout; its case stays held until it is handled."""
        clock = Clock()
        bus = self.waiting_bus(clock)
        try:
            a = alert_event(1)
            bus.publish(a)
            (d,) = self.take(bus)
            d.retry_later("model unreachable")
            clock.now += 5
            (dying,) = self.take(bus, "dies")
            assert dying.event.event_id == a.event_id
            v = verdict_for(a)
            bus.publish(v)
            assert self.take(bus, "c2") == []  # v is held: a runs elsewhere
            time.sleep(self.visibility_timeout_ms / 1000 * 1.5)
            (d,) = self.take(bus, "c2", count=1)
            assert d.event.event_id == a.event_id and d.delivery_count == 2
            d.ack()
            clock.now += 1
            (d,) = self.take(bus, "c2")
            assert d.event.event_id == v.event_id
            d.ack()
            assert bus.waiting("g") == [] and bus.dead_letters() == []
        finally:
            bus.close()
