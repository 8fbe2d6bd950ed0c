"""Response cards: IR Lead's SEV plan, and one action's life (proposed, decided, carried out).

Approval buttons are ``Action.OpenUrl`` to the gate's signed step-one page, never ``Action.Submit``:
a decision always takes the gate's two steps, and an approval executes nothing.
"""

from __future__ import annotations

from aisoc.events import (
    ActionDecided,
    ActionExecuted,
    ActionProposed,
    Decision,
    IrPlan,
    Phase,
    PlanStep,
    PrecedentRef,
    Risk,
    Role,
    Sev,
    duty_title,
)
from cards.cases import provenance
from cards.common import alert_facts, case_alert, case_link, case_title, fit, open_case
from cards.draft import Draft
from cards.model import MAX_ACTIONS, MAX_CARD_BYTES, Budget, Card, CardContext
from cards.text import Markup, clean, indicator, label, link_text, pct, when

SEV_STYLE: dict[Sev, str] = {
    Sev.SEV1: "attention",
    Sev.SEV2: "attention",
    Sev.SEV3: "warning",
    Sev.SEV4: "default",
}
"""Header colour of a plan by SEV."""
RISK_STYLE: dict[Risk, str] = {Risk.HIGH: "attention", Risk.MEDIUM: "warning", Risk.LOW: "default"}
"""Header colour of a proposed action by its operational risk."""
DECISION_STYLE: dict[Decision, str] = {
    Decision.APPROVED: "good",
    Decision.REJECTED: "attention",
    Decision.EXPIRED: "warning",
    Decision.CANCELLED: "emphasis",
}
"""Header colour of each way an approval request ends."""
DECISION_NOTE: dict[Decision, str] = {
    Decision.APPROVED: "Approved: a person may now carry this out in their own console. "
    "The approval executed nothing; report it with `done {action_id}` once done.",
    Decision.REJECTED: "Rejected: nothing will be carried out.",
    Decision.EXPIRED: "Expired: nobody decided in time, so nothing will be carried out. "
    "IR Lead may propose it again.",
    Decision.CANCELLED: "Cancelled: the request was withdrawn; nothing will be carried out.",
}
"""What each decision means for the action (the card says it in words)."""
NO_EXECUTION = (
    "Approving records a decision in the gate; it executes nothing. A person carries each action out in "
    "their own console and reports it with `done ACTION`."
)
"""The reminder every approval card carries."""


def action_title(kind: str | None, target: str | None, limit: int) -> str:
    """``"Isolate host: Win11Client"`` (cleaned)."""
    what = label(kind) if kind else "Action"
    return clean(f"{what}: {target}" if target else what, limit, oneline=True)


def short_digest(digest: str) -> str:
    """The first 12 characters of a plan digest (enough to tell plans apart at a glance)."""
    return clean(digest[:12], 12, oneline=True)


def approve_title(kind: str | None, target: str | None, limit: int, number: int | None = None) -> str:
    """A button or link title: ``"Approve isolate host Win11Client"``, ``"Approve #2: ..."`` (cleaned)."""
    what = kind.replace("_", " ") if kind else "action"
    head = f"Approve #{number}: " if number else "Approve "
    return clean(f"{head}{what} {target or ''}", limit, oneline=True)


def _step_line(step: PlanStep, b: Budget, number: int | None) -> Markup:
    text = clean(step.description, min(b.text, 300), oneline=True)
    if step.action_id:
        text += f" — **approval #{number}** ({action_title(step.kind, step.target, 80)})"
    elif step.kind or step.target:
        text += f" ({action_title(step.kind, step.target, 80)})"
    return Markup(text)


