"""Tools the kernel ships: the case/audit lookup every role may be offered."""

from __future__ import annotations

from typing import Any

from aisoc.bus import Bus
from aisoc.events import (
    AlertReceived,
    CaseClosed,
    IrPlan,
    Tier2Decided,
    TriageVerdict,
    TruthLabeled,
)
from aisoc.tools import FunctionTool, ToolError, tool


def case_lookup_tool(bus: Bus) -> FunctionTool:
    """The ``case_lookup`` tool over ``bus``'s audit log: what is recorded about a case."""

    @tool(name="case_lookup")
    def case_lookup(case_id: str) -> dict[str, Any]:
        """What the SOC recorded about a case: alert, verdicts, decisions, plan, closure, label."""
        events = bus.audit.for_case(case_id)
        if not events:
            raise ToolError(f"case_lookup: no case {case_id!r}")
        out: dict[str, Any] = {"case_id": case_id, "events": [e.type for e in events][-50:]}
        for e in events:
            if isinstance(e, AlertReceived):
                out["alert"] = {
                    "title": e.alert.title,
                    "rule": e.alert.rule,
                    "severity": e.alert.severity_name,
                    "hosts": e.alert.hosts[:10],
                    "created_at": e.alert.created_at.isoformat(),
                }
            elif isinstance(e, TriageVerdict):
                out["sentinel"] = {"verdict": e.verdict, "priority": e.priority, "summary": e.summary}
            elif isinstance(e, Tier2Decided):
                out["tier2"] = {"decision": e.decision, "summary": e.summary}
            elif isinstance(e, IrPlan):
                out["ir_lead"] = {"sev": e.sev, "summary": e.summary}
            elif isinstance(e, CaseClosed):
                out["closed"] = {"disposition": e.disposition, "by": e.closed_by.role, "reason": e.reason}
            elif isinstance(e, TruthLabeled):
                out["label"] = e.label
        return out

    return case_lookup
