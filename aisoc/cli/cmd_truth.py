"""``aisoc truth import FILE --source NAME``: analyst dispositions become ``truth.labeled`` events."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from typing import Any

from aisoc.cli._common import CommandError, add_bus_option, kernel_settings, open_bus
from aisoc.events import Event, ProducedBy, Role, TruthLabeled, fitted
from aisoc.memory import Memory
from aisoc.sources import RecordedSource, Rejected, file_under_tenant, open_source, source_names
from aisoc.tuning import gc_paused

log = logging.getLogger(__name__)

CHUNK = 500
"""Labels published per atomic batch."""


def register(sub: Any) -> None:
    p = sub.add_parser("truth", help="ground truth: import analyst dispositions as truth.labeled events")
    inner = p.add_subparsers(dest="truth_command", metavar="SUBCOMMAND", required=True)
    imp = inner.add_parser(
        "import",
        help="publish truth.labeled for every recorded ticket whose outcome is known",
        description="Read recorded tickets with the analyst's decision and publish one truth.labeled per "
        "case. A case whose latest label already says the same is skipped; a different label "
        "supersedes the old one (both stay in the log).",
    )
    imp.add_argument("file", help="the recorded tickets (a file, or - for stdin)")
    imp.add_argument(
        "--source",
        required=True,
        help=f"recorded source name (installed: {', '.join(source_names()) or 'none'})",
    )
    imp.add_argument("--labeled-by", default="analyst", help="who the labels are attributed to")
    imp.add_argument("--dry-run", action="store_true", help="count what would be published; publish nothing")
    imp.add_argument(
        "--strict",
        action="store_true",
        help="refuse the whole import (publish nothing, exit 1) when a label names a case the SOC has "
        "never seen (a wrong --source or file); without it they are published and reported",
    )
    imp.add_argument(
        "--tenant",
        help="the organisation this source belongs to, as given to 'aisoc ingest --tenant' for the same "
        "source (labels must land on the cases ingest filed): records naming none are its; a record "
        "naming another tenant is refused",
    )
    add_bus_option(imp)
    imp.set_defaults(func=_import)


@dataclass
class ImportStats:
    """What one import did."""

    published: int = 0
    unchanged: int = 0
    no_truth: int = 0
    rejected: int = 0
    unknown: list[str] = field(default_factory=list)
    """Case ids of labels for cases the SOC has never seen (no alert in the log)."""


def _import(args: argparse.Namespace) -> int:
    source = open_source(args.source, args.file)
    if not isinstance(source, RecordedSource):
        raise CommandError(
            f"source {args.source!r} does not carry the analyst's decisions (no records()); "
            f"installed sources: {', '.join(source_names())}"
        )
    settings = kernel_settings(args)
    tenancy = settings.tenancy(args.tenant)
    bus = open_bus(settings)
    mem = Memory(bus.audit, auto_refresh=False, bulk=gc_paused)
    mem.refresh()
    stats = ImportStats()
    batch: list[Event] = []
    producer = ProducedBy(role=Role.HUMAN)
    for record, truth in source.records():
        # The same tenant rule as ingest: a label must name the case ingest filed the alert under.
        item = file_under_tenant(record, tenancy)
        if isinstance(item, Rejected):
            stats.rejected += 1
            continue
        if truth is None:
            stats.no_truth += 1
            continue
        rec = mem.case(item.case_id)
        if rec is None or rec.alert is None:
            stats.unknown.append(item.case_id)
        known = rec.truth if rec is not None else None
        if (
            known is not None
            and known.label == truth.label.value
            and known.escalated == truth.escalated
            and known.source == args.source
        ):
            stats.unchanged += 1
            continue
        batch.append(
            fitted(
                TruthLabeled,
                label=truth.label,
                escalated=truth.escalated,
                labeled_by=args.labeled_by,
                source=args.source,
                note=truth.note or f"from field {truth.field}",
                case_id=item.case_id,
                produced_by=producer,
            )
        )
        stats.published += 1
    unknown = _unknown_note(stats.unknown)
    if stats.unknown and args.strict:
        raise CommandError(f"refused, nothing published (--strict): {unknown}")
    if not args.dry_run:
        for start in range(0, len(batch), CHUNK):
            bus.publish_many(batch[start : start + CHUNK])
    verb = "would publish" if args.dry_run else "published"
    print(
        f"{verb} {stats.published} labels from {args.source}; {stats.unchanged} unchanged, "
        f"{stats.no_truth} without a known outcome, {stats.rejected} unreadable records"
        + (f"; {unknown}" if stats.unknown else "")
    )
    return 0


def _unknown_note(case_ids: list[str]) -> str:
    """The report line of labels for cases the SOC has never seen."""
    shown = ", ".join(case_ids[:10]) + (f" and {len(case_ids) - 10} more" if len(case_ids) > 10 else "")
    return f"{len(case_ids)} label(s) for case(s) this SOC has never seen: {shown}"
