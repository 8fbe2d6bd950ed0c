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

from aisoc.bus import AuditLog, id_key
from aisoc.memory.projection import Projection
from aisoc.memory.snapshot import Snapshot

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
    """

    def __init__(
        self,
        audit: AuditLog,
        *,
        snapshot_path: str | os.PathLike[str] | None = None,
        auto_refresh: bool = True,
        batch_size: int = BATCH,
        bulk: Bulk = nullcontext,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.audit = audit
        self.auto_refresh = auto_refresh
        self.batch_size = batch_size
        self._bulk = bulk
        self._lock = threading.RLock()
        self._proj = Projection()
        self._cursor: str | None = None
        self._epoch: str | None = None
        self._full_save = False
        self._snap = Snapshot(snapshot_path) if snapshot_path is not None else None
        if self._snap is not None:
            with self._bulk():
                self._restore(self._snap)

    # --- folding --------------------------------------------------------------------------------

    @property
    def cursor(self) -> str | None:
        """The id of the last audit entry folded (None: nothing yet)."""
        return self._cursor

    @property
    def epoch(self) -> str | None:
        """The epoch of the log the projection was folded from."""
        return self._epoch

    def _restore(self, snap: Snapshot) -> None:
        loaded = snap.load()
        if loaded is None:
            self._full_save = True
            return
        self._proj.restore(loaded.records, loaded.campaigns, loaded.caseless)
        self._cursor, self._epoch = loaded.cursor, loaded.epoch
        log.info("memory snapshot %s: %d cases at cursor %s", snap.path, len(self._proj), self._cursor)

    def _reset(self, reason: str) -> None:
        log.warning("memory rebuilds from the audit log: %s", reason)
        self._proj = Projection()
        self._cursor = None
        self._full_save = True

    def refresh(self, limit: int | None = None) -> int:
        """Fold the audit entries after the cursor (at most ``limit``) and save the snapshot.

        Rebuilds from the start when the log's epoch changed or the cursor is past the log's end.

        Returns:
            How many entries were folded.
        """
        with self._lock:
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
            self._epoch = epoch
            folded = 0
            with self._bulk():
                while limit is None or folded < limit:
                    page = self.batch_size if limit is None else min(self.batch_size, limit - folded)
                    n = 0
                    for entry in self.audit.entries(since=self._cursor, limit=page):
                        self._proj.apply(entry.event)
                        self._cursor = entry.id
                        n += 1
                    folded += n
                    if n < page:
                        break
                if folded or self._full_save:
                    self.save()
            return folded

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
            written = self._snap.save(self._proj, self._cursor, self._epoch, full=self._full_save)
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
