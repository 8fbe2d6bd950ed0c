"""``aisoc replay FILE``: recorded tickets through the team with every side effect neutered."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from rich.console import Console

from aisoc.bus import Bus
from aisoc.cli._common import kernel_settings
from aisoc.cli._paths import print_paths
from aisoc.cli._team import build_team
from aisoc.sources import ingest, open_source, source_names


def register(sub: Any) -> None:
    p = sub.add_parser(
        "replay",
        help="replay recorded tickets through the team, side effects neutered",
        description="Runs every ticket through the team on an isolated in-process bus: "
        "no vendor tools, no gate, no Webex; nothing leaves the process.",
    )
    p.add_argument("file", help="recorded tickets (a file, or - for stdin)")
    p.add_argument("--source", default="jsonl", help=f"format: {', '.join(source_names())}")
    p.add_argument("--model", help="stub | local | openai+http://HOST:PORT/v1")
    p.add_argument("--dry-run", action="store_true", help="use the canned stub model")
    p.add_argument("--limit", type=int, help="replay only the first N tickets")
    p.add_argument("--paths", action="store_true", help="print each case's path through the roles")
    p.set_defaults(func=_replay)


def _replay(args: argparse.Namespace) -> int:
    settings = kernel_settings(args, model=args.model, bus="memory://")
    bus = Bus()  # isolated: replay never touches the production bus
    team = build_team(settings, bus, config=args.config, dry_run=args.dry_run, tools=[])
    source = open_source(args.source, args.file)
    stats = ingest(source, bus, limit=args.limit)
    team.subscribe()
    bus.drain()
    console = Console(soft_wrap=True)
    if args.paths:
        print_paths(bus, stats.case_ids, console)
    counts = Counter(e.type for e in bus.audit)
    console.print(
        f"replayed {stats.published} tickets ({stats.rejected} unreadable, "
        f"{stats.duplicates} duplicates) with model {team.caps.leg}: "
        f"{counts['triage.verdict']} triaged, {counts['ir.plan']} escalated to IR Lead, "
        f"{counts['case.closed']} closed, {counts['case.review_requested']} sent to human review"
    )
    return 0
