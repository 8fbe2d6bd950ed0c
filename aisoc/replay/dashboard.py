"""The replay dashboard: one or more metrics files rendered as one HTML page of inline SVG.

``aisoc dashboard runs/*.json -o dashboard.html`` writes it as a self-contained file (styles inline,
no script, nothing fetched); the gate serves the same body at ``/dashboard`` behind its login, with
the stylesheet from :data:`CSS` served by the gate itself. The latest run (by ``generated_at``) is
shown in detail; every run appears in the trends and the table.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from aisoc.replay import charts
from aisoc.replay.charts import Row, Series, fmt, fmt_ms

log = logging.getLogger(__name__)

DEFAULT_BAR = 0.8
"""Per-role accuracy below this is drawn in red."""
REQUIRED = ("schema_version", "run_id", "generated_at", "confusion", "per_role")

CSS = """\
.dash { --fg:#1b1f24; --muted:#5b6570; --line:#d8dde3; --ok:#1f7a3a; --bad:#b42318; --accent:#0b5cad;
  color: var(--fg); }
.dash h1 { font-size: 1.5rem; margin: .75rem 0 .25rem; }
.dash h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
.dash .card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:1rem 1.25rem;
  margin:1rem 0; }
.dash .kpis { display:flex; flex-wrap:wrap; gap:.75rem; margin:.5rem 0 0; padding:0; list-style:none; }
.dash .kpis li { background:#f5f6f8; border:1px solid var(--line); border-radius:6px; padding:.4rem .75rem; }
.dash .kpis b { display:block; font-size:1.25rem; }
.dash .muted, .dash text.muted { color:var(--muted); fill:var(--muted); }
.dash table { border-collapse:collapse; width:100%; font-size:.9rem; }
.dash th, .dash td { border-bottom:1px solid var(--line); padding:.3rem .4rem; text-align:left; }
.dash td.num, .dash th.num { text-align:right; font-variant-numeric:tabular-nums; }
.dash td.below { background:#fde8e7; color:var(--bad); font-weight:600; }
.dash .verdict { margin:.25rem 0 0; }
.dash svg.chart { display:block; max-width:100%; height:auto; font:12px system-ui, sans-serif; }
.dash svg text { fill:var(--fg); }
.dash svg text.axis, .dash svg text.legend { fill:var(--muted); }
.dash svg text.label { font-weight:600; }
.dash svg text.value { font-variant-numeric:tabular-nums; }
.dash svg text.threshold-label, .dash svg text.delta-down { fill:var(--bad); font-weight:600; }
.dash svg text.delta-up { fill:var(--ok); font-weight:600; }
.dash svg text.cell-name { font-size:14px; font-weight:700; }
.dash svg text.cell-count { font-size:22px; font-weight:700; }
.dash svg .grid { stroke:#e6e9ed; stroke-width:1; }
.dash svg .threshold { stroke:var(--bad); stroke-width:2; stroke-dasharray:5 4; }
.dash svg .band-below { fill:#fde8e7; }
.dash svg .bar.ok { fill:var(--ok); }
.dash svg .bar.below { fill:var(--bad); }
.dash svg .cell.good { fill:#e3f1e7; } .dash svg .cell.bad { fill:#fbe5e3; }
.dash svg .cell.good.shade-2, .dash svg .cell.good.shade-3, .dash svg .cell.good.shade-4 { fill:#b9dec5; }
.dash svg .cell.bad.shade-2, .dash svg .cell.bad.shade-3, .dash svg .cell.bad.shade-4 { fill:#f4b8b2; }
.dash svg .line { fill:none; stroke-width:2.5; }
.dash svg .series-precision { stroke:var(--accent); fill:var(--accent); }
.dash svg .series-recall { stroke:#b35c00; fill:#b35c00; }
.dash svg .series-f1 { stroke:#6b4fbb; fill:#6b4fbb; }
.dash svg .series-baseline { stroke:#5b6570; fill:#5b6570; }
.dash svg polyline.series-baseline { stroke-dasharray:6 4; }
.dash .kpis small.baseline { display:block; font-size:.8rem; }
.dash svg polyline.line { fill:none; }
.dash svg .arm-off { fill:#9aa5b1; } .dash svg .arm-on { fill:var(--accent); }
.dash svg .p50 { fill:var(--accent); } .dash svg .p95 { fill:#b9d3ee; }
"""
"""The dashboard's stylesheet (inlined in the static file, served by the gate next to its page)."""


def load_runs(paths: Iterable[str | Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """Read metrics files, oldest run first; files that are not replay metrics are skipped.

    Returns:
        The runs (sorted by ``generated_at``) and one problem line per skipped file.
    """
    runs, problems = [], []
    for p in paths:
        path = Path(p)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            problems.append(f"{path}: not readable as JSON ({e})")
            continue
        missing = [k for k in REQUIRED if not isinstance(data, dict) or k not in data]
        if missing:
            problems.append(f"{path}: not a replay metrics file (missing {', '.join(missing)})")
            continue
        runs.append(data)
    for line in problems:
        log.warning("dashboard: %s", line)
    return sorted(runs, key=lambda r: str(r["generated_at"])), problems


def _label(run: dict[str, Any]) -> str:
    return f"{str(run['generated_at'])[5:16].replace('T', ' ')} {run.get('source', '?')}"


def _beside(run: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The best baseline (by F1) scored on exactly the tickets inside the team's own figures (the
    tickets it escalated or closed), and its figures; (None, {}) for a file that predates them."""
    decided = (run.get("lift") or {}).get("decided") or {}
    best = decided.get("best_baseline")
    return best, ((decided.get("baselines") or {}).get(best) or {}) if best else {}


def _kpis(run: dict[str, Any]) -> str:
    best, base = _beside(run)
    items = [
        ("precision", fmt(run.get("precision")), base.get("precision")),
        ("recall", fmt(run.get("recall")), base.get("recall")),
        ("F1", fmt(run.get("f1")), base.get("f1")),
        ("accuracy", fmt(run.get("accuracy")), base.get("accuracy")),
        ("tickets", f"{run.get('tickets', 0):,}", None),
        ("human review", f"{run.get('human_review', 0):,}", None),
        ("wall time", f"{run.get('wall_s', 0):.1f} s", None),
    ]
    scored = {"precision", "recall", "F1", "accuracy"}

    def beside(k: str, b: float | None) -> str:
        if k not in scored:
            return ""
        shown = f"baseline {fmt(b)}" if best else "no baseline in this file"
        return f'<small class="baseline muted">{escape(shown)}</small>'

    note = (
        f'<p class="muted" id="kpi-baseline">Beside each score: the best baseline ({escape(str(best))}) on '
        "exactly the tickets the team escalated or closed (human review and unfinished tickets apart, "
        "as in the team's figures).</p>"
        if best
        else ""
    )
    return (
        '<ul class="kpis" id="kpis">'
        + "".join(
            f'<li id="kpi-{escape(k.split()[0].lower())}"><b>{escape(v)}</b>{escape(k)}{beside(k, b)}</li>'
            for k, v, b in items
        )
        + "</ul>"
        + note
    )


def _accuracy(runs: Sequence[dict[str, Any]], bar: float) -> str:
    latest = runs[-1]
    rows = [
        Row(
            role,
            r.get("accuracy"),
            f"n={r.get('n', 0)}, {_role_baseline(r)}" if r.get("accuracy") is not None else "no ground truth",
        )
        for role, r in latest["per_role"].items()
    ]
    roles = list(dict.fromkeys(role for run in runs for role in run["per_role"]))
    head = "".join(
        f'<th class="num">{escape(r)}</th><th class="num">{escape(r)}: best baseline</th>' for r in roles
    )
    body = []
    for run in reversed(runs):
        cells = []
        for role in roles:
            r = run["per_role"].get(role) or {}
            acc = r.get("accuracy")
            cls = "num below" if acc is not None and acc < bar else "num"
            cells.append(f'<td class="{cls}">{fmt(acc)}</td>')
            cells.append(f'<td class="num baseline">{escape(_role_baseline(r, short=True))}</td>')
        body.append(f"<tr><td>{escape(_label(run))}</td>{''.join(cells)}</tr>")
    return (
        '<section class="card" id="accuracy"><h2>Per-role accuracy against the analysts</h2>'
        + charts.accuracy_bars("accuracy-chart", rows, bar, f"Per-role accuracy, latest run (bar {bar:.2f})")
        + f'<p class="muted">Red: below the bar of {bar:.2f}. Sentinel: verdict vs the label; Tier 2: '
        "escalate/close vs what the analyst did (its human-review answers abstain). Other roles have no "
        "ground truth to compare with. Beside each: the most accurate baseline on exactly the tickets "
        "the role was judged on (an escalation standing for Sentinel's threat verdict).</p>"
        + f'<table id="accuracy-runs"><thead><tr><th>run</th>{head}</tr></thead>'
        + f"<tbody>{''.join(body)}</tbody></table>"
        + "</section>"
    )


def _role_baseline(r: dict[str, Any], short: bool = False) -> str:
    """The most accurate baseline on the tickets a role was judged on: ``best baseline 0.750
    (escalate_all)``; ``n/a`` when the role is not judged or the file predates it."""
    base = {k: v for k, v in (r.get("baselines") or {}).items() if v is not None}
    if r.get("accuracy") is None or not base:
        return "n/a" if short else "no baseline"
    name = max(base, key=lambda k: base[k])
    return f"{fmt(base[name])} ({name})" if short else f"best baseline {fmt(base[name])} ({name})"


def _confusion(run: dict[str, Any]) -> str:
    c = run["confusion"]
    scored = c["tp"] + c["fp"] + c["tn"] + c["fn"]
    unfinished = max(0, run.get("with_truth", scored) - scored - run.get("human_review", 0))
    return (
        '<section class="card" id="confusion"><h2>Escalations vs the analysts (latest run)</h2>'
        + charts.confusion_matrix("confusion-chart", c["tp"], c["fp"], c["tn"], c["fn"], "Confusion matrix")
        + '<p id="apart">Counted apart, outside every denominator: '
        + f"<b>{run.get('human_review', 0):,}</b> sent to "
        f"human review, <b>{unfinished:,}</b> unfinished, "
        f"<b>{run.get('tickets', 0) - run.get('with_truth', 0):,}</b> without ground truth.</p></section>"
    )


def _trend(runs: Sequence[dict[str, Any]]) -> str:
    labels = [_label(r) for r in runs]
    series = [
        Series(k, name, [r.get(k) for r in runs])
        for k, name in (("precision", "precision"), ("recall", "recall"), ("f1", "F1"))
    ]
    series.append(
        Series("baseline", "best baseline F1", [_beside(r)[1].get("f1") for r in runs], square=True)
    )
    return (
        '<section class="card" id="trend"><h2>Precision and recall over runs</h2>'
        + charts.trend("trend-chart", labels, series, "Precision, recall and F1 of each run")
        + '<p class="muted">Best baseline F1: the best baseline of each run on exactly the tickets its '
        "team escalated or closed (the tickets of the team's F1).</p></section>"
    )


def _ab(runs: Sequence[dict[str, Any]]) -> str:
    with_ab = [r for r in runs if r.get("recall_ab")]
    if not with_ab:
        return (
            '<section class="card" id="ab"><h2>Recall A/B</h2>'
            '<p class="muted">No run compared recall off and '
            "on yet: <code>aisoc replay FILE --recall ab --out metrics.json</code>.</p></section>"
        )
    run = with_ab[-1]
    ab = run["recall_ab"]
    groups = [
        (name, ab["off"].get(k), ab["on"].get(k))
        for k, name in (("precision", "precision"), ("recall", "recall"), ("f1", "F1"))
    ]
    return (
        f'<section class="card" id="ab"><h2>Recall A/B: precedent off vs on ({escape(_label(run))})</h2>'
        + charts.paired_bars(
            "ab-chart", groups, ("recall off", "recall on"), "Recall off vs on, same tickets"
        )
        + f'<p class="verdict" id="ab-verdict">{escape(str(ab.get("verdict", "")))}</p>'
        + _ab_lift(ab)
        + "</section>"
    )


def _ab_lift(ab: dict[str, Any]) -> str:
    """Each arm's F1 beside its best baseline on the same tickets (every ticket, not closed = escalated)."""
    lines = []
    for arm in ("off", "on"):
        lift = (ab.get("lift") or {}).get(arm)
        if not lift:
            continue
        team, diff = lift["team"].get("f1"), lift.get("f1")
        base = None if team is None or diff is None else team - diff
        n = sum(lift["team"]["confusion"].values())
        lines.append(
            f"<li>recall {arm}: team F1 {fmt(team)} beside {escape(str(lift.get('best_baseline')))} "
            f"{fmt(base)} on the same {n:,} tickets (lift {_signed(diff)})</li>"
        )
    same = ab.get("delta_same_tickets")
    if same:
        lines.append(
            f"<li>on the same tickets (not closed = escalated), on minus off: F1 {_signed(same.get('f1'))}, "
            f"precision {_signed(same.get('precision'))}, recall {_signed(same.get('recall'))}</li>"
        )
    return f'<ul class="muted" id="ab-lift">{"".join(lines)}</ul>' if lines else ""


def _baselines(run: dict[str, Any]) -> str:
    """The team beside the trivial baselines on the same tickets, the lift, and the guardrail."""
    base, lift = run.get("baselines"), run.get("lift")
    if not base or not lift:
        return (
            '<section class="card" id="baselines"><h2>Against the baselines</h2><p class="muted">This run '
            "predates baselines (metrics schema 1): replay it again to see the team beside them."
            "</p></section>"
        )
    best = lift.get("best_baseline")
    team = lift["team"]
    groups = [(name, team.get(k), (base.get(best) or {}).get(k)) for k, name in _METRICS] if best else []
    rows = [("team (not closed = escalated)", team, "team")] + [
        (n, b, "best" if n == best else "") for n, b in base.items()
    ]
    body = "".join(
        f'<tr class="{cls}"><td>{escape(name)}</td>'
        + "".join(f"<td class='num'>{s['confusion'][k]:,}</td>" for k in ("tp", "fp", "tn", "fn"))
        + "".join(f"<td class='num'>{fmt(s.get(k))}</td>" for k, _ in _METRICS)
        + "</tr>"
        for name, s, cls in rows
    )
    g = run.get("guardrail") or {}
    decided = lift.get("decided") or {}
    chart = (
        charts.paired_bars(
            "baselines-chart", groups, ("team", f"best baseline: {best}"), "Team vs best baseline"
        )
        if groups
        else ""
    )
    return (
        '<section class="card" id="baselines"><h2>Against the baselines, same tickets '
        f"(label delay {escape(str(run.get('label_delay', '?')))})</h2>"
        + chart
        + f'<p class="verdict" id="lift">Lift over the best baseline ({escape(str(best))}): F1 '
        f"{_signed(lift.get('f1'))}, precision {_signed(lift.get('precision'))}, recall "
        f"{_signed(lift.get('recall'))}. On the {decided.get('tickets', 0):,} tickets the team decided: F1 "
        f"{_signed(decided.get('f1'))} over {escape(str(decided.get('best_baseline')))}.</p>"
        '<table id="baselines-table"><thead><tr><th>decider</th>'
        + "".join(f'<th class="num">{h}</th>' for h in ("TP", "FP", "TN", "FN", "precision", "recall", "F1"))
        + f"</tr></thead><tbody>{body}</tbody></table>"
        + f'<p class="muted" id="guardrail">Guardrail ({escape(str(g.get("policy", "?")))}): overruled '
        f"<b>{g.get('overruled', 0):,}</b> closes; the analyst escalated "
        f"<b>{g.get('right', 0):,}</b> of them "
        f"and closed <b>{g.get('wrong', 0):,}</b>.</p></section>"
    )


_METRICS = (("precision", "precision"), ("recall", "recall"), ("f1", "F1"))


def _signed(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.3f}"


def _latency(run: dict[str, Any]) -> str:
    rows = [(role, r.get("p50_ms"), r.get("p95_ms")) for role, r in run["per_role"].items()]
    table = "".join(
        f"<tr><td>{escape(role)}</td><td class='num'>{r.get('n', 0):,}</td>"
        f"<td class='num'>{fmt_ms(r.get('p50_ms'))}</td><td class='num'>{fmt_ms(r.get('p95_ms'))}</td>"
        f"<td class='num'>{fmt(r.get('tool_calls_per_ticket'), 2)}</td>"
        f"<td class='num'>{fmt(r.get('tokens_per_ticket'), 0)}</td></tr>"
        for role, r in run["per_role"].items()
    )
    return (
        '<section class="card" id="latency"><h2>Latency per role (latest run)</h2>'
        + charts.latency_bars("latency-chart", rows, "p50 and p95 latency of each role")
        + '<table><thead><tr><th>role</th><th class="num">tickets</th><th class="num">p50</th>'
        '<th class="num">p95</th>'
        '<th class="num">tool calls / ticket</th><th class="num">tokens / ticket</th></tr></thead>'
        f"<tbody>{table}</tbody></table></section>"
    )


def _runs_table(runs: Sequence[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(r['generated_at'])[:16].replace('T', ' '))}</td>"
        f"<td><code>{escape(str(r['run_id']))}</code></td>"
        f"<td>{escape(str(r.get('source')))}</td><td>{escape(str(r.get('model')))}</td>"
        f"<td class='num'>{r.get('tickets', 0):,}</td><td class='num'>{fmt(r.get('precision'))}</td>"
        f"<td class='num'>{fmt(r.get('recall'))}</td><td class='num'>{fmt(r.get('f1'))}</td>"
        f"<td class='num'>{fmt(_beside(r)[1].get('f1'))}</td>"
        f"<td>{escape(str(_beside(r)[0] or 'n/a'))}</td>"
        f"<td class='num'>{_signed(((r.get('lift') or {}).get('decided') or {}).get('f1'))}</td>"
        f"<td class='num'>{r.get('wall_s', 0):.1f}</td><td class='num'>{len(r.get('errors') or [])}</td></tr>"
        for r in reversed(runs)
    )
    return (
        '<section class="card" id="runs"><h2>Runs</h2><table><thead><tr><th>generated</th><th>run</th>'
        '<th>source</th><th>model</th><th class="num">tickets</th><th class="num">precision</th>'
        '<th class="num">recall</th><th class="num">F1</th><th class="num">best baseline F1</th>'
        '<th>best baseline</th><th class="num">lift (F1)</th><th class="num">wall s</th>'
        '<th class="num">errors</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def render_body(
    runs: Sequence[dict[str, Any]], *, bar: float = DEFAULT_BAR, problems: Sequence[str] = ()
) -> str:
    """The dashboard's HTML (one ``<div class="dash">``): for pages that bring their own head and styles.

    Args:
        runs: metrics dicts, oldest first (:func:`load_runs`).
        bar: per-role accuracy below this is drawn red.
        problems: files that could not be shown, listed on the page.
    """
    warn = "".join(f"<li>{escape(p)}</li>" for p in problems)
    notes = f'<ul class="muted" id="problems">{warn}</ul>' if warn else ""
    if not runs:
        return (
            '<div class="dash"><h1>Replay and proof</h1><p id="empty">No replay metrics to show yet: run '
            "<code>aisoc replay FILE --source NAME --out metrics.json</code>.</p>" + notes + "</div>"
        )
    latest = runs[-1]
    head = (
        '<h1>Replay and proof</h1><p class="muted" id="latest">'
        f"Latest run <code>{escape(str(latest['run_id']))}</code>: "
        f"{latest.get('tickets', 0):,} tickets from <b>{escape(str(latest.get('source')))}</b>, model "
        f"<b>{escape(str(latest.get('model')))}</b>, {escape(str(latest['generated_at']))}. "
        f"{len(runs)} run(s) shown.</p>"
    )
    return (
        '<div class="dash">'
        + head
        + _kpis(latest)
        + notes
        + _accuracy(runs, bar)
        + _confusion(latest)
        + _baselines(latest)
        + _trend(runs)
        + _ab(runs)
        + _latency(latest)
        + _runs_table(runs)
        + "</div>"
    )


def render_page(
    runs: Sequence[dict[str, Any]], *, bar: float = DEFAULT_BAR, problems: Sequence[str] = ()
) -> str:
    """A complete, self-contained HTML document (inline styles, no script, nothing fetched)."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Replay and proof · SOC-in-a-Box</title>"
        "<style>body{margin:0;background:#f5f6f8;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,"
        "sans-serif}main{max-width:60rem;margin:0 auto;padding:1rem 1.25rem 3rem}\n"
        + CSS
        + "</style></head><body><main>"
        + render_body(runs, bar=bar, problems=problems)
        + "</main></body></html>\n"
    )
