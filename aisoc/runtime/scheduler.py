"""The periodic roles on APScheduler 3: exact windows, one fire across replicas, missed fires run.

A window is ``[previous scheduled fire, this scheduled fire)`` of the same cron expression in the
configured time zone, computed from the trigger itself, so consecutive windows never overlap or
leave a gap, across DST changes too. Each fire takes a lock keyed on the role and the fire time
(``bus.lock``: a Redis key on the Redis bus), so two scheduler replicas fire once; a restart within
the grace time after a fire time still runs the missed job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from aisoc.bus import Bus
from aisoc.errors import BusError, ConfigError
from aisoc.events import Event, utcnow
from aisoc.runtime.role import ScheduledRole

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 3600
"""A fire missed by less than this (restart, pause) still runs."""
LOCK_TTL_S = 14 * 24 * 3600
"""How long the per-fire lock lives: far longer than any replica's clock skew or restart."""
MAINTENANCE_S = 300
"""Seconds between the bus maintenance runs (trim acked work entries, forget idle consumers)."""


def trigger(cron: str, tz: str) -> CronTrigger:
    """A cron trigger (``minute hour day month day_of_week``) in time zone ``tz``.

    Raises:
        ConfigError: the expression or the time zone is wrong.
    """
    try:
        return CronTrigger.from_crontab(cron, timezone=ZoneInfo(tz))
    except (ValueError, KeyError) as e:
        raise ConfigError(f"schedule {cron!r} in time zone {tz!r}: {e}") from e


def fires_between(trig: CronTrigger, start: datetime, end: datetime) -> list[datetime]:
    """Scheduled fire times in ``(start, end]``, as aware datetimes."""
    out: list[datetime] = []
    previous: datetime | None = None
    now = start + timedelta(microseconds=1)
    while (nxt := trig.get_next_fire_time(previous, now)) is not None and nxt <= end:
        out.append(nxt)
        previous, now = nxt, nxt + timedelta(microseconds=1)
    return out


def last_fire(trig: CronTrigger, at: datetime, lookback: timedelta = timedelta(days=9)) -> datetime | None:
    """The latest scheduled fire time at or before ``at``."""
    found = fires_between(trig, at - lookback, at)
    return found[-1] if found else None


def window(trig: CronTrigger, fire: datetime) -> tuple[datetime, datetime]:
    """``[previous fire, fire)`` in UTC: the stretch of the audit log a report covers."""
    start = last_fire(trig, fire - timedelta(microseconds=1))
    if start is None:
        raise ConfigError(f"no fire of {trig} in the nine days before {fire}")
    return start.astimezone(ZoneInfo("UTC")), fire.astimezone(ZoneInfo("UTC"))


class Scheduler:
    """Runs the scheduled roles of a team against ``bus``.

    Args:
        bus: where reports are published and the audit log is read.
        roles: the scheduled roles.
        tz: time zone of the schedules (IANA name).
        memory: passed to each role's ``report`` (the Threat Hunter asks it for campaigns).
        grace_s: misfire grace time.
        clock: returns "now" (tests inject one).
        consumer_idle_s: maintenance forgets consumers idle this long with nothing pending.
    """

    def __init__(
        self,
        bus: Bus,
        roles: Iterable[ScheduledRole],
        tz: str = "UTC",
        *,
        memory: Any = None,
        grace_s: int = DEFAULT_GRACE_S,
        clock: Callable[[], datetime] = utcnow,
        consumer_idle_s: float = 7 * 24 * 3600,
    ) -> None:
        self.bus, self.tz, self.memory, self.grace_s, self.clock = bus, tz, memory, grace_s, clock
        self.consumer_idle_s = consumer_idle_s
        self.roles = list(roles)
        self.triggers = [(r, c, trigger(c, tz)) for r in self.roles for c in r.schedule]

    def fire(self, role: ScheduledRole, trig: CronTrigger, fire_time: datetime) -> list[Event] | None:
        """Run one scheduled fire; None when another replica (or an earlier run) already did."""
        start, end = window(trig, fire_time)
        key = f"schedule:{role.name}:{end.isoformat()}"
        if not self.bus.lock(key, LOCK_TTL_S):
            log.info("%s: the %s fire already ran elsewhere", role.name, end.isoformat())
            return None
        if self.memory is not None and hasattr(self.memory, "refresh"):
            self.memory.refresh()
        events = role.report((e for e in self.bus.audit), start, end, self.tz, self.memory)
        self.bus.publish_many(events, once=(role.name, f"fire-{end.isoformat()}"))
        log.info(
            "%s: window %s .. %s -> %s",
            role.name,
            start.isoformat(),
            end.isoformat(),
            ", ".join(e.type for e in events),
        )
        return events

    def catch_up(self) -> int:
        """Run fires missed by less than the grace time (a restart shortly after 06:00)."""
        now, ran = self.clock(), 0
        for role, _, trig in self.triggers:
            fire = last_fire(trig, now)
            if fire is not None and (now - fire).total_seconds() <= self.grace_s:
                ran += self.fire(role, trig, fire) is not None
        return ran

    def run_due(self, role: ScheduledRole, trig: CronTrigger) -> None:
        """The APScheduler job: fire the most recent scheduled time (the one that just came due)."""
        fire = last_fire(trig, self.clock())
        if fire is not None:
            self.fire(role, trig, fire)

    def maintain(self) -> tuple[int, int]:
        """Trim work entries every group has acked and forget idle consumers (safe on every
        replica at once: both steps are atomic and idempotent).

        Returns:
            (entries trimmed, consumers forgotten); (0, 0) when the bus is unreachable this time.
        """
        try:
            done = self.bus.trim(), self.bus.forget_idle_consumers(self.consumer_idle_s)
        except BusError as e:
            log.warning("bus maintenance skipped: %s", e)
            return 0, 0
        if any(done):
            log.info("bus maintenance: trimmed %d entries, forgot %d idle consumers", *done)
        return done

    def blocking(self) -> BlockingScheduler:
        """An APScheduler 3 scheduler with one job per role and cron expression, and the bus
        maintenance every ``MAINTENANCE_S`` seconds."""
        sched = BlockingScheduler(timezone=ZoneInfo(self.tz))
        sched.add_job(
            self.maintain,
            "interval",
            seconds=MAINTENANCE_S,
            id="bus-maintenance",
            coalesce=True,
            max_instances=1,
        )
        for role, cron, trig in self.triggers:
            sched.add_job(
                self.run_due,
                trig,
                args=[role, trig],
                id=f"{role.name}:{cron}",
                misfire_grace_time=self.grace_s,
                coalesce=True,
                max_instances=1,
            )
        return sched
