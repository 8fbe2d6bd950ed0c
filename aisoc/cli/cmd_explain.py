"""``aisoc explain CASE_ID|HOST``: why the team did what it did, from the recorded trace only."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from aisoc.bus import open_bus
from aisoc.cli._common import CommandError, add_bus_option, kernel_settings
from aisoc.memory import Memory, UnknownCase
from aisoc.tuning import gc_paused


def register(sub: Any) -> None:
    p = sub.add_parser(
        "explain",
        help="why a case went the way it did, or why a host was contained (from the record only)",
        description="Answer from the recorded traces and the human decision events: which role decided "
        "what, on which evidence and tool results, with which model leg, prompt version and "
        "precedent, and who approved and carried out what. Every line cites its event id.",
    )
    p.add_argument("subject", metavar="CASE_ID|HOST", help="a case id (source:id) or a host name")
    add_bus_option(p)
    p.add_argument(
        "--tenant",
        help="for a host: only this tenant's cases ('' for the default tenant). Without it this operator "
        "command searches every tenant's cases: a host name may belong to several organisations",
    )
    p.add_argument("--limit", type=int, default=5, help="for a host: at most this many cases (default 5)")
    p.add_argument(
        "--snapshot",
        help="memory snapshot file used to find a host's cases (default: STATE_DIR/memory/explain.sqlite; "
        "'none' to fold the log in memory)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_explain)


def _explain(args: argparse.Namespace) -> int:
    settings = kernel_settings(args)
    bus = open_bus(settings)
    try:
        if bus.audit.for_case(args.subject):
            expl = Memory(bus.audit, auto_refresh=False, bulk=gc_paused).explain(args.subject)
        else:
            snapshot: Any = args.snapshot
            if snapshot is None and not settings.bus.startswith("memory"):
                snapshot = settings.state_dir / "memory" / "explain.sqlite"
            mem = Memory(
                bus.audit, snapshot_path=None if snapshot in (None, "none") else snapshot, bulk=gc_paused
            )
            try:
                expl = mem.explain_host(
                    args.subject, tenant=args.tenant, every_tenant=args.tenant is None, limit=args.limit
                )
            finally:
                mem.close()
    except UnknownCase as e:
        raise CommandError(_not_found(args.subject, str(e), settings.audit_archive_dir)) from e
    finally:
        bus.close()
    print(json.dumps(expl.to_dict(), indent=2) if args.json else expl.text())
    return 0


def _not_found(subject: str, why: str, archive_dir: Path) -> str:
    """What to say when neither a case nor a host matches: a subject shaped like a case id
    (``source:id``) is named as a case, and retention's archives are pointed to when there are any."""
    if ":" not in subject:
        return f"{why}; nothing to explain"
    text = f"no case {subject!r} in the audit log (nor a host of that name); nothing to explain"
    if any(archive_dir.glob("audit-*.jsonl.gz")):
        text += f"; retention may have archived it: zgrep -l '\"{subject}\"' {archive_dir}/audit-*.jsonl.gz"
    return text
