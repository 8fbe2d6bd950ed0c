"""Commands that change a case, each published by the person who typed it, exactly once.

``close`` publishes ``truth.labeled`` and ``case.closed``; ``reopen``, ``assign`` and a review card's
Acknowledge publish ``case.review_requested`` with role ``human`` (the catalogue's way for people to
ask for review: "reopened by X", or an ``assignee``); ``done`` records ``action.executed`` through the
gate's own path. Every publish carries the idempotency mark ``("bot", inbound id)``, so a message
delivered twice changes nothing twice even after its deduplication key expired.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aisoc.bus import Bus
from aisoc.errors import ConfigError
from aisoc.events import (
    ActionDecided,
    ActionExecuted,
    ActionProposed,
    CaseClosed,
    ClosedBy,
    ControlPaused,
    ControlResumed,
    Decision,
    Disposition,
    Event,
    ProducedBy,
    ReviewRequested,
    Role,
    TruthLabeled,
)
from aisoc.runtime.control import check_scope
from bot.directory import Directory
from bot.errors import CommandError
from bot.inbound import Inbound
from bot.store import BotStore
from bot.webex import Space, primary_email
from cards.text import clean
from gate.errors import AlreadyDecided, ApprovalError, NotAuthorized, UnknownRequest

log = logging.getLogger(__name__)

HUMAN = ProducedBy(role=Role.HUMAN)
"""Everything a person does through the bot is theirs."""
MARK = "bot"
RESUMERS = (Role.SOC_MANAGER, Role.IR_LEAD)
"""Duties whose on-call people (and approvers) may release the kill switch."""
"""Idempotency-mark role of what the bot publishes for people: ``("bot", inbound id)``."""
LABELS: dict[str, Disposition] = {
    "tp": Disposition.TRUE_POSITIVE,
    "true_positive": Disposition.TRUE_POSITIVE,
    "fp": Disposition.FALSE_POSITIVE,
    "false_positive": Disposition.FALSE_POSITIVE,
    "benign": Disposition.BENIGN,
}
"""What ``close CASE LABEL`` accepts."""
AUDIT_SCAN_LIMIT = 200_000
"""How far back ``done`` looks for an action it has no card for."""


def _c(value: str | None, limit: int = 120) -> str:
    return clean(value or "", limit, oneline=True)


class Lifecycle:
    """The state-changing commands.

    Args:
        bus: where events are published.
        directory: roster and the gate (for ``done``).
        space: to look up people mentioned in ``assign``.
        store: the cards posted, which know the case of each approval button.
    """

    def __init__(self, bus: Bus, directory: Directory, space: Space, store: BotStore) -> None:
        self.bus = bus
        self.directory = directory
        self.space = space
        self.store = store

    def _case(self, case_id: str) -> list[Event]:
        history = self.bus.audit.for_case(case_id)
        if not history:
            raise CommandError(f"No case `{_c(case_id)}` is recorded; `case ID` shows one that is.")
        return history

    def _publish(self, events: Sequence[Event], inbound_id: str) -> bool:
        done = self.bus.publish_many(list(events), once=(MARK, inbound_id))
        for e in events:
            log.info(
                "published %s for a person", e.type, extra={"case_id": e.case_id, "event_id": e.event_id}
            )
        return done

    def close(self, case_id: str, label: str, reason: str, who: str, inbound_id: str) -> str:
        """Close a case with a disposition and record it as ground truth."""
        disposition = LABELS.get(label.lower())
        if disposition is None:
            raise CommandError(f"`{_c(label, 40)}` is not a label: use tp, fp or benign.")
        self._case(case_id)
        why = reason.strip()[:1000] or f"closed by {who} in Webex"
        events = [
            TruthLabeled(
                case_id=case_id,
                produced_by=HUMAN,
                label=disposition,
                escalated=disposition == Disposition.TRUE_POSITIVE,
                labeled_by=who[:256],
                source="webex",
                note=reason.strip()[:1000] or None,
            ),
            CaseClosed(
                case_id=case_id,
                produced_by=HUMAN,
                disposition=disposition,
                reason=why,
                closed_by=ClosedBy(role=Role.HUMAN, person=who[:256]),
            ),
        ]
        self._publish(events, inbound_id)
        label = disposition.value.replace("_", " ")
        return f"Closed **{_c(case_id)}** as {label}; the label is recorded as ground truth."

    def control(self, scope: str, reason: str, who: str, inbound_id: str, *, pause: bool) -> str:
        """The kill switch from chat: ``pause`` is open to everyone the bot answers (stopping is always
        safe); ``resume`` needs the SOC Manager or IR Lead on call, or their approver groups."""
        try:
            scope = check_scope(scope.lower())
        except ConfigError as e:
            raise CommandError(
                f"`{_c(scope, 40)}`: name a role (sentinel, tier2, ir_lead, threat_intel), "
                "`proposals` or `all`."
            ) from e
        if not pause:
            person = self.directory.person(who)
            allowed = person is not None and any(
                self.directory.roster.authorize(person.id, duty).allowed for duty in RESUMERS
            )
            if not allowed:
                raise CommandError(
                    "Only the SOC Manager or IR Lead on call (or their approvers) may resume; "
                    "`oncall soc_manager` says who that is."
                )
        cls = ControlPaused if pause else ControlResumed
        self._publish(
            [cls(scope=scope, by=who[:256], reason=reason.strip()[:1000] or None, produced_by=HUMAN)],
            inbound_id,
        )
        if pause:
            what = {
                "proposals": "No action will be proposed to a person; IR Lead still plans",
                "all": "Every role stops taking work",
            }.get(scope, f"{scope} stops taking work")
            return f"Paused **{scope}** ({what}). `resume {scope}` restarts it; recorded on the bus."
        return f"Resumed **{scope}**; recorded on the bus."

    def reopen(self, case_id: str, reason: str, who: str, inbound_id: str) -> str:
        """Ask Tier 2 On-Call to look at a case again."""
        self._case(case_id)
        why = f"reopened by {who}" + (f": {reason.strip()}" if reason.strip() else "")
        event = ReviewRequested(
            case_id=case_id, produced_by=HUMAN, role=Role.HUMAN, reason=why[:1024], duty=Role.TIER2
        )
        self._publish([event], inbound_id)
        held = self.directory.roster.on_call(Role.TIER2)
        whom = f"{self.directory.roster.title(Role.TIER2)} ({_c(held.person.name)})" if held else "Tier 2"
        return f"Reopened **{_c(case_id)}**: {whom} is asked to review it."

    def assign(self, case_id: str, args: Sequence[str], inbound: Inbound, who: str) -> str:
        """Hand a case to a person (a mention, an email, or a roster id)."""
        self._case(case_id)
        assignee = self._assignee(args, inbound)
        event = ReviewRequested(
            case_id=case_id,
            produced_by=HUMAN,
            role=Role.HUMAN,
            reason=f"assigned by {who}"[:1024],
            duty=Role.TIER2,
            assignee=assignee[:256],
        )
        self._publish([event], inbound.id)
        return f"Assigned **{_c(case_id)}** to {_c(assignee)}."

    def _assignee(self, args: Sequence[str], inbound: Inbound) -> str:
        me = self.space.me().get("id")
        for person_id in inbound.mentioned:
            if person_id != me:
                email = primary_email(self.space.get_person(person_id))
                if email:
                    return email
        for word in args:
            word = word.lstrip("@")
            person = self.directory.person(word)
            if person is not None:
                return person.email
            if "@" in word and "." in word.rpartition("@")[2]:
                return word.lower()
        raise CommandError("Whom to? `assign CASE @person` (a mention, an email or a roster name).")

    def ack(self, case_id: str, who: str, inbound_id: str) -> str | None:
        """A review card's Acknowledge: the person takes the review (the case thread says so)."""
        self._case(case_id)
        event = ReviewRequested(
            case_id=case_id,
            produced_by=HUMAN,
            role=Role.HUMAN,
            reason=f"acknowledged by {who}"[:1024],
            duty=Role.TIER2,
            assignee=who[:256],
        )
        self._publish([event], inbound_id)
        return None

    # --- actions ----------------------------------------------------------------------------------

    def _proposal(self, action_id: str) -> ActionProposed:
        card = self.store.button(action_id)
        if card is not None and card.case_id:
            for e in reversed(self.bus.audit.for_case(card.case_id)):
                if isinstance(e, ActionProposed) and e.action_id == action_id:
                    return e
        for entry in self.bus.audit.entries(limit=AUDIT_SCAN_LIMIT):
            e = entry.event
            if isinstance(e, ActionProposed) and e.action_id == action_id:
                found = e
                break
        else:
            raise CommandError(f"No proposed action `{_c(action_id, 80)}` is recorded.")
        # A later proposal with the same id (a re-plan) is the one that counts.
        for e in self.bus.audit.for_case(found.case_id) if found.case_id else []:
            if isinstance(e, ActionProposed) and e.action_id == action_id:
                found = e
        return found

    def done(self, action_id: str, note: str, who: str, inbound_id: str) -> str:
        """Record that the person carried out an approved action (through the gate's own path): only
        whoever decided it, the duty's approver group or its executor group may."""
        proposal = self._proposal(action_id)
        gate = self.directory.gate
        try:
            if gate is None:
                raise UnknownRequest(proposal.event_id)
            gate.record_executed(proposal.event_id, person_id=who, identity_source="webex", note=note or None)
        except UnknownRequest:
            return self._done_without_gate(proposal, note, who, inbound_id)
        except (ApprovalError, AlreadyDecided, NotAuthorized) as e:
            raise CommandError(str(e)) from e
        return (
            f"Recorded: `{_c(action_id, 80)}` carried out by {_c(who)}. Thank you — the AI executes nothing."
        )

    def _done_without_gate(self, proposal: ActionProposed, note: str, who: str, inbound_id: str) -> str:
        # The gate's store is not reachable from here (another host's in-memory gate): check the
        # record ourselves and publish the same event the gate would.
        history = self.bus.audit.for_case(proposal.case_id) if proposal.case_id else []
        decided = [e for e in history if isinstance(e, ActionDecided) and e.action_id == proposal.action_id]
        if not decided or decided[-1].decision != Decision.APPROVED:
            state = decided[-1].decision.value if decided else "not decided yet"
            raise CommandError(
                f"Only an approved action can be done; `{_c(proposal.action_id, 80)}` is {state}."
            )
        if any(isinstance(e, ActionExecuted) and e.action_id == proposal.action_id for e in history):
            raise CommandError(f"`{_c(proposal.action_id, 80)}` is already recorded as done.")
        person = self.directory.person(who)
        if person is None:
            raise CommandError(f"{_c(who)} is not in the on-call roster.")
        decider = self.directory.person(decided[-1].decided_by)
        auth = self.directory.roster.authorize_done(
            person.id, proposal.approver_role, decider.id if decider else None
        )
        if not auth.allowed:
            raise CommandError(auth.reason)
        event = ActionExecuted(
            case_id=proposal.case_id,
            causation_id=decided[-1].event_id,
            produced_by=HUMAN,
            action_id=proposal.action_id,
            executed_by=who[:256],
            identity_source="webex",
            note=note[:1024] or None,
        )
        self._publish([event], inbound_id)
        return f"Recorded: `{_c(proposal.action_id, 80)}` carried out by {_c(who)}. The AI executes nothing."

    def approve_hint(self, action_id: str) -> str:
        """Approvals are decided in the gate, never in chat: answer with the signed link."""
        proposal = self._proposal(action_id)
        url = self.directory.approval_url(proposal)
        where = f"[open it in the gate]({url})" if url else "use the Approve button on the plan's card"
        return (
            f"Approvals are never decided in chat. For `{_c(action_id, 80)}` ({proposal.kind.value} "
            f"{_c(proposal.target)}), {where}: you confirm there in two steps."
        )
