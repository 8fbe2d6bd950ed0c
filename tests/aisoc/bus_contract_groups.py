"""The bus contract for consumer groups nobody reads any more (``aisoc.bus.groups``): such a group
holds trimming of its stream forever; ``held_groups`` names it, ``forget_group`` refuses while it
holds entries or was active, and works with ``force`` (pending entries become dead letters), after
which trim drops what it held. ``BusContract`` includes it; the bus clock is frozen and moved by
hand (Redis measures its consumers' idle time itself: its suites wait instead, see ``let_idle``)."""

from __future__ import annotations

import time

import pytest

from aisoc import Bus
from aisoc.bus import Delivery
from aisoc.errors import BusError
from tests.aisoc.bus_contract_events import alert_event
from tests.aisoc.bus_contract_waiting import Clock

ALERTS = ["alert.received"]
DAY = 24 * 3600.0


def length(bus: Bus, stream: str = "alerts") -> int:
    return {s.name: s.length for s in bus.stats().streams}[stream]


class GroupsContract:
    """Every backend: an abandoned group is found, refused while it may be in use, then forgotten."""

    visibility_timeout_ms: int
    group_idle_s = DAY
    """The threshold the tests compare idle time with (Redis suites use a short one: ``let_idle``)."""

    def create_bus(self, **options: object) -> Bus:
        raise NotImplementedError

    def let_idle(self, clock: Clock) -> None:
        """Let every consumer go quiet for longer than ``group_idle_s`` (moves the bus clock)."""
        clock.now += self.group_idle_s + 60

    def abandoned(self, clock: Clock) -> tuple[Bus, list[Delivery]]:
        """Given 6 alerts, a ``live`` group that acks all of them and a ``gone`` group (a role removed
        in a deploy) that took 2 and acked 1 before it stopped: returns the bus and the one it holds."""
        bus = self.create_bus(visibility_timeout_ms=self.visibility_timeout_ms, clock=clock, trim_every=0)
        for i in range(6):
            bus.publish(alert_event(i))
        taken = bus.consume("gone", "gone-1", types=ALERTS, count=2)
        taken[0].ack()
        bus.ack_many(bus.consume("live", "live-1", types=ALERTS, count=10))
        return bus, taken[1:]

    def test_a_group_that_stops_reading_holds_trimming_and_is_named(self) -> None:
        """Given a group that stopped reading, trim keeps all it has not acked while more is
        published and acked by the live group; once idle past the threshold (and only then) it is
        named with its stream, what it holds back and its idle time; the live group is not."""
        clock = Clock()
        bus, _ = self.abandoned(clock)
        try:
            assert bus.trim() == 1  # only the entry both groups acked
            for i in range(6, 10):
                bus.publish(alert_event(i))
            bus.ack_many(bus.consume("live", "live-1", types=ALERTS, count=10))
            assert bus.trim() == 0 and length(bus) == 9  # the defect: nothing more ever goes
            assert bus.held_groups(idle_s=3600) == []  # it read moments ago: not idle yet
            self.let_idle(clock)
            bus.consume("live", "live-1", types=ALERTS)  # the live role still polls
            (held,) = bus.held_groups(idle_s=self.group_idle_s)
            assert (held.stream, held.group, held.behind, held.pending) == ("alerts", "gone", 9, 1)
            assert held.idle_s is not None and held.idle_s >= self.group_idle_s
            line = held.describe()
            assert "'gone'" in line and "'alerts'" in line and "9 entries" in line and "idle" in line
        finally:
            bus.close()

    def test_forget_group_refuses_then_forces_and_trim_goes_past(self) -> None:
        """Given the abandoned group, forget_group refuses while it holds a pending entry, and
        (entry settled aside) while its consumer was active within the threshold; with force its
        pending entry becomes a dead letter 'group forgotten', the group goes, and trim drops the
        entries it held while the live group's work is untouched."""
        clock = Clock()
        bus, (held,) = self.abandoned(clock)
        try:
            (refused,) = bus.forget_group("gone", "alerts", idle_s=self.group_idle_s)
            assert not refused.forgotten and "pending" in (refused.refused or "")
            self.let_idle(clock)
            (still,) = bus.forget_group("gone", idle_s=self.group_idle_s)  # idle now, but pending
            assert not still.forgotten and bus.dead_letters() == []
            assert "gone" in {g.name for s in bus.stats().streams for g in s.groups}

            (done,) = bus.forget_group("gone", "alerts", idle_s=self.group_idle_s, force=True)
            assert (done.stream, done.forgotten, done.dead_lettered) == ("alerts", True, 1)
            (letter,) = bus.dead_letters()
            assert (letter.group, letter.reason) == ("gone", "group forgotten")
            assert (letter.entry_id, letter.event_id) == (held.entry_id, held.event.event_id)
            assert bus.held_groups(idle_s=self.group_idle_s) == []
            assert bus.trim() == 6 and length(bus) == 0
            with pytest.raises(BusError, match="no consumer group 'gone'"):
                bus.forget_group("gone")
        finally:
            bus.close()

    def test_forget_group_refuses_a_group_a_consumer_still_reads(self) -> None:
        """Given a group with nothing pending whose consumer read just now, forget_group leaves it
        (the result says a consumer was active); once idle past the threshold it goes without
        force, and a reader that comes back recreates it and reads what the stream still holds."""
        clock = Clock()
        bus = self.create_bus(visibility_timeout_ms=self.visibility_timeout_ms, clock=clock, trim_every=0)
        try:
            for i in range(3):
                bus.publish(alert_event(i))
            bus.ack_many(bus.consume("quiet", "q-1", types=ALERTS, count=1))
            (active,) = bus.forget_group("quiet", "alerts", idle_s=3600)
            assert not active.forgotten and "active" in (active.refused or "")
            self.let_idle(clock)
            (done,) = bus.forget_group("quiet", "alerts", idle_s=self.group_idle_s)
            assert done.forgotten and done.dead_lettered == 0 and bus.dead_letters() == []
            assert bus.trim() == 0  # no group left on the stream: nothing is known to be read
            back = bus.consume("quiet", "q-1", types=ALERTS, count=10)
            assert len(back) == 3
            with pytest.raises(BusError, match="unknown stream"):
                bus.forget_group("quiet", "nowhere")
        finally:
            bus.close()


class RedisIdle:
    """For the Redis suites: Redis keeps its consumers' idle time on its own clock, which no test
    can move, so the threshold is short and ``let_idle`` waits past it (a lower bound, not a race)."""

    group_idle_s = 0.1

    def let_idle(self, clock: Clock) -> None:
        time.sleep(self.group_idle_s * 3)
