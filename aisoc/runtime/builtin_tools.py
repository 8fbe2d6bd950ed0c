"""Tools the kernel ships: the case/audit lookup every role may be offered."""

from __future__ import annotations

from typing import Any

from aisoc.bus import Bus
from aisoc.events import IntelAttribution, IrPlan, Role, Tier2Decided, TriageVerdict
from aisoc.memory import CaseFile
from aisoc.tools import FunctionTool, ToolError, tool


def case_lookup_tool(bus: Bus) -> FunctionTool:
    """The ``case_lookup`` tool over ``bus``'s audit log: what is recorded about a case."""

    @tool(name="case_lookup")
    def case_lookup(case_id: str) -> dict[str, Any]:
        """What the SOC recorded about a case: alert, verdicts, decisions, plan, closure, label."""
        file = CaseFile.read(bus.audit, case_id)
        if file is None:
            raise ToolError(f"case_lookup: no case {case_id!r}")
        out: dict[str, Any] = {"case_id": case_id, "events": [e.type for e in file.events][-50:]}
        if (a := file.alert) is not None:
            out["alert"] = {
                "title": a.title,
                "rule": a.rule,
                "severity": a.severity_name,
                "hosts": a.hosts[:10],
                "created_at": a.created_at.isoformat(),
            }
        if isinstance(v := file.output(Role.SENTINEL), TriageVerdict):
            out["sentinel"] = {"verdict": v.verdict, "priority": v.priority, "summary": v.summary}
        if isinstance(t := file.output(Role.TIER2), Tier2Decided):
            out["tier2"] = {"decision": t.decision, "summary": t.summary}
        if isinstance(p := file.output(Role.IR_LEAD), IrPlan):
            out["ir_lead"] = {"sev": p.sev, "summary": p.summary}
        if isinstance(i := file.output(Role.THREAT_INTEL), IntelAttribution):
            out["threat_intel"] = {"actor": i.actor, "techniques": i.techniques[:20]}
        if (c := file.closure()) is not None:
            out["closed"] = {"disposition": c.disposition, "by": c.closed_by.role, "reason": c.reason}
        if (lb := file.label()) is not None:
            out["label"] = lb.label
        return out

    return case_lookup
