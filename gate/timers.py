"""Time passing for approval requests: reminders, escalation along the chain, and expiry.

The Gate holds one (``gate.timers``); the gate process calls ``gate.tick()`` every ``tick_s``
(tests call it with an injected clock). An unanswered request reminds whoever is asked
``max_reminders`` times, every ``remind_after_s``, then moves to the next person of the escalation
chain; at ``expires_at`` it expires with no action taken.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from aisoc.events import ActionEscalated, ActionReminded, Component, Decision, Event, ProducedBy
from gate.roster import Person, Roster
from gate.settings import GateSettings
from gate.store import ApprovalRequest, RequestStore

log = logging.getLogger(__name__)

GATE = ProducedBy(role=Component.GATE)
"""The gate's own transitions: reminders, escalations, expiry, cancellation."""


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one ``tick`` did."""

    reminded: int = 0
    escalated: int = 0
    expired: int = 0
    published: int = 0
    pruned: int = 0
    """Requests that ended long ago, forgotten by the store."""


def log_context(req: ApprovalRequest) -> dict[str, Any]:
    return {"case_id": req.case_id, "action_id": req.action_id, "event_id": req.request_id}


def expiry_reason(req: ApprovalRequest) -> str:
    """Why a request expired: nobody decided by its deadline."""
    at = req.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"no decision by {at}; expired with no action taken"


class Requests(Protocol):
    """What the timers act through (the Gate): its settings, roster, store and clock, its outbox,
    and its compare-and-set transitions."""

    settings: GateSettings
    roster: Roster
    store: RequestStore
    clock: Callable[[], datetime]

    def flush(self, limit: int = 500) -> int: ...

    def transition(
        self, req: ApprovalRequest, events: Sequence[Event], **changes: Any
    ) -> ApprovalRequest | None: ...

    def end_request(
        self,
        req: ApprovalRequest,
        outcome: Decision,
        reason: str,
        *,
        causation_id: str | None = None,
        at: datetime | None = None,
    ) -> ApprovalRequest | None: ...


class Timers:
    """Reminders, escalation and expiry of the requests of one gate (``gate.timers``)."""

    def __init__(self, gate: Requests) -> None:
        self.gate = gate

    def tick(self, now: datetime | None = None) -> TickReport:
        """Remind, escalate and expire pending requests as of ``now``; publish anything queued."""
        now = now or self.gate.clock()
        published = self.gate.flush()
        reminded = escalated = expired = 0
        every = timedelta(seconds=self.gate.settings.remind_after_s)
        for req in self.gate.store.pending():
            if now >= req.expires_at:
                expired += (
                    self.gate.end_request(req, Decision.EXPIRED, expiry_reason(req), at=now) is not None
                )
                continue
            ladder = self._ladder(req, now)
            current = ladder[req.level] if req.level < len(ladder) else None
            due = now >= (req.last_nudge_at or req.created_at) + every
            has_next = req.level + 1 < len(ladder)
            if has_next and (current is None or (due and req.reminders >= self.gate.settings.max_reminders)):
                escalated += self._escalate(req, current, ladder[req.level + 1], now) is not None
            elif due and current is not None and req.reminders < self.gate.settings.max_reminders:
                reminded += self._remind(req, current, now) is not None
        return TickReport(reminded, escalated, expired, published)

    def _ladder(self, req: ApprovalRequest, now: datetime) -> list[Person | None]:
        """Who to ask at each escalation level: whoever is on call now, then the escalation chain."""
        chain = self.gate.roster.chain(req.required_role, now)
        held = self.gate.roster.on_call(req.required_role, now)
        first: Person | None = held.person if held else None
        rest = chain[1:] if held else chain
        return [first, *[p for p in rest if p != first]]

    def _remind(self, req: ApprovalRequest, person: Person, now: datetime) -> ApprovalRequest | None:
        event = ActionReminded(
            case_id=req.case_id,
            causation_id=req.proposal_event_id,
            produced_by=GATE,
            occurred_at=now,
            action_id=req.action_id,
            person=person.email,
            reminder=req.reminders + 1,
        )
        n = req.reminders + 1
        log.info("request %s: reminding %s (%d)", req.request_id, person.id, n, extra=log_context(req))
        return self.gate.transition(
            req, [event], reminders=req.reminders + 1, last_nudge_at=now, assignee=person.id
        )

    def _escalate(
        self, req: ApprovalRequest, current: Person | None, nxt: Person | None, now: datetime
    ) -> ApprovalRequest | None:
        title = self.gate.roster.title(req.required_role)
        why = (
            f"no answer from {current.name} after {req.reminders} reminder(s)"
            if current
            else f"nobody is on call for {title}"
        )
        event = ActionEscalated(
            case_id=req.case_id,
            causation_id=req.proposal_event_id,
            produced_by=GATE,
            occurred_at=now,
            action_id=req.action_id,
            from_person=current.email if current else None,
            to_person=nxt.email if nxt else None,
            level=req.level + 1,
            reason=f"{why}; asking {nxt.name if nxt else 'nobody'} (level {req.level + 1} for {title})",
        )
        to = nxt.id if nxt else None
        log.info("request %s escalated to %s", req.request_id, to, extra=log_context(req))
        return self.gate.transition(
            req,
            [event],
            level=req.level + 1,
            reminders=0,
            last_nudge_at=now,
            assignee=nxt.id if nxt else None,
        )
