"""The dashboard shows no quality figure without its baseline on the same tickets: the headline scores,
per-role accuracy, the trend, the recall A/B and the runs table."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from aisoc.models import from_spec
from aisoc.replay.charts import fmt
from aisoc.replay.dashboard import render_page
from tests.aisoc.replay.support import guide_with_grades, run, same


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A recall A/B of 60 real GUIDE incidents where some prompts get garbage (human review happens)."""
    folder = tmp_path_factory.mktemp("dash")
    data = guide_with_grades(folder / "g.csv", same, incidents=60)
    run(data, "guide", model=from_spec("stub?garbage=0.2"), recall="ab", out=folder / "m.json")
    m: dict = json.loads((folder / "m.json").read_text())
    assert m["human_review"] > 0
    return m


def _section(html: str, ident: str) -> str:
    start = html.index(f'id="{ident}"')
    return html[start : html.index("</section>", start)]


def test_each_headline_score_stands_beside_the_best_baseline_on_the_teams_tickets(metrics: dict) -> None:
    """Given a run with tickets sent to human review, when rendered, then each headline score (precision,
    recall, F1, accuracy: the team's own, review apart) shows the best baseline's figure on exactly those
    tickets, and says which baseline and which tickets."""
    html = render_page([metrics])
    decided = metrics["lift"]["decided"]
    best = decided["baselines"][decided["best_baseline"]]
    for kpi, key in (
        ("precision", "precision"),
        ("recall", "recall"),
        ("f1", "f1"),
        ("accuracy", "accuracy"),
    ):
        item = re.search(rf'<li id="kpi-{kpi}">(.*?)</li>', html)
        assert item is not None, kpi
        assert f"<b>{fmt(metrics[key])}</b>" in item.group(1)
        assert f"baseline {fmt(best[key])}" in item.group(1), (kpi, item.group(1))
    assert decided["best_baseline"] in _section(html, "baselines") or decided["best_baseline"] in html


def test_each_roles_accuracy_stands_beside_its_baseline(metrics: dict) -> None:
    """Given a run, when rendered, then each judged role's accuracy has the most accurate baseline on the
    tickets the role was judged on beside it, in the chart and the table."""
    html = unescape(render_page([metrics]))
    section = _section(html, "accuracy")
    for role in ("sentinel", "tier2"):
        base = {k: v for k, v in metrics["per_role"][role]["baselines"].items() if v is not None}
        name = max(base, key=lambda k: base[k])
        assert f"best baseline {fmt(base[name])} ({name})" in section, role
        assert f"{fmt(base[name])} ({name})</td>" in section, role


def test_the_trend_the_ab_and_the_runs_table_carry_the_baseline(metrics: dict) -> None:
    """Given a recall A/B run, when rendered, then the trend draws the best baseline's F1, the A/B gives each
    arm's F1 beside its best baseline on the same tickets, and the runs table lists the best baseline's
    F1 and the lift beside the team's F1."""
    html = unescape(render_page([metrics]))
    trend = _section(html, "trend")
    base_f1 = metrics["lift"]["decided"]["baselines"][metrics["lift"]["decided"]["best_baseline"]]["f1"]
    assert re.search(
        rf'<rect class="dot series-baseline"[^>]*><title>[^<]* best baseline F1 {fmt(base_f1)}<', trend
    )
    assert trend.count("<circle ") == 3  # the team's precision, recall and F1; the baseline has squares
    ab = _section(html, "ab")
    for arm in ("off", "on"):
        lift = metrics["recall_ab"]["lift"][arm]
        assert f"recall {arm}: team F1 {fmt(lift['team']['f1'])} beside {lift['best_baseline']}" in ab
    same = metrics["recall_ab"]["delta_same_tickets"]["f1"]
    assert f"on the same tickets (not closed = escalated), on minus off: F1 {same:+.3f}" in ab
    runs = _section(html, "runs")
    decided = metrics["lift"]["decided"]
    assert "best baseline F1" in runs and "lift (F1)" in runs
    assert f"<td class='num'>{fmt(decided['baselines'][decided['best_baseline']]['f1'])}</td>" in runs
    assert html.count("<svg ") == 6
