"""What step one shows about a case: the alert, each role's finding with its evidence, and a short
summary of each reasoning trace (what the role called, which precedent it saw, which model served it).

Everything comes from the case's events in the audit log; nothing asks a model again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aisoc.bus import Bus
from aisoc.events import (
    ROLE_TITLES,
    ActionDecided,
    ActionEscalated,
    ActionExecuted,
    ActionReminded,
    Alert,
    AlertReceived,
    CaseClosed,
    Event,
    IntelAttribution,
    IrPlan,
    PlanStep,
    ReviewRequested,
    Role,
    Tier2Decided,
    Trace,
    TriageVerdict,
)
from gate.store import ApprovalRequest

_ARG_LIMIT = 120
"""Characters of a tool call's arguments shown on the page."""


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """A reasoning trace in a few lines."""

    role: str
    prompt_version: str
    legs: list[str]
    tool_calls: list[str]
    precedent: list[str]
    repairs: int
    tokens: str | None


@dataclass(frozen=True, slots=True)
class Finding:
    """One role's contribution to the case."""

    who: str
    headline: str
    summary: str
    items: list[str] = field(default_factory=list)
    trace: TraceSummary | None = None


@dataclass(frozen=True, slots=True)
class PlanLine:
    """One plan step; ``this`` marks the step the request is about."""

    step: PlanStep
    this: bool


@dataclass(frozen=True, slots=True)
class CaseView:
    """The case as step one shows it."""

    case_id: str | None
    alert: Alert | None
    findings: list[Finding]
    plan: IrPlan | None
    plan_lines: list[PlanLine]
    superseded_by: str | None
    timeline: list[str]


def summarize_trace(trace: Trace | None) -> TraceSummary | None:
    """Return the few lines of a trace a person needs to judge it, or None without a trace."""
    if trace is None:
        return None
    calls = []
    for c in trace.tool_calls:
        args = c.arguments if len(c.arguments) <= _ARG_LIMIT else c.arguments[: _ARG_LIMIT - 1] + "…"
        status = " — refused" if c.refused else (f" — error: {c.error}" if c.error else "")
        calls.append(f"{c.name}({args}){status}")
    precedent = [
        f"{p.case_id}"
        + (f" ({p.verdict})" if p.verdict else "")
        + (f": shares {', '.join(p.shared)}" if p.shared else "")
        for p in trace.precedent
    ]
    tokens = f"{trace.usage.input_tokens} in / {trace.usage.output_tokens} out" if trace.usage else None
    return TraceSummary(trace.role, trace.prompt_version, trace.legs, calls, precedent, trace.repairs, tokens)


def _title(role: Role | str) -> str:
    try:
        return ROLE_TITLES[Role(role)]
    except ValueError:
        return str(role)


def _finding(e: Event) -> Finding | None:
    if isinstance(e, TriageVerdict):
        return Finding(
            "Sentinel",
            f"{e.verdict.value}, confidence {e.confidence:.2f}, priority {e.priority}, to {e.routed_to}",
            e.summary,
            trace=summarize_trace(e.trace),
        )
    if isinstance(e, Tier2Decided):
        return Finding(
            "Tier 2 Analyst",
            f"{e.decision.value}, confidence {e.confidence:.2f}",
            e.summary,
            [*(f"Finding: {x}" for x in e.findings), *(f"Evidence: {x}" for x in e.evidence)],
            summarize_trace(e.trace),
        )
    if isinstance(e, IrPlan):
        return Finding(
            "IR Lead",
            f"{e.sev.value}: {e.sev_rationale}",
            e.summary,
            list(e.notifications),
            summarize_trace(e.trace),
        )
    if isinstance(e, IntelAttribution):
        items = [f"ATT&CK {t}" for t in e.techniques]
        items += [f"{i.type.value} {i.value}: {i.reputation.value}" for i in e.iocs[:20]]
        actor = f"actor {e.actor}" if e.actor else "no actor attributed"
        return Finding(
            "Threat Intel",
            f"{actor}, confidence {e.confidence:.2f}",
            e.summary,
            items,
            summarize_trace(e.trace),
        )
    if isinstance(e, ReviewRequested):
        return Finding(
            _title(e.role),
            "asked for human review",
            e.reason,
            [e.details] if e.details else [],
            summarize_trace(e.trace),
        )
    return None


def _timeline(e: Event) -> str | None:
    at = e.occurred_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(e, ActionDecided):
        by = f" by {e.decided_by}" if e.decided_by else ""
        return f"{at} action {e.action_id} {e.decision.value}{by}: {e.reason}"
    if isinstance(e, ActionReminded):
        return f"{at} action {e.action_id}: reminder {e.reminder} to {e.person or 'nobody'}"
    if isinstance(e, ActionEscalated):
        return f"{at} action {e.action_id} escalated to {e.to_person or 'nobody'}: {e.reason}"
    if isinstance(e, ActionExecuted):
        return f"{at} action {e.action_id} carried out by {e.executed_by}" + (f": {e.note}" if e.note else "")
    if isinstance(e, CaseClosed):
        return f"{at} case closed ({e.disposition.value}): {e.reason}"
    return None


def case_view(bus: Bus, req: ApprovalRequest) -> CaseView:
    """Build the step-one view of the request's case from the audit log."""
    history = bus.audit.for_case(req.case_id) if req.case_id else []
    alert = next((e.alert for e in history if isinstance(e, AlertReceived)), None)
    plans = [e for e in history if isinstance(e, IrPlan)]
    plan = next((p for p in plans if p.event_id == req.plan_event_id), None)
    later = plans[plans.index(plan) + 1 :] if plan is not None else []
    lines = [PlanLine(s, s.action_id == req.action_id) for s in plan.steps] if plan else []
    findings = [f for f in (_finding(e) for e in history) if f is not None]
    timeline = [t for t in (_timeline(e) for e in history) if t is not None]
    return CaseView(
        case_id=req.case_id,
        alert=alert,
        findings=findings,
        plan=plan,
        plan_lines=lines,
        superseded_by=later[-1].event_id if later else None,
        timeline=timeline,
    )
