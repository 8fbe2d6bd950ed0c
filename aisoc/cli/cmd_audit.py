"""``aisoc audit``: export, import (restore) and retention of the audit log."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from aisoc import audit
from aisoc import audit_guard as guard
from aisoc.bus import Bus, open_bus
from aisoc.cli._common import CommandError, add_bus_option, kernel_settings

DEFAULT_WAIT_S = 60.0
"""How long ``aisoc audit retain`` waits for another retention pass before it gives up."""
BUSY = 3
"""The exit status when another retention pass runs, or a stopped one must be finished elsewhere."""


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="export, restore and retain the audit log (the SOC's evidence)")
    inner = p.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)

    ex = inner.add_parser("export", help="write the audit log as compressed JSON Lines")
    add_bus_option(ex)
    ex.add_argument("-o", "--out", required=True, help="file to write (.jsonl.gz)")
    ex.add_argument("--since", type=_when, help="only events that occurred at or after (ISO time)")
    ex.add_argument("--case", help="only this case's events")
    ex.set_defaults(func=_export)

    im = inner.add_parser(
        "import",
        help="restore an export into an EMPTY bus (validated first)",
        description="Restore into an EMPTY bus. After retention, give its archives (audit_archive_dir) "
        "oldest first, then the latest export: the whole log comes back, each event once.",
    )
    add_bus_option(im)
    im.add_argument("file", nargs="+", help="'aisoc audit export' files or retention archives, oldest first")
    im.set_defaults(func=_import)

    rt = inner.add_parser("retain", help="archive entries older than N days to a file, then trim them")
    add_bus_option(rt)
    rt.add_argument(
        "--older-than",
        type=int,
        metavar="DAYS",
        help="default: setting 'audit_retention_days' (0 = keep everything)",
    )
    rt.add_argument("--archive-dir", help="default: setting 'audit_archive_dir'")
    rt.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=f"how long to wait for another retention pass to end (default {DEFAULT_WAIT_S:g})",
    )
    rt.add_argument(
        "--status",
        action="store_true",
        help="only show the retention pass running now and a stopped one the bus records",
    )
    rt.add_argument(
        "--forget-stopped-pass",
        action="store_true",
        help="forget the stopped pass of another host's archive folder (lost): its entries are "
        "archived again by this pass",
    )
    rt.set_defaults(func=_retain)


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from e
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _export(args: argparse.Namespace) -> int:
    result = audit.export(open_bus(kernel_settings(args)), args.out, since=args.since, case_id=args.case)
    kept = f" and {result.unreadable} that do not decode, as stored" if result.unreadable else ""
    print(f"exported {result.count} audit entries{kept} to {result.path}")
    return 0


def _import(args: argparse.Namespace) -> int:
    count = audit.restore(open_bus(kernel_settings(args)), *args.file)
    print(f"restored {count} events into the audit log (work streams untouched)")
    return 0


def _retain(args: argparse.Namespace) -> int:
    settings = kernel_settings(args)
    bus = open_bus(settings)
    if args.status:
        return _status(bus)
    days = args.older_than if args.older_than is not None else settings.audit_retention_days
    if days <= 0:
        raise CommandError("retention is off: pass --older-than DAYS or set 'audit_retention_days'", 2)
    if args.forget_stopped_pass and (gone := guard.forget(bus)) is not None:
        print(f"forgot the stopped retention pass of {gone.describe()}", file=sys.stderr)
    try:
        result = audit.retain(
            bus,
            datetime.now(UTC) - timedelta(days=days),
            args.archive_dir or settings.audit_archive_dir,
            wait_s=max(0.0, args.wait),
            waiting=lambda other: print(
                f"another audit retention pass is running ({other.describe()}); waiting up to "
                f"{args.wait:g} s for it to end",
                file=sys.stderr,
            ),
        )
    except guard.RetentionRunning as e:
        raise CommandError(
            f"{e}: this pass did nothing. See it with 'aisoc audit retain --status' (and "
            "'aisoc status' on its host); run this again once it ended",
            BUSY,
        ) from e
    except guard.RetentionStopped as e:
        raise CommandError(f"{e}. Nothing was archived or trimmed by this pass", BUSY) from e
    print(
        "nothing older than that"
        if result is None
        else f"archived {result.count + result.unreadable} entries to {result.path} and trimmed them from "
        f"the audit log ({result.unreadable} that do not decode, archived as stored)"
        if result.unreadable
        else f"archived {result.count} entries to {result.path} and trimmed them from the audit log"
    )
    return 0


def _status(bus: Bus) -> int:
    held = bus.holder_of(guard.PASS_KEY)
    running = guard.Holder.parse(held).describe() if held else "none"
    print(f"retention pass running: {running}")
    stopped = guard.stopped(bus)
    print(
        "pass journal: none"
        if stopped is None
        else f"pass journal (a pass under way, or one that stopped unfinished): {stopped.describe()}, "
        f"archiving up to {stopped.through} into {stopped.archive}"
    )
    return 0
