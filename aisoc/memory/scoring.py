"""Proof: score what the team did against what the human did (replay and the recall A/B reuse this).

The confusion matrix is the one ARCHITECTURE.md's "Replay and proof" defines: TP = the human
escalated and the team escalated to IR Lead; FN = the human escalated and the team closed it
(Sentinel or Tier 2); FP = the human closed it and the team escalated; TN = both closed. Tickets the
team sent to human review, tickets the team never finished and tickets without ground truth are
counted apart, outside every denominator. A metric with an empty denominator is None, not 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from aisoc.events import Role, Tier2Decision, Verdict
from aisoc.memory.records import CaseRecord

Route = Literal["escalated", "closed", "human_review", "open"]
"""Where the team sent a ticket: to IR Lead, closed, to a human, or nowhere yet."""

NO_GROUND_TRUTH = "no ground truth"
"""Basis of roles whose output no label can be compared with (they are never counted wrong)."""

_THREAT_VERDICTS = frozenset({Verdict.MALICIOUS.value, Verdict.SUSPICIOUS.value})


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """One ticket as scoring sees it: the team's route, each role's answer, and the ground truth.

    ``human_escalated`` and ``label`` are None when there is no ground truth.
    """

    case_id: str
    team: Route
    human_escalated: bool | None
    label: str | None = None
    sentinel: str | None = None
    tier2: str | None = None
    roles: tuple[str, ...] = ()


def team_route(rec: CaseRecord) -> Route:
    """Where the team sent the case: IR Lead (a Tier 2 escalation or a plan), closed, or a human."""
    tier2 = rec.output(Role.TIER2)
    if rec.output(Role.IR_LEAD) is not None or (
        tier2 is not None and tier2.outcome == Tier2Decision.ESCALATE
    ):
        return "escalated"
    if tier2 is not None:
        return "closed" if tier2.outcome == Tier2Decision.CLOSE else "human_review"
    sentinel = rec.output(Role.SENTINEL)
    if sentinel is not None and sentinel.route == "closed":
        return "closed"
    if rec.review is not None and rec.review.role != Role.HUMAN:
        return "human_review"
    if rec.closed is not None and rec.closed.role in (Role.SENTINEL, Role.TIER2):
        return "closed"
    return "open"


def outcome_of(rec: CaseRecord) -> CaseOutcome:
    """The scoring view of a case record (ground truth from its latest ``truth.labeled``)."""
    s, t = rec.output(Role.SENTINEL), rec.output(Role.TIER2)
    return CaseOutcome(
        case_id=rec.case_id,
        team=team_route(rec),
        human_escalated=rec.truth.escalated if rec.truth else None,
        label=rec.truth.label if rec.truth else None,
        sentinel=s.outcome if s else None,
        tier2=t.outcome if t else None,
        roles=tuple(sorted(rec.outputs)),
    )


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass(frozen=True, slots=True)
class Confusion:
    """Escalation confusion matrix plus the tickets counted apart."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    human_review: int = 0
    open: int = 0
    unlabeled: int = 0

    @property
    def scored(self) -> int:
        """Tickets inside the matrix (the denominators' universe)."""
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float | None:
        """TP / (TP + FP); None when the team escalated nothing."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        """TP / (TP + FN); None when the human escalated nothing."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        """Harmonic mean of precision and recall; None when either is None or both are 0."""
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None if p is None or r is None else 0.0
        return 2 * p * r / (p + r)

    @property
    def accuracy(self) -> float | None:
        """(TP + TN) / scored; None when nothing was scored."""
        return _ratio(self.tp + self.tn, self.scored)

    def to_dict(self) -> dict[str, Any]:
        """Counts and metrics, JSON-compatible."""
        return {
            **asdict(self),
            "scored": self.scored,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "accuracy": self.accuracy,
        }


def confusion(outcomes: Iterable[CaseOutcome]) -> Confusion:
    """Count outcomes into the escalation confusion matrix."""
    n = dict.fromkeys(("tp", "fp", "fn", "tn", "human_review", "open", "unlabeled"), 0)
    for o in outcomes:
        if o.human_escalated is None:
            n["unlabeled"] += 1
        elif o.team in ("human_review", "open"):
            n[o.team] += 1
        elif o.human_escalated:
            n["tp" if o.team == "escalated" else "fn"] += 1
        else:
            n["fp" if o.team == "escalated" else "tn"] += 1
    return Confusion(**n)


@dataclass(frozen=True, slots=True)
class RoleAccuracy:
    """How often one role agreed with the ground truth, on the comparison that fits the role.

    ``abstained`` counts answers that are not a call either way (Tier 2 sending a case to a human);
    they are not wrong. ``basis`` says what was compared, or ``"no ground truth"``.
    """

    role: str
    compared: int
    correct: int
    abstained: int
    acted: int
    basis: str

    @property
    def accuracy(self) -> float | None:
        """correct / compared; None when nothing could be compared."""
        return _ratio(self.correct, self.compared)

    @property
    def no_ground_truth(self) -> bool:
        """Whether no label can judge this role."""
        return self.basis == NO_GROUND_TRUTH

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {**asdict(self), "accuracy": self.accuracy, "no_ground_truth": self.no_ground_truth}


def role_accuracy(outcomes: Iterable[CaseOutcome]) -> dict[str, RoleAccuracy]:
    """Per-role accuracy: Sentinel's verdict vs the label, Tier 2's escalate/close vs the human's.

    Sentinel is right when it calls a true positive malicious or suspicious, or a benign / false
    positive benign or false positive. Tier 2 is right when it escalates what the human escalated
    and closes what the human did not; its human-review answers are abstentions. Every other role
    that acted is reported with basis "no ground truth".
    """
    acted: dict[str, int] = {}
    s = [0, 0]  # compared, correct
    t = [0, 0, 0]  # compared, correct, abstained
    for o in outcomes:
        for r in o.roles:
            acted[r] = acted.get(r, 0) + 1
        if o.label is not None and o.sentinel is not None:
            s[0] += 1
            s[1] += (o.sentinel in _THREAT_VERDICTS) == (o.label == "true_positive")
        if o.human_escalated is not None and o.tier2 is not None:
            if o.tier2 == Tier2Decision.HUMAN_REVIEW:
                t[2] += 1
            else:
                t[0] += 1
                t[1] += (o.tier2 == Tier2Decision.ESCALATE) == o.human_escalated
    out = {
        Role.SENTINEL.value: RoleAccuracy(
            Role.SENTINEL.value, s[0], s[1], 0, acted.get(Role.SENTINEL.value, 0), "verdict vs label"
        ),
        Role.TIER2.value: RoleAccuracy(
            Role.TIER2.value,
            t[0],
            t[1],
            t[2],
            acted.get(Role.TIER2.value, 0),
            "escalate/close vs human escalated",
        ),
    }
    for r in sorted(acted):
        if r not in out:
            out[r] = RoleAccuracy(r, 0, 0, 0, acted[r], NO_GROUND_TRUTH)
    return out


@dataclass(frozen=True)
class Scorecard:
    """Everything one run is scored on."""

    confusion: Confusion
    roles: dict[str, RoleAccuracy] = field(default_factory=dict)
    cases: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (what the replay JSON file carries)."""
        return {
            "cases": self.cases,
            "confusion": self.confusion.to_dict(),
            "roles": {k: v.to_dict() for k, v in self.roles.items()},
        }


