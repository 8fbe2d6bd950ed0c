"""The case read model: one case's record, folded by memory, beside the events it was folded from.

Everything that asks "what is the state of this case?" — the gate's step one, the bot's ``case``
answer and its cards, the CLI's paths, the report roles — reads a :class:`CaseFile` instead of
folding the audit log by hand: the record answers (state, latest plan, which actions wait for whom),
the events are there to be shown.

    file = memory.case_file("wazuh:1714")
    file.state, file.alert, file.plan(), file.actions()
    [s.render() for s in file.statements()]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import TypeVar

from aisoc.bus import AuditLog
from aisoc.events import (
    ActionDecided,
    ActionProposed,
    Alert,
    AlertReceived,
    CaseClosed,
    Event,
    IrPlan,
    ReviewRequested,
    Role,
    TruthLabeled,
)
from aisoc.memory.fold import CASE_TYPES, ActionEvent, fold
from aisoc.memory.records import ActionRecord, CaseRecord, CaseState, Step, to_dt
from aisoc.memory.statements import Approver, Statement, statements

E = TypeVar("E", bound=Event)


class ActionStatus(StrEnum):
    """Where a proposed action stands: awaiting a person, decided one way or another, or carried out."""

    AWAITING = "awaiting"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    EXECUTED = "executed"


@dataclass(frozen=True, slots=True)
class ActionState:
    """One real-system action as memory knows it: who proposed it, who must decide and by when, who
    decided, who carried it out. Every step names the event it comes from (``step.event_id``).

    Attributes:
        case_id: the case the action belongs to.
        action: the folded record (kind, target, duty, deadline and the stamped steps).
    """

    case_id: str
    action: ActionRecord

    @property
    def action_id(self) -> str:
        """The action's id."""
        return self.action.action_id

    @property
    def status(self) -> ActionStatus:
        """Awaiting, the decision (approved, rejected, expired, cancelled) or executed."""
        a = self.action
        if a.executed is not None:
            return ActionStatus.EXECUTED
        if a.decided is not None:
            return ActionStatus(a.decided.value)
        return ActionStatus.AWAITING

    @property
    def proposed(self) -> Step | None:
        """The proposal: ``by`` the proposing role, ``value`` the plan phase, ``reason`` the rationale."""
        return self.action.proposed

    @property
    def decided(self) -> Step | None:
        """The decision: ``value`` approved/rejected/expired/cancelled, ``by`` the person (None: the gate)."""
        return self.action.decided

    @property
    def executed(self) -> Step | None:
        """The person's report of carrying it out (``by``), with their note (``reason``)."""
        return self.action.executed

    @property
    def duty(self) -> Role | None:
        """The on-call duty that must decide (None until the proposal is known)."""
        return Role(self.action.duty) if self.action.duty else None

    @property
    def deadline(self) -> datetime | None:
        """When the request expires undecided."""
        return None if self.action.expires_at is None else to_dt(self.action.expires_at)

    @property
    def asked(self) -> str | None:
        """The person the latest reminder or escalation asked (None: nobody named yet)."""
        return self.action.nudged.by if self.action.nudged else None

    @property
    def awaiting(self) -> bool:
        """Whether a person's decision is still awaited."""
        return self.status == ActionStatus.AWAITING

    @property
    def event_ids(self) -> tuple[str, ...]:
        """The events behind this state, in the order things happened."""
        a = self.action
        steps = [s for s in (a.proposed, a.nudged, a.decided, a.executed) if s is not None]
        return tuple(s.event_id for s in sorted(steps, key=lambda s: (s.at, s.event_id)))


def _case_of(event: Event, action_case: Mapping[str, str]) -> str | None:
    """The case an event belongs to: its own, or for an action event without one, its action's."""
    if event.case_id is None and isinstance(event, ActionEvent):
        return action_case.get(event.action_id)
    return event.case_id


