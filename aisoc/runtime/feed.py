"""The audit as the periodic roles read it: incrementally from a cursor, with a bounded window in RAM.

Each fire reads only the entries published since the previous one (the cursor is the last audit entry
id read). Cases whose last event is older than ``horizon`` and that are closed are dropped; should one
of them see a new event later (a reopen), its history is fetched again from the audit's per-case index.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from aisoc.bus import AuditLog
from aisoc.events import AlertReceived, CaseClosed, Event, utcnow

log = logging.getLogger(__name__)

DEFAULT_HORIZON = timedelta(days=14)
"""How long a closed case stays in RAM after its last event: longer than any report window."""


class AuditFeed:
    """The audit log read incrementally, a bounded window of it kept in RAM.

    Args:
        audit: the log.
        horizon: closed cases quiet this long, and case-less events this old, are dropped.
        clock: returns "now".
    """

    def __init__(
        self, audit: AuditLog, horizon: timedelta = DEFAULT_HORIZON, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.audit, self.horizon, self.clock = audit, horizon, clock
        self._epoch: str | None = None
        self._reset()

    def _reset(self) -> None:
        self.cursor: str | None = None
        self._seq = 0
        self._by_case: dict[str, list[tuple[int, Event]]] = {}
        self._loose: list[tuple[int, Event]] = []
        self._closed: set[str] = set()
        self._prefetched: set[str] = set()
        """Ids of events fetched with a reactivated case's history that the cursor has not reached."""

    def __len__(self) -> int:
        """Events held in RAM."""
        return len(self._loose) + sum(len(v) for v in self._by_case.values())

    def refresh(self) -> int:
        """Read what was published since the cursor, then drop what fell out of the horizon.

        Returns:
            How many entries were read.
        """
        if self._epoch != self.audit.epoch:  # a wiped (or first seen) log: start over
            self._reset()
            self._epoch = self.audit.epoch
        read = 0
        for entry in self.audit.since(self.cursor):
            self._add(entry.event)
            self.cursor = entry.id
            read += 1
        self._prune()
        return read

    def events(self) -> Iterator[Event]:
        """The events held, in publish order."""
        held = [*self._loose, *(x for v in self._by_case.values() for x in v)]
        return (e for _, e in sorted(held, key=lambda x: x[0]))

    def _add(self, event: Event) -> None:
        if event.event_id in self._prefetched:
            self._prefetched.discard(event.event_id)
            return
        cid = event.case_id
        batch = [event]
        if cid is not None and cid not in self._by_case and not isinstance(event, AlertReceived):
            # A case dropped earlier is active again: its whole history, from the per-case index.
            batch = self.audit.for_case(cid) or batch
            self._prefetched.update(e.event_id for e in batch if e.event_id != event.event_id)
        for e in batch:
            self._seq += 1
            if cid is None:
                self._loose.append((self._seq, e))
                continue
            self._by_case.setdefault(cid, []).append((self._seq, e))
            if isinstance(e, CaseClosed):
                self._closed.add(cid)

    def _prune(self) -> None:
        cutoff = self.clock() - self.horizon
        gone = [
            c for c in self._closed if self._by_case.get(c) and self._by_case[c][-1][1].occurred_at < cutoff
        ]
        for cid in gone:
            del self._by_case[cid]
            self._closed.discard(cid)
        self._loose = [x for x in self._loose if x[1].occurred_at >= cutoff]
        if gone:
            log.debug("audit feed: dropped %d quiet closed case(s)", len(gone))
