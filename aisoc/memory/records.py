"""The read model of one case: its alert, each role's latest output, the human decisions, the label.

Every field is a last-writer-wins register ordered by ``(occurred_at, event_id)``, so folding an
event twice, or folding an older duplicate late, changes nothing. The case's state and its final
verdict are pure functions of the registers (never "the most severe thing any role said"); whether
the latest review request is still open is one of them, kept by the fold in log order
(:attr:`Review.open`), so a closure recorded after a review in the same instant closes the case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from aisoc.events import Role, Tier2Decision, Verdict


class CaseState(StrEnum):
    """Where a case is in its life: received -> triaged -> escalated -> planned -> awaiting human ->
    decided -> closed (a closed case that is reopened for review is awaiting a human again)."""

    RECEIVED = "received"
    TRIAGED = "triaged"
    ESCALATED = "escalated"
    PLANNED = "planned"
    AWAITING_HUMAN = "awaiting_human"
    DECIDED = "decided"
    CLOSED = "closed"


def to_dt(ts: float) -> datetime:
    """Return the UTC datetime of a POSIX timestamp (the projection stores times as floats)."""
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What memory keeps of a case's alert: enough to link, rank and describe it.

    ``keys`` are normalized indicator keys (``type:value``), hosts and users included; ``private``
    lists the keys whose indicator was flagged private.
    """

    event_id: str
    at: float
    tenant: str | None
    rule: str | None
    title: str
    severity: int
    created_at: float
    keys: tuple[str, ...]
    private: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleOutput:
    """The latest output of one role: ``outcome`` is the verdict, decision, SEV or actor."""

    role: str
    event_id: str
    at: float
    outcome: str
    confidence: float | None = None
    summary: str = ""
    route: str | None = None
    prompt_version: str | None = None
    legs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Review:
    """The latest ``case.review_requested``: who could not decide, why, whose duty it is.

    ``open`` says nothing that answers it (a role's output, an action's proposal, decision or
    execution, a closure) was recorded after it: at a later time, or at the same instant later in the
    log. The fold keeps it, because the log's order, not the record, says which of two events of one
    instant came last.
    """

    event_id: str
    at: float
    role: str
    reason: str
    duty: str
    open: bool = True


@dataclass(frozen=True, slots=True)
class Closure:
    """The latest ``case.closed``: disposition, by which role (and person), why."""

    event_id: str
    at: float
    disposition: str
    role: str
    person: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Label:
    """The latest ``truth.labeled``: the analyst's ground truth (a later label supersedes)."""

    event_id: str
    at: float
    label: str
    escalated: bool
    labeled_by: str
    source: str


@dataclass(frozen=True, slots=True)
class Step:
    """One stamped fact about an action: proposal, reminder or escalation, decision, execution.

    ``value`` is the plan phase of a proposal, ``reminded``/``escalated``, the decision, or
    ``executed``; ``by`` is the proposing role, the person asked, the decider or the executor.
    """

    event_id: str
    at: float
    value: str
    by: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One real-system action of the case and the human decisions about it.

    ``duty`` is the role whose on-call person must decide, ``expires_at`` the proposal's deadline;
    ``nudged`` is the latest reminder or escalation (its ``by``: the person now asked).
    """

    action_id: str
    kind: str = ""
    target: str = ""
    proposed: Step | None = None
    decided: Step | None = None
    executed: Step | None = None
    duty: str | None = None
    expires_at: float | None = None
    nudged: Step | None = None


@dataclass(frozen=True, slots=True)
class FinalVerdict:
    """The case's latest authoritative verdict: a human over Tier 2 over Sentinel.

    ``malicious`` is True for a true positive or an escalation, False for benign / false positive /
    closed, None while nobody with authority has said either.
    """

    verdict: str
    malicious: bool | None
    decided_by: str
    event_id: str
    at: float


OPEN, THREAT, BENIGN = 0, 1, 2
"""Outcome codes kept per case in the rule statistics."""

_MALICIOUS = {"true_positive": True, "false_positive": False, "benign": False}
_SENTINEL = {
    Verdict.MALICIOUS.value: True,
    Verdict.BENIGN.value: False,
    Verdict.FALSE_POSITIVE.value: False,
}
_TIER2 = {Tier2Decision.ESCALATE.value: True, Tier2Decision.CLOSE.value: False}
_HUMAN, _SENTINEL_ROLE, _TIER2_ROLE, _IR_LEAD = (
    r.value for r in (Role.HUMAN, Role.SENTINEL, Role.TIER2, Role.IR_LEAD)
)
_ESCALATE, _CLOSE = Tier2Decision.ESCALATE.value, Tier2Decision.CLOSE.value
_AUTHORITY = {_HUMAN: 3, _SENTINEL_ROLE: 1}
"""Closure authority by role; every other role closes with Tier 2's authority."""