class CaseFile:
    """One case: memory's folded record and the events it holds (in log order).

    A file read from the log holds every event of the case; one from :func:`fold_cases` holds only
    the events behind the record (the alert, each latest output, decision and closure).

    Args:
        case_id: the case.
        events: the events of the file, in log order.
        record: the case as memory folds it (default: folded from ``events`` on first use).
        complete: whether ``events`` is the case's whole story (False: only the events behind the
            record).
    """

    def __init__(
        self,
        case_id: str,
        events: Iterable[Event],
        record: CaseRecord | None = None,
        *,
        complete: bool = True,
    ) -> None:
        self.case_id = case_id
        self.events: tuple[Event, ...] = tuple(events)
        self.complete = complete
        if record is not None:
            self.__dict__["record"] = record

    @classmethod
    def of(cls, case_id: str, events: Iterable[Event]) -> CaseFile:
        """The file of one case's events (in log order), folded with memory's fold when asked."""
        return cls(case_id, events)

    @classmethod
    def read(cls, audit: AuditLog, case_id: str) -> CaseFile | None:
        """The file of ``case_id`` from the audit log (None when nothing is recorded about it)."""
        events = audit.for_case(case_id)
        return cls(case_id, events) if events else None

    @cached_property
    def record(self) -> CaseRecord:
        """The case as memory folds it: state, each register, every action."""
        rec = CaseRecord(self.case_id)
        for e in self.events:
            if e.type in CASE_TYPES:
                fold(rec, e)
        return rec

    def __repr__(self) -> str:
        return f"CaseFile({self.case_id!r}, {len(self.events)} events, complete={self.complete})"

    # --- lookups ----------------------------------------------------------------------------------

    @cached_property
    def _by_id(self) -> dict[str, Event]:
        return {e.event_id: e for e in self.events}

    def event(self, event_id: str | None) -> Event | None:
        """The event of this file with ``event_id``, or None."""
        return None if event_id is None else self._by_id.get(event_id)

    def _typed(self, event_id: str | None, cls: type[E]) -> E | None:
        found = self.event(event_id)
        return found if isinstance(found, cls) else None

    @property
    def state(self) -> CaseState:
        """The case's state (received ... closed), as memory derives it."""
        return self.record.state

    @property
    def alert(self) -> Alert | None:
        """The alert the case was opened with."""
        a = self.record.alert
        received = self._typed(a.event_id if a else None, AlertReceived)
        return received.alert if received else None

    def output(self, role: Role | str) -> Event | None:
        """The latest output event of ``role`` (``sentinel``, ``tier2``, ``ir_lead``, ``threat_intel``)."""
        out = self.record.output(role)
        return self.event(out.event_id if out else None)

    def plan(self, event_id: str | None = None) -> IrPlan | None:
        """The plan with ``event_id``, or the case's latest plan."""
        if event_id is not None:
            return self._typed(event_id, IrPlan)
        out = self.record.output(Role.IR_LEAD)
        return self._typed(out.event_id if out else None, IrPlan)

    def closure(self) -> CaseClosed | None:
        """The latest ``case.closed`` (None while the case was never closed)."""
        c = self.record.closed
        return self._typed(c.event_id if c else None, CaseClosed)

    def review(self) -> ReviewRequested | None:
        """The latest ``case.review_requested``."""
        r = self.record.review
        return self._typed(r.event_id if r else None, ReviewRequested)

    def label(self) -> TruthLabeled | None:
        """The latest ``truth.labeled`` (the analyst's ground truth)."""
        t = self.record.truth
        return self._typed(t.event_id if t else None, TruthLabeled)

    def actions(self) -> list[ActionState]:
        """Every proposed action of the case, in the order they were proposed."""
        states = [ActionState(self.case_id, a) for a in self.record.actions.values()]
        return sorted(states, key=lambda s: (s.proposed.at if s.proposed else 0.0, s.action_id))

    def action(self, action_id: str) -> ActionState | None:
        """The state of one action of the case."""
        a = self.record.actions.get(action_id)
        return None if a is None else ActionState(self.case_id, a)

    def proposal(self, action_id: str) -> ActionProposed | None:
        """The ``action.proposed`` event of an action (the latest, if it was proposed twice)."""
        a = self.record.actions.get(action_id)
        return self._typed(a.proposed.event_id if a and a.proposed else None, ActionProposed)

    def proposals(self) -> dict[str, ActionProposed]:
        """The ``action.proposed`` event of every action, by action id."""
        found = {a: self.proposal(a) for a in self.record.actions}
        return {a: p for a, p in found.items() if p is not None}

    def decision(self, action_id: str) -> ActionDecided | None:
        """The ``action.decided`` event of an action, or None while undecided."""
        a = self.record.actions.get(action_id)
        return self._typed(a.decided.event_id if a and a.decided else None, ActionDecided)

    def statements(self, *, approver: Approver | None = None) -> list[Statement]:
        """What the file's events say, each statement citing its event.

        Args:
            approver: who was asked to decide a proposal (the in-process gate knows), or None.
        """
        return statements(self.events, approver=approver)


def fold_cases(events: Iterable[Event], *, until: datetime | None = None) -> dict[str, CaseFile]:
    """Fold a stretch of the audit log into case files, with memory's fold (the report roles' view).

    Args:
        events: audit events in log order (any types; those of no case are skipped).
        until: only events that occurred strictly before this count (a report window's end).

    Returns:
        A file per case that had an event, in the order cases first appear; each holds only the
        events behind its record (``complete`` is False).
    """
    records: dict[str, CaseRecord] = {}
    held: dict[str, dict[str, Event]] = {}
    action_case: dict[str, str] = {}
    for e in events:
        if until is not None and e.occurred_at >= until:
            continue
        case_id = _case_of(e, action_case)
        if case_id is None:
            continue
        rec = records.get(case_id)
        if rec is None:
            rec = records[case_id] = CaseRecord(case_id)
            held[case_id] = {}
        if isinstance(e, ActionProposed):
            action_case[e.action_id] = case_id
        if e.type in CASE_TYPES and fold(rec, e):
            held[case_id][e.event_id] = e
    return {cid: CaseFile(cid, _behind(rec, held[cid]), rec, complete=False) for cid, rec in records.items()}


def _behind(rec: CaseRecord, held: Mapping[str, Event]) -> tuple[Event, ...]:
    """The held events the record still refers to, in log order."""
    ids = {o.event_id for o in rec.outputs.values()}
    ids.update(r.event_id for r in (rec.alert, rec.review, rec.closed, rec.truth) if r is not None)
    for a in rec.actions.values():
        ids.update(s.event_id for s in (a.proposed, a.nudged, a.decided, a.executed) if s is not None)
    return tuple(e for eid, e in held.items() if eid in ids)
