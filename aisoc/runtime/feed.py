"""The audit as the periodic roles read it: incrementally from a cursor, with a bounded window in RAM.

Each fire reads only the entries published since the previous one (the cursor is the last audit entry
id read). Cases whose last event is older than ``horizon`` and that are closed are dropped; should one
of them see a new event later (a reopen), its history is fetched again from the audit's per-case index.

With a ``path`` the window and its cursor are kept in a SQLite file, saved after every read in one
transaction: a restarted scheduler carries on from its cursor instead of reading the log again
from its start (and its reports see the same window they would have seen without the restart).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from aisoc.bus import AuditEntry, AuditLog, id_key
from aisoc.bus.audit import entry_event
from aisoc.events import AlertReceived, CaseClosed, Event, from_json, utcnow
from aisoc.sqlitedb import CACHE_DAMAGE, move_aside

log = logging.getLogger(__name__)

DEFAULT_HORIZON = timedelta(days=14)
"""How long a closed case stays in RAM after its last event: longer than any report window."""

FORMAT = "aisoc-feed/1"
"""The saved feed's format (another one is ignored: the feed reads the log from its start)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS held (
  seq INTEGER PRIMARY KEY, case_id TEXT, type TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS held_case ON held (case_id);
"""


class AuditFeed:
    """The audit log read incrementally, a bounded window of it kept in RAM.

    Args:
        audit: the log.
        horizon: closed cases quiet this long, and case-less events this old, are dropped.
        clock: returns "now".
        path: a SQLite file keeping the window and the cursor across restarts (None: RAM only).
    """

    def __init__(
        self,
        audit: AuditLog,
        horizon: timedelta = DEFAULT_HORIZON,
        clock: Callable[[], datetime] = utcnow,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.audit, self.horizon, self.clock = audit, horizon, clock
        self._epoch: str | None = None
        self._reset()
        self._db: sqlite3.Connection | None = None
        self._saved = 0
        """The highest sequence number already in the file."""
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            try:
                self._open(path)
            except CACHE_DAMAGE as e:
                # The file is a cache of the log: a damaged one must not keep the scheduler down.
                if self._db is not None:
                    self._db.close()
                aside = move_aside(path)
                log.warning(
                    "audit feed %s is damaged (%s: %s): moved to %s, reading the log again",
                    path,
                    type(e).__name__,
                    e,
                    aside,
                )
                self._epoch = None
                self._reset()
                self._open(path)

    def _open(self, path: str | os.PathLike[str]) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._load()

    def _reset(self) -> None:
        self.cursor: str | None = None
        self._cursor_event: str | None = None
        """The event id at the cursor ("" for an entry that does not decode; None: unknown)."""
        self._seq = 0
        self._by_case: dict[str, list[tuple[int, Event]]] = {}
        self._loose: list[tuple[int, Event]] = []
        self._closed: set[str] = set()
        self._prefetched: set[str] = set()
        """Ids of events fetched with a reactivated case's history that the cursor has not reached."""

    def _load(self) -> None:
        assert self._db is not None
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            self._db.executescript("BEGIN IMMEDIATE; DELETE FROM held; DELETE FROM meta; COMMIT;")
            return
        self._epoch, self.cursor = meta["epoch"], meta.get("cursor") or None
        if self.cursor is not None:
            id_key(self.cursor)  # an audit entry id, or the file is damaged (ValueError)
        at = json.loads(meta.get("cursor_event") or "null")  # None in a file saved before it was kept
        self._cursor_event = at if isinstance(at, str) else None
        self._seq = self._saved = int(meta["seq"])
        self._prefetched = set(json.loads(meta.get("prefetched") or "[]"))
        for seq, case_id, etype, data in self._db.execute(
            "SELECT seq, case_id, type, data FROM held ORDER BY seq"
        ):
            e = from_json(data, etype)
            if case_id is None:
                self._loose.append((seq, e))
            else:
                self._by_case.setdefault(case_id, []).append((seq, e))
                if isinstance(e, CaseClosed):
                    self._closed.add(case_id)
        log.info("audit feed: %d events held, cursor %s (saved)", len(self), self.cursor)

    def _save(self, gone: list[str], loose_before: int) -> None:
        """Write the events read since the last save, forget the dropped ones, move the cursor."""
        if self._db is None:
            return
        new = [
            (seq, e.case_id, e.type, e.to_json())
            for seq, e in [*self._loose, *(x for v in self._by_case.values() for x in v)]
            if seq > self._saved
        ]
        meta = [
            ("format", FORMAT),
            ("epoch", self._epoch or ""),
            ("cursor", self.cursor or ""),
            ("cursor_event", json.dumps(self._cursor_event)),
            ("seq", str(self._seq)),
            ("prefetched", json.dumps(sorted(self._prefetched))),
        ]
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if self._saved == 0:
                db.execute("DELETE FROM held")
            db.executemany("DELETE FROM held WHERE case_id = ?", [(c,) for c in gone])
            db.execute("DELETE FROM held WHERE case_id IS NULL AND seq < ?", (loose_before,))
            db.executemany("INSERT OR REPLACE INTO held VALUES (?, ?, ?, ?)", new)
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._saved = self._seq

    def close(self) -> None:
        """Close the saved feed's file."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __len__(self) -> int:
        """Events held in RAM."""
        return len(self._loose) + sum(len(v) for v in self._by_case.values())

    def refresh(self) -> int:
        """Read what was published since the cursor, then drop what fell out of the horizon.

        Returns:
            How many entries were read.
        """
        epoch = self.audit.epoch
        last = self.audit.last_id() if self.cursor is not None else None
        replaced = None
        if self._epoch == epoch and self.cursor is not None and self._cursor_event is not None:
            # Ids are reused after a lost tail (a SQLite backup restored, a torn WAL) once new events
            # are published, and a Redis log that lost its last writes grows past the cursor again.
            replaced = self.audit.replaced_at(self.cursor, self._cursor_event)
            if replaced is not None:
                log.warning("audit feed reads the log again from its start: %s", replaced)
        if (
            self._epoch != epoch
            or (last is not None and id_key(self.cursor or "") > id_key(last))
            or replaced is not None
        ):
            # A wiped (or first seen) log, one that ends before the cursor (a restored backup), or
            # one replaced under the cursor: start over.
            self._reset()
            self._saved = 0
            self._epoch = epoch
        read = 0
        for entry in self.audit.scan(since=self.cursor):
            self.cursor = entry.id  # past an entry that does not decode too, once
            self._cursor_event = entry_event(entry)
            if isinstance(entry, AuditEntry):
                self._add(entry.event)
                read += 1
        gone, loose_before = self._prune()
        if read or gone or self._saved == 0:
            self._save(gone, loose_before)
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

    def _prune(self) -> tuple[list[str], int]:
        """Drop quiet closed cases and old case-less events; returns the cases dropped and the
        sequence number below which no case-less event is held any more."""
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
        return gone, self._loose[0][0] if self._loose else self._seq + 1
