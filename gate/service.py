"""The Gate: every ``action.proposed`` becomes one approval request that only a person can decide.

    gate = Gate(bus, settings)                  # in-process (demo) or inside the gate process
    team.on_action_proposed(gate=gate)          # the runtime calls gate.handle(event)
    gate.tick()                                 # reminders, escalations, expiry (the process loops it)
    gate.decide(request_id, person_id="alice", decision="approved", reason="...", identity_source="sso")

Transitions are compare-and-set on the stored record, and the events they emit go through the
store's outbox, so the first decision wins and every transition is published exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from datetime import datetime, timedelta
from typing import Any

from aisoc.bus import Bus
from aisoc.events import (
    ActionDecided,
    ActionExecuted,
    ActionProposed,
    CaseClosed,
    Decision,
    Event,
    IrPlan,
    ProducedBy,
    Role,
    fitted,
    utcnow,
)
from aisoc.memory import ActionStatus, Memory
from aisoc.tuning import gc_paused
from gate.errors import (
    AlreadyDecided,
    ApprovalError,
    NotAuthorized,
    UnknownRequest,
    UnreadableRequest,
    check_plain,
)
from gate.roster import Authorization, Roster
from gate.settings import GateSettings
from gate.store import ApprovalRequest, RequestStore, State, open_store
from gate.timers import GATE, TickReport, Timers, expiry_reason, log_context

log = logging.getLogger(__name__)

GATE_EVENT_TYPES = ("action.proposed", "case.closed", "ir.plan")
"""What the gate consumes (consumer group ``gate``)."""
OUTBOX_MARK = "gate"
"""Idempotency-mark role under which the gate publishes its outbox (``(role, event_id)``)."""
HUMAN = ProducedBy(role=Role.HUMAN)
"""A person's decision or report."""
_CAS_RETRIES = 20
PRUNE_EVERY = timedelta(minutes=1)
"""How often a ticking gate asks its store to forget requests that ended before the retention."""
PRUNE_BATCH = 1000
"""Requests forgotten per store call."""
PRUNE_BATCHES = 50
"""Store calls per prune at most (50,000 requests a minute; the rest wait for the next minute)."""
REINDEX_EVERY = timedelta(minutes=10)
"""How long after one pass of the store's index repair (``store.reindex``) the next one starts; the
first starts with the gate."""
REINDEX_BATCH = 2000
"""Keys a tick's step of the index repair walks at most (a pass over a large store spans ticks)."""


