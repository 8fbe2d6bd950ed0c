"""Fold one case event into its record: every write is last-writer-wins by ``(occurred_at, event_id)``.

Folding is idempotent (the same event again is a no-op) and does not depend on where a log is
split into batches; a duplicate of an older event arriving late does not override a newer one.

Whether a review request is still open is decided in log order (events are folded in the order the
audit log holds them): work on the case recorded after the review at a later time or at the same
instant answers it, and a review recorded after the case's latest work at the same instant (or later)
is open, so a close and a review of one instant end as the log says they happened, not by a tie of
timestamps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aisoc.events import (
    ActionDecided,
    ActionEscalated,
    ActionExecuted,
    ActionProposed,
    ActionReminded,
    AlertReceived,
    CaseClosed,
    Event,
    IntelAttribution,
    IrPlan,
    ReviewRequested,
    Role,
    Tier2Decided,
    TriageVerdict,
    TruthLabeled,
)
from aisoc.memory.keys import alert_keys
from aisoc.memory.records import (
    ActionRecord,
    AlertFacts,
    CaseRecord,
    Closure,
    Label,
    Review,
    RoleOutput,
    Step,
)

SUMMARY_CHARS = 300
"""Characters of a role's summary kept in the projection (the full text stays in the log)."""

CASE_TYPES = frozenset(
    {
        AlertReceived.TYPE,
        TriageVerdict.TYPE,
        Tier2Decided.TYPE,
        IrPlan.TYPE,
        IntelAttribution.TYPE,
        ReviewRequested.TYPE,
        CaseClosed.TYPE,
        TruthLabeled.TYPE,
        ActionProposed.TYPE,
        ActionReminded.TYPE,
        ActionEscalated.TYPE,
        ActionDecided.TYPE,
        ActionExecuted.TYPE,
    }
)
"""Event types that change a case record."""

ActionEvent = ActionProposed | ActionReminded | ActionEscalated | ActionDecided | ActionExecuted
"""The events that change an action's record."""


_SENTINEL, _TIER2, _IR_LEAD, _INTEL = (
    r.value for r in (Role.SENTINEL, Role.TIER2, Role.IR_LEAD, Role.THREAT_INTEL)
)


def _newer(new: Any, old: Any) -> bool:
    return old is None or (new.at, new.event_id) > (old.at, old.event_id)


def _worked(rec: CaseRecord, at: float) -> None:
    """Work recorded on the case now, at ``at``, answers the review request unless the review is
    later: at the same instant the work, folded after it, came after it in the log."""
    r = rec.review
    if r is not None and r.open and at >= r.at:
        rec.review = replace(r, open=False)


def _cut(text: str) -> str:
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 3] + "..."


def alert_facts(event: AlertReceived) -> AlertFacts:
    """What memory keeps of an ``alert.received``."""
    a = event.alert
    keys, private = alert_keys(a)
    return AlertFacts(
        event_id=event.event_id,
        at=event.occurred_at.timestamp(),
        tenant=a.tenant,
        rule=a.rule,
        title=a.title[:200],
        severity=a.severity,
        created_at=a.created_at.timestamp(),
        keys=keys,
        private=private,
        hosts=tuple(h.lower() for h in a.hosts),
    )


def _output(event: TriageVerdict | Tier2Decided | IrPlan | IntelAttribution) -> RoleOutput:
    trace = event.trace
    pv = trace.prompt_version if trace else event.produced_by.prompt_version
    legs = tuple(trace.legs) if trace else tuple(filter(None, [event.produced_by.model_leg]))
    at = event.occurred_at.timestamp()
    common: dict[str, Any] = {"event_id": event.event_id, "at": at, "prompt_version": pv, "legs": legs}
    if isinstance(event, TriageVerdict):
        return RoleOutput(
            _SENTINEL,
            outcome=event.verdict.value,
            confidence=event.confidence,
            summary=_cut(event.summary),
            route=event.routed_to,
            **common,
        )
    if isinstance(event, Tier2Decided):
        return RoleOutput(
            _TIER2,
            outcome=event.decision.value,
            confidence=event.confidence,
            summary=_cut(event.summary),
            **common,
        )
    if isinstance(event, IrPlan):
        return RoleOutput(_IR_LEAD, outcome=event.sev.value, summary=_cut(event.summary), **common)
    return RoleOutput(
        _INTEL,
        outcome=event.actor or "",
        confidence=event.confidence,
        summary=_cut(event.summary),
        **common,
    )


