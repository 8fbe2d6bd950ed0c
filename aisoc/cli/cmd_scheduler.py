"""``aisoc scheduler``: the periodic roles (shift summary, tuning, hunting)."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
from typing import Any

from aisoc.cli._common import add_bus_option, configure_logging, kernel_settings, open_bus
from aisoc.cli._team import build_team, open_memory
from aisoc.errors import BusError
from aisoc.health import heartbeat_info
from aisoc.runtime.scheduler import DEFAULT_GRACE_S, Retention, Scheduler

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    s = sub.add_parser(
        "scheduler",
        help="run the periodic roles (shift summary, tuning, hunting)",
        description="Fires SOC Manager (06:00, 14:00, 22:00), Detection Engineer "
        "(09:00 Mon-Fri) and Threat Hunter (06:00, 18:00) in the configured time zone.",
    )
    add_bus_option(s)
    s.add_argument("--grace", type=int, default=DEFAULT_GRACE_S, help="misfire grace time in seconds")
    s.add_argument("--run", metavar="ROLE", help="fire ROLE's latest scheduled window now and exit")
    s.set_defaults(func=_scheduler)


def _scheduler(args: argparse.Namespace) -> int:
    settings = kernel_settings(args)
    configure_logging(settings.log_level, settings.log_json)
    bus = open_bus(settings)
    team = build_team(settings, bus, config=args.config, dry_run=True, tools=[], context=None)
    memory = open_memory(settings, bus, "scheduler", args.config)
    for role in team.scheduled.values():
        if hasattr(role, "across_tenants"):
            role.across_tenants = settings.hunt_across_tenants
    sched = Scheduler(
        bus,
        team.scheduled.values(),
        settings.timezone,
        grace_s=args.grace,
        memory=memory,
        consumer_idle_s=settings.consumer_idle_s,
        group_idle_s=settings.group_idle_s,
        retention=Retention(
            settings.audit_retention_days,
            settings.audit_max_entries,
            settings.audit_archive_dir,
            settings.retention_interval_s,
        ),
        feed_path=settings.state_dir / "feed" / f"{settings.namespace}-scheduler.sqlite",
    )
    if args.run:
        matches = [(r, t) for r, _, t in sched.triggers if r.name == args.run]
        if not matches:
            raise SystemExit(
                f"aisoc scheduler: no scheduled role {args.run!r}; "
                f"scheduled: {', '.join(sorted(team.scheduled))}"
            )
        for role, trig in matches[:1]:
            sched.run_due(role, trig)
        return 0
    sched.catch_up()
    blocking = sched.blocking()
    name = f"scheduler@{socket.gethostname()}"

    def beat() -> None:
        try:
            bus.heartbeat(
                name,
                heartbeat_info("scheduler", timezone=settings.timezone),
                ttl_s=15,
            )
        except BusError as e:
            log.warning("scheduler heartbeat failed: %s", e)

    beat()
    blocking.add_job(beat, "interval", seconds=5, id="heartbeat", coalesce=True, max_instances=1)
    # SIGTERM: stop taking new fires; a report being written finishes first.
    signal.signal(signal.SIGTERM, lambda signum, frame: blocking.shutdown(wait=True))
    try:
        blocking.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0
