"""``aisoc worker ROLE``: one agent role per process."""

from __future__ import annotations

import argparse
from typing import Any

from aisoc import __version__
from aisoc.cli._common import add_bus_option, configure_logging, kernel_settings, open_bus
from aisoc.cli._team import build_team
from aisoc.errors import ConfigError
from aisoc.runtime.worker import WorkerSet


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
        serve(registry, args.metrics_port, settings.metrics_host)
    workers = WorkerSet(
        teams, args.role, instance=args.instance, version=__version__, concurrency=args.concurrency
    )
    workers.install_signal_handlers()
    workers.run()
    return 0