@dataclass(slots=True)
class CaseRecord:
    """One case as memory knows it. Mutated only by the fold, through last-writer-wins registers."""

    case_id: str
    alert: AlertFacts | None = None
    outputs: dict[str, RoleOutput] = field(default_factory=dict)
    review: Review | None = None
    closed: Closure | None = None
    truth: Label | None = None
    actions: dict[str, ActionRecord] = field(default_factory=dict)

    # --- derived ------------------------------------------------------------------------------

    @property
    def tenant(self) -> str | None:
        """The alert's tenant (None until the alert is known)."""
        return self.alert.tenant if self.alert else None

    @property
    def created_at(self) -> datetime | None:
        """When the alert was created at its source (None until the alert is known)."""
        return to_dt(self.alert.created_at) if self.alert else None

    def output(self, role: Role | str) -> RoleOutput | None:
        """The latest output of ``role`` (``sentinel``, ``tier2``, ``ir_lead``, ``threat_intel``)."""
        return self.outputs.get(str(role))

    def last_activity(self) -> float:
        """When anything other than a review request last happened to the case."""
        times = [o.at for o in self.outputs.values()]
        for a in self.actions.values():
            times += [s.at for s in (a.proposed, a.decided, a.executed) if s is not None]
        if self.closed:
            times.append(self.closed.at)
        return max(times, default=0.0)

    @property
    def state(self) -> CaseState:
        """The case's state, derived from its registers."""
        review_open = self.review is not None and self.review.open
        if self.closed is not None and not review_open:
            return CaseState.CLOSED
        if review_open:
            return CaseState.AWAITING_HUMAN
        if self.actions:
            pending = any(a.proposed is not None and a.decided is None for a in self.actions.values())
            return CaseState.AWAITING_HUMAN if pending else CaseState.DECIDED
        tier2 = self.outputs.get(_TIER2_ROLE)
        if _IR_LEAD in self.outputs:
            return CaseState.PLANNED
        if tier2 is not None:
            if tier2.outcome == _ESCALATE:
                return CaseState.ESCALATED
            return CaseState.CLOSED if tier2.outcome == _CLOSE else CaseState.AWAITING_HUMAN
        sentinel = self.outputs.get(_SENTINEL_ROLE)
        if sentinel is not None:
            return CaseState.CLOSED if sentinel.route == "closed" else CaseState.TRIAGED
        return CaseState.RECEIVED

    def _best(self) -> tuple[tuple[int, float, str], str, bool | None, str] | None:
        """``((tier, at, event_id), verdict, malicious, decided_by)`` of the authoritative output."""
        best: tuple[tuple[int, float, str], str, bool | None, str] | None = None
        t = self.truth
        if t is not None:
            best = ((3, t.at, t.event_id), t.label, _MALICIOUS.get(t.label), "human:" + t.labeled_by)
        c = self.closed
        if c is not None:
            key = (_AUTHORITY.get(c.role, 2), c.at, c.event_id)
            if best is None or key > best[0]:
                who = f"{c.role}:{c.person}" if c.person else c.role
                best = (key, c.disposition, _MALICIOUS.get(c.disposition), who)
        o = self.outputs.get(_TIER2_ROLE)
        if o is not None:
            key = (2, o.at, o.event_id)
            if best is None or key > best[0]:
                best = (key, o.outcome, _TIER2.get(o.outcome), _TIER2_ROLE)
        o = self.outputs.get(_SENTINEL_ROLE)
        if o is not None:
            key = (1, o.at, o.event_id)
            if best is None or key > best[0]:
                best = (key, o.outcome, _SENTINEL.get(o.outcome), _SENTINEL_ROLE)
        return best

    def final(self) -> FinalVerdict | None:
        """The latest authoritative verdict: a human over Tier 2 over Sentinel; None when none.

        A person's ground-truth label or closure outranks every role; a closure by Sentinel ranks
        with Sentinel, a closure by any other role with Tier 2. Within a rank the latest wins.
        """
        b = self._best()
        return None if b is None else FinalVerdict(b[1], b[2], b[3], b[0][2], b[0][1])

    def outcome_code(self) -> int:
        """``THREAT``, ``BENIGN`` or ``OPEN``, from the final verdict (for the rule statistics)."""
        b = self._best()
        if b is None or b[2] is None:
            return OPEN
        return THREAT if b[2] else BENIGN

    def summary(self) -> str:
        """One line: the authoritative output's summary, or how the case ended."""
        fv = self.final()
        if fv is None:
            return self.alert.title if self.alert else ""
        for o in self.outputs.values():
            if o.event_id == fv.event_id and o.summary:
                return o.summary
        if self.closed is not None and self.closed.event_id == fv.event_id and self.closed.reason:
            return self.closed.reason
        return f"{fv.verdict} ({fv.decided_by})"


@dataclass(frozen=True, slots=True)
class KnownCampaign:
    """A campaign already reported in a ``campaign.detected`` event (ids stay stable from then on)."""

    campaign_id: str
    tenant: str | None
    case_ids: frozenset[str]
    event_id: str
    at: float
