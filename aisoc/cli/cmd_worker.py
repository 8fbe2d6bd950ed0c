"""``aisoc worker ROLE``: one agent role per process; ``aisoc scheduler``: the periodic roles."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
from typing import Any

from aisoc import __version__
from aisoc.cli._common import add_bus_option, configure_logging, kernel_settings, open_bus
from aisoc.cli._team import build_team, open_memory
from aisoc.errors import BusError, ConfigError
from aisoc.events import utcnow
from aisoc.runtime.scheduler import DEFAULT_GRACE_S, Scheduler
from aisoc.runtime.worker import WorkerSet

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    w = sub.add_parser(
        "worker",
        help="run one agent role as a process (sentinel, tier2, ir_lead, ...)",
        description="Consumes the role's events from the bus until SIGTERM, which "
        "finishes the current event first.",
    )
    w.add_argument("role", help="role slug: sentinel, tier2, ir_lead, threat_intel")
    add_bus_option(w)
    w.add_argument("--instance", type=int, default=0, help="replica number (stable consumer name)")
    w.add_argument("--model", help="model spec (default: setting 'model')")
    w.add_argument("--dry-run", action="store_true", help="use the canned stub model")
    w.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    w.add_argument(
        "--concurrency",
        type=int,
        default=1,
        metavar="N",
        help="role invocations run at once, one case at a time (default 1; a GPU server that batches "
        "wants more: see docs/models.md)",
    )
    w.set_defaults(func=_worker)

    m = sub.add_parser(
        "metrics", help="a Prometheus exporter for the bus: lag, pending, dead letters, approvals"
    )
    add_bus_option(m)
    m.add_argument("--port", type=int, default=9464)
    m.add_argument("--host", default="0.0.0.0")
    m.set_defaults(func=_metrics)

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


def _worker(args: argparse.Namespace) -> int:
    if args.concurrency < 1:
        raise ConfigError(f"--concurrency must be 1 or more, got {args.concurrency}")
    settings = kernel_settings(args, model=args.model)
    configure_logging(settings.log_level, settings.log_json)
    teams: list[Any] = []
    for ns_settings in settings.per_namespace():  # one team per namespace, one shared model
        teams.append(
            build_team(
                ns_settings,
                open_bus(ns_settings),
                config=args.config,
                dry_run=args.dry_run,
                process=f"{args.role}-{args.instance}",
                model=teams[0].model if teams else None,
            )
        )
    if args.metrics_port:
        from aisoc.metrics import registry_for, serve

        registry, roles = registry_for(teams[0].bus)
        for team in teams:
            team.observers.append(roles.observe)
        serve(registry, args.metrics_port)
    workers = WorkerSet(
        teams, args.role, instance=args.instance, version=__version__, concurrency=args.concurrency
    )
    workers.install_signal_handlers()
    workers.run()
    return 0


def _metrics(args: argparse.Namespace) -> int:
    import threading

    from aisoc.metrics import registry_for, serve

    settings = kernel_settings(args)
    configure_logging(settings.log_level, settings.log_json)
    registry, _ = registry_for(open_bus(settings), approvals=True)
    serve(registry, args.port, args.host)
    print(f"serving metrics on http://{args.host}:{args.port}/metrics")
    stop = threading.Event()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    return 0


def _scheduler(args: argparse.Namespace) -> int:
    settings = kernel_settings(args)
    configure_logging(settings.log_level, settings.log_json)
    bus = open_bus(settings)
    team = build_team(settings, bus, config=args.config, dry_run=True, tools=[], context=None)
    memory = open_memory(settings, bus, "scheduler", args.config)
    sched = Scheduler(
        bus,
        team.scheduled.values(),
        settings.timezone,
        grace_s=args.grace,
        memory=memory,
        consumer_idle_s=settings.consumer_idle_s,
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
                {
                    "role": "scheduler",
                    "pid": str(os.getpid()),
                    "version": __version__,
                    "at": utcnow().isoformat(),
                    "timezone": settings.timezone,
                },
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
