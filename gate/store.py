"""Approval requests and where they live: one ``RequestStore`` Protocol, a SQLite and a Redis backend.

Every change is a compare-and-set on the record's ``version``, and the events a transition emits are
queued in the store's outbox in the same atomic step; the gate then publishes them with an
idempotency mark and clears them, so a crash between the two publishes them later, exactly once.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from aisoc.bus import Bus
from aisoc.bus.sqlite import SqliteBus
from aisoc.errors import ContractError
from aisoc.events import ActionKind, ActionProposed, Event, Phase, Risk, Role, Sev, UtcDatetime, from_json
from aisoc.sqlitedb import store_url_path
from gate.errors import UnreadableRequest
from gate.settings import GateSettings, default_store_path

log = logging.getLogger(__name__)


class State(StrEnum):
    """Where an approval request is: pending, or how it ended."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class ApprovalRequest(BaseModel):
    """One ``action.proposed`` waiting for (or past) a human decision."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: str
    """The proposal's event id: the same proposal delivered twice is the same request."""
    action_id: str
    case_id: str | None = None
    proposal_event_id: str
    plan_event_id: str
    plan_digest: str
    kind: ActionKind
    target: str
    phase: Phase
    rationale: str
    risk: Risk = Risk.MEDIUM
    sev: Sev | None = None
    required_role: Role
    approver: str | None = None
    """Who was on call for ``required_role`` when the request was created (a roster person id)."""
    assignee: str | None = None
    """Who is being asked now: the approver, or whoever the request was escalated to."""
    level: int = 0
    """Escalation level: 0 is the on-call person, n the n-th person after them in the chain."""
    created_at: UtcDatetime
    expires_at: UtcDatetime
    state: State = State.PENDING
    version: int = 1
    reminders: int = 0
    """Reminders sent at the current escalation level."""
    last_nudge_at: UtcDatetime | None = None
    """When the approver was last reminded or the request last escalated."""
    decided_at: UtcDatetime | None = None
    decided_by: str | None = None
    decided_by_name: str | None = None
    decided_by_email: str | None = None
    identity_source: str | None = None
    authorized_as: str | None = None
    reason: str | None = None
    channel: str | None = None
    decision_nonce: str | None = None
    decision_event_id: str | None = None
    executed_at: UtcDatetime | None = None
    executed_by: str | None = None
    executed_by_name: str | None = None
    executed_note: str | None = None
    execution_event_id: str | None = None

    @property
    def is_pending(self) -> bool:
        """Whether nobody has decided yet (and it has neither expired nor been cancelled)."""
        return self.state == State.PENDING

    @property
    def ended_at(self) -> datetime | None:
        """When it ended (its last step: carried out, or decided, else its deadline); None while
        it is pending."""
        if self.is_pending:
            return None
        return self.executed_at or self.decided_at or self.expires_at

    def evolve(self, **changes: Any) -> ApprovalRequest:
        """Return the next version of this record with ``changes`` applied."""
        return self.model_copy(update={**changes, "version": self.version + 1})

    @classmethod
    def from_proposal(
        cls,
        proposal: ActionProposed,
        *,
        created_at: datetime,
        approver: str | None,
        expires_at: datetime | None = None,
    ) -> ApprovalRequest:
        """Build the pending request for a proposal (``expires_at`` caps the proposal's own)."""
        deadline = proposal.expires_at if expires_at is None else min(expires_at, proposal.expires_at)
        return cls(
            request_id=proposal.event_id,
            action_id=proposal.action_id,
            case_id=proposal.case_id,
            proposal_event_id=proposal.event_id,
            plan_event_id=proposal.plan_event_id,
            plan_digest=proposal.plan_digest,
            kind=proposal.kind,
            target=proposal.target,
            phase=proposal.phase,
            rationale=proposal.rationale,
            risk=proposal.risk,
            sev=proposal.sev,
            required_role=proposal.approver_role,
            approver=approver,
            assignee=approver,
            created_at=created_at,
            expires_at=deadline,
        )


def _version(stored: object) -> int | None:
    """The integer a store keeps as a record's version (an int, or its digits as text), or None."""
    if isinstance(stored, bool):
        return None
    if isinstance(stored, int):
        return stored
    if isinstance(stored, float) and stored.is_integer():
        return int(stored)
    if isinstance(stored, bytes):
        stored = stored.decode("ascii", "replace")
    if isinstance(stored, str) and re.fullmatch(r"\s*-?[0-9]+\s*", stored):
        return int(stored)  # how Lua's tonumber() reads it in the Redis compare-and-set
    return None