def _precedent_line(p: PrecedentRef, b: Budget) -> Markup:
    parts = [clean(p.case_id, 80, oneline=True)]
    if p.verdict:
        by = f" by {clean(p.decided_by, 40, oneline=True)}" if p.decided_by else ""
        parts.append(f"{clean(p.verdict, 40, oneline=True)}{by}")
    if p.shared:
        shown = []
        for key in p.shared[:3]:
            kind, _, value = key.partition(":")
            shown.append(f"{clean(kind, 20, oneline=True)}:{indicator(kind, value, 80)}" if value else key)
        extra = f" and {len(p.shared) - 3} more" if len(p.shared) > 3 else ""
        parts.append("shares " + ", ".join(shown) + extra)
    if p.same_rule:
        parts.append("same rule")
    parts.append(f"similarity {pct(max(0.0, min(1.0, p.score)))}")
    if p.summary:
        parts.append(clean(p.summary, min(b.text, 200), oneline=True))
    return Markup(" · ".join(parts))


def _required_duties(event: IrPlan, ctx: CardContext) -> list[Role]:
    """Who must approve: the proposals' ``approver_role`` when the context has them, else IR Lead."""
    duties: list[Role] = []
    for step in event.steps:
        proposal = ctx.proposals.get(step.action_id or "")
        if proposal is not None and proposal.approver_role not in duties:
            duties.append(proposal.approver_role)
    return duties or [Role.IR_LEAD]


def _ask(d: Draft, duty: Role, ctx: CardContext) -> None:
    who = ctx.approver(duty)
    if who is not None:
        d.banner("Action required from", who=who)
    else:
        d.banner(f"Action required from: {duty_title(duty)} — nobody resolved; check `oncall {duty.value}`")


def plan_card(event: IrPlan, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES) -> Card:
    """The SEV plan: colour by SEV, who must approve, the three phases, notifications, precedent cases,
    and one approval button per proposed action (the rest as links, then "and N more").
    """
    ctx = ctx or CardContext()
    alert = case_alert(event, ctx)
    approvals = [s for s in event.steps if s.action_id]
    # Approvals are numbered in plan order; with several buttons side by side, "Approve #2" is what fits.
    number = {id(s): n for n, s in enumerate(approvals, 1)}
    linked = [(s, url) for s in approvals if (url := ctx.gate_links.get(s.action_id or ""))]
    unlinked = sum(
        1 for s in approvals if s.action_id not in ctx.gate_links and s.action_id not in ctx.decided
    )
    buttons = min(len(linked), MAX_ACTIONS - (1 if event.case_id else 0))
    precedent = event.trace.precedent if event.trace else []

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            case_title(event, ctx),
            tag=f"{event.sev.value} · IR plan",
            style=SEV_STYLE[event.sev],
            subtitle=event.sev_rationale,
        )
        if approvals:
            for duty in _required_duties(event, ctx):
                _ask(d, duty, ctx)
        d.facts(
            [
                ("Severity", event.sev.value),
                ("Approvals", f"{len(approvals)} action(s) need approval" if approvals else "none needed"),
                ("Case", case_link(d, event, ctx)),
                *alert_facts(d, alert, ctx),
            ]
        )
        d.paragraph(event.summary, heading="Summary")
        for phase in Phase:
            steps, hidden = d.shown(event.phase(phase))
            lines = [_step_line(s, b, number.get(id(s))) for s in steps]
            d.bullets(lines, heading=label(phase.value), hidden=hidden)
        d.bullets(event.notifications, heading="Notifications")
        shown, hidden = d.shown(precedent)
        d.bullets([_precedent_line(p, b) for p in shown], heading="Precedent cases", hidden=hidden)
        for step, url in linked[:buttons]:
            title = (
                approve_title(step.kind, step.target, 48) if buttons == 1 else f"Approve #{number[id(step)]}"
            )
            d.open_url(title, url, style="positive")
        more_links = [
            Markup(f"[{link_text(approve_title(s.kind, s.target, 80, number[id(s)]))}]({url})")
            for s, url in linked[buttons:]
        ]
        d.bullets(more_links, heading="More approvals", overflow="— open the case for the rest")
        if unlinked:
            d.note(f"{unlinked} approval link(s) not issued yet; they follow when the gate has them.")
        d.note(NO_EXECUTION)
        d.note(f"Plan digest {short_digest(event.plan_digest)}: approvals bind to this exact plan.")
        d.note(provenance(event, ctx))
        d.explain()
        return d

    return fit(compose, max_bytes=max_bytes)


