"""Server-rendered inline SVG charts for the replay dashboard: no script, no CDN, no style attributes.

Colours come from CSS classes (``bar``, ``below``, ``band-below``, ``series-precision``...), so the
same markup works in the static file (inline ``<style>``) and behind the gate's strict CSP (a
stylesheet from the gate itself). Every chart carries ``role="img"``, a title and per-mark
``<title>`` tooltips; all text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 880
"""Drawing width in SVG user units (the charts scale to their container)."""
LABEL_W = 150
"""Room for row labels left of horizontal bars."""


def fmt(value: float | None, digits: int = 3) -> str:
    """A metric for display: ``0.791``, or ``n/a`` for null."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def fmt_ms(value: float | None) -> str:
    """A latency for display: ``0.97 ms``, ``812 ms``, ``24.5 s``."""
    if value is None:
        return "n/a"
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.2f} ms"


def _svg(chart_id: str, height: float, title: str, body: list[str]) -> str:
    return (
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, cls: str = "", anchor: str = "start") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{c}>{escape(text)}</text>'


@dataclass(frozen=True)
class Row:
    """One horizontal bar: a label, a value in [0, max] (None: no value, ``note`` shown instead)."""

    label: str
    value: float | None
    note: str = ""


def accuracy_bars(chart_id: str, rows: Sequence[Row], bar: float, title: str) -> str:
    """Horizontal accuracy bars on a 0-1 axis, the region below ``bar`` banded red, bars below it red."""
    plot = WIDTH - LABEL_W - 90
    row_h, top = 30, 26
    height = top + row_h * max(1, len(rows)) + 24
    x0 = LABEL_W
    body = [
        f'<rect class="band-below" x="{x0}" y="{top - 6}" width="{plot * bar:.1f}" '
        f'height="{row_h * max(1, len(rows)) + 6}"><title>below the bar ({bar:.2f})</title></rect>'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = x0 + plot * tick
        body.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top - 6}" y2="{height - 20}"/>')
        body.append(_text(x, height - 6, f"{tick:g}", "axis", "middle"))
    xb = x0 + plot * bar
    body.append(f'<line class="threshold" x1="{xb:.1f}" x2="{xb:.1f}" y1="{top - 14}" y2="{height - 20}"/>')
    body.append(_text(xb, top - 12, f"bar {bar:.2f}", "threshold-label", "middle"))
    for i, r in enumerate(rows):
        y = top + i * row_h
        body.append(_text(x0 - 8, y + 16, r.label, "label", "end"))
        if r.value is None:
            body.append(_text(x0 + 6, y + 16, r.note or "no ground truth", "muted"))
            continue
        cls = "bar below" if r.value < bar else "bar ok"
        body.append(
            f'<rect class="{cls}" x="{x0}" y="{y + 3}" width="{max(1.0, plot * min(1.0, r.value)):.1f}" '
            f'height="{row_h - 10}"><title>{escape(r.label)}: {fmt(r.value)} {escape(r.note)}</title></rect>'
        )
        body.append(
            _text(x0 + plot * min(1.0, r.value) + 6, y + 16, f"{fmt(r.value)} {r.note}".strip(), "value")
        )
    return _svg(chart_id, height, title, body)


def confusion_matrix(chart_id: str, tp: int, fp: int, tn: int, fn: int, title: str) -> str:
    """The 2x2 matrix: rows what the human did, columns what the team did; shade by share."""
    total = max(1, tp + fp + tn + fn)
    cw, ch, x0, y0 = 250, 90, 200, 40
    cells = [
        ("tp", 0, 0, tp, "TP", "human escalated, team escalated to IR Lead"),
        ("fn", 1, 0, fn, "FN", "human escalated, team closed"),
        ("fp", 0, 1, fp, "FP", "human closed, team escalated"),
        ("tn", 1, 1, tn, "TN", "both closed"),
    ]
    body = [
        _text(x0 + cw / 2, 26, "team escalated (IR Lead)", "label", "middle"),
        _text(x0 + cw * 1.5, 26, "team closed (Sentinel / Tier 2)", "label", "middle"),
        _text(x0 - 10, y0 + ch / 2 + 5, "human escalated", "label", "end"),
        _text(x0 - 10, y0 + ch * 1.5 + 5, "human closed", "label", "end"),
    ]
    for cls, col, row, n, name, what in cells:
        x, y = x0 + col * cw, y0 + row * ch
        shade = min(4, int(5 * n / total))
        good = "good" if cls in ("tp", "tn") else "bad"
        body.append(
            f'<rect id="{chart_id}-{cls}" class="cell {good} shade-{shade}" x="{x}" y="{y}" width="{cw - 4}" '
            f'height="{ch - 4}"><title>{name} = {n}: {escape(what)}</title></rect>'
        )
        body.append(_text(x + (cw - 4) / 2, y + 38, f"{name}", "cell-name", "middle"))
        body.append(_text(x + (cw - 4) / 2, y + 66, f"{n:,}", "cell-count", "middle"))
    return _svg(chart_id, y0 + 2 * ch + 10, title, body)


@dataclass(frozen=True)
class Series:
    """One line of a trend chart: a CSS class suffix, a legend name, one value per run (None: a gap)."""

    key: str
    name: str
    values: Sequence[float | None]
    square: bool = False
    """Square markers instead of dots (a reference line, such as the best baseline, beside the scores)."""