def read_request(request_id: str, data: str | bytes, version: object) -> ApprovalRequest:
    """Decode the record a store keeps under ``request_id`` with the ``version`` stored beside it
    (the column or field every compare-and-set compares).

    Raises:
        UnreadableRequest: it is not an approval request, one stored under another id, or its stored
            version is not the one its record holds (no compare-and-set could ever change it).
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UnreadableRequest(request_id, "not UTF-8 text") from None
    try:
        req = ApprovalRequest.model_validate_json(data)
    except ValidationError as e:
        raise UnreadableRequest(request_id, f"{e.error_count()} invalid field(s)") from e
    if req.request_id != request_id:
        raise UnreadableRequest(request_id, f"it holds request {req.request_id!r}")
    stored = _version(version)
    if stored is None:
        shown = version.decode("utf-8", "backslashreplace") if isinstance(version, bytes) else version
        raise UnreadableRequest(request_id, f"its stored version {shown!r} is not a number")
    if stored != req.version:
        raise UnreadableRequest(
            request_id, f"its stored version {stored} is not the version {req.version} its record holds"
        )
    return req


class Noted:
    """What one store has logged as damaged, so that a record every tick reads again is logged once
    per process (and again only when its damage changes). Bounded: the oldest are forgotten."""

    LIMIT = 10_000
    """How many damaged records a store remembers having logged."""

    def __init__(self) -> None:
        self._seen: OrderedDict[Hashable, None] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: Hashable) -> bool:
        """Whether ``key`` is new (then it is remembered)."""
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            if len(self._seen) > self.LIMIT:
                self._seen.popitem(last=False)
            return True


def readable(records: Iterable[tuple[str, object, str | bytes]], noted: Noted) -> list[ApprovalRequest]:
    """The requests of ``(request_id, version, data)`` records that can be read, in order; every other
    record is left out, and logged the first time ``noted`` sees it, so one damaged record never
    hides the rest from a listing nor floods the log on every tick."""
    found = []
    for request_id, version, data in records:
        try:
            found.append(read_request(request_id, data, version))
        except UnreadableRequest as e:
            if noted.first((request_id, e.problem)):
                log.error(
                    "gate store: left out record %r, which is not a readable request (%s); nothing is "
                    "decided, reminded or expired on it until a person repairs or removes it",
                    request_id,
                    e.problem,
                    extra={"event_id": request_id},
                )
    return found


def note_bad_id(noted: Noted, where: str, member: bytes) -> None:
    """Log once that ``where`` holds ``member``, which is not UTF-8 and so not an id the gate wrote."""
    if noted.first((where, member)):
        log.error(
            "gate store: left out member %r of %s, which is not UTF-8 and so not a request id the gate "
            "wrote; remove it",
            member,
            where,
        )


@dataclass(frozen=True, slots=True)
class Reindexed:
    """What one step of a store's index repair (:meth:`RequestStore.reindex`) did."""

    examined: int
    """Records looked at."""
    repaired: int
    """Requests put back in an index they were missing from."""
    done: bool
    """Whether this step finished a whole pass over the store (the next call starts another)."""


@dataclass(frozen=True, slots=True)
class DamagedEntry:
    """An outbox entry the gate cannot publish (not an event, or one queued under another id), set
    aside once for a person: it is never published and never read again by the gate."""

    event_id: str
    payload: str | bytes | None
    """As it was stored (None when the entry had none)."""
    problem: str
    """Why it cannot be published."""