def proposed_card(
    event: ActionProposed, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES
) -> Card:
    """One proposed action, when it is posted on its own: what, why, risk, who must decide, the gate link."""
    ctx = ctx or CardContext()
    alert = case_alert(event, ctx)
    url = ctx.gate_links.get(event.action_id)

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            action_title(event.kind.value, event.target, b.short),
            tag=f"Approval needed · {event.risk.value} risk",
            style=RISK_STYLE[event.risk],
            subtitle=case_title(event, ctx),
        )
        _ask(d, event.approver_role, ctx)
        d.facts(
            [
                ("Action", label(event.kind.value)),
                ("Target", event.target),
                ("Phase", label(event.phase.value)),
                ("Risk", label(event.risk.value)),
                ("SEV", event.sev.value if event.sev else None),
                ("Expires", when(event.expires_at, ctx.tz)),
                ("Action id", event.action_id),
                ("Case", case_link(d, event, ctx)),
                *alert_facts(d, alert, ctx)[:3],
            ]
        )
        d.paragraph(event.rationale, heading="Why")
        if url is None:
            d.note("The gate link is not issued yet; it follows when the gate has it.")
        d.note(NO_EXECUTION)
        digest = short_digest(event.plan_digest)
        d.note(f"Plan digest {digest}: the approval binds to this exact plan.")
        if url is not None:
            d.open_url("Approve or reject", url, style="positive")
        d.explain()
        return d

    return fit(compose, max_bytes=max_bytes)


def _what(action_id: str, ctx: CardContext, limit: int) -> str:
    proposal = ctx.proposals.get(action_id)
    if proposal is None:
        return clean(f"Action {action_id}", limit, oneline=True)
    return action_title(proposal.kind.value, proposal.target, limit)


def decided_card(
    event: ActionDecided, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES
) -> Card:
    """How an approval request ended (approved, rejected, expired, cancelled): who, when, why."""
    ctx = ctx or CardContext()
    case_alert(event, ctx)
    proposal = ctx.proposals.get(event.action_id)
    decision = label(event.decision.value)
    by = event.decided_by or ("nobody (timed out)" if event.decision == Decision.EXPIRED else "the system")

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            _what(event.action_id, ctx, b.short),
            tag=decision,
            style=DECISION_STYLE[event.decision],
            subtitle=(
                f"{decision} by {d.short(event.decided_by)} · {when(event.occurred_at, ctx.tz)}"
                if event.decided_by
                else f"{decision} · {when(event.occurred_at, ctx.tz)}"
            ),
        )
        d.facts(
            [
                ("Decision", decision),
                ("Decided by", by),
                ("Identity from", event.identity_source),
                ("Decided at", when(event.occurred_at, ctx.tz)),
                ("Channel", event.channel),
                ("Action id", event.action_id),
                ("Risk", label(proposal.risk.value) if proposal else None),
                ("Case", case_link(d, event, ctx)),
                ("Plan digest", short_digest(event.plan_digest)),
            ]
        )
        d.paragraph(event.reason, heading="Why")
        d.note(DECISION_NOTE[event.decision].format(action_id=clean(event.action_id, 60, oneline=True)))
        d.explain()
        open_case(d, ctx)
        return d

    return fit(compose, max_bytes=max_bytes)


def executed_card(
    event: ActionExecuted, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES
) -> Card:
    """A person reports they carried an approved action out in their own console."""
    ctx = ctx or CardContext()
    case_alert(event, ctx)

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            _what(event.action_id, ctx, b.short),
            tag="Carried out",
            style="good",
            subtitle=f"Reported by {d.short(event.executed_by)} · {when(event.occurred_at, ctx.tz)}",
        )
        d.facts(
            [
                ("Carried out by", event.executed_by),
                ("Identity from", event.identity_source),
                ("Reported at", when(event.occurred_at, ctx.tz)),
                ("Action id", event.action_id),
                ("Case", case_link(d, event, ctx)),
            ]
        )
        d.paragraph(event.note, heading="Note")
        d.note("Reported by a person: the AI executes nothing.")
        d.explain()
        open_case(d, ctx)
        return d

    return fit(compose, max_bytes=max_bytes)
