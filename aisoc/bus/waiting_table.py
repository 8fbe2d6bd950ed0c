"""One group's waiting records in memory, indexed as the durable backends index theirs.

The records of each case are kept in age order (``aisoc.bus.waiting.age``), and the case heads that
have a due time in due order, so looking for due work reads only what is due and a batch reads only
the records of its own entries and cases (``aisoc.bus.waiting``). Not thread-safe: the in-memory
bus calls it under its lock.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from aisoc.bus.waiting import Waiting, age


class WaitTable:
    """The waiting records of one group: by key, by case (age order) and, for heads, by due time."""

    def __init__(self) -> None:
        self.records: dict[str, Waiting] = {}
        self._cases: dict[str, list[tuple[str, str]]] = {}
        """case -> its records' (age, key), oldest first."""
        self._due: list[tuple[float, str, str]] = []
        """(due, age, key) of every case head that has a due time, soonest first."""
        self._indexed: dict[str, tuple[float, str, str]] = {}
        """case -> its head's item in ``_due``."""

    def head(self, case: str) -> Waiting | None:
        """The oldest record of ``case`` (the only one that may be retried), if it has any."""
        ages = self._cases.get(case)
        return self.records[ages[0][1]] if ages else None

    def put(self, record: Waiting) -> None:
        """Store ``record`` (replacing the record of its entry) and re-index its case's head."""
        old = self.records.get(record.key)
        ages = self._cases.setdefault(record.case, [])
        if old is not None:
            ages.remove((age(old), old.key))
        bisect.insort(ages, (age(record), record.key))
        self.records[record.key] = record
        self._reindex(record.case)

    def drop(self, key: str) -> bool:
        """Remove the record of ``key``; the next record of its case becomes its head. Returns
        whether there was one."""
        old = self.records.pop(key, None)
        if old is None:
            return False
        ages = self._cases[old.case]
        ages.remove((age(old), key))
        if not ages:
            del self._cases[old.case]
        self._reindex(old.case)
        return True

    def due_heads(self, streams: Iterable[str], now: float, count: int) -> list[Waiting]:
        """Up to ``count`` case heads of ``streams`` due by ``now``, soonest due first."""
        wanted, out = set(streams), list[Waiting]()
        for due, _, key in self._due:
            if due > now or len(out) >= count:
                break
            record = self.records[key]
            if record.stream in wanted:
                out.append(record)
        return out

    def _reindex(self, case: str) -> None:
        """Make the due index hold ``case``'s current head exactly when it has a due time."""
        item = self._indexed.pop(case, None)
        if item is not None:
            del self._due[bisect.bisect_left(self._due, item)]
        head = self.head(case)
        if head is not None and head.due is not None:
            item = (head.due, age(head), head.key)
            bisect.insort(self._due, item)
            self._indexed[case] = item
