"""The CLI summary puts the best baseline on the same tickets beside the team's own figures and beside
each role's accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aisoc.cli import main
from tests.aisoc.replay.support import guide_with_grades, same


def test_the_summary_puts_a_baseline_beside_the_teams_own_figures_and_each_roles_accuracy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = guide_with_grades(tmp_path / "g.csv", same, incidents=60)
    out = tmp_path / "m.json"
    argv = ["replay", str(data), "--source", "guide", "--model", "stub?garbage=0.2", "--no-progress"]
    assert main([*argv, "--recall", "off", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    m = json.loads(out.read_text())
    assert m["human_review"] > 0  # the team's own figures and the all-ticket baselines differ in tickets
    own = next(line for line in text.splitlines() if line.startswith("TP "))
    d = m["lift"]["decided"]
    best = d["baselines"][d["best_baseline"]]
    assert d["best_baseline"] in own and f"{best['f1']:.3f}" in own, own
    for role in ("sentinel", "tier2"):
        line = next(line for line in text.splitlines() if line.strip().startswith(role))
        scored = {n: v for n, v in m["per_role"][role]["baselines"].items() if v is not None}
        assert f"{max(scored.values()):.3f}" in line, line
