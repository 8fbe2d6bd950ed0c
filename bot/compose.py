"""From bus events to posts: which card, in which room and thread, with which links and mentions.

The composer is pure with respect to Webex: it reads memory's file of the case (its alert, proposals
and decisions), the roster and the gate's link signer, and returns a :class:`~bot.store.Plan` that
the store writes in one transaction. Post ids derive from event ids, so composing an event twice queues
nothing new.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from aisoc.bus import Bus
from aisoc.events import (
    ActionDecided,
    ActionEscalated,
    ActionProposed,
    ActionReminded,
    Alert,
    CaseClosed,
    Decision,
    Event,
    IrPlan,
    ReviewRequested,
    Role,
    TriageVerdict,
    from_json,
)
from aisoc.memory import CaseFile
from aisoc.tenants import tenant_key
from bot.directory import Directory
from bot.policy import REPORT_TYPES, classify
from bot.settings import BotSettings
from bot.store import BotStore, Plan, Post, StoredPost
from cards import MAX_CARD_BYTES, MAX_TEXT_BYTES, Approver, CardContext, digest_card, render
from cards.plan import decided_card, proposed_card
from cards.text import clean, label, utf8_clip, when

log = logging.getLogger(__name__)

DECISIONS_SHOWN = 8
"""Decisions listed on an edited plan card before "and N more"."""
_DECISIONS_BYTES = 3000
"""Card budget kept free for the decisions an edited plan card lists."""


def _with_decisions(content: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    """The card with a "Decisions" container after its header (still Adaptive Cards 1.3)."""
    if not lines:
        return content
    box = {
        "type": "Container",
        "style": "emphasis",
        "items": [
            {"type": "TextBlock", "text": "Decisions", "wrap": True, "weight": "Bolder"},
            *({"type": "TextBlock", "text": line, "wrap": True, "spacing": "Small"} for line in lines),
        ],
    }
    body = list(content.get("body", []))
    return {**content, "body": [*body[:1], box, *body[1:]]}


class Composer:
    """Turns one event (or the digest buffer) into posts.

    Args:
        settings: rooms, noise policy, SLA, time zone, case links.
        bus: for memory's case files (alerts, proposals, decisions of a case).
        directory: roster and approval links.
        store: where posted cards and their buttons are recorded (decisions edit those cards).
    """

    def __init__(self, settings: BotSettings, bus: Bus, directory: Directory, store: BotStore) -> None:
        self.settings = settings
        self.bus = bus
        self.directory = directory
        self.store = store
        self.handover: Callable[[Event], Post | None] = lambda event: None
        """What follows a report (the shift handover), set by the Bot."""
        self._batch = threading.local()

    # --- context ----------------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Read each case's file once for the events composed in the block, and draw each state of a
        plan's card once (this thread only).

        The feed composes a batch of deliveries it has already read, so every event of the batch is
        in the audit log before the first file is read: a file read for one event of a case holds
        all the batch's events of that case, as a file read again for each would.
        """
        outer = getattr(self._batch, "files", None)
        if outer is None:
            self._batch.files, self._batch.bodies = {}, {}
        try:
            yield
        finally:
            if outer is None:
                self._batch.files = self._batch.bodies = None

    def file(self, case_id: str | None) -> CaseFile:
        """Memory's file of a case (an empty one for an event of no case or a case not yet recorded)."""
        files: dict[str, CaseFile] | None = getattr(self._batch, "files", None)
        if files is not None and case_id and case_id in files:
            return files[case_id]
        found = CaseFile.read(self.bus.audit, case_id) if case_id else None
        file = found or CaseFile.of(case_id or "", ())
        if files is not None and case_id:
            files[case_id] = file
        return file

    def context(
        self,
        event: Event,
        file: CaseFile,
        *,
        duties: Sequence[Role] = (),
        links: Mapping[str, str] | None = None,
        approvers: Mapping[Role, Approver] | None = None,
        decided: Mapping[str, str] | None = None,
        acknowledged: tuple[str, datetime] | None = None,
    ) -> CardContext:
        """A card's context: the alert, the on-call people for ``duties``, links, proposals, SLA."""
        proposals = file.proposals()
        if isinstance(event, ActionProposed):
            proposals.setdefault(event.action_id, event)
        found = dict(approvers or {})
        for duty in duties:
            who = self.directory.approver(duty)
            if who is not None and duty not in found:
                found[duty] = who
        return CardContext(
            alert=file.alert,
            approvers=found,
            gate_links=dict(links or {}),
            case_url=self.settings.case_link(event.case_id) if event.case_id else None,
            review_sla_minutes=self.settings.review_sla_minutes,
            proposals=proposals,
            timezone=self.settings.timezone,
            decided=dict(decided or {}),
            acknowledged=acknowledged,
        )

    def links(self, proposals: Sequence[ActionProposed], decided: Collection[str] = ()) -> dict[str, str]:
        """Signed gate links of the proposals still undecided."""
        out = {}
        for p in proposals:
            url = self.directory.approval_url(p) if p.action_id not in decided else None
            if url:
                out[p.action_id] = url
        return out

    # --- planning ---------------------------------------------------------------------------------

    def plan(self, event: Event) -> Plan:
        """The posts (or digest items) one event causes under the noise policy.

        Any event type may be named by the policy: an added role's own type gets the generic card;
        a type the policy does not name is not posted.
        """
        level = classify(event, self.settings.noise)
        if isinstance(event, ActionDecided):
            return self._decided(event, level)
        if isinstance(event, ActionProposed):
            return self._proposed(event, level)
        if level == "off":
            return Plan()
        if level == "digest":
            return Plan(digest=[(event.event_id, event.case_id, event.to_json())])
        if event.type in REPORT_TYPES or event.case_id is None:
            card = render(event, self.context(event, self.file(None)))
            post = self._post(event, card.message(), room=self.settings.soc_room, thread="none")
            # A tenant's own report (its shift summary, a campaign in it) also goes to its room.
            bound = self.settings.tenant_rooms.get(tenant_key(getattr(event, "tenant", None)))
            own = (
                [self._post(event, card.message(), room=bound, thread="none", suffix=":tenant")]
                if bound
                else []
            )
            after = self.handover(event)
            return Plan(posts=[post, *own, *([after] if after is not None else [])])
        file = self.file(event.case_id)
        thread = "case" if level == "card" else "case-reply"
        if isinstance(event, ReviewRequested) and event.role == Role.HUMAN and event.assignee:
            asked = self.store.get(event.causation_id) if event.causation_id else None
            if asked is not None:
                return Plan(posts=self._acknowledged(event, asked, file))
            return Plan(posts=[self._post(event, {"markdown": self._assigned(event)}, thread="case")])
        if isinstance(event, IrPlan):
            return Plan(posts=[self._plan_card(event, file, thread), *self._sev_alert(event, file)])
        if isinstance(event, ActionReminded | ActionEscalated):
            return Plan(posts=[self._post(event, {"markdown": self._nudge(event, file)}, thread=thread)])
        duties = [event.duty] if isinstance(event, ReviewRequested) else []
        card = render(event, self.context(event, file, duties=duties))
        return Plan(posts=[self._post(event, card.message(), thread=thread)])

    def _post(
        self,
        event: Event,
        body: dict[str, Any],
        *,
        room: str | None = None,
        thread: Any = "case",
        suffix: str = "",
        **extra: Any,
    ) -> Post:
        return Post(
            post_id=event.event_id + suffix,
            room_id=room or self.settings.case_room_for(event.case_id),
            body=body,
            case_id=event.case_id,
            thread=thread,
            source_event_id=event.event_id,
            kind=extra.pop("kind", event.type),
            **extra,
        )

    def _plan_card(self, plan: IrPlan, file: CaseFile, thread: Any) -> Post:
        body, actions = self.plan_body(plan, file)
        return self._post(plan, body, thread=thread, action_ids=actions)

    def plan_body(
        self, plan: IrPlan, file: CaseFile, extra: Event | None = None
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """A plan card as it stands: approval links for undecided actions, the decisions so far listed.

        Args:
            plan: the plan.
            file: memory's file of its case.
            extra: the event being composed, counted even if the file does not hold it yet.

        Returns:
            The message body, and the action ids the card carries (its approvals with a proposal).
        """
        proposals = {a: p for a, p in file.proposals().items() if p.plan_event_id == plan.event_id}
        if isinstance(extra, ActionProposed) and extra.plan_event_id == plan.event_id:
            proposals.setdefault(extra.action_id, extra)
        order = [s.action_id for s in plan.steps if s.action_id]
        decisions = {a: d for a in order if (d := file.decision(a)) is not None}
        if isinstance(extra, ActionDecided) and extra.action_id in order:
            decisions.setdefault(extra.action_id, extra)
        bodies: dict[tuple[Any, ...], tuple[dict[str, Any], tuple[str, ...]]] | None = getattr(
            self._batch, "bodies", None
        )
        key = (
            plan.event_id,
            id(file),
            tuple(sorted((a, p.event_id) for a, p in proposals.items())),
            tuple(sorted((a, d.event_id) for a, d in decisions.items())),
        )
        if bodies is not None and key in bodies:
            # Several decisions of one plan in one batch: the file already holds them all, so each
            # edit of its card draws the same card; draw it once.
            return bodies[key]
        drawn = self._plan_body(plan, file, order, proposals, decisions)
        if bodies is not None:
            bodies[key] = drawn
        return drawn

    def _plan_body(
        self,
        plan: IrPlan,
        file: CaseFile,
        order: list[str],
        proposals: dict[str, ActionProposed],
        decisions: dict[str, ActionDecided],
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        links = self.links(list(proposals.values()), set(decisions))
        duties = list(dict.fromkeys(p.approver_role for p in proposals.values())) or [Role.IR_LEAD]
        ctx = self.context(
            plan,
            file,
            duties=duties,
            links=links,
            decided={a: d.decision.value for a, d in decisions.items()},
        )
        if not decisions:
            return render(plan, ctx).message(), tuple(a for a in order if a in proposals)
        card = render(plan, ctx, max_bytes=MAX_CARD_BYTES - _DECISIONS_BYTES)
        lines = self._decision_lines(order, decisions, ctx)
        body = {
            "markdown": utf8_clip("\n".join([*lines, card.fallback_text]), MAX_TEXT_BYTES),
            "attachments": [{**card.attachment(), "content": _with_decisions(card.content, lines)}],
        }
        return body, tuple(a for a in order if a in proposals)

    def _acknowledged(self, event: ReviewRequested, card: StoredPost, file: CaseFile) -> list[Post]:
        """A review card's Acknowledge (or takeover): the card is edited to say who holds it and the
        button goes; a takeover also says so in the thread. Nobody is mentioned for clicking."""
        asked = file.event(card.source_event_id)
        person = self.directory.person(event.assignee)
        name = clean(person.name if person else event.assignee, 120, oneline=True)
        posts = []
        if isinstance(asked, ReviewRequested):
            ctx = self.context(asked, file, duties=[asked.duty], acknowledged=(name, event.occurred_at))
            body = render(asked, ctx).message()
            posts.append(
                Post(
                    post_id=f"{event.event_id}:edit",
                    room_id=card.room_id,
                    body=body,
                    op="update",
                    case_id=card.case_id,
                    thread="none",
                    target_post_id=card.post_id,
                    fallback={"markdown": f"Review acknowledged by {name}."},
                    source_event_id=event.event_id,
                    kind=f"{card.kind}:edit",
                )
            )
        if event.reason.startswith("taken over"):
            case = clean(event.case_id, 120, oneline=True)
            text = f"Review of **{case}** {clean(event.reason, 300, oneline=True)}."
            posts.append(self._post(event, {"markdown": text}, thread="case"))
        return posts

    def _sev_alert(self, plan: IrPlan, file: CaseFile) -> list[Post]:
        """A SEV-1/SEV-2 plan is announced at top level, the case linked, mentioning the IR Lead and
        SOC Manager on call and whoever ``sev_mentions`` adds (``all`` is everyone in the space)."""
        sev = plan.sev.value
        if sev not in self.settings.sev_mentions:
            return []
        whom = [self._on_call(Role.IR_LEAD), self._on_call(Role.SOC_MANAGER)]
        for extra in self.settings.sev_mentions[sev]:
            whom.append("<@all>" if extra == "all" else self._who(extra))
        title = clean(file.alert.title if file.alert else plan.summary, 160, oneline=True)
        link = self.settings.case_link(file.case_id)
        case = (
            f"[{clean(file.case_id, 120, oneline=True)}]({link})"
            if link
            else f"`{clean(file.case_id, 120, oneline=True)}`"
        )
        text = (
            f"🚨 **{sev}: {title}** — case {case}. {clean(plan.sev_rationale, 300, oneline=True)}\n"
            f"{', '.join(w for w in whom if w)}: the plan and its approvals are in the case's thread."
        )
        return [
            self._post(plan, {"markdown": text}, room=self.settings.soc_room, thread="none", suffix=":sev")
        ]

    def _on_call(self, duty: Role) -> str:
        who = self.directory.approver(duty)
        person = self.directory.person(who.email) if who is not None else None
        title = self.directory.roster.title(duty) if self.directory.roster.duties() else duty.value
        return f"{title} {person.mention}" if person else f"{title} (nobody on call)"

    def handoff(self, event: ActionDecided, file: CaseFile) -> Post | None:
        """After a decision, a new threaded message: for an approval, mention whoever must carry it out
        with the ``done`` instruction; for a rejection, say nothing is to be done."""
        proposal = file.proposal(event.action_id)
        if proposal is None:
            return None
        what = clean(f"{label(proposal.kind.value).lower()} {proposal.target}", 160, oneline=True)
        by = clean(event.decided_by or "the gate", 120, oneline=True)
        if event.decision != Decision.APPROVED:
            text = f"**{label(event.decision.value)}**: {what} — by {by}. Nothing is to be carried out."
        else:
            text = (
                f"✅ **Approved**: {what} — by {by} at {when(event.occurred_at, self._tz())}.\n"
                f"{self._executors(proposal.approver_role, event.decided_by)}: please carry it out in your "
                f"own console, then reply `done {clean(event.action_id, 80, oneline=True)} [note]` in this "
                "thread. "
                "The AI executes nothing."
            )
        return self._post(event, {"markdown": text}, thread="case", suffix=":handoff")

    def _executors(self, duty: Role, decider: str | None) -> str:
        people = self.directory.roster.executors(duty) if self.directory.roster.duties() else []
        if people:
            return ", ".join(p.mention for p in people)
        return self._who(decider)

    def _tz(self) -> Any:
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.settings.timezone)

    def _assigned(self, event: ReviewRequested) -> str:
        person = self.directory.person(event.assignee)
        who = person.mention if person else clean(event.assignee, 120, oneline=True)
        return (
            f"**Case {clean(event.case_id, 120, oneline=True)}**: {clean(event.reason, 300, oneline=True)}. "
            f"Now with {who}."
        )

    def _who(self, identity: str | None) -> str:
        person = self.directory.person(identity)
        return person.mention if person else clean(identity or "nobody", 120, oneline=True)

    def _nudge(self, event: ActionReminded | ActionEscalated, file: CaseFile) -> str:
        """The gate's reminder or escalation of an approval, mentioning whom it now asks."""
        proposal = file.proposal(event.action_id)
        what = (
            clean(f"{proposal.kind.value.replace('_', ' ')} {proposal.target}", 160, oneline=True)
            if proposal
            else ""
        )
        action = f"`{clean(event.action_id, 80, oneline=True)}` {what}".strip()
        link = self.directory.approval_url(proposal) if proposal else None
        go = (
            f" [Approve or reject in the gate]({link})."
            if link
            else " Use the Approve button on the plan's card."
        )
        if isinstance(event, ActionReminded):
            who = self._who(event.person)
            return f"⏰ Reminder {event.reminder}: {who}, approval of {action} is waiting for you.{go}"
        return (
            f"⏫ Approval of {action} escalated (level {event.level}) to {self._who(event.to_person)}: "
            f"{clean(event.reason, 300, oneline=True)}.{go}"
        )

    def _carded(self, plan_event_id: str, file: CaseFile) -> IrPlan | None:
        """The plan, when its card is (or will be) posted: it carries the action, which needs no card."""
        plan = file.plan(plan_event_id)
        return plan if plan is not None and classify(plan, self.settings.noise) == "card" else None

    def _proposed(self, event: ActionProposed, level: str) -> Plan:
        """A proposal is an approval button on its plan's card (edited in when the card came first);
        only a proposal whose plan has no card gets its own."""
        if self.store.button(event.action_id) is not None:
            return Plan()
        plan_post = self.store.get(event.plan_event_id)
        if plan_post is not None:
            return Plan(posts=[self.edit(plan_post, event)])
        file = self.file(event.case_id)
        if self._carded(event.plan_event_id, file) is not None or level == "off":
            return Plan()
        links = self.links([event])
        ctx = self.context(event, file, duties=[event.approver_role], links=links)
        card = proposed_card(event, ctx)
        thread = "case" if level == "card" else "case-reply"
        return Plan(posts=[self._post(event, card.message(), thread=thread, action_ids=(event.action_id,))])

    def _decided(self, event: ActionDecided, level: str) -> Plan:
        """A decision edits the card that asked for it (a threaded reply says it when Webex refuses)."""
        button = self.store.button(event.action_id)
        file = self.file(event.case_id)

        def reply() -> dict[str, Any]:  # drawn only when posted (an edit draws its own fallback)
            return decided_card(event, self.context(event, file)).message()

        posts = []
        if button is not None:
            posts.append(self.edit(button, event))
        else:
            proposal = file.proposal(event.action_id)
            carded = self._carded(proposal.plan_event_id, file) if proposal else None
            if carded is not None and not self.store.has_post(carded.event_id):
                return Plan()  # the plan's card is still to come, and it will show this decision
            if level == "reply":
                posts.append(self._post(event, reply(), thread="case-reply"))
        if level == "card":
            posts.append(self._post(event, reply(), thread="case", suffix=":card"))
        handoff = (
            self.handoff(event, file) if event.decision in (Decision.APPROVED, Decision.REJECTED) else None
        )
        if handoff is not None and level != "off":
            posts.append(handoff)
        return Plan(posts=posts)

    def edit(self, button: StoredPost, cause: Event) -> Post:
        """An edit of the card carrying an action: a plan re-drawn as it stands, a proposal's card
        replaced by its decision. Its fallback (when Webex refuses the edit) is a threaded reply."""
        file = self.file(button.case_id)
        source = file.event(button.source_event_id)
        fallback: dict[str, Any] | None = None
        if isinstance(cause, ActionDecided):
            fallback = decided_card(cause, self.context(cause, file)).message()
        elif isinstance(cause, ActionProposed):
            fallback = proposed_card(cause, self.context(cause, file, links=self.links([cause]))).message()
        actions: tuple[str, ...] = ()
        if isinstance(source, IrPlan):
            body, actions = self.plan_body(source, file, cause)
        elif fallback is not None:
            body = fallback
        else:
            body = dict(button.body)
        return Post(
            post_id=f"{cause.event_id}:edit",
            room_id=button.room_id,
            body=body,
            op="update",
            case_id=button.case_id,
            thread="none",
            target_post_id=button.post_id,
            fallback=fallback,
            action_ids=actions,
            source_event_id=cause.event_id,
            kind=f"{button.kind}:edit",
        )

    def _decision_lines(
        self, order: list[str], decisions: Mapping[str, ActionDecided], ctx: CardContext
    ) -> list[str]:
        lines = []
        for n, action_id in enumerate(order, 1):
            d = decisions.get(action_id)
            if d is None:
                continue
            p = ctx.proposals.get(action_id)
            what = clean(
                f"{p.kind.value.replace('_', ' ')} {p.target}" if p else action_id, 120, oneline=True
            )
            who = f" by {clean(d.decided_by, 120, oneline=True)}" if d.decided_by else ""
            lines.append(
                f"#{n} {what}: **{d.decision.value}**{who} at {when(d.occurred_at, ctx.tz)} — "
                f"{clean(d.reason, 200, oneline=True)}"
            )
        if len(lines) > DECISIONS_SHOWN:
            lines = [*lines[:DECISIONS_SHOWN], f"and {len(lines) - DECISIONS_SHOWN} more"]
        return lines

    # --- digest -----------------------------------------------------------------------------------

    def digest(self, items: Sequence[tuple[str, str | None, str, float]]) -> Post | None:
        """The digest card rolling up buffered Sentinel closures (None when nothing is buffered)."""
        closures: list[TriageVerdict | CaseClosed] = []
        alerts: dict[str, Alert] = {}
        for _, case_id, payload, _ in items:
            event = from_json(payload)
            if isinstance(event, TriageVerdict | CaseClosed):
                closures.append(event)
            if case_id and case_id not in alerts:
                alert = self.file(case_id).alert
                if alert is not None:
                    alerts[case_id] = alert
        if not closures:
            return None
        card = digest_card(closures, alerts=alerts, ctx=CardContext(timezone=self.settings.timezone))
        return Post(
            post_id=f"digest:{items[0][0]}",
            room_id=self.settings.soc_room,
            body=card.message(),
            thread="none",
            kind=card.kind,
        )
