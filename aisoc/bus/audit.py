"""The audit log's reading side: every event in publish order, shared by every backend."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator

from aisoc.bus.records import AuditEntry
from aisoc.errors import ContractError
from aisoc.events import Event

log = logging.getLogger(__name__)

_WARNED_MAX = 10_000
"""How many unreadable audit entry ids a process remembers having logged (each is logged once)."""
_warned: OrderedDict[str, None] = OrderedDict()
_warned_lock = threading.Lock()


def readable(entry_id: str, decode: Callable[[], Event]) -> Event | None:
    """The event ``decode`` reads from one audit entry, or None when the entry does not decode.

    One broken entry (written straight into storage by a bug, a bridge or a disk error) must not stop
    every reader of the log (memory, statistics, the bot's feed, metrics, export): it is skipped and
    left where it is, and a warning names it once per process. The audit log is the record, so a
    reader never removes it; ``aisoc audit export`` skips it too.
    """
    try:
        return decode()
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
    return None


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

    def since(self, cursor: str | None) -> Iterator[AuditEntry]:
        """Yield entries after ``cursor`` (an audit entry id); ``None`` means from the start."""
        return self.entries(since=cursor)

    def __iter__(self) -> Iterator[Event]:
        for entry in self.entries():
            yield entry.event
