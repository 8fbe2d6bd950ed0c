"""What the case events of the catalogue say: the alert, each role's output, reviews, closures, labels.

Each function's lead statement carries the event's headline facts; findings, evidence, plan steps,
notifications and IOC ratings follow as statements of their own, then the role's trace.
"""

from __future__ import annotations

from aisoc.events import (
    AlertReceived,
    CaseClosed,
    IntelAttribution,
    IrPlan,
    ReviewRequested,
    Role,
    Tier2Decided,
    TriageVerdict,
    TruthLabeled,
    duty_title,
)
from aisoc.memory.statements.model import Said, clip, says, title
from aisoc.memory.statements.trace import say_trace

INDICATORS_SAID = 10
"""Indicators named in the alert's sentence (the facts keep every one)."""
IOCS_SAID = 20
"""IOC ratings told per attribution."""
TECHNIQUES_SAID = 20
"""ATT&CK techniques named per attribution."""


@says(AlertReceived)
def _alert(e: AlertReceived, said: Said) -> None:
    a = e.alert
    every = tuple(i.key for i in a.indicators)
    keys = ", ".join(every[:INDICATORS_SAID])
    said.say(
        "alert",
        "received",
        f"alert received: {clip(a.title, 200)!r} (rule {a.rule or 'none'}, severity "
        f"{a.severity_name}, tenant {a.tenant or 'none'}, "
        f"created {a.created_at:%Y-%m-%d %H:%M:%S}Z); "
        f"hosts: {', '.join(a.hosts) or 'none'}; users: {', '.join(a.users) or 'none'}; "
        f"indicators: {keys or 'none'}",
        brief=f"{a.title} ({a.severity_name})",
        detail=a.description,
        facts={
            "title": a.title,
            "source": a.source,
            "source_id": a.source_id,
            "tenant": a.tenant,
            "rule": a.rule,
            "severity": a.severity_name,
            "created_at": a.created_at.isoformat(),
            "hosts": tuple(a.hosts),
            "users": tuple(a.users),
            "indicators": every,
            "techniques": tuple(a.techniques),
        },
    )


@says(TriageVerdict)
def _triage(e: TriageVerdict, said: Said) -> None:
    route = "→ Tier 2" if e.routed_to == "tier2" else "→ closed"
    said.say(
        "verdict",
        "judged",
        f"judged it {e.verdict.value} (confidence {e.confidence:.2f}, priority {e.priority}) and "
        f"routed it to {e.routed_to}: {clip(e.summary, 400)}",
        brief=f"{e.verdict.value} ({e.confidence:.2f}) p{e.priority} {route}",
        detail=e.summary,
        facts={
            "verdict": e.verdict.value,
            "confidence": e.confidence,
            "priority": e.priority,
            "routed_to": e.routed_to,
        },
    )
    say_trace(said, e.trace)


@says(Tier2Decided)
def _tier2(e: Tier2Decided, said: Said) -> None:
    said.say(
        "verdict",
        "decided",
        f"decided to {e.decision.value} (confidence {e.confidence:.2f}): {clip(e.summary, 400)}",
        brief=f"{e.decision.value} ({e.confidence:.2f})",
        detail=e.summary,
        facts={"decision": e.decision.value, "confidence": e.confidence},
    )
    for f in e.findings:
        said.say("finding", "found", f"finding: {clip(f, 300)}", brief=f, detail=f)
    for ev in e.evidence:
        said.say("evidence", "cited", f"evidence: {clip(ev, 300)}", brief=ev, detail=ev)
    say_trace(said, e.trace)


@says(IrPlan)
def _plan(e: IrPlan, said: Said) -> None:
    actions = sum(1 for s in e.steps if s.action_id)
    said.say(
        "plan",
        "planned",
        f"set {e.sev.value} ({clip(e.sev_rationale, 200)}); plan: {clip(e.summary, 300)}",
        brief=f"{e.sev.value} plan: {len(e.steps)} steps, {actions} for approval",
        detail=f"{e.sev_rationale} — {e.summary}",
        facts={
            "sev": e.sev.value,
            "sev_rationale": e.sev_rationale,
            "steps": len(e.steps),
            "for_approval": actions,
            "plan_digest": e.plan_digest,
        },
    )
    for s in e.steps:
        what = f" ({s.kind.value} on {s.target}, action {s.action_id})" if s.kind else ""
        said.say(
            "step",
            "planned",
            f"{s.phase.value} step: {clip(s.description, 200)}{what}",
            brief=s.description,
            facts={
                "phase": s.phase.value,
                "description": s.description,
                "kind": s.kind.value if s.kind else None,
                "target": s.target,
            },
            action_id=s.action_id,
        )
    for n in e.notifications:
        said.say("notification", "notifies", f"notify: {clip(n, 300)}", brief=n, detail=n)
    say_trace(said, e.trace)


