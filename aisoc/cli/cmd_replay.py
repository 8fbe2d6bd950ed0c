"""``aisoc replay FILE``: recorded tickets through the team with every side effect neutered, scored
against what the human analyst did (the engine is :mod:`aisoc.replay`)."""

from __future__ import annotations

import argparse
import logging
import re
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from aisoc.cli._common import CommandError, kernel_settings
from aisoc.cli._paths import print_paths
from aisoc.cli._team import build_model, build_stoplist
from aisoc.replay import (
    DEFAULT_LABEL_DELAY,
    Replay,
    ReplayResult,
    ResumeMismatch,
    RunFiles,
    TicketResult,
    format_duration,
    parse_duration,
    read_records,
    select,
)
from aisoc.sources import open_source, source_names
from aisoc.tuning import gc_paused, gc_quiet

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "replay",
        help="replay recorded tickets through the team and score it against the analysts",
        description="Runs every ticket through the team on an isolated in-process bus: no gate, no Webex, "
        "no vendor tools, no outbound connection except to the model's own server. Scores the "
        "team's escalations against what the human analyst did (the source's ground truth).",
    )
    p.add_argument("file", help="recorded tickets (a file, or - for stdin where the source allows it)")
    p.add_argument("--source", default="jsonl", help=f"format: {', '.join(source_names())} (default jsonl)")
    p.add_argument("--model", help="stub | local | openai+http://HOST:PORT/v1 (default: setting 'model')")
    p.add_argument("--dry-run", action="store_true", help="use the canned stub model (= --model stub)")
    p.add_argument(
        "--recall",
        choices=["off", "on", "ab"],
        help="precedent from memory: off, on, or ab = both, off then on, with the delta "
        "(default: setting 'recall')",
    )
    p.add_argument("--limit", type=int, help="replay only the first N tickets (chronologically)")
    p.add_argument("--sample", type=int, help="replay N tickets drawn at random")
    p.add_argument("--stratify", action="store_true", help="keep the label mix in the sample")
    p.add_argument("--seed", type=int, default=0, help="the sample's random seed (default 0)")
    p.add_argument("--k", type=int, default=5, help="precedent references per prompt (default 5)")
    p.add_argument(
        "--label-delay",
        default=format_duration(DEFAULT_LABEL_DELAY),
        metavar="DURATION",
        help="how long after its alert an analyst's label is known, when the source records no label "
        f"time: 0, 90s, 30m, 12h, 1d, 2w (default {format_duration(DEFAULT_LABEL_DELAY)}); precedent, "
        "statistics and baselines only use labels known by then",
    )
    p.add_argument("--out", type=Path, help="metrics JSON file (per-ticket JSONL and journal beside it)")
    p.add_argument("--resume", action="store_true", help="continue the run whose files are beside --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--paths", action="store_true", help="print each case's path through the roles")
    p.set_defaults(func=_replay)


class RateColumn(ProgressColumn):
    """Tickets per second (or seconds per ticket when slower than one a second)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("-- t/s", style="progress.data.speed")
        shown = f"{speed:.1f} t/s" if speed >= 1 else f"{1 / speed:.1f} s/t"
        return Text(shown, style="progress.data.speed")


class BarProgress:
    """The engine's progress sink as a rich progress bar with rate and ETA."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: Any = None

    def arm(self, arm: str, total: int, done: int) -> None:
        if self.task is not None:
            self.progress.stop_task(self.task)
        self.task = self.progress.add_task(f"recall {arm}", total=total, completed=done)

    def ticket(self, result: TicketResult) -> None:
        self.progress.advance(self.task)