def _fmt(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "an unknown time"


class Gate:
    """Approval requests over one bus, one store and one roster.

    Args:
        bus: where proposals come from and decisions go.
        settings: the gate's settings (timings, roster); demo defaults when omitted.
        roster: overrides ``settings.roster``.
        store: overrides the store picked for the bus.
        clock: the current time (injected by tests).
    """

    def __init__(
        self,
        bus: Bus,
        settings: GateSettings | None = None,
        *,
        roster: Roster | None = None,
        store: RequestStore | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.bus = bus
        self.settings = settings or GateSettings(demo=True)
        self.roster = roster or Roster(self.settings.roster)
        self.store = store or open_store(bus, self.settings)
        self.clock = clock
        self.timers = Timers(self)
        self._pruned_at: datetime | None = None
        self._reindexed_at: datetime | None = None
        """When the last whole pass of the index repair ended (None: none yet)."""
        self._reindexing = False
        """Whether a pass of the index repair is under way (it goes on at the next tick)."""

    @property
    def retention(self) -> timedelta:
        """How long a request that ended stays in the store."""
        return timedelta(days=self.settings.ended_retention_days)

    def tick(self, now: datetime | None = None) -> TickReport:
        """Remind, escalate and expire pending requests as of ``now`` (see :class:`Timers`), and at
        most once every ``PRUNE_EVERY`` forget requests that ended longer than the retention ago.

        Before that, a step of the store's index repair: from the gate's start, and every
        ``REINDEX_EVERY`` after a pass ends, requests missing from the store's indexes (a crash, a
        hand edit, a partial restore) are put back, so this very tick reminds or expires them. An
        index the tick finds holding another type (written around the gate) is moved aside by the
        store; the repair then rebuilds it at once and the timers run again."""
        now = now or self.clock()
        self._reindex(now)
        report = self._prune(now, self.timers.tick(now))
        if self.store.repair_due:
            self._reindex(now)
            again = self.timers.tick(now)
            report = TickReport(*(getattr(report, f.name) + getattr(again, f.name) for f in fields(report)))
        return report

    def _prune(self, now: datetime, report: TickReport) -> TickReport:
        """Forget requests that ended before the retention, at most once every ``PRUNE_EVERY``."""
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            pruned = 0
            for _ in range(PRUNE_BATCHES):  # a busy SOC ends more requests a minute than one batch
                n = self.store.prune(now - self.retention, limit=PRUNE_BATCH)
                pruned += n
                if n < PRUNE_BATCH:
                    break
            if pruned:
                log.info("gate store: forgot %d requests that ended before the retention", pruned)
                report = replace(report, pruned=pruned)
        return report

    def _reindex(self, now: datetime) -> None:
        """One bounded step of the store's index repair, when a pass is under way or due (the store
        logs each request it puts back)."""
        due = self._reindexed_at is None or now - self._reindexed_at >= REINDEX_EVERY
        if not (self._reindexing or due or self.store.repair_due):
            return
        step = self.store.reindex(REINDEX_BATCH)
        self._reindexing = not step.done
        if step.done:
            self._reindexed_at = now

    # --- intake -----------------------------------------------------------------------------------

    def recover(self) -> int:
        """Open again every request the audit log shows awaiting a decision that the store lacks.

        After the gate's store was lost, or the bus was restored from an export (``aisoc audit
        import``, which fills the audit log but not the work streams), pending approvals stay pending.
        A request the store has is left as it is.

        Returns:
            How many requests were opened again.
        """
        mem = Memory(self.bus.audit, bulk=gc_paused)
        opened = 0
        for rec in mem.cases():
            file = mem.case_file(rec.case_id) if rec.actions else None
            for state in file.actions() if file is not None else ():
                proposal = file.proposal(state.action_id) if file is not None else None
                if state.status is not ActionStatus.AWAITING or proposal is None:
                    continue
                if not self._stored(proposal.event_id):
                    self.submit(proposal)
                    opened += 1
        return opened

    def _stored(self, request_id: str) -> bool:
        """Whether the store holds a record under ``request_id`` (an unreadable one counts: opening the
        request again could not replace it; it is logged for the operator to repair)."""
        try:
            return self.store.get(request_id) is not None
        except UnreadableRequest as e:
            log.error("%s", e, extra={"event_id": request_id})
            return True

    def handle(self, event: Event) -> list[ApprovalRequest]:
        """Apply one consumed event: a proposal opens a request; a closed case or a newer plan
        cancels the case's pending requests. Other events are ignored. Idempotent.

        Returns:
            The requests created or changed.
        """
        if isinstance(event, ActionProposed):
            if event.occurred_at < self.clock() - self.retention and not self._stored(event.event_id):
                # Proposed before the retention: its request may have ended and been forgotten, and
                # opening it again would ask a person about an action settled long ago.
                log.warning("proposal %s is older than the retention: not opened again", event.event_id)
                return []
            return [self.submit(event)]
        if isinstance(event, CaseClosed):
            who = event.closed_by.person or str(event.closed_by.role)
            reason = f"case closed ({event.disposition.value}) by {who}: {event.reason}"
            return self._cancel_before(event, reason)
        if isinstance(event, IrPlan):
            return self._cancel_before(event, f"plan superseded by a newer IR plan ({event.event_id})")
        return []

    def submit(self, proposal: ActionProposed) -> ApprovalRequest:
        """Open the approval request of a proposal (the same proposal twice is one request).

        The approver is whoever is on call for ``proposal.approver_role`` now. A proposal whose case
        was already closed, or whose plan was already superseded, is cancelled at once.
        """
        now = self.clock()
        held = self.roster.on_call(proposal.approver_role, now)
        cap = now + timedelta(seconds=self.settings.max_open_s) if self.settings.max_open_s else None
        req = ApprovalRequest.from_proposal(
            proposal, created_at=now, approver=held.person.id if held else None, expires_at=cap
        )
        if not self.store.create(req):
            return self.get(req.request_id)
        if held is None:
            log.warning(
                "nobody is on call for %s; request %s goes straight to the escalation chain",
                proposal.approver_role.value,
                req.request_id,
                extra=log_context(req),
            )
        log.info(
            "approval request %s (%s %s) needs %s; on call: %s",
            req.request_id,
            req.kind.value,
            req.target,
            req.required_role.value,
            req.approver or "nobody",
            extra=log_context(req),
        )
        return self._settle(req)

    def overtaken_by(self, req: ApprovalRequest) -> CaseClosed | IrPlan | None:
        """The first event of the audit log after ``req``'s proposal that ends it: the case closed, or
        a newer plan. The gate's worker cancels the request when it consumes that event; until then
        (it lags, or is down) the request is still pending in the store, and this says it is moot."""
        if not req.case_id:
            return None
        history = self.bus.audit.for_case(req.case_id)
        ids = [e.event_id for e in history]
        later = history[ids.index(req.proposal_event_id) + 1 :] if req.proposal_event_id in ids else []
        for e in later:
            if isinstance(e, CaseClosed) or (isinstance(e, IrPlan) and e.event_id != req.plan_event_id):
                return e
        return None

    def _settle(self, req: ApprovalRequest) -> ApprovalRequest:
        """Cancel a pending ``req`` now when the audit log shows its case closed or its plan
        superseded (see :meth:`overtaken_by`), and return it as stored."""
        if not req.is_pending:
            return req
        ending = self.overtaken_by(req)
        if ending is None:
            return req
        self.handle(ending)
        return self.get(req.request_id)

    def _cancel_before(self, event: Event, reason: str) -> list[ApprovalRequest]:
        if event.case_id is None:
            return []
        history = [e.event_id for e in self.bus.audit.for_case(event.case_id)]
        at = history.index(event.event_id) if event.event_id in history else len(history)
        changed = []
        for req in self.store.for_case(event.case_id):
            if not req.is_pending or (isinstance(event, IrPlan) and req.plan_event_id == event.event_id):
                continue
            pos = history.index(req.proposal_event_id) if req.proposal_event_id in history else -1
            if pos < at:
                done = self.end_request(req, Decision.CANCELLED, reason, causation_id=event.event_id)
                changed += [done] if done else []
        return changed

    # --- people's decisions -----------------------------------------------------------------------

    def get(self, request_id: str) -> ApprovalRequest:
        """Return a request.

        Raises:
            UnknownRequest: no request has that id.
        """
        req = self.store.get(request_id)
        if req is None:
            raise UnknownRequest(request_id)
        return req

    def authorize(self, req: ApprovalRequest, person_id: str, at: datetime | None = None) -> Authorization:
        """Whether a person may decide ``req`` now: on call for its role (checked again now), in the
        role's approver group, or the person it was escalated to."""
        assignee = req.assignee if req.level > 0 else None
        auth = self.roster.authorize(person_id, req.required_role, at or self.clock(), assignee=assignee)
        if not auth.allowed and req.approver == person_id:
            held = self.roster.on_call(req.required_role, at or self.clock())
            now_on = (
                f"{held.person.name} is on call since {_fmt(held.since)}" if held else "nobody is on call"
            )
            return Authorization(
                False,
                "",
                f"You were on call for {self.roster.title(req.required_role)} when this was proposed, "
                f"but you are no longer ({now_on}). {auth.reason}",
            )
        return auth

    def check_decision(
        self,
        req: ApprovalRequest,
        person_id: str,
        *,
        nonce: str | None = None,
        plan_digest: str | None = None,
    ) -> Authorization:
        """Whether ``person_id`` may decide ``req`` now through a link with ``nonce`` and
        ``plan_digest``: the checks :meth:`decide` makes, for a page to ask before it shows a form.

        A request whose case was closed, or whose plan was superseded, since it was proposed is
        cancelled here (the audit log says so even when the gate's worker has not caught up).

        Raises:
            AlreadyDecided: the link already confirmed a decision (code ``replayed``) or the request
                is no longer pending (``decided``), cancelled included.
            ApprovalError: the plan changed since the link was made (``plan``).
            NotAuthorized: the person may not decide it now (it says why).
        """
        req = self._settle(req)
        self._check_link(req, nonce, plan_digest)
        return self._authorized(req, person_id, self.clock())

    def _check_link(self, req: ApprovalRequest, nonce: str | None, plan_digest: str | None) -> None:
        if nonce and req.decision_nonce == nonce:
            raise AlreadyDecided(
                f"This link already confirmed a decision: {self.describe(req)}. A replay decides nothing.",
                "replayed",
            )
        if not req.is_pending:
            raise AlreadyDecided(f"This request was already {self.describe(req)}.", state=req.state.value)
        if plan_digest is not None and plan_digest != req.plan_digest:
            raise ApprovalError("the plan changed since this link was made; nothing was decided", "plan")

    def _authorized(self, req: ApprovalRequest, person_id: str, now: datetime) -> Authorization:
        auth = self.authorize(req, person_id, now)
        if not auth.allowed:
            raise NotAuthorized(auth.reason)
        return auth

    def may_record_done(self, req: ApprovalRequest, person_id: str) -> Authorization:
        """Whether a person may record ``req`` as carried out: its decider, the duty's approver group
        or its executor group."""
        return self.roster.authorize_done(person_id, req.required_role, req.decided_by)

    def lapsed(self, req: ApprovalRequest) -> bool:
        """Whether ``req`` is pending in the store although its deadline has passed: the worker has not
        ticked yet, nobody can decide it any more, and every page shows it expired."""
        return req.is_pending and self.clock() >= req.expires_at

    def as_of_now(self, req: ApprovalRequest) -> ApprovalRequest:
        """``req`` as people see it now: a :meth:`lapsed` request reads as expired at its deadline by
        the gate (what the worker's next tick stores), so no listing shows it pending meanwhile. Never
        stored; anything else is returned as it is."""
        if not self.lapsed(req):
            return req
        return req.model_copy(
            update={
                "state": State.EXPIRED,
                "decided_at": req.expires_at,
                "reason": expiry_reason(req),
                "channel": "gate",
            }
        )

    def describe(self, req: ApprovalRequest) -> str:
        """One sentence on how a request ended ("approved by Alice Ng at ...")."""
        if req.state == State.PENDING:
            if self.lapsed(req):  # the worker has not ticked yet; no one can decide it now
                return f"expired at {_fmt(req.expires_at)} with no decision"
            return f"pending, expires at {_fmt(req.expires_at)}"
        if req.decided_by_name:
            return f"{req.state.value} by {req.decided_by_name} at {_fmt(req.decided_at)}"
        return f"{req.state.value} at {_fmt(req.decided_at)}: {req.reason}"

    def decide(
        self,
        request_id: str,
        *,
        person_id: str,
        decision: Decision | str,
        reason: str,
        identity_source: str,
        channel: str = "gate",
        nonce: str | None = None,
        plan_digest: str | None = None,
        typed_target: str | None = None,
    ) -> ApprovalRequest:
        """Record a person's decision (approved or rejected); the first decision wins.

        Args:
            typed_target: what the person typed to confirm an approval; must equal the target.
            plan_digest: the digest the person was shown; must equal the request's.
            nonce: the confirming link's nonce (a replayed confirmation is recognised by it).

        Raises:
            AlreadyDecided: the request is no longer pending (it says by whom and when), including a
                request cancelled here because the audit log shows its case closed or its plan
                superseded.
            NotAuthorized: the person may not decide it now (it says why).
            ApprovalError: bad decision, wrong digest or typed target.
        """
        outcome = Decision(decision)
        if outcome not in (Decision.APPROVED, Decision.REJECTED):
            raise ApprovalError(f"a person approves or rejects; {outcome.value!r} is the gate's", "decision")
        check_plain(reason, "reason")
        for _ in range(_CAS_RETRIES):
            now, req = self.clock(), self._settle(self.get(request_id))
            self._check_link(req, nonce, plan_digest)
            if now >= req.expires_at:
                self.end_request(req, Decision.EXPIRED, expiry_reason(req))
                continue
            auth = self._authorized(req, person_id, now)
            if (
                outcome == Decision.APPROVED
                and typed_target is not None
                and typed_target.strip() != req.target
            ):
                raise ApprovalError(f"the typed target does not match {req.target!r}", "target")
            person = self.roster.person(person_id)
            event = fitted(
                ActionDecided,
                case_id=req.case_id,
                causation_id=req.proposal_event_id,
                produced_by=HUMAN,
                occurred_at=now,
                action_id=req.action_id,
                decision=outcome,
                decided_by=person.email,
                identity_source=identity_source,
                reason=reason,
                channel=channel,
                plan_digest=req.plan_digest,
            )
            new = self.transition(
                req,
                [event],
                state=State(outcome.value),
                decided_at=now,
                decided_by=person.id,
                decided_by_name=person.name,
                decided_by_email=person.email,
                identity_source=identity_source,
                authorized_as=auth.basis,
                reason=reason,
                channel=channel,
                decision_nonce=nonce,
                decision_event_id=event.event_id,
            )
            if new is not None:
                log.info(
                    "request %s %s by %s (%s)",
                    request_id,
                    outcome.value,
                    person.id,
                    auth.basis,
                    extra=log_context(new),
                )
                return new
        raise ApprovalError("the request kept changing while deciding; try again", "contention")

    def record_executed(
        self, request_id: str, *, person_id: str, identity_source: str, note: str | None = None
    ) -> ApprovalRequest:
        """Record that a person carried out an approved action in their own console.

        Only whoever decided it, the duty's approver group or its executor group may (the roster's
        :meth:`~gate.roster.Roster.authorize_done`).

        Args:
            person_id: a roster id, email or alias.

        Raises:
            ApprovalError: the request is not approved, or its execution was already recorded.
            NotAuthorized: the person is not in the roster, or may not record it (it says who may).
        """
        check_plain(note, "note")
        person = self.roster.find(person_id)
        if person is None:
            raise NotAuthorized(f"{person_id} is not in the on-call roster.")
        for _ in range(_CAS_RETRIES):
            now, req = self.clock(), self.get(request_id)
            if req.state != State.APPROVED:
                raise ApprovalError(
                    f"only an approved request can be done; this one is {req.state.value}", "state"
                )
            if req.executed_at is not None:
                raise AlreadyDecided(
                    f"Already recorded as done by {req.executed_by_name} at {_fmt(req.executed_at)}."
                )
            auth = self.may_record_done(req, person.id)
            if not auth.allowed:
                raise NotAuthorized(auth.reason)
            event = fitted(
                ActionExecuted,
                case_id=req.case_id,
                causation_id=req.decision_event_id,
                produced_by=HUMAN,
                occurred_at=now,
                action_id=req.action_id,
                executed_by=person.email,
                identity_source=identity_source,
                note=note or None,
            )
            new = self.transition(
                req,
                [event],
                executed_at=now,
                executed_by=person.id,
                executed_by_name=person.name,
                executed_note=note,
                execution_event_id=event.event_id,
            )
            if new is not None:
                log.info("request %s executed by %s", request_id, person.id, extra=log_context(new))
                return new
        raise ApprovalError("the request kept changing; try again", "contention")

    def end_request(
        self,
        req: ApprovalRequest,
        outcome: Decision,
        reason: str,
        *,
        causation_id: str | None = None,
        at: datetime | None = None,
    ) -> ApprovalRequest | None:
        """Expire or cancel a pending request (the gate's own decisions)."""
        now = at or self.clock()
        event = fitted(
            ActionDecided,
            case_id=req.case_id,
            causation_id=causation_id or req.proposal_event_id,
            produced_by=GATE,
            occurred_at=now,
            action_id=req.action_id,
            decision=outcome,
            reason=reason,
            channel="gate",
            plan_digest=req.plan_digest,
        )
        new = self.transition(
            req,
            [event],
            state=State(outcome.value),
            decided_at=now,
            reason=reason,
            channel="gate",
            decision_event_id=event.event_id,
        )
        if new is not None:
            log.info("request %s %s: %s", req.request_id, outcome.value, reason, extra=log_context(req))
        return new

    # --- plumbing ---------------------------------------------------------------------------------

    def transition(
        self, req: ApprovalRequest, events: Sequence[Event], **changes: Any
    ) -> ApprovalRequest | None:
        new = req.evolve(**changes)
        if not self.store.replace(new, events):
            return None
        try:
            self.flush()
        except Exception:  # the transition is stored and its events wait in the outbox: tick() retries
            log.exception(
                "request %s moved, but publishing its events failed; the next tick publishes them",
                req.request_id,
                extra=log_context(req),
            )
        return new

    def flush(self, limit: int = 500) -> int:
        """Publish up to ``limit`` queued events (each once, under its idempotency mark) and clear them.

        Returns:
            How many were newly published (an event already on the bus is only cleared).
        """
        batch = self.store.outbox(limit)
        published = 0
        for event in batch:
            published += self.bus.publish_many([event], once=(OUTBOX_MARK, event.event_id))
        if batch:
            self.store.clear_outbox([e.event_id for e in batch])
        return published

    def close(self) -> None:
        """Release the store."""
        self.store.close()