def text_or_bytes(value: bytes) -> str | bytes:
    """A stored value read as bytes: its text, or the bytes themselves when they are not UTF-8 (one
    broken value must not fail the read of every other)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def sort_outbox(
    entries: Iterable[tuple[Any, str, str | bytes | None, str | None]],
) -> tuple[list[Event], list[tuple[Any, str, str]]]:
    """Sort ``(key, event_id, payload, type)`` outbox entries into the events that decode and the
    ``(key, event_id, problem)`` of every other entry, which the store sets aside (see
    :func:`log_set_aside`), so a damaged entry never holds back the events after it."""
    found: list[Event] = []
    damaged: list[tuple[Any, str, str]] = []
    for key, event_id, payload, etype in entries:
        if not payload:
            damaged.append((key, event_id, "it has no payload"))
            continue
        if isinstance(payload, bytes) and isinstance(text_or_bytes(payload), bytes):
            damaged.append((key, event_id, "not UTF-8 text"))
            continue
        try:
            event = from_json(payload, etype)
        except (ContractError, ValueError) as e:
            damaged.append((key, event_id, f"not an event: {e}"))
            continue
        if event.event_id != event_id:
            damaged.append((key, event_id, f"it holds event {event.event_id} under another id"))
            continue
        found.append(event)
    return found, damaged


def log_set_aside(event_id: str, problem: str, where: str) -> None:
    """Say once, when the store moved it, that an outbox entry was set aside and where it is kept."""
    log.error(
        "gate outbox: set aside entry %s, which cannot be published (%s); it is kept in %s for a "
        "person to read, and the events after it go on",
        event_id,
        problem,
        where,
        extra={"event_id": event_id},
    )


@runtime_checkable
class RequestStore(Protocol):
    """Durable approval requests with compare-and-set updates and a transactional outbox."""

    def create(self, request: ApprovalRequest) -> bool:
        """Store a new request; False (and nothing changes) when its id already exists."""
        ...

    def get(self, request_id: str) -> ApprovalRequest | None:
        """Return the request, or None.

        Raises:
            UnreadableRequest: the record under that id cannot be read (listings skip such records).
        """
        ...

    def replace(self, request: ApprovalRequest, events: Sequence[Event] = ()) -> bool:
        """Store ``request`` only if the stored version is ``request.version - 1``, queueing ``events``
        in the outbox in the same atomic step. Returns False when someone else changed it first."""
        ...

    def pending(self) -> list[ApprovalRequest]:
        """Return every pending request, oldest first."""
        ...

    def for_case(self, case_id: str) -> list[ApprovalRequest]:
        """Return every request of one case, oldest first."""
        ...

    def recent(self, limit: int = 100) -> list[ApprovalRequest]:
        """Return the newest requests, newest first."""
        ...

    def outbox(self, limit: int = 100) -> list[Event]:
        """Return up to ``limit`` queued events not yet confirmed published, oldest first. An entry
        that is not a publishable event is moved aside (see :meth:`damaged_outbox`) and logged, once,
        and the events after it are returned in its place."""
        ...

    def damaged_outbox(self, limit: int = 100) -> list[DamagedEntry]:
        """Return the outbox entries set aside as unpublishable, oldest first (for a person)."""
        ...

    def clear_outbox(self, event_ids: Sequence[str]) -> None:
        """Forget queued events once they are on the bus."""
        ...

    def prune(self, ended_before: datetime, limit: int = 1000) -> int:
        """Forget at most ``limit`` requests that ended (see ``ApprovalRequest.ended_at``) before
        ``ended_before``; a pending request is never forgotten. Returns how many went."""
        ...

    def reindex(self, limit: int = 1000) -> Reindexed:
        """Look at about ``limit`` more records, going on from where the previous call stopped, and
        put every request that is missing from an index its record belongs in (pending while it is
        pending; its case's; every request's) back in it, logging each once. A store whose listings
        read the records themselves has nothing to repair and says it is done."""
        ...

    @property
    def repair_due(self) -> bool:
        """Whether a listing found an index damaged beyond a missing member (a key of another type,
        moved aside) and a pass of :meth:`reindex` must rebuild it now rather than when due."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def open_store(bus: Bus, settings: GateSettings | None = None) -> RequestStore:
    """Return the store that fits the bus: Redis next to a Redis bus, a SQLite file next to a SQLite
    bus, in-memory SQLite next to the in-memory bus; ``settings.store`` overrides the choice."""
    from gate.store_sqlite import SqliteRequestStore

    explicit = settings.store if settings is not None else None
    if explicit:
        return SqliteRequestStore(store_url_path(explicit))
    if bus.scheme == "redis":  # the redis extra is installed: the bus runs on it
        from aisoc.bus.redis import RedisBus
        from gate.store_redis import RedisRequestStore

        if isinstance(bus, RedisBus):
            return RedisRequestStore(bus.client, bus.key)
    if isinstance(bus, SqliteBus):
        return SqliteRequestStore(default_store_path(bus.path))
    return SqliteRequestStore(":memory:")