def _replay(args: argparse.Namespace) -> int:
    if args.resume and args.out is None:
        raise CommandError("--resume needs --out (the metrics file whose tickets file it continues)", 2)
    started = time.perf_counter()
    try:
        label_delay = parse_duration(args.label_delay)
    except ValueError as e:
        raise CommandError(f"--label-delay: {e}", 2) from e
    settings = kernel_settings(args, model="stub" if args.dry_run else args.model)
    recall = args.recall or settings.recall
    source = open_source(args.source, args.file)
    try:
        selection = select(
            read_records(source), limit=args.limit, sample=args.sample, stratify=args.stratify, seed=args.seed
        )
    except ValueError as e:
        raise CommandError(str(e), 2) from e
    if not selection.tickets:
        shown = [f"  {u.reason}" for u in selection.unreadable[:UNREADABLE_SHOWN]]
        more = len(selection.unreadable) - len(shown)
        raise CommandError(
            "\n".join(
                [
                    f"{args.file}: no ticket to replay ({len(selection.unreadable)} unreadable records)",
                    *shown,
                    *([f"  ... and {more} more"] if more > 0 else []),
                ]
            )
        )
    console = Console(stderr=True, soft_wrap=True)
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=args.no_progress,
        transient=False,
    )
    replay = Replay(
        build_model(settings, args.dry_run),
        selection,
        source=args.source,
        model_spec=settings.model,
        recall=recall,
        label_delay=label_delay,
        guardrail=settings.guardrail,
        statistics=settings.statistics,
        stoplist=build_stoplist(settings, args.config),
        bus_settings=settings.model_copy(update={"bus": "memory://", "durability": "fast"}),
        out=args.out,
        resume=args.resume,
        identity={
            "file": str(Path(args.file).resolve()) if args.file != "-" else "-",
            "selection": {
                "limit": args.limit,
                "sample": args.sample,
                "stratify": args.stratify,
                "seed": args.seed,
            },
            "roles": settings.team,
            "k": args.k,
            "guardrail": settings.guardrail.describe(),
        },
        roles=settings.team,
        k=args.k,
        progress=BarProgress(bar),
        bulk=gc_paused,
    )
    try:
        with bar, gc_quiet():
            result = replay.run(started=started)
    except ResumeMismatch as e:
        raise CommandError(str(e), 2) from e
    out = Console(soft_wrap=True)
    if args.paths:
        print_paths(result.buses[list(result.buses)[-1]], [t.ticket_id for t in selection.tickets], out)
    summary(result, out)
    if args.out is not None:
        files = RunFiles(args.out)
        out.print(f"metrics: {files.metrics}\nper-ticket outcomes: {files.tickets}")
    if result.interrupted:
        out.print(
            f"[yellow]interrupted[/] ({result.interrupted_by}): what was done is kept; run again with "
            "--resume to continue"
        )
        return 143 if result.interrupted_by == "SIGTERM" else 130  # 128 + the signal's number
    return 0