@says(IntelAttribution)
def _intel(e: IntelAttribution, said: Said) -> None:
    who = f"attributed it to {e.actor}" if e.actor else "made no actor attribution"
    techs = ", ".join(e.techniques[:4]) or "no techniques"
    said.say(
        "intel",
        "attributed",
        f"{who} (confidence {e.confidence:.2f}): {clip(e.summary, 300)}",
        brief=f"{techs} · actor: {e.actor or 'none'} · {len(e.iocs)} IOCs rated",
        detail=e.summary,
        facts={
            "actor": e.actor,
            "confidence": e.confidence,
            "techniques": tuple(e.techniques),
            "iocs": len(e.iocs),
        },
    )
    for ev in e.actor_evidence:
        said.say("evidence", "cited", f"attribution evidence: {clip(ev, 300)}", brief=ev, detail=ev)
    if e.techniques:
        named = ", ".join(e.techniques[:TECHNIQUES_SAID])
        said.say(
            "intel",
            "mapped",
            f"mapped ATT&CK techniques {named}",
            brief=f"ATT&CK {named}",
            facts={"techniques": tuple(e.techniques)},
        )
    for r in e.iocs[:IOCS_SAID]:
        said.say(
            "rating",
            "rated",
            f"rated {r.type.value}:{r.value} {r.reputation.value} (source {r.source or 'n/a'})",
            brief=f"{r.type.value} {r.value}: {r.reputation.value}",
            facts={
                "indicator": f"{r.type.value}:{r.value}",
                "type": r.type.value,
                "value": r.value,
                "reputation": r.reputation.value,
                "source": r.source,
            },
        )
    say_trace(said, e.trace)


@says(ReviewRequested)
def _review(e: ReviewRequested, said: Said) -> None:
    said.by_role(e.role)
    who = f" (assigned to {e.assignee})" if e.assignee else ""
    assigned = f", assigned to {e.assignee}" if e.assignee else ""
    said.say(
        "review",
        "asked for review",
        f"asked {title(e.duty)} to review{who}: {clip(e.reason, 300)}",
        brief=f"{duty_title(e.duty)} asked to look{assigned}",
        detail=e.reason,
        facts={"duty": e.duty.value, "assignee": e.assignee, "raised_by": str(e.role)},
    )
    if e.details:
        said.say("details", "detailed", f"details: {clip(e.details, 300)}", brief=e.details, detail=e.details)
    if e.trace is not None:
        say_trace(said, e.trace)


@says(CaseClosed)
def _closed(e: CaseClosed, said: Said) -> None:
    c = e.closed_by
    if c.role == Role.HUMAN:
        said.by_person(c.person)
    else:
        said.by_role(c.role)
        said.person = c.person
    for_person = f" for {c.person}" if c.person and c.role != Role.HUMAN else ""
    said.say(
        "closure",
        "closed",
        f"closed the case as {e.disposition.value}: {clip(e.reason, 300)}",
        brief=f"closed as {e.disposition.value}{for_person}",
        detail=e.reason,
        facts={"disposition": e.disposition.value, "closed_by": str(c.role), "person": c.person},
    )


@says(TruthLabeled)
def _label(e: TruthLabeled, said: Said) -> None:
    said.by_person(e.labeled_by)
    esc = "escalated" if e.escalated else "not escalated"
    note = f" ({clip(e.note, 200)})" if e.note else ""
    said.say(
        "label",
        "labeled",
        f"labeled the case {e.label.value}, {esc}, source {e.source}{note}",
        brief=f"labeled {e.label.value}, {esc} ({e.source})",
        detail=e.note,
        facts={"label": e.label.value, "escalated": e.escalated, "source": e.source},
    )
