"""Printing each case's path through the roles (the demo and replay show it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.console import Console
from rich.markup import escape

from aisoc.bus import Bus
from aisoc.events import (
    ROLE_TITLES,
    ActionDecided,
    ActionExecuted,
    ActionProposed,
    AlertReceived,
    CaseClosed,
    Event,
    IntelAttribution,
    IrPlan,
    ReviewRequested,
    Role,
    Tier2Decided,
    TriageVerdict,
)

Approver = Callable[[ActionProposed], "str | None"]
"""Who was asked to decide a proposal (the in-process gate knows), or None."""


def step(e: Event, approver: Approver | None = None) -> tuple[str, str] | None:
    """One line of a case's path: (who, what), or None for events not worth a line."""
    if isinstance(e, TriageVerdict):
        route = "→ Tier 2" if e.routed_to == "tier2" else "→ closed"
        return "sentinel", f"{e.verdict.value} p{e.priority} {route}  [dim]{escape(e.summary[:90])}[/]"
    if isinstance(e, Tier2Decided):
        return "tier2", f"{e.decision.value} ({e.confidence:.2f})  [dim]{escape(e.summary[:90])}[/]"
    if isinstance(e, IrPlan):
        actions = sum(1 for s in e.steps if s.action_id)
        return "ir_lead", f"[bold]{e.sev.value}[/] plan: {len(e.steps)} steps, {actions} for approval"
    if isinstance(e, IntelAttribution):
        techs = ", ".join(e.techniques[:4]) or "no techniques"
        return "threat_intel", f"{techs} · actor: {e.actor or 'none'} · {len(e.iocs)} IOCs rated"
    if isinstance(e, ActionProposed):
        duty = f"{ROLE_TITLES[Role(e.approver_role)]} On-Call"
        person = approver(e) if approver is not None else None
        duty += f" ({escape(person)})" if person else ""
        return "human gate", (
            f"[yellow]{e.kind.value} {escape(e.target)}[/] awaits {duty} "
            f"(expires {e.expires_at:%H:%M} UTC) {e.action_id}"
        )
    if isinstance(e, ActionDecided):
        return (
            "human gate",
            f"{e.action_id} {e.decision.value} by {e.decided_by or 'the gate'}: {escape(e.reason)}",
        )
    if isinstance(e, ActionExecuted):
        return "human", f"{e.action_id} carried out by {e.executed_by}"
    if isinstance(e, ReviewRequested):
        return (
            "human review",
            f"[magenta]{ROLE_TITLES[Role(e.duty)]} On-Call asked to look[/]: {escape(e.reason[:90])}",
        )
    if isinstance(e, CaseClosed):
        who = e.closed_by.person or str(e.closed_by.role)
        return "closed", f"{e.disposition.value} by {who}"
    return None


def print_paths(
    bus: Bus, case_ids: Iterable[str], console: Console | None = None, approver: Approver | None = None
) -> None:
    """Print every case's path, alert first, ending at the human gate (or the closure)."""
    console = console or Console(soft_wrap=True)
    for case_id in case_ids:
        events = bus.audit.for_case(case_id)
        alert = next((e.alert for e in events if isinstance(e, AlertReceived)), None)
        host = f" [{escape(', '.join(alert.hosts[:2]))}]" if alert and alert.hosts else ""
        console.print(f"[bold]● {escape(case_id)}[/]  {escape(alert.title if alert else '')}{host}")
        for e in events:
            line = step(e, approver)
            if line:
                console.print(f"    {line[0]:<13} {line[1]}")