UNREADABLE_SHOWN = 10
"""Unreadable records whose reason is printed when none is left to replay."""


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def summary(result: ReplayResult, console: Console) -> None:
    """Print the scores, the per-role figures and the recall A/B of a replay."""
    m = result.metrics
    c = m["confusion"]
    console.print(
        f"[bold]{m['tickets']}[/] tickets from {m['source']} with model {m['model']} "
        f"({m['with_truth']} with ground truth, {m['human_review']} sent to human review), "
        f"{m['wall_s']:.1f} s"
    )
    decided = m["lift"].get("decided") or {}
    best = decided.get("best_baseline")
    beside = (decided.get("baselines") or {}).get(best) or {} if best else {}
    console.print(
        f"TP {c['tp']}  FP {c['fp']}  TN {c['tn']}  FN {c['fn']}   precision {_pct(m['precision'])}  "
        f"recall {_pct(m['recall'])}  F1 {_pct(m['f1'])}  accuracy {_pct(m['accuracy'])}   "
        f"(best baseline on these {decided.get('tickets', 0)} escalated or closed tickets: "
        f"{best or 'none'} F1 {_pct(beside.get('f1'))}, lift {_signed(decided.get('f1'))})"
    )
    table = Table(
        "role",
        "n",
        "accuracy",
        "best baseline, same tickets",
        "p50 ms",
        "p95 ms",
        "tools/ticket",
        "tokens/ticket",
        box=None,
    )
    for column in table.columns:
        column.overflow = "fold"  # a narrow terminal wraps a cell; it never cuts a figure or a name
    for role, r in m["per_role"].items():
        table.add_row(
            role,
            str(r["n"]),
            _pct(r["accuracy"]),
            _best_accuracy(r.get("baselines")),
            _pct(r["p50_ms"]),
            _pct(r["p95_ms"]),
            _pct(r["tool_calls_per_ticket"]),
            _pct(r["tokens_per_ticket"]),
        )
    console.print(table)
    baselines_table(m, console)
    g = m["guardrail"]
    console.print(
        f"guardrail ({g['policy']}): overruled {g['overruled']} closes — the analyst escalated "
        f"{g['right']}, closed {g['wrong']}"
    )
    ab = m["recall_ab"]
    if ab is not None:
        d = ab["delta"]
        console.print(
            f"recall A/B (on minus off): precision {_signed(d['precision'])}, recall {_signed(d['recall'])}, "
            f"F1 {_signed(d['f1'])} — {ab['verdict']}"
        )
        same = ab.get("delta_same_tickets") or {}
        console.print(
            f"recall A/B on exactly the same tickets (not closed = escalated): precision "
            f"{_signed(same.get('precision'))}, recall {_signed(same.get('recall'))}, "
            f"F1 {_signed(same.get('f1'))}"
        )
        for arm in ("off", "on"):
            lift = ab["lift"][arm]
            console.print(
                f"recall {arm}: team F1 {_pct(lift['team']['f1'])} on the same tickets, "
                f"{_signed(lift['f1'])} over the best baseline ({lift['best_baseline'] or 'none'})"
            )
    if m["errors"]:
        stages: dict[str, int] = {}
        for e in m["errors"]:
            if e["stage"] == "errors":  # the entry counting the errors past those listed, by stage
                for stage, n in re.findall(r"(\S+) (\d+)", e["message"].partition("by stage: ")[2]):
                    stages[stage] = stages.get(stage, 0) + int(n)
                continue
            stages[e["stage"]] = stages.get(e["stage"], 0) + 1
        console.print("errors: " + ", ".join(f"{n} {s}" for s, n in sorted(stages.items())))


def _best_accuracy(baselines: dict[str, float | None] | None) -> str:
    """The best baseline's accuracy on a role's own tickets, named (n/a: no label judges the role)."""
    scored = {n: v for n, v in (baselines or {}).items() if v is not None}
    if not scored:
        return "n/a"
    name = max(scored, key=lambda n: scored[n] or 0.0)
    return f"{_pct(scored[name])} {name}"


def baselines_table(m: dict[str, Any], console: Console) -> None:
    """The team beside the baselines on the same tickets (label delay stated), and the lift."""
    lift = m["lift"]
    table = Table("on the same tickets", "TP", "FP", "TN", "FN", "precision", "recall", "F1", box=None)
    rows = [("team (review = escalated)", lift["team"])] + list(m["baselines"].items())
    for name, s in rows:
        c = s["confusion"]
        style = "bold" if name == lift["best_baseline"] else None
        table.add_row(
            name,
            *(str(c[k]) for k in ("tp", "fp", "tn", "fn")),
            _pct(s["precision"]),
            _pct(s["recall"]),
            _pct(s["f1"]),
            style=style,
        )
    console.print(f"baselines (label delay {m['label_delay']}):")
    console.print(table)
    console.print(
        f"lift over the best baseline ({lift['best_baseline'] or 'none'}): F1 {_signed(lift['f1'])}, "
        f"precision {_signed(lift['precision'])}, recall {_signed(lift['recall'])}"
    )


def _signed(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.3f}"
