"""The audit log's reading side: every event in publish order, shared by every backend."""

from __future__ import annotations

import base64
import logging
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator

from aisoc.bus.records import AuditEntry, BrokenEntry, id_key
from aisoc.errors import ContractError
from aisoc.events import Event

log = logging.getLogger(__name__)

_WARNED_MAX = 10_000
"""How many unreadable audit entry ids a process remembers having logged (each is logged once)."""
_warned: OrderedDict[str, None] = OrderedDict()
_warned_lock = threading.Lock()


def decoded(
    entry_id: str, event_type: str | None, payload: str | bytes | None, decode: Callable[[], Event]
) -> AuditEntry | BrokenEntry:
    """The entry ``decode`` reads from one stored audit entry, or a :class:`BrokenEntry` holding what
    is stored when it does not decode.

    One broken entry (written straight into storage by a bug, a bridge or a disk error) must not stop
    every reader of the log (memory, statistics, the bot's feed, metrics, export): readers pass it by
    and leave it where it is, and a warning names it once per process. The audit log is the record,
    so a reader never removes it; retention archives it as stored.

    Args:
        entry_id: the entry's id.
        event_type: the type stored beside the payload (None: none).
        payload: the stored payload as read: text, raw bytes that are not UTF-8, or None.
        decode: reads the event, raising ContractError (or ValueError, TypeError) when it cannot.
    """
    try:
        return AuditEntry(entry_id, decode())
    except ContractError as e:
        reason = str(e)
    except (ValueError, TypeError) as e:  # a payload of a type no decoder expects (a NULL, a number)
        reason = f"{type(e).__name__}: {e}"
    with _warned_lock:
        first = entry_id not in _warned
        _warned[entry_id] = None
        if len(_warned) > _WARNED_MAX:
            _warned.popitem(last=False)
    if first:
        log.warning("audit entry %s does not decode and is skipped by every reader: %s", entry_id, reason)
    text, encoding = payload, "utf-8"
    if isinstance(text, bytes):
        text, encoding = base64.b64encode(text).decode("ascii"), "base64"
    return BrokenEntry(id=entry_id, event_type=event_type, reason=reason, payload=text, encoding=encoding)


def entry_event(entry: AuditEntry | BrokenEntry) -> str:
    """The event id an entry holds ("" for one that does not decode): what a reader keeps beside its
    cursor, so that :meth:`AuditLog.replaced_at` can tell whether the log is still the one it read."""
    return entry.event.event_id if isinstance(entry, AuditEntry) else ""


def readable(entry_id: str, decode: Callable[[], Event]) -> Event | None:
    """The event ``decode`` reads from one audit entry, or None when it does not decode (warned once
    per process, as :func:`decoded`)."""
    entry = decoded(entry_id, None, None, decode)
    return entry.event if isinstance(entry, AuditEntry) else None


class AuditLog(ABC):
    """Every event in publish order. Ids are strings, monotonic per backend (compare with ``id_key``)."""

    @abstractmethod
    def entries(self, since: str | None = None, limit: int | None = None) -> Iterator[AuditEntry]:
        """Yield entries after ``since`` (exclusive), oldest first."""

    @abstractmethod
    def for_case(self, case_id: str) -> list[Event]:
        """Return every event of one case, in publish order."""

    @abstractmethod
    def last_id(self) -> str | None:
        """Return the newest entry id, or None when the log is empty."""

    @abstractmethod
    def first_id(self) -> str | None:
        """Return the oldest entry id still in the log, or None when it is empty."""

    @abstractmethod
    def __len__(self) -> int: ...

    @property
    @abstractmethod
    def epoch(self) -> str:
        """An id of this log's generation: it changes when the log is wiped (Redis restarted empty)."""

    def scan(self, since: str | None = None, limit: int | None = None) -> Iterator[AuditEntry | BrokenEntry]:
        """Yield every entry after ``since`` (exclusive), oldest first, those that do not decode
        included as :class:`BrokenEntry`; ``limit`` counts entries of both kinds.

        A reader that keeps a cursor follows the log with this, so that it moves past a broken entry
        once instead of reading it again on every refresh (at the log's end no good entry follows to
        carry the cursor past it). A log whose storage holds only events needs no override.
        """
        return iter(self.entries(since=since, limit=limit))

    def entry_at(self, entry_id: str) -> AuditEntry | BrokenEntry | None:
        """The entry with id ``entry_id``, or None when the log holds none (trimmed, or never
        written). Backends look it up directly; this default reads the log."""
        return next((e for e in self.scan() if e.id == entry_id), None)

    def replaced_at(self, cursor: str, event_id: str) -> str | None:
        """Why this log is not the one a reader followed up to ``cursor``, where it read the entry
        holding ``event_id`` (see :func:`entry_event`), or None when nothing says so.

        A log that lost its tail (a SQLite backup restored, a torn WAL, a Redis restart that lost
        its last writes) and then grew again reuses ids or passes the cursor, so the cursor is not
        past its end: the entry at the cursor then holds another event, or is gone while older
        entries are kept (retention trims from the start only). A reader that gets a reason reads
        the log again from its start.
        """
        at = self.entry_at(cursor)
        if at is None:
            first = self.first_id()
            if first is None or id_key(first) > id_key(cursor):
                return None  # trimmed by retention
            return (
                f"the entry at cursor {cursor} is gone while older ones are kept: the log lost "
                "entries after it was read (a Redis restart that lost its last writes, a restored backup)"
            )
        if entry_event(at) == event_id:
            return None
        return (
            f"the entry at cursor {cursor} holds another event than the one read "
            f"({entry_event(at) or 'one that does not decode'}, not {event_id or 'a broken entry'}): "
            "the log was replaced (a restored backup, or a tail lost in a crash)"
        )

    def _decodable(self, since: str | None, limit: int | None) -> Iterator[AuditEntry]:
        """:meth:`entries` for a log that implements :meth:`scan`: ``limit`` counts events, so a
        stretch of broken entries is read past."""
        cursor, got = since, 0
        while limit is None or got < limit:
            want = None if limit is None else limit - got
            read = 0
            for item in self.scan(since=cursor, limit=want):
                read += 1
                cursor = item.id
                if isinstance(item, AuditEntry):
                    got += 1
                    yield item
            if want is None or read < want:
                return

    def since(self, cursor: str | None) -> Iterator[AuditEntry]:
        """Yield entries after ``cursor`` (an audit entry id); ``None`` means from the start."""
        return self.entries(since=cursor)

    def __iter__(self) -> Iterator[Event]:
        for entry in self.entries():
            yield entry.event
