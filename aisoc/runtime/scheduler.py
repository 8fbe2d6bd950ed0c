"""The periodic roles on APScheduler 3: exact windows, one fire across replicas, missed fires run.

A window is ``[previous scheduled fire, this scheduled fire)`` of the same cron expression in the
configured time zone, computed from the trigger itself, so consecutive windows never overlap or
leave a gap, across DST changes too.

A fire is done when its report is published: the report and the mark ``(role, fire-END)`` are
written in one atomic step, so two scheduler replicas publish it once. A short lease
(``bus.lock``) only saves a replica from computing what another is computing. A fire that fails is
retried with exponential backoff until its role's next fire; a restart within the grace time after
a fire time runs it if it is not done (a failed one included).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from aisoc.audit import AuditFileError, retain
from aisoc.audit_guard import RetentionRunning, RetentionStopped
from aisoc.bus import DEFAULT_GROUP_IDLE_S, Bus
from aisoc.errors import BusError, ConfigError
from aisoc.events import Event, utcnow
from aisoc.runtime.feed import AuditFeed
from aisoc.runtime.role import ScheduledRole

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 3600
"""A fire missed by less than this (restart, pause) still runs."""
LEASE_S = 120
"""How long a replica computing a fire keeps the others from computing it too (not a completion)."""
RETRY_FIRST_S = 60.0
"""Delay before the first retry of a failed fire; each further retry waits twice as long."""
RETRY_MAX_S = 1800.0
"""The longest wait between two retries of one fire."""
RETRY_TICK_S = 15
"""How often the blocking scheduler looks for retries that came due."""
RETENTION_S = 3600
"""Seconds between two retention runs (archive, then trim the audit by age and size)."""
FIRE_MARK_S = 10 * 86400
"""How long a report's completion mark is kept at least: longer than the nine days ``last_fire``
looks back and than any gap between two fires of a role, so a fire is never run twice whatever
``mark_retention_days`` says."""
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


@dataclass(frozen=True)
class Retention:
    """What the scheduled retention keeps: ``days`` of audit and at most ``max_entries`` (0: no
    limit for either); what goes is archived into ``archive_dir`` first."""

    days: float
    max_entries: int
    archive_dir: Path
    interval_s: float = RETENTION_S
    """Seconds between two runs."""

    @property
    def active(self) -> bool:
        """Whether anything is ever trimmed."""
        return self.days > 0 or self.max_entries > 0


@dataclass
class Retry:
    """A failed fire waiting for its next try."""

    role: ScheduledRole
    trig: CronTrigger
    fire_time: datetime
    attempts: int
    due: datetime
    until: datetime
    """Its role's next fire: a fire not done by then is given up (and logged as such)."""


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
        group_idle_s: maintenance warns of each group at a trim floor idle this long (it holds
            back trimming: ``Bus.held_groups``).
        retention: archive and trim the audit every ``RETENTION_S`` (None: never).
        feed_path: where the reports' audit feed keeps its window and cursor across restarts
            (None: in RAM only, read from the log's start after a restart).
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
        group_idle_s: float = DEFAULT_GROUP_IDLE_S,
        retention: Retention | None = None,
        feed_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.bus, self.tz, self.memory, self.grace_s, self.clock = bus, tz, memory, grace_s, clock
        self.consumer_idle_s, self.group_idle_s = consumer_idle_s, group_idle_s
        self.retention = retention
        self.roles = list(roles)
        self.triggers = [(r, c, trigger(c, tz)) for r in self.roles for c in r.schedule]
        self.retries: dict[tuple[str, datetime], Retry] = {}
        self._feed: AuditFeed | None = None
        self.feed_path = feed_path

    @property
    def feed(self) -> AuditFeed:
        """The audit as the reports read it: incrementally, a bounded window in RAM."""
        if self._feed is None:
            self._feed = AuditFeed(self.bus.audit, clock=self.clock, path=self.feed_path)
        return self._feed

    @staticmethod
    def _mark(end: datetime) -> str:
        return f"fire-{end.isoformat()}"

    def done(self, role: ScheduledRole, trig: CronTrigger, fire_time: datetime) -> bool:
        """Whether the report of this fire was published (by any replica)."""
        return self.bus.seen(role.name, self._mark(window(trig, fire_time)[1]))

    def fire(self, role: ScheduledRole, trig: CronTrigger, fire_time: datetime) -> list[Event] | None:
        """Run one scheduled fire; None when it is done already or another replica is computing it.

        A failure (the bus or the report) is logged and the fire is retried later (see
        :meth:`run_retries`); it never propagates into the scheduler's loop.
        """
        start, end = window(trig, fire_time)
        try:
            if self.bus.seen(role.name, self._mark(end)):
                self.retries.pop((role.name, end), None)
                log.info("%s: the %s fire is done", role.name, end.isoformat())
                return None
            # A lease per attempt: this replica's retry need not wait for its failed try's lease.
            prior = self.retries.get((role.name, end))
            lease = f"schedule:{role.name}:{end.isoformat()}:{prior.attempts if prior else 0}"
            if not self.bus.lock(lease, LEASE_S):
                log.info("%s: the %s fire is being computed elsewhere", role.name, end.isoformat())
                self._retry_later(role, trig, fire_time, failed=False)
                return None
            if self.memory is not None and hasattr(self.memory, "refresh"):
                self.memory.refresh()
            self.feed.refresh()
            events = role.report(self.feed.events(), start, end, self.tz, self.memory)
            self.bus.publish_many(events, once=(role.name, self._mark(end)), keep_s=FIRE_MARK_S)
        except Exception:  # a report that fails must not stop the scheduler: retry with backoff
            log.exception("%s: the %s fire failed", role.name, end.isoformat())
            self._retry_later(role, trig, fire_time, failed=True)
            return None
        self.retries.pop((role.name, end), None)
        log.info(
            "%s: window %s .. %s -> %s",
            role.name,
            start.isoformat(),
            end.isoformat(),
            ", ".join(e.type for e in events),
        )
        return events

    def _retry_later(
        self, role: ScheduledRole, trig: CronTrigger, fire_time: datetime, *, failed: bool
    ) -> None:
        end = window(trig, fire_time)[1]
        now = self.clock()
        prior = self.retries.get((role.name, end))
        attempts = (prior.attempts if prior else 0) + (1 if failed else 0)
        delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** max(0, attempts - 1))
        until = trig.get_next_fire_time(None, fire_time + timedelta(microseconds=1)) or fire_time
        due = now + timedelta(seconds=delay)
        if due >= until:
            self.retries.pop((role.name, end), None)
            log.error(
                "%s: the %s fire gave up after %d attempt(s): its next fire is due (%s); run "
                "'aisoc scheduler --run %s' by hand for the missed window",
                role.name,
                end.isoformat(),
                attempts,
                until.isoformat(),
                role.name,
            )
            return
        self.retries[(role.name, end)] = Retry(role, trig, fire_time, attempts, due, until)
        log.warning("%s: the %s fire is retried at %s", role.name, end.isoformat(), due.isoformat())

    def run_retries(self) -> int:
        """Try again every failed fire whose backoff has passed; returns how many were published."""
        now, ran = self.clock(), 0
        for r in [r for r in self.retries.values() if r.due <= now]:
            ran += self.fire(r.role, r.trig, r.fire_time) is not None
        return ran

    def catch_up(self) -> int:
        """Run fires missed by less than the grace time and not done (a restart shortly after 06:00,
        or after a fire that failed)."""
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
        replica at once: both steps are atomic and idempotent); warn once per run of each group
        that holds back trimming (at a trim floor, idle ``group_idle_s``).

        Returns:
            (entries trimmed, consumers forgotten); (0, 0) when the bus is unreachable this time.
        """
        try:
            done = self.bus.trim(), self.bus.forget_idle_consumers(self.consumer_idle_s)
            for group in self.bus.held_groups(self.group_idle_s):
                log.warning("bus maintenance: %s", group.describe())
        except BusError as e:
            log.warning("bus maintenance skipped: %s", e)
            return 0, 0
        if any(done):
            log.info("bus maintenance: trimmed %d entries, forgot %d idle consumers", *done)
        return done

    def retain(self) -> int:
        """Archive, then trim the audit by age and size (one replica at a time, and never beside a pass
        of ``aisoc audit retain``: both hold the bus's retention lock); returns how many entries were
        archived and trimmed (0 when off, nothing is due, another pass runs, or the bus is
        unreachable)."""
        r = self.retention
        if r is None or not r.active:
            return 0
        try:
            if not self.bus.lock("retention", r.interval_s / 2):
                return 0
            older = self.clock() - timedelta(days=r.days) if r.days > 0 else None
            done = retain(self.bus, older, r.archive_dir, max_entries=r.max_entries)
        except RetentionRunning as e:
            log.info("retention skipped this time: %s", e)
            return 0
        except (BusError, AuditFileError, RetentionStopped, OSError) as e:
            log.error("retention skipped: %s", e)
            return 0
        return done.count + done.unreadable if done else 0

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
        if self.retention is not None and self.retention.active:
            sched.add_job(
                self.retain,
                "interval",
                seconds=self.retention.interval_s,
                id="retention",
                coalesce=True,
                max_instances=1,
            )
        sched.add_job(
            self.run_retries, "interval", seconds=RETRY_TICK_S, id="retries", coalesce=True, max_instances=1
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
