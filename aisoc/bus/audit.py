"""The audit log's reading side: every event in publish order, shared by every backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from aisoc.bus.records import AuditEntry
from aisoc.events import Event


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
