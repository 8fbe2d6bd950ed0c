"""``aisoc metrics``: a Prometheus exporter for the bus."""

from __future__ import annotations

import argparse
from typing import Any

from aisoc.cli._common import add_bus_option, configure_logging, open_bus, running_soc_settings
from aisoc.stopsignal import wait_for_stop


def register(sub: Any) -> None:
    m = sub.add_parser(
        "metrics", help="a Prometheus exporter for the bus: lag, pending, dead letters, approvals"
    )
    add_bus_option(m)
    m.add_argument("--port", type=int, default=9464)
    m.add_argument("--host", help="address to bind (default: setting 'metrics_host', loopback)")
    m.set_defaults(func=_metrics)


def _metrics(args: argparse.Namespace) -> int:
    from aisoc.metrics import registry_for, serve

    settings = running_soc_settings(args)
    configure_logging(settings.log_level, settings.log_json)
    registry, _ = registry_for(open_bus(settings), approvals=True)
    host = args.host or settings.metrics_host
    serve(registry, args.port, host)
    print(f"serving metrics on http://{host}:{args.port}/metrics")
    wait_for_stop()
    return 0
