"""``aisoc bus``: stats, dead letters, trimming."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from aisoc.bus import open_bus
from aisoc.cli._common import CommandError, add_bus_option, kernel_settings
from aisoc.errors import BusError


def register(sub: Any) -> None:
    p = sub.add_parser("bus", help="inspect the bus: stats, dead letters, trim")
    inner = p.add_subparsers(dest="bus_command", metavar="SUBCOMMAND", required=True)

    stats = inner.add_parser("stats", help="per stream: length, per group pending and lag")
    add_bus_option(stats)
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.set_defaults(func=_stats)

    trim = inner.add_parser("trim", help="drop work-stream entries every group has acked")
    add_bus_option(trim)
    trim.set_defaults(func=_trim)

    dlq = inner.add_parser("dlq", help="dead letters").add_subparsers(
        dest="dlq_command", metavar="SUBCOMMAND", required=True
    )
    ls = dlq.add_parser("list", help="list dead letters with their reasons")
    add_bus_option(ls)
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true", help="machine-readable output (with payloads)")
    ls.set_defaults(func=_dlq_list)
    rp = dlq.add_parser("replay", help="put a dead letter back on its stream for its group")
    add_bus_option(rp)
    rp.add_argument("id", nargs="+", help="dead-letter id(s) from 'aisoc bus dlq list'")
    rp.set_defaults(func=_dlq_replay)


def _stats(args: argparse.Namespace) -> int:
    bus = open_bus(kernel_settings(args))
    s = bus.stats()
    if args.json:
        print(
            json.dumps(
                {
                    "streams": [
                        {
                            "name": st.name,
                            "length": st.length,
                            "groups": [
                                g.__dict__
                                if hasattr(g, "__dict__")
                                else {
                                    "name": g.name,
                                    "pending": g.pending,
                                    "lag": g.lag,
                                    "consumers": g.consumers,
                                }
                                for g in st.groups
                            ],
                        }
                        for st in s.streams
                    ],
                    "dead_letters": s.dead_letters,
                },
                indent=2,
            )
        )
        return 0
    table = Table(title=f"bus {bus.url} namespace {bus.namespace}")
    for col in ("stream", "length", "group", "pending", "lag", "consumers"):
        table.add_column(col, justify="right" if col in ("length", "pending", "lag") else "left")
    for st in s.streams:
        if not st.groups:
            table.add_row(st.name, str(st.length), "-", "", "", "")
        for i, g in enumerate(st.groups):
            table.add_row(
                st.name if i == 0 else "",
                str(st.length) if i == 0 else "",
                g.name,
                str(g.pending),
                "?" if g.lag is None else str(g.lag),
                str(g.consumers),
            )
    console = Console()
    console.print(table)
    console.print(f"dead letters: {s.dead_letters}")
    return 0


def _trim(args: argparse.Namespace) -> int:
    settings = kernel_settings(args)
    bus = open_bus(settings)
    removed = bus.trim()
    forgotten = bus.forget_idle_consumers(settings.consumer_idle_s)
    print(f"trimmed {removed} acked entries from the work streams (the audit log is kept)")
    if forgotten:
        print(f"forgot {forgotten} consumers idle for {settings.consumer_idle_s:.0f}s with nothing pending")
    return 0


def _dlq_list(args: argparse.Namespace) -> int:
    letters = open_bus(kernel_settings(args)).dead_letters(limit=args.limit)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        **{f.name: getattr(d, f.name) for f in dataclasses.fields(d)},
                        "failed_at": d.failed_at.isoformat(),
                    }
                    for d in letters
                ],
                indent=2,
            )
        )
        return 0
    if not letters:
        print("no dead letters")
        return 0
    for d in letters:
        what = f"{d.event_type or '?'} {d.event_id or ''}".strip()
        print(f"{d.id}  {d.failed_at:%Y-%m-%d %H:%M:%S}  {d.stream}/{d.group}  {what}\n    {d.reason}")
    return 0


def _dlq_replay(args: argparse.Namespace) -> int:
    bus = open_bus(kernel_settings(args))
    failed = 0
    for dlq_id in args.id:
        try:
            print(f"{dlq_id}: replayed as {bus.replay_dead_letter(dlq_id)}")
        except BusError as e:
            print(f"{dlq_id}: {e}")
            failed += 1
    if failed:
        raise CommandError(f"{failed} of {len(args.id)} dead letters not replayed")
    return 0