def _action_step(event: ActionEvent, at: float) -> Step:
    """The stamped fact an action event records."""
    if isinstance(event, ActionProposed):
        by = str(event.produced_by.role)
        return Step(event.event_id, at, event.phase.value, by=by, reason=event.rationale)
    if isinstance(event, ActionReminded):
        return Step(event.event_id, at, "reminded", by=event.person, reason=f"reminder {event.reminder}")
    if isinstance(event, ActionEscalated):
        return Step(event.event_id, at, "escalated", by=event.to_person, reason=event.reason)
    if isinstance(event, ActionDecided):
        return Step(event.event_id, at, event.decision.value, by=event.decided_by, reason=event.reason)
    return Step(event.event_id, at, "executed", by=event.executed_by, reason=event.note)


def _fold_action(rec: CaseRecord, event: ActionEvent, at: float) -> bool:
    old = rec.actions.get(event.action_id) or ActionRecord(event.action_id)
    new = old
    step = _action_step(event, at)
    if isinstance(event, ActionProposed):
        if _newer(step, old.proposed):
            new = replace(
                old,
                kind=event.kind.value,
                target=event.target,
                proposed=step,
                duty=event.approver_role.value,
                expires_at=event.expires_at.timestamp(),
            )
    elif isinstance(event, ActionReminded | ActionEscalated):
        if _newer(step, old.nudged):
            new = replace(old, nudged=step)
    elif isinstance(event, ActionDecided):
        if _newer(step, old.decided):
            new = replace(old, decided=step)
    elif _newer(step, old.executed):
        new = replace(old, executed=step)
    if new is old and event.action_id in rec.actions:
        return False
    if new is not old and not isinstance(event, ActionReminded | ActionEscalated):
        _worked(rec, at)  # a reminder is not work on the case (see CaseRecord.last_activity)
    rec.actions[event.action_id] = new
    return True


def fold(rec: CaseRecord, event: Event) -> bool:
    """Fold ``event`` into ``rec``.

    Args:
        rec: the record of the event's case.
        event: any event; types that do not concern a case record are ignored.

    Returns:
        Whether the record changed.
    """
    at = event.occurred_at.timestamp()
    if isinstance(event, AlertReceived):
        facts = alert_facts(event)
        # The alert the case was opened with is kept: the earliest one wins.
        if rec.alert is None or (facts.at, facts.event_id) < (rec.alert.at, rec.alert.event_id):
            rec.alert = facts
            return True
        return False
    if isinstance(event, TriageVerdict | Tier2Decided | IrPlan | IntelAttribution):
        out = _output(event)
        if _newer(out, rec.outputs.get(out.role)):
            rec.outputs[out.role] = out
            _worked(rec, at)
            return True
        return False
    if isinstance(event, ReviewRequested):
        # Open unless work was recorded later; work of the same instant was folded before it.
        opened = at >= rec.last_activity()
        review = Review(event.event_id, at, str(event.role), event.reason, event.duty.value, opened)
        if _newer(review, rec.review):
            rec.review = review
            return True
        return False
    if isinstance(event, CaseClosed):
        c = event.closed_by
        closure = Closure(event.event_id, at, event.disposition.value, str(c.role), c.person, event.reason)
        if _newer(closure, rec.closed):
            rec.closed = closure
            _worked(rec, at)
            return True
        return False
    if isinstance(event, TruthLabeled):
        label = Label(event.event_id, at, event.label.value, event.escalated, event.labeled_by, event.source)
        if _newer(label, rec.truth):
            rec.truth = label
            return True
        return False
    if isinstance(event, ActionEvent):
        return _fold_action(rec, event, at)
    return False
