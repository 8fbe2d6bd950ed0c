"""Approval requests in SQLite: a file next to the SQLite bus, or in memory next to the memory bus.

Writes run in ``BEGIN IMMEDIATE`` transactions and updates compare the version in their ``WHERE``
clause, so several gate processes on one host may share the file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aisoc.events import Event
from aisoc.sqlitedb import Database
from gate.store import (
    ApprovalRequest,
    DamagedEntry,
    Noted,
    Reindexed,
    State,
    log,
    log_set_aside,
    read_request,
    readable,
    sort_outbox,
    text_or_bytes,
)

RECORD_STATE = (
    "(CASE WHEN typeof(data) != 'text' THEN NULL "
    "WHEN json_valid(data) THEN json_extract(data, '$.state') END)"
)
"""The state a row's record holds, in SQL (NULL when it is not JSON), indexed: the record decides, so
a ``state`` column written otherwise (by hand, a bad restore) cannot hide a pending request."""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS gate_requests (
    request_id TEXT PRIMARY KEY, case_id TEXT, state TEXT NOT NULL, version INTEGER NOT NULL,
    created_at REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS gate_requests_state ON gate_requests (state, created_at);
CREATE INDEX IF NOT EXISTS gate_requests_case ON gate_requests (case_id, created_at);
CREATE INDEX IF NOT EXISTS gate_requests_created ON gate_requests (created_at);
CREATE INDEX IF NOT EXISTS gate_requests_record_state ON gate_requests ({RECORD_STATE}, created_at);
CREATE TABLE IF NOT EXISTS gate_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
    payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gate_outbox_damaged (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT, type TEXT, payload TEXT,
    problem TEXT NOT NULL, moved_at REAL NOT NULL);
"""
DAMAGED_TABLE = "gate_outbox_damaged"
"""Where outbox entries that cannot be published are set aside, with why and when."""


def _columns(req: ApprovalRequest) -> tuple[str, str | None, float]:
    """The ``state``, ``case_id`` and ``created_at`` columns a row of ``req`` holds beside it."""
    return req.state.value, req.case_id, req.created_at.timestamp()


