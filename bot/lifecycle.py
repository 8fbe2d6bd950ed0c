"""Commands that change a case, each published by the person who typed it, exactly once.

``close`` publishes ``truth.labeled`` and ``case.closed``; ``reopen``, ``assign`` and a review card's
Acknowledge publish ``case.review_requested`` with role ``human`` (the catalogue's way for people to
ask for review: "reopened by X", or an ``assignee``); ``done`` records ``action.executed`` through the
gate's own path. What a case and its actions are is asked of memory's read model
(``Memory.case_file``, ``Memory.action``), never folded here from the audit log. Every publish carries
the idempotency mark ``("bot", inbound key)``, so a message delivered twice changes nothing twice even
after its deduplication key expired. An edited message has a key of its own, but a command that
already ran for it is not run again (:mod:`bot.edits`): ``changed`` tells the commands which inbound
changed something. A review card's Acknowledge (or ``ack``) on a closed case records nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from aisoc.bus import Bus
from aisoc.errors import ConfigError
from aisoc.events import (
    ActionExecuted,
    ActionProposed,
    CaseClosed,
    ControlPaused,
    ControlResumed,
    Disposition,
    Event,
    ProducedBy,
    ReviewRequested,
    Role,
    TruthLabeled,
    fitted,
)
from aisoc.memory import CaseFile, CaseRecord, CaseState
from aisoc.memory.casefile import ActionStatus
from aisoc.runtime.control import SCOPES_EXTRA, check_scope
from bot.directory import Directory
from bot.errors import CommandError
from bot.inbound import Inbound
from bot.scope import CaseView, foreign
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


def _c(value: str | None, limit: int = 120) -> str:
    # Backticks become quotes: echoed inside a code span, one would end it and let the rest render.
    return clean(value or "", limit, oneline=True).replace("`", "'")


class Lifecycle:
    """The state-changing commands.

    Args:
        bus: where events are published.
        directory: roster and the gate (for ``done``).
        space: to look up people mentioned in ``assign``.
        store: the cards posted (a review card's thread).
        memory: the case memory as the room sees it (its read model says what a case and its actions
            are; a room bound to tenants sees and changes only their cases).
        changed: called with the inbound's key once its command changed something (published, or
            the gate recorded it).
    """

    def __init__(
        self,
        bus: Bus,
        directory: Directory,
        space: Space,
        store: BotStore,
        memory: Callable[[], CaseView],
        changed: Callable[[str], None] = lambda key: None,
    ) -> None:
        self.bus = bus
        self.directory = directory
        self.space = space
        self.store = store
        self._memory = memory
        self.changed = changed

    def _case(self, case_id: str) -> CaseFile:
        memory = self._memory()
        if (why := foreign(memory, case_id)) is not None:
            raise CommandError(why[0].upper() + why[1:] + ".")
        file = memory.case_file(case_id)
        if file is None:
            raise CommandError(f"No case `{_c(case_id)}` is recorded; `case ID` shows one that is.")
        return file

    def _publish(self, events: Sequence[Event], inbound_id: str) -> bool:
        done = self.bus.publish_many(list(events), once=(MARK, inbound_id))
        self.changed(inbound_id)
        for e in events:
            log.info(
                "published %s for a person", e.type, extra={"case_id": e.case_id, "event_id": e.event_id}
            )
        return done

    def close(self, case_id: str, label: str, reason: str, who: str, inbound_id: str) -> str:
        """Close a case with a disposition and record it as ground truth."""
        disposition = LABELS.get(label.lower().strip(".,;:!"))
        if disposition is None:
            raise CommandError(f"`{_c(label, 40)}` is not a label: use tp, fp or benign.")
        self._case(case_id)
        why = reason.strip() or f"closed by {who} in Webex"
        events: list[Event] = [
            fitted(
                TruthLabeled,
                case_id=case_id,
                produced_by=HUMAN,
                label=disposition,
                escalated=disposition == Disposition.TRUE_POSITIVE,
                labeled_by=who,
                source="webex",
                note=reason.strip() or None,
            ),
            fitted(
                CaseClosed,
                case_id=case_id,
                produced_by=HUMAN,
                disposition=disposition,
                reason=why,
                closed_by={"role": Role.HUMAN, "person": who},
            ),
        ]
        self._publish(events, inbound_id)
        label = disposition.value.replace("_", " ")
        return f"Closed **{_c(case_id)}** as {label}; the label is recorded as ground truth."

    def closing(self, case_id: str, *, threaded: bool) -> str:
        """What ``close`` without a label answers ("can you close it?"): how to say the label, which
        closing records as ground truth (a case already closed says so, and how to reopen it)."""
        rec = self._case(case_id).record
        shown = _c(case_id)
        if (closed := closure(rec)) is not None:
            again = reopening(shown, threaded)
            return f"**{shown}** is already closed ({closed}); {again} asks Tier 2 to look again."
        say = "`close tp|fp|benign [reason]` here" if threaded else f"`close {shown} tp|fp|benign [reason]`"
        return (
            f"To close **{shown}**, say how it ended: {say} (tp: a real attack, fp: a false alarm, benign: "
            "real but harmless); the label is recorded as ground truth."
        )

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
        if pause and scope not in (known := self._roles()) and scope not in SCOPES_EXTRA:
            # a typo ("sentinal") would be recorded, shown as paused, and stop nothing
            raise CommandError(
                f"Nothing to pause: no role `{_c(scope, 40)}` is known here ({', '.join(sorted(known))}); "
                "or pause `proposals` or `all`."
            )
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
            [fitted(cls, scope=scope, by=who, reason=reason.strip() or None, produced_by=HUMAN)],
            inbound_id,
        )
        if pause:
            what = {
                "proposals": "No action will be proposed to a person; IR Lead still plans",
                "all": "Every role stops taking work",
            }.get(scope, f"{scope} stops taking work")
            return f"Paused **{scope}** ({what}). `resume {scope}` restarts it; recorded on the bus."
        return f"Resumed **{scope}**; recorded on the bus."

    def _roles(self) -> set[str]:
        """The roles a pause can stop: the built-in ones and every role that has run on this bus
        (a role added to ``roles/`` sends heartbeats)."""
        builtin = {r.value for r in Role if r is not Role.HUMAN}
        return builtin | {
            str(info.get("role")) for info in self.bus.heartbeats().values() if info.get("role")
        }

    def reopen(self, case_id: str, reason: str, who: str, inbound_id: str) -> str:
        """Ask Tier 2 On-Call to look at a case again."""
        self._case(case_id)
        why = f"reopened by {who}" + (f": {reason.strip()}" if reason.strip() else "")
        event = fitted(
            ReviewRequested, case_id=case_id, produced_by=HUMAN, role=Role.HUMAN, reason=why, duty=Role.TIER2
        )
        self._publish([event], inbound_id)
        held = self.directory.roster.on_call(Role.TIER2)
        whom = f"{self.directory.roster.title(Role.TIER2)} ({_c(held.person.name)})" if held else "Tier 2"
        return f"Reopened **{_c(case_id)}**: {whom} is asked to review it."

    def assign(self, case_id: str, args: Sequence[str], inbound: Inbound, who: str) -> str:
        """Hand a case to a person (a mention, an email, or a roster id)."""
        self._case(case_id)
        assignee = self._assignee(args, inbound)
        event = fitted(
            ReviewRequested,
            case_id=case_id,
            produced_by=HUMAN,
            role=Role.HUMAN,
            reason=f"assigned by {who}",
            duty=Role.TIER2,
            assignee=assignee,
        )
        self._publish([event], inbound.key)
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

    def ack(
        self,
        case_id: str,
        who: str,
        inbound_id: str,
        message_id: str | None = None,
        *,
        takeover: bool = False,
    ) -> str | None:
        """A review card's Acknowledge: the person takes the review; the card is edited to say so.

        When someone else already acknowledged it, the click asks first (``takeover``); a takeover is
        recorded as such. Nobody is mentioned for clicking.
        """
        file = self._case(case_id)
        if (closed := closure(file.record)) is not None:
            # an old card's button, or a typed ack: taking the review would reopen a closed case
            return (
                f"**{_c(case_id)}** is closed ({closed}): there is no review to acknowledge, and nothing "
                f"was recorded; {reopening(_c(case_id), False)} asks Tier 2 to look again."
            )
        # The latest person's review in log order (several may share one instant).
        people = [e for e in file.events if isinstance(e, ReviewRequested) and e.role == Role.HUMAN]
        latest = people[-1] if people else None
        holder = latest.assignee if latest is not None else None
        name = self._name(who)
        if holder and holder.lower() == who.lower():
            return f"You already hold the review of **{_c(case_id)}**."
        if holder and latest is not None and not takeover:
            return (
                f"{_c(self._name(holder))} acknowledged the review of **{_c(case_id)}** at "
                f"{latest.occurred_at:%H:%M} UTC. To take it over, reply `takeover {_c(case_id)}` here."
            )
        asked = next(
            (e for e in reversed(file.events) if isinstance(e, ReviewRequested) and e.role != Role.HUMAN),
            None,
        )
        reason = f"taken over by {name} from {self._name(holder)}" if holder else f"acknowledged by {name}"
        event = fitted(
            ReviewRequested,
            case_id=case_id,
            causation_id=asked.event_id if asked is not None else None,
            produced_by=HUMAN,
            role=Role.HUMAN,
            reason=reason,
            duty=asked.duty if asked is not None else Role.TIER2,
            assignee=who,
        )
        self._publish([event], inbound_id)
        return None

    def _name(self, identity: str | None) -> str:
        person = self.directory.person(identity)
        return person.name if person is not None else (identity or "someone")

    # --- actions ----------------------------------------------------------------------------------

    def _proposal(self, action_id: str) -> ActionProposed:
        state = self._memory().action(action_id)
        file = self._memory().case_file(state.case_id) if state is not None else None
        proposal = file.proposal(action_id) if file is not None else None
        if proposal is None:
            raise CommandError(f"No proposed action `{_c(action_id, 80)}` is recorded.")
        return proposal

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
        self.changed(inbound_id)
        return (
            f"Recorded: `{_c(action_id, 80)}` carried out by {_c(who)}. Thank you — the AI executes nothing."
        )

    def _done_without_gate(self, proposal: ActionProposed, note: str, who: str, inbound_id: str) -> str:
        # The gate's store is not reachable from here (another host's in-memory gate): ask memory
        # where the action stands and publish the same event the gate would.
        state = self._memory().action(proposal.action_id)
        status = state.status if state is not None else ActionStatus.AWAITING
        if status == ActionStatus.EXECUTED:
            raise CommandError(f"`{_c(proposal.action_id, 80)}` is already recorded as done.")
        if state is None or status != ActionStatus.APPROVED or state.decided is None:
            shown = "not decided yet" if status == ActionStatus.AWAITING else status.value
            raise CommandError(
                f"Only an approved action can be done; `{_c(proposal.action_id, 80)}` is {shown}."
            )
        person = self.directory.person(who)
        if person is None:
            raise CommandError(f"{_c(who)} is not in the on-call roster.")
        decider = self.directory.person(state.decided.by)
        auth = self.directory.roster.authorize_done(
            person.id, proposal.approver_role, decider.id if decider else None
        )
        if not auth.allowed:
            raise CommandError(auth.reason)
        event = fitted(
            ActionExecuted,
            case_id=proposal.case_id,
            causation_id=state.decided.event_id,
            produced_by=HUMAN,
            action_id=proposal.action_id,
            executed_by=who,
            identity_source="webex",
            note=note or None,
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


def closure(rec: CaseRecord | None) -> str | None:
    """How a closed case ended, as one clause ("false positive, by bob@example.com at 2026-03-16
    10:20 UTC": the ground-truth label when one is recorded, else the closure's disposition; who and
    when when known), or None when the case is not closed (a reopened case is not)."""
    if rec is None or rec.state != CaseState.CLOSED:
        return None
    label = rec.truth.label if rec.truth is not None else rec.closed.disposition if rec.closed else ""
    said = [label.replace("_", " ")] if label else []
    if rec.closed is not None:
        at = datetime.fromtimestamp(rec.closed.at, UTC)
        said.append(f"by {_c(rec.closed.person or rec.closed.role)} at {at:%Y-%m-%d %H:%M} UTC")
    return ", ".join(said) or "by the team"


def reopening(shown: str, threaded: bool) -> str:
    """How to reopen a case (its id already cleaned), in its thread or anywhere."""
    return "`reopen [reason]`" if threaded else f"`reopen {shown} [reason]`"
