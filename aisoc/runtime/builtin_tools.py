"""Tools the kernel ships: the case/audit lookup every role may be offered."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aisoc.bus import Bus
from aisoc.events import IntelAttribution, IrPlan, Role, Tier2Decided, TriageVerdict
from aisoc.memory import CaseFile
from aisoc.tenants import tenant_of
from aisoc.tools import FunctionTool, ToolError, tool

_serving: contextvars.ContextVar[str | None] = contextvars.ContextVar("aisoc_serving_case", default=None)
"""The case id of the role invocation in progress (this thread or task), None outside one."""


@contextmanager
def serving(case_id: str | None) -> Iterator[None]:
    """Run the block as an invocation for ``case_id``: lookups stay inside its tenant."""
    token = _serving.set(case_id)
    try:
        yield
    finally:
        _serving.reset(token)


def case_lookup_tool(bus: Bus) -> FunctionTool:
    """The ``case_lookup`` tool over ``bus``'s audit log: what is recorded about a case."""

    @tool(name="case_lookup")
    def case_lookup(case_id: str) -> dict[str, Any]:
        """What the SOC recorded about a case: alert, verdicts, decisions, plan, closure, label."""
        current = _serving.get()
        if current is not None and tenant_of(case_id) != tenant_of(current):
            # A model working one organisation's case never sees another's: an id can be guessed, or
            # planted in an alert's text. Whether that case exists is not said.
            raise ToolError(f"case_lookup: {case_id!r} is another tenant's case id; refused")
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
