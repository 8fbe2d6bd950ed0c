"""What step one shows about a case: the alert, each role's finding with its evidence, and a short
summary of each reasoning trace (what the role called, which precedent it saw, which model served it).

Everything comes from memory's file of the case and its statements; nothing asks a model again.
This module only arranges the statements for the page (the template styles them as HTML).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aisoc.bus import Bus
from aisoc.events import Alert, IrPlan, PlanStep
from aisoc.memory import CaseFile, Statement
from aisoc.memory.statements import TRACE_KINDS
from gate.store import ApprovalRequest

FINDING_KINDS = frozenset({"verdict", "plan", "intel", "review", "event"})
"""Lead statements shown as a role's finding (what each role contributed to the case)."""
TIMELINE_KINDS = frozenset({"decision", "reminder", "escalation", "execution", "closure", "label"})
"""Lead statements shown under "What happened since"."""
NOT_ITEMS = TRACE_KINDS | {"step"}
"""Supporting statements not listed under a finding (the trace has its box, the plan its section)."""


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


def trace_summary(said: Sequence[Statement]) -> TraceSummary | None:
    """The few lines of one event's trace statements a person needs to judge it (None: no trace)."""
    model = next((s for s in said if s.kind == "model" and s.facts.get("recorded")), None)
    if model is None:
        return None
    f = model.facts
    tokens = (
        f"{f['input_tokens']} in / {f['output_tokens']} out" if f.get("input_tokens") is not None else None
    )
    legs = f.get("legs")
    repairs = f.get("repairs")
    return TraceSummary(
        role=str(f.get("role") or model.role),
        prompt_version=str(f.get("prompt_version") or ""),
        legs=list(legs) if isinstance(legs, tuple) else [],
        tool_calls=[s.brief for s in said if s.kind == "tool"],
        precedent=[s.brief for s in said if s.kind == "precedent" and s.facts.get("case_id")],
        repairs=repairs if isinstance(repairs, int) else 0,
        tokens=tokens,
    )


def _finding(said: Sequence[Statement]) -> Finding:
    lead = said[0]
    return Finding(
        who=lead.actor,
        headline=lead.brief,
        summary=lead.detail or "",
        items=[s.text for s in said[1:] if s.kind not in NOT_ITEMS],
        trace=trace_summary(said),
    )


def _by_event(said: Sequence[Statement]) -> list[list[Statement]]:
    """Statements grouped per event, each group led by its lead statement, in log order."""
    groups: list[list[Statement]] = []
    for s in said:
        if s.lead or not groups:
            groups.append([s])
        else:
            groups[-1].append(s)
    return groups


def case_view(bus: Bus, req: ApprovalRequest) -> CaseView:
    """Build the step-one view of the request's case from memory's file of it."""
    file = CaseFile.read(bus.audit, req.case_id) if req.case_id else None
    groups = _by_event(file.statements()) if file else []
    plan = file.plan(req.plan_event_id) if file else None
    latest = file.plan() if file else None
    return CaseView(
        case_id=req.case_id,
        alert=file.alert if file else None,
        findings=[_finding(g) for g in groups if g[0].kind in FINDING_KINDS],
        plan=plan,
        plan_lines=[PlanLine(s, s.action_id == req.action_id) for s in plan.steps] if plan else [],
        superseded_by=latest.event_id if plan and latest and latest.event_id != plan.event_id else None,
        timeline=[
            f"{g[0].at:%Y-%m-%d %H:%M:%S} UTC {g[0].actor}: {g[0].text}"
            for g in groups
            if g[0].kind in TIMELINE_KINDS
        ],
    )
