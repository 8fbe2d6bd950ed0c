"""``aisoc bus``: stats, dead letters, trimming, forgetting groups nobody reads, repairing keys
written around the bus."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from aisoc.bus import Bus, HeldGroup, open_bus
from aisoc.cli._common import CommandError, add_bus_option, each_namespace, running_soc_settings
from aisoc.errors import BusError


def register(sub: Any) -> None:
    p = sub.add_parser("bus", help="inspect the bus: stats, dead letters, trim, forget-group, repair")
    inner = p.add_subparsers(dest="bus_command", metavar="SUBCOMMAND", required=True)

    stats = inner.add_parser("stats", help="per stream: length, per group pending and lag")
    add_bus_option(stats)
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.set_defaults(func=_stats)

    trim = inner.add_parser("trim", help="drop work-stream entries every group has acked")
    add_bus_option(trim)
    trim.set_defaults(func=_trim)

    forget = inner.add_parser(
        "forget-group",
        help="remove a consumer group nobody reads any more, so its streams are trimmed again",
        description="A work stream is trimmed only up to what every consumer group on it has acked: a "
        "group whose role was removed or renamed, or no longer reads the stream, holds trimming back "
        "forever ('aisoc bus stats' names it). This removes the group's position (XGROUP DESTROY on "
        "Redis), then trims. It refuses while the group holds pending entries or one of its consumers "
        "read or acked within group_idle_s; --force forgets it anyway and files its pending entries "
        "as dead letters ('group forgotten'). A role that still reads the stream recreates the group "
        "and reads what the stream holds again. Exit status: 0 when forgotten, 1 when refused.",
    )
    add_bus_option(forget)
    forget.add_argument("group", help="the consumer group (a role slug, or an old one)")
    forget.add_argument("--stream", help="only this work stream (default: every one the group reads)")
    forget.add_argument(
        "--force", action="store_true", help="forget it even with pending entries or a recent consumer"
    )
    forget.set_defaults(func=_forget_group)

    repair = inner.add_parser(
        "repair",
        help="move aside Redis keys holding another type than the bus keeps there",
        description="A key written around the bus (a string where a stream or the heartbeats hash "
        "belongs) stops every worker that touches it: they log a StorageConflict and back off. This "
        "lists each such key of the namespace with the type it holds and the type the bus keeps there, "
        "and renames it to KEY.aside-YYYYmmddTHHMMSSZ (never deleted: inspect it, then remove it "
        "yourself); the bus recreates the key on its next write. Exit status: 0 when nothing is (or "
        "remains) wrong, 1 when --dry-run found keys to move.",
    )
    add_bus_option(repair)
    repair.add_argument("--dry-run", action="store_true", help="only list the keys; rename nothing")
    repair.set_defaults(func=_repair)

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
    settings = running_soc_settings(args)
    if (code := each_namespace(args, settings, _stats)) is not None:
        return code
    bus = open_bus(settings)
    s = bus.stats()
    held = bus.held_groups(settings.group_idle_s)
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
                    "held_groups": [dataclasses.asdict(h) for h in held],
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
    _warn_held(held, settings.group_idle_s)
    return 0


def _warn_held(held: list[HeldGroup], idle_s: float) -> None:
    """One line per group that holds back trimming (plain print: rich would wrap and re-style it)."""
    for h in held:
        print(f"WARNING: {h.describe()}")
    if held:
        print(f"(reported: a group at its stream's trim floor, idle {idle_s:.0f}s or more: group_idle_s)")


def _forget_group(args: argparse.Namespace) -> int:
    settings = running_soc_settings(args)
    bus: Bus = open_bus(settings)
    results = bus.forget_group(args.group, args.stream, idle_s=settings.group_idle_s, force=args.force)
    refused = 0
    for r in results:
        filed = f"; filed {r.dead_lettered} pending entries as dead letters ('group forgotten')"
        if not r.forgotten:
            refused += 1
            print(
                f"left group {r.group!r} on stream {r.stream!r}: {r.refused}"
                + (filed if r.dead_lettered else "")
            )
            continue
        trimmed = bus.trim(r.stream)
        print(
            f"forgot group {r.group!r} on stream {r.stream!r}"
            + (filed if r.dead_lettered else "")
            + f"; trimmed {trimmed} entries no other group needs"
        )
    if refused:
        raise CommandError(f"{refused} of {len(results)} positions of group {args.group!r} left as they are")
    return 0


def _trim(args: argparse.Namespace) -> int:
    settings = running_soc_settings(args)
    bus = open_bus(settings)
    removed = bus.trim()
    forgotten = bus.forget_idle_consumers(settings.consumer_idle_s)
    print(f"trimmed {removed} acked entries from the work streams (the audit log is kept)")
    if forgotten:
        print(f"forgot {forgotten} consumers idle for {settings.consumer_idle_s:.0f}s with nothing pending")
    return 0


def _dlq_list(args: argparse.Namespace) -> int:
    settings = running_soc_settings(args)
    if (code := each_namespace(args, settings, _dlq_list)) is not None:
        return code
    letters = open_bus(settings).dead_letters(limit=args.limit)
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
        # A letter names its event id whenever its payload is an event: replaying it clears the
        # group's mark of that event. One without (raw garbage, a bad input) says so.
        what = f"{d.event_type or '?'} {d.event_id or '(no event id: the payload is not an event)'}"
        print(f"{d.id}  {d.failed_at:%Y-%m-%d %H:%M:%S}  {d.stream}/{d.group}  {what}\n    {d.reason}")
    return 0


def _dlq_replay(args: argparse.Namespace) -> int:
    bus = open_bus(running_soc_settings(args))
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


def _repair(args: argparse.Namespace) -> int:
    from aisoc.bus.redis import RedisBus

    bus = open_bus(running_soc_settings(args))
    if not isinstance(bus, RedisBus):
        print(f"nothing to repair: the {bus.scheme} bus keeps no keys of their own type")
        return 0
    found = bus.misplaced_keys()
    if not found:
        print(f"every key of namespace {bus.namespace} holds the type the bus keeps there")
        return 0
    for m in found:
        print(f"{m.key}: holds a {m.found}, the bus keeps a {m.expected} there")
    if args.dry_run:
        print(f"{len(found)} key(s) to move aside (dry run: nothing renamed)")
        return 1
    moved = bus.move_aside(found)
    for m in moved:
        print(f"moved {m.key} to {m.moved_to}")
    left = len(found) - len(moved)
    print(f"{len(moved)} key(s) moved aside" + (f", {left} repaired meanwhile and left" if left else ""))
    return 0