def trend(chart_id: str, labels: Sequence[str], series: Sequence[Series], title: str) -> str:
    """Metrics over runs on a 0-1 axis: one polyline per series (gaps where a value is null)."""
    left, right, top, plot_h, pad = 50, 20, 30, 220, 70
    n = max(1, len(labels))
    plot_w = WIDTH - left - right
    step = (plot_w - 2 * pad) / max(1, n - 1) if n > 1 else 0.0

    def x(i: int) -> float:
        return left + (pad + i * step if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - v)

    body = []
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        body.append(
            f'<line class="grid" x1="{left}" x2="{WIDTH - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
        )
        body.append(_text(left - 8, y(tick) + 4, f"{tick:g}", "axis", "end"))
    for i, label in enumerate(labels):
        body.append(_text(x(i), top + plot_h + 18, label, "axis", "middle"))
    for k, s in enumerate(series):
        body.append(
            f'<rect class="swatch series-{s.key}" x="{left + 10 + k * 130}" y="6" width="14" height="10"/>'
        )
        body.append(_text(left + 30 + k * 130, 15, s.name, "legend"))
        segment: list[str] = []
        for i, v in enumerate(s.values):
            if v is None:
                if len(segment) > 1:
                    body.append(f'<polyline class="line series-{s.key}" points="{" ".join(segment)}"/>')
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(v):.1f}")
            tip = f"<title>{escape(labels[i])} {escape(s.name)} {fmt(v)}</title>"
            if s.square:
                body.append(
                    f'<rect class="dot series-{s.key}" x="{x(i) - 4:.1f}" y="{y(v) - 4:.1f}" width="8" '
                    f'height="8">{tip}</rect>'
                )
            else:
                body.append(
                    f'<circle class="dot series-{s.key}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="4">{tip}</circle>'
                )
        if len(segment) > 1:
            body.append(f'<polyline class="line series-{s.key}" points="{" ".join(segment)}"/>')
    return _svg(chart_id, top + plot_h + 30, title, body)


def paired_bars(
    chart_id: str,
    groups: Sequence[tuple[str, float | None, float | None]],
    names: tuple[str, str],
    title: str,
) -> str:
    """Per group two bars on a 0-1 axis (``off`` and ``on``) and the delta between them."""
    left, top, plot_h, gw = 50, 30, 180, (WIDTH - 70) / max(1, len(groups))
    bw = min(70.0, gw / 3)
    body = [
        f'<rect class="swatch arm-off" x="{left + 10}" y="6" width="14" height="10"/>',
        _text(left + 30, 15, names[0], "legend"),
        f'<rect class="swatch arm-on" x="{left + 160}" y="6" width="14" height="10"/>',
        _text(left + 180, 15, names[1], "legend"),
    ]
    for tick in (0, 0.5, 1.0):
        yy = top + plot_h * (1 - tick)
        body.append(f'<line class="grid" x1="{left}" x2="{WIDTH - 20}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        body.append(_text(left - 8, yy + 4, f"{tick:g}", "axis", "end"))
    for g, (label, off, on) in enumerate(groups):
        cx = left + gw * g + gw / 2
        for j, (v, arm) in enumerate(((off, "off"), (on, "on"))):
            if v is None:
                continue
            h = plot_h * min(1.0, v)
            bx = cx - bw - 2 + j * (bw + 4)
            body.append(
                f'<rect class="bar arm-{arm}" x="{bx:.1f}" y="{top + plot_h - h:.1f}" width="{bw:.1f}" '
                f'height="{max(1.0, h):.1f}"><title>{escape(label)} recall {arm}: {fmt(v)}</title></rect>'
            )
            body.append(_text(bx + bw / 2, top + plot_h - h - 4, fmt(v), "value", "middle"))
        delta = None if off is None or on is None else on - off
        cls = "delta-up" if delta is not None and delta > 0 else "delta-down" if delta else "muted"
        shown = "n/a" if delta is None else f"{delta:+.3f}"
        body.append(_text(cx, top + plot_h + 18, label, "label", "middle"))
        body.append(_text(cx, top + plot_h + 36, f"Δ {shown}", cls, "middle"))
    return _svg(chart_id, top + plot_h + 44, title, body)


def latency_bars(chart_id: str, rows: Sequence[tuple[str, float | None, float | None]], title: str) -> str:
    """Per role a p50 bar over a longer, lighter p95 bar, on a linear axis up to the largest p95."""
    plot = WIDTH - LABEL_W - 150
    row_h, top = 30, 24
    peak = max([p95 or 0.0 for _, _, p95 in rows] + [p50 or 0.0 for _, p50, _ in rows] + [1e-9])
    body = [
        f'<rect class="swatch p50" x="{LABEL_W}" y="4" width="14" height="10"/>',
        _text(LABEL_W + 20, 13, "p50", "legend"),
        f'<rect class="swatch p95" x="{LABEL_W + 70}" y="4" width="14" height="10"/>',
        _text(LABEL_W + 90, 13, "p95", "legend"),
    ]
    for i, (role, p50, p95) in enumerate(rows):
        y = top + i * row_h
        body.append(_text(LABEL_W - 8, y + 16, role, "label", "end"))
        if p50 is None and p95 is None:
            body.append(_text(LABEL_W + 6, y + 16, "did not run", "muted"))
            continue
        for v, cls, pad in ((p95, "p95", 3), (p50, "p50", 8)):
            if v is not None:
                body.append(
                    f'<rect class="bar {cls}" x="{LABEL_W}" y="{y + pad}" '
                    f'width="{max(1.0, plot * v / peak):.1f}" '
                    f'height="{row_h - 2 * pad}"><title>{escape(role)} {cls}: {fmt_ms(v)}</title></rect>'
                )
        body.append(
            _text(
                LABEL_W + plot * (p95 or p50 or 0) / peak + 6,
                y + 16,
                f"{fmt_ms(p50)} / {fmt_ms(p95)}",
                "value",
            )
        )
    return _svg(chart_id, top + row_h * max(1, len(rows)) + 6, title, body)
