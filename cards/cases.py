"""Case cards: triage verdict, Tier 2 decision, review requested, case closed."""

from __future__ import annotations

from datetime import timedelta

from aisoc.events import (
    CaseClosed,
    Disposition,
    Event,
    ReviewRequested,
    Role,
    Tier2Decided,
    Tier2Decision,
    TriageVerdict,
    Verdict,
    duty_title,
    role_title,
)
from cards.common import alert_facts, case_alert, case_link, case_title, fit, open_case
from cards.draft import Draft
from cards.model import MAX_CARD_BYTES, Budget, Card, CardContext
from cards.text import Markup, clean, clock, label, pct, when

VERDICT_STYLE: dict[Verdict, str] = {
    Verdict.MALICIOUS: "attention",
    Verdict.SUSPICIOUS: "warning",
    Verdict.BENIGN: "good",
    Verdict.FALSE_POSITIVE: "good",
}
"""Container style of a triage verdict's header."""
TIER2_STYLE: dict[Tier2Decision, tuple[str, str]] = {
    Tier2Decision.ESCALATE: ("attention", "Escalated to IR Lead"),
    Tier2Decision.HUMAN_REVIEW: ("warning", "Sent to human review"),
    Tier2Decision.CLOSE: ("good", "Closed by Tier 2"),
}
"""Header style and headline of each Tier 2 decision."""
DISPOSITION_STYLE: dict[Disposition, str] = {
    Disposition.TRUE_POSITIVE: "attention",
    Disposition.FALSE_POSITIVE: "good",
    Disposition.BENIGN: "good",
}
"""Container style of a closed case's header (a true positive was a real incident)."""


def provenance(event: Event, ctx: CardContext) -> Markup:
    """Who produced the event and when: role, prompt version, model leg, time (for the audit trail)."""
    pb = event.produced_by
    who = role_title(pb.role) if isinstance(pb.role, Role) else label(str(pb.role))
    parts = [who]
    if pb.prompt_version:
        parts.append(f"prompt {clean(pb.prompt_version, 40, oneline=True)}")
    if pb.model_leg:
        parts.append(f"model {clean(pb.model_leg, 40, oneline=True)}")
    parts.append(when(event.occurred_at, ctx.tz))
    return Markup(" · ".join(parts))


def triage_card(
    event: TriageVerdict, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES
) -> Card:
    """Sentinel's verdict: verdict, confidence, priority, routing, the alert's facts and the summary."""
    ctx = ctx or CardContext()
    alert = case_alert(event, ctx)
    routed = "Routed to Tier 2" if event.routed_to == "tier2" else "Closed by Sentinel"
    verdict = label(event.verdict.value)

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            case_title(event, ctx),
            tag=f"Sentinel · {verdict}",
            style=VERDICT_STYLE[event.verdict],
            subtitle=f"{routed} · priority {event.priority}/10 · {pct(event.confidence)} confident",
        )
        d.facts(
            [
                ("Verdict", f"{verdict} ({pct(event.confidence)} confidence)"),
                ("Priority", f"{event.priority}/10"),
                ("Routing", routed),
                ("Case", case_link(d, event, ctx)),
                *alert_facts(d, alert, ctx),
            ]
        )
        d.paragraph(event.summary, heading="Summary")
        d.note(provenance(event, ctx))
        d.explain()
        open_case(d, ctx)
        return d

    return fit(compose, max_bytes=max_bytes)


def tier2_card(
    event: Tier2Decided, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES
) -> Card:
    """Tier 2's decision (escalate, close, human review) with its findings and evidence."""
    ctx = ctx or CardContext()
    alert = case_alert(event, ctx)
    style, headline = TIER2_STYLE[event.decision]

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            case_title(event, ctx),
            tag=f"Tier 2 · {headline}",
            style=style,
            subtitle=f"{pct(event.confidence)} confident",
        )
        d.facts(
            [
                ("Decision", headline),
                ("Confidence", pct(event.confidence)),
                ("Case", case_link(d, event, ctx)),
                *alert_facts(d, alert, ctx),
            ]
        )
        d.paragraph(event.summary, heading="Summary")
        d.bullets(event.findings, heading="Findings")
        d.bullets(event.evidence, heading="Evidence")
        d.note(provenance(event, ctx))
        d.explain()
        open_case(d, ctx)
        return d

    return fit(compose, max_bytes=max_bytes)


def review_card(
    event: ReviewRequested, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES
) -> Card:
    """A role could not decide: who could not, why, who must look (the duty's on-call person) and by when."""
    ctx = ctx or CardContext()
    alert = case_alert(event, ctx)
    who = ctx.approver(event.duty)
    duty_name = duty_title(event.duty)
    raiser = role_title(str(event.role))
    raised = "A person asked for a review" if event.role == Role.HUMAN else f"{raiser} could not decide"
    sla = ctx.review_sla_minutes
    deadline = f"{sla} min (by {clock(event.occurred_at + timedelta(minutes=sla), ctx.tz)})" if sla else None

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        acked = ctx.acknowledged
        tag = "Review acknowledged" if acked else "Review needed"
        d.header(case_title(event, ctx), tag=tag, style="good" if acked else "warning", subtitle=raised)
        if acked is not None:
            d.banner(f"Acknowledged by {acked[0]} at {clock(acked[1], ctx.tz)}", style="good")
        elif who is not None:
            d.banner("Review needed from", style="warning", who=who)
        else:
            d.banner(
                f"Review needed from: {duty_name} — nobody resolved; check `oncall {event.duty.value}`",
                style="warning",
            )
        d.facts(
            [
                ("Raised by", raiser),
                ("Pick up within", deadline),
                ("Assigned to", event.assignee),
                ("Case", case_link(d, event, ctx)),
                *alert_facts(d, alert, ctx),
            ]
        )
        d.paragraph(event.reason, heading="Why")
        d.paragraph(event.details, heading="Details")
        d.note(provenance(event, ctx))
        if event.case_id and acked is None:
            d.submit("Acknowledge", {"cmd": "ack", "case_id": event.case_id})
        d.explain()
        open_case(d, ctx)
        return d

    return fit(compose, max_bytes=max_bytes)


def closed_card(
    event: CaseClosed, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES
) -> Card:
    """A case was closed, by a role or a person, with its disposition and reason."""
    ctx = ctx or CardContext()
    case_alert(event, ctx)
    disposition = label(event.disposition.value)
    by = role_title(str(event.closed_by.role))
    if event.closed_by.person:
        by = (
            f"{event.closed_by.person} ({by})"
            if event.closed_by.role != Role.HUMAN
            else event.closed_by.person
        )

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            case_title(event, ctx),
            tag=f"Case closed · {disposition}",
            style=DISPOSITION_STYLE[event.disposition],
            subtitle=f"Closed by {d.short(by)}",
        )
        d.facts(
            [
                ("Disposition", disposition),
                ("Closed by", by),
                ("Closed at", when(event.occurred_at, ctx.tz)),
                ("Case", case_link(d, event, ctx)),
            ]
        )
        d.paragraph(event.reason, heading="Why")
        d.explain()
        open_case(d, ctx)
        return d

    return fit(compose, max_bytes=max_bytes)
