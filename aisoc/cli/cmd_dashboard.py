"""``aisoc dashboard METRICS.json... -o dashboard.html``: the replay dashboard as one static HTML file."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from aisoc.cli._common import CommandError
from aisoc.replay.dashboard import DEFAULT_BAR, load_runs, render_page

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "dashboard",
        help="render replay metrics files as one static HTML page (charts inline, works offline)",
        description="Reads one or more metrics files written by `aisoc replay --out` (a folder means "
        "every *.json in it) and writes a self-contained page: per-role accuracy against a bar, the "
        "confusion matrix, precision/recall over runs, the recall A/B and latency per role.",
    )
    p.add_argument("metrics", nargs="+", type=Path, help="metrics JSON files or folders of them")
    p.add_argument("-o", "--output", type=Path, default=Path("dashboard.html"), help="the HTML file to write")
    p.add_argument(
        "--bar",
        type=float,
        default=DEFAULT_BAR,
        help=f"per-role accuracy below this is red (default {DEFAULT_BAR})",
    )
    p.set_defaults(func=_dashboard)


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; a folder stands for the ``*.json`` files in it (the JSONL beside them are not)."""
    out: list[Path] = []
    for p in paths:
        out += sorted(p.glob("*.json")) if p.is_dir() else [p]
    return out


def _dashboard(args: argparse.Namespace) -> int:
    if not 0 <= args.bar <= 1:
        raise CommandError(f"--bar must be between 0 and 1, got {args.bar}", 2)
    runs, problems = load_runs(expand(args.metrics))
    if not runs:
        raise CommandError(
            "no replay metrics file among the inputs: " + "; ".join(problems or ["none given"])
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render_page(runs, bar=args.bar, problems=problems), encoding="utf-8")
    print(
        f"dashboard of {len(runs)} run(s) written to {args.output}"
        + (f" ({len(problems)} skipped)" if problems else "")
    )
    return 0
