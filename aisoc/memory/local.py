"""The folding engine behind :class:`~aisoc.memory.Memory`: cursor, epoch and snapshot.

Each process that needs recall keeps its own projection: it folds the audit log from its cursor,
persists the projection with the cursor and the log's epoch in a SQLite snapshot, and rebuilds from
the log when the snapshot is missing, the log was wiped (another epoch) or the cursor is past the
log's end.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from aisoc.bus import AuditEntry, AuditLog, id_key
from aisoc.bus.audit import entry_event
from aisoc.memory.cold import ColdStore
from aisoc.memory.projection import Projection
from aisoc.memory.snapshot import Snapshot
from aisoc.sqlitedb import CACHE_DAMAGE, move_aside

log = logging.getLogger(__name__)

BATCH = 5000
"""Audit entries read per page while folding."""


Bulk = Callable[[], AbstractContextManager[object]]
"""What a fold or a snapshot load runs inside: the entry point's GC policy (e.g.
:func:`aisoc.tuning.gc_paused`); library code never changes the collector itself."""


class LocalProjection:
    """A projection of one audit log, folded incrementally and persisted with its cursor.

    Args:
        audit: the audit log to fold (``bus.audit``).
        snapshot_path: this process's SQLite snapshot (None: in memory only, rebuilt on start).
        auto_refresh: fold new audit entries before each query (off: call :meth:`refresh`).
        batch_size: audit entries read per page.
        bulk: the context each fold and snapshot load runs in (the entry point's GC policy; none
            by default).
        max_cases: hold at most this many cases in RAM (the newest by alert creation time); the
            others stay in the snapshot's cold tier, where recall and rule history still find them.
            None: no limit. Needs a snapshot.
        max_age_days: hold in RAM only the cases created within this many days of the newest
            alert; older ones go to the cold tier. None: no limit. Needs a snapshot.

    Raises:
        ValueError: a bound without a snapshot, or a bound that is not positive.
    """

    def __init__(
        self,
        audit: AuditLog,
        *,
        snapshot_path: str | os.PathLike[str] | None = None,
        auto_refresh: bool = True,
        batch_size: int = BATCH,
        bulk: Bulk = nullcontext,
        max_cases: int | None = None,
        max_age_days: float | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        if (max_cases is not None and max_cases < 1) or (max_age_days is not None and max_age_days <= 0):
            raise ValueError("max_cases and max_age_days must be positive")
        if (max_cases is not None or max_age_days is not None) and snapshot_path is None:
            raise ValueError(
                "a bounded window (max_cases, max_age_days) needs a snapshot_path for its cold tier"
            )
        self.max_cases = max_cases
        self.max_age_s = None if max_age_days is None else max_age_days * 86400.0
        self._slack = max(1, (max_cases or 2000) // 20)
        """Evictions happen in batches of at least this many cases (one rebuild of the indexes each)."""
        self._since_check = 0
        self.audit = audit
        self.auto_refresh = auto_refresh
        self.batch_size = batch_size
        self._bulk = bulk
        self._lock = threading.RLock()
        self._cursor: str | None = None
        self._cursor_event: str | None = None
        """The event id at the cursor ("" for an entry that does not decode; None: unknown)."""
        self._epoch: str | None = None
        self._full_save = False
        self._snap: Snapshot | None = None
        self._proj = Projection(None)
        if snapshot_path is not None:
            with self._bulk():
                self._open_snapshot(snapshot_path)

    # --- folding --------------------------------------------------------------------------------

    @property
    def cursor(self) -> str | None:
        """The id of the last audit entry folded (None: nothing yet)."""
        return self._cursor

    @property
    def epoch(self) -> str | None:
        """The epoch of the log the projection was folded from."""
        return self._epoch

    @property
    def _cold(self) -> ColdStore | None:
        bounded = self.max_cases is not None or self.max_age_s is not None
        return self._snap.cold if self._snap is not None and bounded else None

    @property
    def held(self) -> int:
        """How many cases are held in RAM (the others, if any, are in the cold tier)."""
        return len(self._proj.records)

    @property
    def cold(self) -> int:
        """How many cases were evicted to the cold tier."""
        cold = self._cold
        return 0 if cold is None else len(cold)

    def _open_snapshot(self, path: str | os.PathLike[str]) -> None:
        """Open the snapshot at ``path`` and restore from it; a damaged one is moved aside.

        The snapshot is a cache of the log: a file that is not SQLite, is truncated, or holds a row
        that does not decode must not keep the process from starting. It is renamed to
        ``PATH.damaged-N`` (kept for a post-mortem) and the projection is rebuilt from the log.
        """
        try:
            self._snap = Snapshot(path)
            self._proj = Projection(self._cold)
            self._restore(self._snap)
            return
        except CACHE_DAMAGE as e:
            reason = f"{type(e).__name__}: {e}"
        self._set_aside(path, reason)

    def _set_aside(self, path: str | os.PathLike[str], reason: str) -> None:
        """Move a damaged snapshot aside (kept for a post-mortem) and start an empty one: the next
        fold rebuilds the projection from the log."""
        if self._snap is not None:
            self._snap.close()
        aside = move_aside(path)
        log.warning(
            "memory snapshot %s is damaged (%s): moved to %s, rebuilding from the audit log",
            path,
            reason,
            aside,
        )
        self._snap = Snapshot(path)
        self._proj = Projection(self._cold)
        self._cursor, self._epoch, self._full_save = None, None, True
        self._cursor_event = None

    def _restore(self, snap: Snapshot) -> None:
        loaded = snap.load()
        if loaded is None:
            snap.clear()
            self._full_save = True
            return
        self._proj = Projection(self._cold, loaded.next_seq)
        self._proj.restore(loaded.records, loaded.campaigns, loaded.caseless, loaded.seqs)
        self._cursor, self._epoch = loaded.cursor, loaded.epoch
        self._cursor_event = loaded.cursor_event
        log.info("memory snapshot %s: %d cases at cursor %s", snap.path, len(self._proj), self._cursor)

    def _reset(self, reason: str) -> None:
        log.warning("memory rebuilds from the audit log: %s", reason)
        if self._snap is not None:
            self._snap.clear()
        self._proj = Projection(self._cold)
        self._cursor = self._cursor_event = None
        self._full_save = True

    def refresh(self, limit: int | None = None) -> int:
        """Fold the audit entries after the cursor (at most ``limit``) and save the snapshot.

        Rebuilds from the start when the log's epoch changed or the cursor is past the log's end.

        Returns:
            How many entries were folded.
        """
        with self._lock:
            cold = self._cold
            if cold is not None and cold.damage is not None and self._snap is not None:
                # A cold row found damaged by a query or a fold: the snapshot is a cache of the log.
                self._set_aside(self._snap.path, cold.damage)
            epoch = self.audit.epoch
            if self._epoch is not None and epoch != self._epoch:
                self._reset(f"the log was wiped (epoch {self._epoch} -> {epoch})")
            if self._cursor is not None:
                # Ids never go back within an epoch, so a log that ends before the cursor was
                # replaced (a restored backup). An empty log of the same epoch was only trimmed by
                # retention: keep what was folded from it.
                last = self.audit.last_id()
                if last is not None and id_key(self._cursor) > id_key(last):
                    self._reset(f"cursor {self._cursor} is past the log's end ({last})")
                elif (replaced := self._replaced()) is not None:
                    # Ids are reused after a lost tail (a SQLite backup restored, a torn WAL) once
                    # new events are published: the log may have grown past the cursor again.
                    self._reset(replaced)
            self._epoch = epoch
            folded = 0
            with self._bulk():
                while limit is None or folded < limit:
                    page = self.batch_size if limit is None else min(self.batch_size, limit - folded)
                    n = 0
                    read = 0
                    # scan(): the cursor moves past an entry that does not decode, once.
                    for entry in self.audit.scan(since=self._cursor, limit=page):
                        read += 1
                        self._cursor, self._cursor_event = entry.id, entry_event(entry)
                        if isinstance(entry, AuditEntry):
                            self._proj.apply(entry.event)
                            n += 1
                    folded += n
                    self._since_check += n
                    self._bound()
                    if read < page:
                        break
                cold = self._cold
                if cold is not None and cold.damage is not None:  # met by this fold: rebuild now
                    return self.refresh(limit)
                if folded or self._full_save:
                    self.save()
            return folded

    def _replaced(self) -> str | None:
        """Why the log is not the one folded (see :meth:`AuditLog.replaced_at`), or None."""
        if self._cursor is None or self._cursor_event is None:
            return None
        return self.audit.replaced_at(self._cursor, self._cursor_event)

    def _bound(self) -> None:
        """Evict the cases outside the window to the cold tier, in batches of at least ``_slack``."""
        if self._cold is None or self._snap is None:
            return
        over = self.max_cases is not None and len(self._proj.records) >= self.max_cases + self._slack
        if not over and self._since_check < self._slack:
            return
        self._since_check = 0
        gone = self._proj.beyond_window(self.max_cases, self.max_age_s)
        if len(gone) < self._slack:
            return
        self.save()  # the records that go are in the snapshot before they are marked cold
        self._cold.evict(self._proj.evicted(ix) for ix in gone)
        self._proj = self._proj.keeping(set(gone))
        log.info("memory: %d cases moved to the cold tier, %d held in RAM", len(gone), len(self._proj))

    def rebuild(self) -> int:
        """Drop the projection and fold the whole log again.

        Returns:
            How many entries were folded.
        """
        with self._lock:
            self._reset("rebuild requested")
            return self.refresh()

    def save(self) -> None:
        """Write the snapshot now (records changed since the last save, cursor, epoch)."""
        with self._lock:
            if self._snap is None or self._epoch is None:
                return
            written = self._snap.save(
                self._proj, self._cursor, self._epoch, full=self._full_save, cursor_event=self._cursor_event
            )
            self._full_save = False
            log.debug("memory snapshot: %d cases written at cursor %s", written, self._cursor)

    def close(self) -> None:
        """Save and close the snapshot."""
        with self._lock:
            if self._snap is not None:
                self.save()
                self._snap.close()
                self._snap = None

    def _fresh(self) -> Projection:
        if self.auto_refresh:
            self.refresh()
        return self._proj

    def __len__(self) -> int:
        return len(self._proj)

    def dump(self) -> dict[str, Any]:
        """A canonical picture of the projection (equal for equal folds; tests and debugging)."""
        with self._lock:
            return self._proj.dump()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._proj)} cases, cursor={self._cursor!r})"
