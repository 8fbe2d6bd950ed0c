"""Baselines in every proof: computed on exactly the replay's tickets and order, from the labels known
by then, checked by hand on a toy replay; the team's lift is measured against the best of them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from aisoc.models import StubChatModel
from aisoc.replay import BASELINES, Replay, metrics_schema, recompute
from tests.aisoc.replay.toy import toy_selection

TRUTH = [True, False, True, False, False, False]


def _replay(delay: timedelta, out: Path | None = None, recall: str = "on") -> dict:
    result = Replay(
        StubChatModel(),
        toy_selection(),
        source="toy",
        model_spec="stub",
        recall=recall,  # type: ignore[arg-type]
        label_delay=delay,
        out=out,
    ).run()
    return result.metrics | {"_arms": result.arms}


def _decisions(metrics: dict, arm: str = "on") -> dict[str, list[bool]]:
    results = metrics["_arms"][arm]
    return {name: [r.baselines[name] for r in results] for name in BASELINES}


def test_each_baseline_decides_from_the_labels_known_by_then_at_delay_zero() -> None:
    """Given the toy tickets and labels known at once, when replayed, then each baseline decides as worked
    out by hand: majority of earlier same-tenant same-rule labels (ties and no history to the fallback),
    the previous same-rule label, escalate everything."""
    m = _replay(timedelta(0))
    assert _decisions(m) == {
        "escalate_all": [True] * 6,
        # t0 nothing known; t1 {TP}; t2 {TP, FP} tie; t3 rule r2 new; t4 tenant globex new; t5 {TP, FP, TP}
        "majority_or_escalate": [True, True, True, True, True, True],
        "majority_or_close": [False, True, False, False, False, True],
        # t2 follows t1 (FP); t5 follows t2 (TP); the rest have no earlier same-tenant same-rule label
        "previous_rule": [True, True, False, True, True, True],
    }
    b = m["baselines"]
    assert b["escalate_all"]["confusion"] == {"tp": 2, "fp": 4, "tn": 0, "fn": 0}
    assert b["escalate_all"]["f1"] == pytest.approx(0.5)
    assert b["majority_or_close"]["confusion"] == {"tp": 0, "fp": 2, "tn": 2, "fn": 2}
    assert b["majority_or_close"]["f1"] == 0.0
    assert b["previous_rule"]["confusion"] == {"tp": 1, "fp": 4, "tn": 0, "fn": 1}
    assert b["previous_rule"]["f1"] == pytest.approx(2 * 0.2 * 0.5 / 0.7)


def test_a_label_delay_hides_young_labels_from_the_baselines() -> None:
    """Given a 90-minute label delay, when replayed, then a ticket an hour after the first does not know its
    label yet, while one two hours after does (hand-checked decisions and matrices)."""
    m = _replay(timedelta(minutes=90))
    assert _decisions(m) == {
        "escalate_all": [True] * 6,
        "majority_or_escalate": [True, True, True, True, True, True],
        # t1 (01:00) cannot know t0's label (01:30); t2 (02:00) can; t5 knows t0, t1, t2 (TP, FP, TP)
        "majority_or_close": [False, False, True, False, False, True],
        "previous_rule": [True, True, True, True, True, True],
    }
    b = m["baselines"]
    assert b["majority_or_close"]["confusion"] == {"tp": 1, "fp": 1, "tn": 3, "fn": 1}
    assert b["majority_or_close"]["f1"] == pytest.approx(0.5)
    assert m["label_delay"] == "90m" and m["label_delay_s"] == 5400.0


def test_the_lift_is_the_team_on_the_same_tickets_minus_the_best_baseline(tmp_path: Path) -> None:
    """Given the toy replay, when scored, then the lift compares the team (every ticket it did not close
    counted as escalated) with the baseline of highest F1, and the file recomputes it and fits the schema."""
    m = _replay(timedelta(0), out=tmp_path / "toy.json", recall="ab")
    on = m["_arms"]["on"]
    team = [r.team != "closed" for r in on]
    tp = sum(t and h for t, h in zip(team, TRUTH, strict=True))
    fp = sum(t and not h for t, h in zip(team, TRUTH, strict=True))
    fn = sum(h and not t for t, h in zip(team, TRUTH, strict=True))
    f1 = 2 * tp / (2 * tp + fp + fn)
    lift = m["lift"]
    assert lift["best_baseline"] == "escalate_all"  # 0.5, ahead of its equal majority_or_escalate by order
    assert lift["team"]["confusion"]["tp"] == tp and lift["team"]["f1"] == pytest.approx(f1)
    assert lift["f1"] == pytest.approx(f1 - 0.5)
    assert m["recall_ab"]["lift"]["on"] == lift
    stored = {k: v for k, v in m.items() if k != "_arms"}
    jsonschema.validate(stored, metrics_schema())
    again = recompute(tmp_path / "toy.tickets.jsonl", guardrail_policy=m["guardrail"]["policy"])
    assert again["baselines"] == m["baselines"] and again["lift"] == m["lift"]


def test_a_source_label_time_overrides_the_delay() -> None:
    """Given tickets whose source records when the analyst labelled them, when replayed with a long delay,
    then the baselines use the recorded time instead."""
    from dataclasses import replace

    sel = toy_selection()
    first = sel.tickets[0]
    assert first.truth is not None
    labelled = replace(
        first, truth=replace(first.truth, labeled_at=first.alert.created_at + timedelta(minutes=30))
    )
    sel.tickets[0] = labelled
    result = Replay(
        StubChatModel(), sel, source="toy", model_spec="stub", recall="on", label_delay=timedelta(days=7)
    ).run()
    decisions = [r.baselines["majority_or_close"] for r in result.arms["on"]]
    assert decisions[1] is True  # t0's label, given at 00:30, is known at 01:00 despite the 7-day delay


def test_a_negative_delay_is_refused() -> None:
    """Given a negative label delay, when a replay is built, then it is refused before anything runs."""
    with pytest.raises(ValueError, match="negative"):
        Replay(StubChatModel(), toy_selection(), source="toy", model_spec="stub", label_delay=timedelta(-1))
