"""Proof: the escalation confusion matrix, per-role accuracy and an honest recall A/B."""

from __future__ import annotations

import pytest

from aisoc import Bus
from aisoc.memory import CaseOutcome, Memory, ab_delta, confusion, role_accuracy, score

from . import factory as f


def out(team: str, human: bool | None, **kw: object) -> CaseOutcome:
    return CaseOutcome(case_id=f"c{id(kw)}", team=team, human_escalated=human, **kw)  # type: ignore[arg-type]


def test_the_confusion_matrix_follows_the_architecture() -> None:
    """Given one ticket of each kind, then TP/FN/FP/TN and the apart-counts land where defined."""
    m = confusion(
        [
            out("escalated", True),
            out("closed", True),
            out("escalated", False),
            out("closed", False),
            out("closed", False),
            out("human_review", True),
            out("open", False),
            out("escalated", None),
        ]
    )
    assert (m.tp, m.fn, m.fp, m.tn, m.human_review, m.open, m.unlabeled) == (1, 1, 1, 2, 1, 1, 1)
    assert m.scored == 5
    assert m.precision == 0.5 and m.recall == 0.5 and m.f1 == 0.5 and m.accuracy == 0.6


def test_empty_denominators_are_none_not_zero() -> None:
    """Given only tickets both closed, then precision, recall and F1 are None and accuracy is 1."""
    m = confusion([out("closed", False), out("human_review", True)])
    assert (m.precision, m.recall, m.f1, m.accuracy) == (None, None, None, 1.0)
    assert confusion([]).accuracy is None


def test_team_route_and_truth_come_from_memory() -> None:
    """Given cases closed by Sentinel, escalated by Tier 2 and sent to review, then memory scores them."""
    bus = Bus()
    for e in [
        f.alert("a"),
        f.triage("test:a", "benign", routed="closed"),
        f.label("test:a", "true_positive", True),
        *f.contained("b", "ws-1"),
        f.label("test:b", "true_positive", True),
        f.alert("c"),
        f.triage("test:c", "suspicious", routed="tier2"),
        f.tier2("test:c", "human_review"),
        f.label("test:c", "benign", False),
        f.alert("d"),
        f.triage("test:d", "malicious", routed="tier2"),
        f.tier2("test:d", "close"),
    ]:
        bus.publish(e)
    card = Memory(bus.audit).scorecard()
    m = card.confusion
    assert (m.tp, m.fn, m.fp, m.tn, m.human_review, m.unlabeled) == (1, 1, 0, 0, 1, 1)
    assert card.roles["sentinel"].compared == 3 and card.roles["sentinel"].correct == 1
    assert card.roles["tier2"].compared == 1 and card.roles["tier2"].abstained == 1
    assert card.roles["ir_lead"].no_ground_truth and card.roles["ir_lead"].accuracy is None
    assert card.to_dict()["roles"]["ir_lead"]["basis"] == "no ground truth"


def test_role_accuracy_uses_the_comparison_that_fits_each_role() -> None:
    """Given Sentinel and Tier 2 answers, then Sentinel is judged on the label and Tier 2 on escalation."""
    acc = role_accuracy(
        [
            out("escalated", True, label="true_positive", sentinel="suspicious", tier2="escalate"),
            out("closed", False, label="benign", sentinel="false_positive", tier2="close"),
            out("closed", True, label="true_positive", sentinel="benign", tier2="close"),
            out("human_review", False, label="false_positive", sentinel="malicious", tier2="human_review"),
            out("escalated", True, label="true_positive", roles=("threat_intel",)),
        ]
    )
    assert (acc["sentinel"].compared, acc["sentinel"].correct) == (4, 2)
    assert (acc["tier2"].compared, acc["tier2"].correct, acc["tier2"].abstained) == (3, 2, 1)
    assert acc["threat_intel"].no_ground_truth and acc["threat_intel"].compared == 0


def test_the_ab_says_when_recall_helped() -> None:
    """Given recall turning a miss into a catch, then the A/B reports the F1 gain."""
    off = score([out("closed", True), out("escalated", True), out("closed", False)])
    on = score([out("escalated", True), out("escalated", True), out("closed", False)])
    result = ab_delta(off, on)
    assert result.helped is True and result.deltas["recall"] == pytest.approx(0.5)
    assert result.verdict.startswith("recall helped: f1 0.667 -> 1.000")


@pytest.mark.parametrize(
    ("on_team", "expected"),
    [
        (["closed", "escalated", "closed"], "it did not help: f1"),
        (["closed", "closed", "escalated"], "made it worse"),
    ],
)
def test_the_ab_says_honestly_when_it_did_not_help(on_team: list[str], expected: str) -> None:
    """Given the same or worse results with recall on, then the A/B says it did not help."""
    off = score([out("closed", True), out("escalated", True), out("closed", False)])
    on = score([out(t, h) for t, h in zip(on_team, [True, True, False], strict=True)])
    result = ab_delta(off, on)
    assert result.helped is False and expected in result.verdict
    assert result.to_dict()["helped"] is False


def test_the_ab_cannot_tell_without_scored_tickets() -> None:
    """Given no labeled tickets, then the A/B says it cannot tell and flags different ticket counts."""
    result = ab_delta(score([out("closed", None)]), score([]))
    assert result.helped is None
    assert result.verdict.startswith("cannot tell") and "1 vs 0 tickets" in result.verdict
    with pytest.raises(ValueError, match="metric"):
        ab_delta(score([]), score([]), metric="vibes")
