"""The bus's plain records: what backends hand the base class and what the public API returns."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from aisoc.errors import ContractError
from aisoc.events import Event, class_for, from_json


def id_key(entry_id: str) -> tuple[int, int]:
    """Order entry ids of any backend: ``"17"`` (embedded) and ``"1700000000000-3"`` (Redis)."""
    head, _, tail = entry_id.partition("-")
    return int(head), int(tail or 0)


Payload = Event | str | bytes | None
"""A stored payload as read: the event, its JSON text, bytes that are not UTF-8, or nothing."""


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """Who reads what: one consumer of one group over some work streams, at most ``count`` entries."""

    group: str
    consumer: str
    streams: tuple[str, ...]
    count: int


@dataclass(frozen=True, slots=True)
class RawEntry:
    """An entry as a backend read it, before the base class decodes and filters it.

    ``payload`` is the stored event, its JSON text, raw bytes that are not UTF-8, or None when the
    storage holds none: the base class dead-letters whatever does not decode to ``event_type``.
    ``event_type`` is ``""`` when the storage carries none (an entry written around the bus): the
    payload's own type then decides who receives it.
    """

    stream: str
    entry_id: str
    event_type: str
    payload: Payload
    target: str | None
    delivery_count: int

    def event_id(self) -> str | None:
        """The event id a dead letter of this entry names, so replaying it clears its group's mark
        of that event: the stored event's id when the payload decodes to the entry's type (or the
        entry carries none); None for a payload that is not such an event (raw garbage)."""
        payload = self.payload
        if isinstance(payload, str):
            try:
                payload = from_json(payload, self.event_type or None)
            except ContractError:
                return None
            if self.event_type and class_for(self.event_type) is not type(payload):
                return None
        return payload.event_id if isinstance(payload, Event) else None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit-log entry: its id (the cursor) and the event."""

    id: str
    event: Event


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokenEntry:
    """An audit entry that does not decode (written around the bus, a bridge's bug, a disk error).

    It stays in the log: readers pass it by (their cursor moves past it), retention archives it as
    stored. ``payload`` is the stored text, base64 of raw bytes that are not UTF-8
    (``encoding="base64"``), or None when the entry holds none.
    """

    id: str
    event_type: str | None
    reason: str
    payload: str | None
    encoding: str = "utf-8"


@dataclass(frozen=True, slots=True, kw_only=True)
class Undeliverable:
    """An entry (or a bad input that never became one) to file as a dead letter, with the reason.

    ``entry_id`` is ``"-"`` for an input that never reached a stream; ``payload`` is the stored text,
    base64 of raw bytes that were not UTF-8 (``encoding="base64"``), or None when nothing was stored.
    """

    stream: str
    group: str
    entry_id: str
    event_type: str | None
    event_id: str | None
    reason: str
    payload: str | None
    delivery_count: int
    encoding: str = "utf-8"
    """``utf-8`` when ``payload`` is the stored text, ``base64`` when it encodes raw bytes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter(Undeliverable):
    """A filed :class:`Undeliverable`: its id in the dead-letter store and when it was filed."""

    id: str
    failed_at: datetime

    @classmethod
    def filed(cls, letter: Undeliverable, dlq_id: str, failed_at: datetime) -> DeadLetter:
        """The dead letter ``letter`` became once stored under ``dlq_id``."""
        return cls(
            **{f.name: getattr(letter, f.name) for f in fields(Undeliverable)}, id=dlq_id, failed_at=failed_at
        )


@dataclass(frozen=True, slots=True)
class GroupStats:
    """One consumer group on one stream."""

    name: str
    pending: int
    lag: int | None
    consumers: int


@dataclass(frozen=True, slots=True)
class StreamStats:
    """One stream: its length and its groups."""

    name: str
    length: int
    groups: list[GroupStats]


@dataclass(frozen=True, slots=True)
class BusStats:
    """``bus.stats()``: every stream and the dead-letter count."""

    streams: list[StreamStats]
    dead_letters: int