def score(outcomes: Iterable[CaseOutcome]) -> Scorecard:
    """Score a run: the confusion matrix and per-role accuracy."""
    items = list(outcomes)
    return Scorecard(confusion(items), role_accuracy(items), len(items))


METRICS = ("precision", "recall", "f1", "accuracy")
"""Metrics compared by the A/B, in the order they are reported."""


@dataclass(frozen=True)
class ABDelta:
    """Recall off vs on: per-metric deltas (on minus off) and an honest verdict.

    ``helped`` is True when the deciding metric improved by more than the threshold, False when it
    did not (equal or worse), None when it cannot be told (no scored tickets on one side).
    """

    off: Scorecard
    on: Scorecard
    deltas: dict[str, float | None]
    metric: str
    helped: bool | None
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "off": self.off.to_dict(),
            "on": self.on.to_dict(),
            "deltas": self.deltas,
            "metric": self.metric,
            "helped": self.helped,
            "verdict": self.verdict,
        }


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def ab_delta(off: Scorecard, on: Scorecard, *, metric: str = "f1", min_delta: float = 0.0) -> ABDelta:
    """Compare a run with recall off against the same tickets with recall on.

    Args:
        off: the scorecard with recall off.
        on: the scorecard with recall on.
        metric: the deciding metric (``precision``, ``recall``, ``f1`` or ``accuracy``); when it is
            None on either side, accuracy decides.
        min_delta: an improvement must exceed this to count as help.

    Returns:
        The deltas and a verdict that says "it did not help" when that is the truth.

    Raises:
        ValueError: ``metric`` is not one of :data:`METRICS`.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    deltas: dict[str, float | None] = {}
    for m in METRICS:
        a, b = getattr(off.confusion, m), getattr(on.confusion, m)
        deltas[m] = None if a is None or b is None else b - a
    for role, acc in on.roles.items():
        before = off.roles.get(role)
        if before is not None and not acc.no_ground_truth:
            a, b = before.accuracy, acc.accuracy
            deltas[f"{role}_accuracy"] = None if a is None or b is None else b - a
    used = metric if deltas[metric] is not None else "accuracy"
    d = deltas[used]
    note = "" if off.cases == on.cases else f" (warning: the runs scored {off.cases} vs {on.cases} tickets)"
    if d is None:
        return ABDelta(off, on, deltas, used, None, "cannot tell: no scored tickets on one side" + note)
    a, b = getattr(off.confusion, used), getattr(on.confusion, used)
    change = f"{used} {_fmt(a)} -> {_fmt(b)} ({d:+.3f})"
    if d > min_delta:
        verdict = f"recall helped: {change}"
    elif d < 0:
        verdict = f"it did not help: recall made it worse, {change}"
    else:
        verdict = f"it did not help: {change}"
    return ABDelta(off, on, deltas, used, d > min_delta, verdict + note)