class SqliteRequestStore:
    """``RequestStore`` in one SQLite database (``":memory:"`` for the embedded in-memory bus).

    Args:
        path: database file (created with its directory), or ``":memory:"``.
    """

    def __init__(self, path: str) -> None:
        self.path = path if path == ":memory:" else os.path.abspath(path)
        self._sql = Database(self.path, _SCHEMA)
        self._lock, self._db, self._tx = self._sql.lock, self._sql.db, self._sql.tx
        self._db.text_factory = text_or_bytes  # a value that is not UTF-8 fails its row, not the read
        self._noted = Noted()

    def _rows(self, sql: str, args: tuple[object, ...] = ()) -> list[ApprovalRequest]:
        """The readable requests of a ``SELECT request_id, version, data`` (see
        :func:`gate.store.readable`)."""
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return readable(rows, self._noted)

    def create(self, request: ApprovalRequest) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO gate_requests VALUES (?, ?, ?, ?, ?, ?)",
                (
                    request.request_id,
                    request.case_id,
                    request.state.value,
                    request.version,
                    request.created_at.timestamp(),
                    request.model_dump_json(),
                ),
            )
        return cur.rowcount == 1

    def get(self, request_id: str) -> ApprovalRequest | None:
        with self._lock:
            row = self._db.execute(
                "SELECT version, data FROM gate_requests WHERE request_id = ?", (request_id,)
            ).fetchone()
        return read_request(request_id, row[1], row[0]) if row else None

    def replace(self, request: ApprovalRequest, events: Sequence[Event] = ()) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE gate_requests SET state = ?, version = ?, data = ? "
                "WHERE request_id = ? AND version = ?",
                (
                    request.state.value,
                    request.version,
                    request.model_dump_json(),
                    request.request_id,
                    request.version - 1,
                ),
            )
            if cur.rowcount != 1:
                return False
            db.executemany(
                "INSERT OR IGNORE INTO gate_outbox (event_id, type, payload) VALUES (?, ?, ?)",
                [(e.event_id, e.type, e.to_json()) for e in events],
            )
        return True

    def pending(self) -> list[ApprovalRequest]:
        # The record decides, not the columns written beside it: a row that either one says is pending
        # is read, and a pending row whose state, case or creation column disagrees with its record
        # gets the record's (logged then: once, as the next read agrees). A wrong case column would
        # hide the request from its case, so closing the case would not cancel it.
        with self._lock:
            rows = self._db.execute(
                "SELECT request_id, version, data, state, case_id, created_at FROM gate_requests "
                f"WHERE state = ? OR {RECORD_STATE} = ? ORDER BY created_at, request_id",
                (State.PENDING.value, State.PENDING.value),
            ).fetchall()
        found = readable(((i, v, d) for i, v, d, *_ in rows), self._noted)
        stored = {row[0]: row for row in rows}
        wrong = [(r, stored[r.request_id]) for r in found if _columns(r) != stored[r.request_id][3:]]
        if wrong:
            self._mend_columns(wrong)
        return [r for r in found if r.is_pending]

    @property
    def repair_due(self) -> bool:
        """Never: the rows are their own index."""
        return False

    def reindex(self, limit: int = 1000) -> Reindexed:
        """Nothing to walk: every listing reads the rows, and :meth:`pending` mends the columns of
        the rows it reads."""
        return Reindexed(0, 0, True)

    def _mend_columns(self, wrong: list[tuple[ApprovalRequest, tuple[Any, ...]]]) -> None:
        """Set the columns of ``(request, stored row)`` pairs whose columns disagree with their
        record to the record's, unless the row changed meanwhile (then the next read looks again),
        and say so."""
        mended = []
        with self._tx() as db:
            for req, (rid, version, data, *columns) in wrong:
                cur = db.execute(
                    "UPDATE gate_requests SET state = ?, case_id = ?, created_at = ? "
                    "WHERE request_id = ? AND version = ? AND data = ?",
                    (*_columns(req), rid, version, data),
                )
                if cur.rowcount == 1:
                    mended.append((req, columns))
        for req, columns in mended:
            log.warning(
                "gate store: request %s is %s in its record but its columns said %s (a hand edit or "
                "a bad restore); the record decides, and the columns now say so",
                req.request_id,
                req.state.value,
                ", ".join(
                    f"{name} {was!r}"
                    for name, was, now in zip(
                        ("state", "case_id", "created_at"), columns, _columns(req), strict=True
                    )
                    if was != now
                ),
                extra={"event_id": req.request_id},
            )

    def for_case(self, case_id: str) -> list[ApprovalRequest]:
        return self._rows(
            "SELECT request_id, version, data FROM gate_requests WHERE case_id = ? "
            "ORDER BY created_at, request_id",
            (case_id,),
        )

    def recent(self, limit: int = 100) -> list[ApprovalRequest]:
        return self._rows(
            "SELECT request_id, version, data FROM gate_requests "
            "ORDER BY created_at DESC, request_id DESC LIMIT ?",
            (limit,),
        )

    def outbox(self, limit: int = 100) -> list[Event]:
        while True:  # each pass sets aside what it found damaged, so the next reads further
            with self._lock:
                rows = self._db.execute(
                    "SELECT seq, event_id, payload, type FROM gate_outbox ORDER BY seq LIMIT ?", (limit,)
                ).fetchall()
            events, damaged = sort_outbox(rows)
            if not damaged:
                return events
            self._set_aside(damaged)

    def _set_aside(self, damaged: list[tuple[Any, str, str]]) -> None:
        """Move damaged outbox entries, as stored, to ``gate_outbox_damaged`` (one transaction)."""
        moved = []
        with self._tx() as db:
            for seq, event_id, problem in damaged:
                cur = db.execute(
                    f"INSERT INTO {DAMAGED_TABLE} (event_id, type, payload, problem, moved_at) "
                    "SELECT event_id, type, payload, ?, ? FROM gate_outbox WHERE seq = ?",
                    (problem, time.time(), seq),
                )
                db.execute("DELETE FROM gate_outbox WHERE seq = ?", (seq,))
                if cur.rowcount == 1:  # not moved meanwhile by another gate process
                    moved.append((event_id, problem))
        for event_id, problem in moved:
            log_set_aside(str(event_id), problem, f"table {DAMAGED_TABLE} of {self.path}")

    def damaged_outbox(self, limit: int = 100) -> list[DamagedEntry]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT event_id, payload, problem FROM {DAMAGED_TABLE} ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [DamagedEntry(str(i), p, str(why)) for i, p, why in rows]

    def clear_outbox(self, event_ids: Sequence[str]) -> None:
        with self._tx() as db:
            db.executemany("DELETE FROM gate_outbox WHERE event_id = ?", [(i,) for i in event_ids])

    def prune(self, ended_before: datetime, limit: int = 1000) -> int:
        # A request cannot end before it was created: only rows created before the cut are read.
        # The record decides, parsed with the model; a row is deleted only if its version and record
        # are still the ones read (any change bumps the version: a request carried out meanwhile
        # ended later and stays).
        # An unreadable record is kept (and logged) for its operator.
        cut = ended_before.timestamp()
        gone: list[tuple[str, object, object]] = []
        offset, page = 0, max(100, limit)
        while len(gone) < limit:  # pages oldest first; those kept (ended later) are skipped
            with self._lock:
                rows = self._db.execute(
                    "SELECT request_id, version, data FROM gate_requests WHERE state != ? AND created_at < ?"
                    " ORDER BY created_at, request_id LIMIT ? OFFSET ?",
                    (State.PENDING.value, cut, page, offset),
                ).fetchall()
            stored = {rid: (v, d) for rid, v, d in rows}
            for req in readable(rows, self._noted):
                ended = req.ended_at
                if ended is not None and ended.timestamp() < cut:
                    gone.append((req.request_id, *stored[req.request_id]))
            if len(rows) < page:
                break
            offset += page
        done = 0
        with self._tx() as db:
            for row in gone[:limit]:
                cur = db.execute(
                    "DELETE FROM gate_requests WHERE request_id = ? AND version IS ? AND data IS ?", row
                )
                done += cur.rowcount
        return done

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"SqliteRequestStore({self.path!r})"
