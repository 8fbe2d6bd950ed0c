"""``aisoc demo``: the whole SOC in one process on the embedded defaults, with real alerts."""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from typing import Any

from rich.console import Console

from aisoc.cli._common import kernel_settings, open_bus
from aisoc.cli._paths import print_paths
from aisoc.cli._team import build_team
from aisoc.errors import ResolveError
from aisoc.resolve import resolve
from aisoc.sources import ingest

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run the bundled sample of real alerts through the whole SOC",
        description="Runs 12 real Wazuh alerts through Sentinel, Tier 2, IR Lead and "
        "Threat Intel on the in-process bus and prints each case's path, ending at "
        "the human gate.",
    )
    p.add_argument("--bus", help="bus URL (default: in-memory)")
    p.add_argument("--model", help="stub (default) | local | openai+http://HOST:PORT/v1")
    p.add_argument("--dry-run", action="store_true", help="use the canned stub model")
    p.add_argument("--limit", type=int, help="run only the first N alerts")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    settings = kernel_settings(args, model=args.model)
    bus = open_bus(settings)
    console = Console(soft_wrap=True)
    source = resolve(settings.demo_source)()
    team = build_team(settings, bus, config=args.config, dry_run=args.dry_run)
    gate = None
    try:
        gate = resolve("gate:demo_gate")(bus)
        team.on_action_proposed(gate=gate)
    except ResolveError as e:
        log.debug("no in-process gate: %s", e)
    console.print(
        f"[bold]SOC-in-a-Box demo[/] — model [cyan]{team.caps.leg}[/], bus {bus.url}, "
        f"alerts from {source.name}"
    )
    t0 = time.perf_counter()
    stats = ingest(source, bus, limit=args.limit)
    team.subscribe()
    bus.drain()
    elapsed = time.perf_counter() - t0
    print_paths(bus, stats.case_ids, console)
    counts = Counter(e.type for e in bus.audit)
    console.print(
        f"\n[bold]{stats.published}[/] alerts in {elapsed:.2f}s: {counts['case.closed']} closed, "
        f"{counts['ir.plan']} incident plans, {counts['action.proposed']} actions awaiting a person, "
        f"{counts['case.review_requested']} review requests. Nothing was executed: agents propose, "
        "a human decides."
    )
    if stats.rejected:
        console.print(f"[red]{stats.rejected} records could not be read; see 'aisoc bus dlq list'[/]")
    return 0
