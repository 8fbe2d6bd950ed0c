"""``aisoc demo``: the main job on the embedded defaults."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from aisoc.cli._common import kernel_settings, open_bus
from aisoc.events import AlertReceived
from aisoc.resolve import resolve
from aisoc.sources import ingest


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the bundled sample of real alerts through the SOC")
    p.add_argument("--bus", help="bus URL (default: in-memory)")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    settings = kernel_settings(args)
    bus = open_bus(settings)
    source = resolve(settings.demo_source)()
    stats = ingest(source, bus)
    console = Console()
    console.print(
        f"[bold]ingested[/] {stats.published} alerts "
        f"({stats.duplicates} duplicates, {stats.rejected} rejected) from {source.name}"
    )
    for entry in bus.audit.entries():
        e = entry.event
        title = e.alert.title if isinstance(e, AlertReceived) else ""
        console.print(f"{entry.id:>6}  {e.type:16} {e.case_id}  {title}")
    return 0
