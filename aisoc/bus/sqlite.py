"""The SQLite bus: embedded and durable (a single-host SOC keeps its log across restarts).

One file, WAL mode, every write in one ``BEGIN IMMEDIATE`` transaction, so several processes on
one host can share it. Within a process one connection is shared under a lock.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import astuple, replace
from datetime import UTC, datetime
from typing import Any

from aisoc.bus import sqlite_groups, sqlite_rows, sqlite_waiting
from aisoc.bus.audit import AuditLog, decoded, readable
from aisoc.bus.base import Bus
from aisoc.bus.delivery import Delivery
from aisoc.bus.groups import TRIMMED_STREAMS, GroupPosition
from aisoc.bus.records import (
    AuditEntry,
    BrokenEntry,
    BusStats,
    DeadLetter,
    GroupStats,
    Payload,
    RawEntry,
    ReadRequest,
    StreamStats,
    Undeliverable,
    id_key,
)
from aisoc.bus.sqlite_rows import TARGET as _TARGET
from aisoc.bus.sqlite_rows import count as _count
from aisoc.bus.sqlite_rows import target as _target
from aisoc.bus.waiting import PARKED, Waiting
from aisoc.errors import BusError, ContractError
from aisoc.events import WORK_STREAMS, Event, from_json
from aisoc.sqlitedb import Database

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, type TEXT NOT NULL,
    payload TEXT, audit_id INTEGER, target TEXT, added_ms INTEGER);
CREATE INDEX IF NOT EXISTS entries_stream ON entries (stream, id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, case_id TEXT, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_case ON audit (case_id, id);
CREATE TABLE IF NOT EXISTS groups (
    stream TEXT NOT NULL, grp TEXT NOT NULL, last_id INTEGER NOT NULL, seen_ms INTEGER,
    PRIMARY KEY (stream, grp));
CREATE TABLE IF NOT EXISTS pending (
    stream TEXT NOT NULL, grp TEXT NOT NULL, entry_id INTEGER NOT NULL, consumer TEXT NOT NULL,
    delivered_ms INTEGER NOT NULL, count INTEGER NOT NULL, error TEXT,
    PRIMARY KEY (grp, stream, entry_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS marks (
    role TEXT NOT NULL, event_id TEXT NOT NULL, expires INTEGER NOT NULL,
    PRIMARY KEY (role, event_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dlq (
    id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT, grp TEXT, entry_id TEXT, type TEXT,
    event_id TEXT, reason TEXT NOT NULL, payload TEXT, count INTEGER, failed_at TEXT,
    encoding TEXT NOT NULL DEFAULT 'utf-8');
CREATE TABLE IF NOT EXISTS published (
    event_id TEXT PRIMARY KEY, ids TEXT NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS holds (key TEXT PRIMARY KEY, expires REAL NOT NULL, holder TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS heartbeats (name TEXT PRIMARY KEY, expires REAL NOT NULL, info TEXT);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


_PAYLOAD = "CAST(COALESCE(e.payload, a.payload) AS BLOB)"
"""A work entry's payload, as bytes: text that is not UTF-8 must not fail the whole read."""
_TYPE = "CAST(e.type AS BLOB)"
_JOIN = "LEFT JOIN audit a ON a.id = e.audit_id"
_DLQ_V1 = "payload TEXT NOT NULL"
"""How the dead-letter table of older files refused entries without a payload (migrated on open)."""


def _migrate_dlq(db: sqlite3.Connection) -> None:
    """Let an older file's dead-letter table take missing payloads and say how a payload is encoded."""
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'dlq'").fetchone()[0]
    if _DLQ_V1 not in sql:
        return
    db.execute("ALTER TABLE dlq RENAME TO dlq_v1")
    db.execute(
        "CREATE TABLE dlq (id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT, grp TEXT, entry_id TEXT, "
        "type TEXT, event_id TEXT, reason TEXT NOT NULL, payload TEXT, count INTEGER, failed_at TEXT, "
        "encoding TEXT NOT NULL DEFAULT 'utf-8')"
    )
    db.execute(
        "INSERT INTO dlq (id, stream, grp, entry_id, type, event_id, reason, payload, count, failed_at) "
        "SELECT id, stream, grp, entry_id, type, event_id, reason, payload, count, failed_at FROM dlq_v1"
    )
    db.execute("DROP TABLE dlq_v1")


def _migrate_entries(db: sqlite3.Connection) -> None:
    """Give an older file's work entries the time they were added (its entries keep none: NULL)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(entries)")}
    if "added_ms" not in columns:
        db.execute("ALTER TABLE entries ADD COLUMN added_ms INTEGER")


def _name(value: bytes) -> str:
    """A stored event type read as bytes (undecodable bytes shown escaped: the type only routes)."""
    return value.decode("utf-8", "backslashreplace")


def _text(value: Any) -> str | bytes | None:
    """A payload read as bytes: its text, or the bytes themselves when they are not UTF-8."""
    if not isinstance(value, bytes):
        return None if value is None else str(value)
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _decoded(payload: Any, event_type: Any) -> Event:
    """The event of an audit row read as bytes.

    Raises:
        ContractError: no payload, not UTF-8 text, or not a valid event.
    """
    text = _text(payload)
    if not isinstance(text, str):
        raise ContractError("no payload, or not UTF-8 text")
    return from_json(text, _name(event_type) if isinstance(event_type, bytes) else "unknown")


def _letter(row: tuple[Any, ...]) -> DeadLetter:
    """A dead-letter row read as bytes (see ``SqliteBus._letters``)."""
    dlq_id, stream, grp, entry_id, etype, event_id, reason, payload, count, failed_at, encoding = row

    def text(value: Any) -> str | None:
        return None if value is None else _name(value) if isinstance(value, bytes) else str(value)

    body, encoding = _text(payload), encoding or "utf-8"
    if isinstance(body, bytes):
        body, encoding = base64.b64encode(body).decode("ascii"), "base64"
    try:
        delivered = int(text(count) or 0)
    except ValueError:
        delivered = 0
    try:
        at = datetime.fromisoformat(text(failed_at) or "")
    except ValueError:
        at = datetime.fromtimestamp(0, UTC)  # unknown: the row was not written by the bus
    return DeadLetter(
        stream=text(stream) or "",
        group=text(grp) or "",
        entry_id=text(entry_id) or "-",
        event_type=text(etype) or None,
        event_id=text(event_id) or None,
        reason=text(reason) or "a dead-letter row without a reason",
        payload=body,
        delivery_count=delivered,
        id=str(dlq_id),
        failed_at=at,
        encoding=encoding,
    )


def _ms() -> int:
    return int(time.time() * 1000)


class _SqliteAudit(AuditLog):
    def __init__(self, bus: SqliteBus) -> None:
        self._bus = bus

    def scan(self, since: str | None = None, limit: int | None = None) -> Iterator[AuditEntry | BrokenEntry]:
        after = id_key(since)[0] if since is not None else 0
        remaining = limit
        while remaining is None or remaining > 0:
            page = 1000 if remaining is None else min(1000, remaining)
            with self._bus._lock:
                rows = self._bus._db.execute(
                    "SELECT id, CAST(type AS BLOB), CAST(payload AS BLOB) FROM audit "
                    "WHERE id > ? ORDER BY id LIMIT ?",
                    (after, page),
                ).fetchall()
            for row_id, etype, payload in rows:
                yield decoded(
                    str(row_id),
                    _name(etype) if isinstance(etype, bytes) else None,
                    _text(payload),
                    lambda: _decoded(payload, etype),  # noqa: B023
                )
            if len(rows) < page:
                return
            after = rows[-1][0]
            if remaining is not None:
                remaining -= len(rows)

    def entries(self, since: str | None = None, limit: int | None = None) -> Iterator[AuditEntry]:
        return self._decodable(since, limit)

    def entry_at(self, entry_id: str) -> AuditEntry | BrokenEntry | None:
        row_id = id_key(entry_id)[0]
        found = next(iter(self.scan(since=str(row_id - 1), limit=1)), None) if row_id > 0 else None
        return found if found is not None and found.id == str(row_id) else None

    def for_case(self, case_id: str) -> list[Event]:
        with self._bus._lock:
            rows = self._bus._db.execute(
                "SELECT id, CAST(type AS BLOB), CAST(payload AS BLOB) FROM audit "
                "WHERE case_id = ? ORDER BY id",
                (case_id,),
            ).fetchall()
        decoded = (readable(str(i), lambda: _decoded(p, t)) for i, t, p in rows)  # noqa: B023
        return [e for e in decoded if e is not None]

    def _edge(self, order: str) -> str | None:
        with self._bus._lock:
            row = self._bus._db.execute(f"SELECT id FROM audit ORDER BY id {order} LIMIT 1").fetchone()
        return str(row[0]) if row else None

    def last_id(self) -> str | None:
        return self._edge("DESC")

    def first_id(self) -> str | None:
        return self._edge("ASC")

    def __len__(self) -> int:
        with self._bus._lock:
            return int(self._bus._db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])

    @property
    def epoch(self) -> str:
        return self._bus._epoch


class SqliteBus(Bus):
    """Durable embedded bus in one SQLite file (``Bus("sqlite:///path/soc.db")``)."""

    schemes = ("sqlite",)

    def __init__(self, url: str | None = None, **options: Any) -> None:
        super().__init__(url, **options)
        path = (url or "").removeprefix("sqlite://")
        if path.startswith("/"):  # sqlite:///rel.db is relative, sqlite:////abs.db absolute
            path = path[1:]
        if not path:
            raise BusError(f"bus URL {url!r}: expected sqlite:///relative.db or sqlite:////abs.db")
        self.path = path if path == ":memory:" else os.path.abspath(path)
        try:
            self._open()
        except sqlite3.OperationalError as e:
            raise BusError(f"cannot open the SQLite bus file {self.path}: {e}") from e
        except sqlite3.DatabaseError as e:  # not a database, truncated, a page overwritten
            raise BusError(
                f"the SQLite bus file {self.path} is damaged ({e}): it holds the audit log, so it is not "
                "rebuilt; restore it from a backup (docs/operations.md, 'Backups and restore'), or save "
                f"what it still holds with: sqlite3 {self.path} .recover"
            ) from e
        self._audit = _SqliteAudit(self)

    def _open(self) -> None:
        self._sql = Database(self.path)
        self._lock, self._db = self._sql.lock, self._sql.db
        self._wake = threading.Condition(threading.Lock())
        # WAL + NORMAL survives a process crash; FULL also survives power loss (an fsync per commit).
        self._db.execute(f"PRAGMA synchronous={'FULL' if self.durability == 'fsync' else 'NORMAL'}")
        # Checkpoint (copy the WAL into the database, with an fsync) every ~40 MB, not every 4 MB:
        # on a busy bus the default checkpoints cost a quarter of the publish time.
        self._db.execute("PRAGMA wal_autocheckpoint=10000")
        self._db.executescript(_SCHEMA + sqlite_waiting.SCHEMA)
        self._tx = self._sql.tx
        with self._tx() as db:
            _migrate_dlq(db)
            _migrate_entries(db)
            sqlite_waiting.migrate(db)
            sqlite_groups.migrate(db, self._now_ms())
            db.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', ?)", (uuid.uuid4().hex,))
            self._epoch: str = str(db.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()[0])

    def _now_ms(self) -> int:
        """Now on the bus clock (groups' activity is compared with it: tests freeze it)."""
        return int(self.clock() * 1000)

    def _notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

    @property
    def audit(self) -> AuditLog:
        return self._audit

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- primitives -----------------------------------------------------------------------------

    def _append(self, events: list[Event], mark: tuple[str, str] | None, ttl_s: int) -> list[str] | None:
        rows = [(e.STREAM, e.type, e.case_id, e.to_json()) for e in events]
        added_ms = _ms()
        now = added_ms // 1000
        with self._tx() as db:
            if mark is not None:
                # An expired mark no longer counts: it is taken over as if it were absent.
                cur = db.execute(
                    "INSERT INTO marks VALUES (?, ?, ?) ON CONFLICT (role, event_id) DO UPDATE "
                    "SET expires = excluded.expires WHERE marks.expires <= ?",
                    (mark[0], mark[1], now + ttl_s, now),
                )
                if cur.rowcount == 0:
                    return None
            elif events:
                row = db.execute(
                    "SELECT ids FROM published WHERE event_id = ? AND expires > ?",
                    (events[0].event_id, now),
                ).fetchone()
                if row is not None:
                    return str(row[0]).split()
            ids = []
            for stream, etype, case_id, payload in rows:
                # The payload is stored once, in the audit table; the work entry points at it.
                audit_id = db.execute(
                    "INSERT INTO audit (type, case_id, payload) VALUES (?, ?, ?)",
                    (etype, case_id, payload),
                ).lastrowid
                cur = db.execute(
                    "INSERT INTO entries (stream, type, audit_id, added_ms) VALUES (?, ?, ?, ?)",
                    (stream, etype, audit_id, added_ms),
                )
                ids.append(str(cur.lastrowid))
            if mark is None and events:
                db.execute(
                    "INSERT OR REPLACE INTO published VALUES (?, ?, ?)",
                    (events[0].event_id, " ".join(ids), now + ttl_s),
                )
        self._notify()
        return ids

    def _inject(self, stream: str, payload: str, event_type: str) -> str:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO entries (stream, type, payload, added_ms) VALUES (?, ?, ?, ?)",
                (stream, event_type, payload, _ms()),
            )
        self._notify()
        return str(cur.lastrowid)

    def _entry_time(self, stream: str, entry_id: str) -> float | None:
        if not entry_id.isdigit():
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT added_ms FROM entries WHERE id = ? AND stream = ?", (int(entry_id), stream)
            ).fetchone()
        # A time that is not a number (written around the bus) is unknown, like an older file's.
        return int(row[0]) / 1000 if row is not None and isinstance(row[0], int | float) else None

    def _has_mark(self, role: str, event_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM marks WHERE role = ? AND event_id = ? AND expires > ?",
                (role, event_id, int(time.time())),
            ).fetchone()
        return row is not None

    def _read(self, req: ReadRequest, block_ms: int) -> list[RawEntry]:
        deadline = time.monotonic() + block_ms / 1000
        while True:
            out = self._read_now(req)
            remaining = deadline - time.monotonic()
            if out or remaining <= 0:
                return out
            # Same-process publishers wake us at once; other processes within 50 ms.
            with self._wake:
                self._wake.wait(min(remaining, 0.05))

    def _read_now(self, req: ReadRequest) -> list[RawEntry]:
        group, consumer, streams, count = req.group, req.consumer, req.streams, req.count
        out: list[RawEntry] = []
        now = _ms()
        with self._tx() as db:
            for name in streams:
                if len(out) >= count:
                    break
                row = db.execute(
                    "SELECT last_id FROM groups WHERE stream = ? AND grp = ?", (name, group)
                ).fetchone()
                if row is None:
                    first = db.execute("SELECT MIN(id) FROM entries WHERE stream = ?", (name,)).fetchone()[0]
                    last = (first - 1) if first is not None else self._max_entry_id(db)
                    db.execute(
                        "INSERT INTO groups (stream, grp, last_id, seen_ms) VALUES (?, ?, ?, ?)",
                        (name, group, last, self._now_ms()),
                    )
                else:
                    last = row[0]
                    if not isinstance(last, int):
                        last = sqlite_rows.reset_position(db, name, group, last)
                    db.execute(sqlite_groups.SEEN, (self._now_ms(), name, group))
                rows = db.execute(
                    f"SELECT e.id, {_TYPE}, {_PAYLOAD}, {_TARGET} FROM entries e {_JOIN} "
                    "WHERE e.stream = ? AND e.id > ? ORDER BY e.id LIMIT ?",
                    (name, last, count - len(out)),
                ).fetchall()
                if not rows:
                    continue
                db.executemany(
                    "INSERT OR REPLACE INTO pending VALUES (?, ?, ?, ?, ?, 1, NULL)",
                    [(name, group, r[0], consumer, now) for r in rows],
                )
                db.execute(
                    "UPDATE groups SET last_id = ? WHERE stream = ? AND grp = ?",
                    (rows[-1][0], name, group),
                )
                out.extend(
                    RawEntry(name, str(r[0]), _name(r[1]), _text(r[2]), _target(r[3]), 1) for r in rows
                )
        return out

    @staticmethod
    def _max_entry_id(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'entries'").fetchone()
        return int(row[0]) if row else 0

    def _take_over(self, req: ReadRequest, min_idle_ms: int) -> list[RawEntry]:
        group, consumer, streams, count = req.group, req.consumer, req.streams, req.count
        now = _ms()
        marks = ",".join("?" * len(streams))
        with self._tx() as db:
            rows = db.execute(
                f"SELECT p.stream, p.entry_id, p.count, {_TYPE}, {_PAYLOAD}, {_TARGET}, p.consumer "
                f"FROM pending p JOIN entries e ON e.id = p.entry_id {_JOIN} "
                f"WHERE p.grp = ? AND p.stream IN ({marks}) AND p.delivered_ms <= ? "
                f"AND (p.consumer != ? OR NOT EXISTS (SELECT 1 FROM waiting w WHERE w.grp = p.grp "
                f"AND w.key = p.stream || ' ' || p.entry_id)) ORDER BY p.delivered_ms, p.entry_id LIMIT ?",
                (group, *streams, now - min_idle_ms, PARKED, count),
            ).fetchall()
            db.executemany(
                "UPDATE pending SET consumer = ?, delivered_ms = ?, count = count + 1 "
                "WHERE grp = ? AND stream = ? AND entry_id = ?",
                [(consumer, now, group, r[0], r[1]) for r in rows],
            )
            db.executemany(sqlite_groups.SEEN, [(self._now_ms(), name, group) for name in streams])
        lost = sum(r[6] == PARKED for r in rows)
        if lost:  # nothing else would ever claim them: their records say when they go next
            log.warning(
                "%s: %d waiting entr%s had no waiting record (deleted around the bus): taken over, "
                "delivered as any other",
                group,
                lost,
                "y" if lost == 1 else "ies",
            )
        return [
            RawEntry(r[0], str(r[1]), _name(r[3]), _text(r[4]), _target(r[5]), _count(r[2], r[0], r[1]) + 1)
            for r in rows
        ]

    def _ack(self, stream: str, group: str, entry_ids: list[str]) -> int:
        with self._tx() as db:
            db.executemany(
                "DELETE FROM pending WHERE grp = ? AND stream = ? AND entry_id = ?",
                [(group, stream, int(i)) for i in entry_ids],
            )
            db.execute(sqlite_groups.SEEN, (self._now_ms(), stream, group))
            if not sqlite_waiting.has_any(db, group):
                return 0
            return sum(sqlite_waiting.drop(db, group, f"{stream} {i}") for i in entry_ids)

    def _make_due(self, d: Delivery, delivery_count: int, reason: str | None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE pending SET delivered_ms = 0, count = ?, error = COALESCE(?, error) "
                "WHERE grp = ? AND stream = ? AND entry_id = ?",
                (delivery_count, reason, d.group, d.stream, int(d.entry_id)),
            )
        self._notify()

    def _waiting(self, group: str) -> list[Waiting]:
        with self._lock:
            return sqlite_waiting.records(self._db, group)

    def _waiting_for(
        self, group: str, keys: list[str], cases: set[str]
    ) -> tuple[dict[str, Waiting], dict[str, Waiting]]:
        with self._lock:
            return sqlite_waiting.lookup(self._db, group, keys, cases)

    def _park(self, group: str, consumer: str, record: Waiting, delivery_count: int) -> None:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE pending SET consumer = ?, delivered_ms = ?, count = ? "
                "WHERE grp = ? AND stream = ? AND entry_id = ?",
                (consumer, _ms(), delivery_count, group, record.stream, int(record.entry_id)),
            )
            if cur.rowcount:  # else settled meanwhile: nothing waits
                sqlite_waiting.put(db, group, record)

    def _waiting_unwanted(
        self, group: str, streams: tuple[str, ...], types: frozenset[str] | None, count: int
    ) -> list[Waiting]:
        with self._lock:
            return sqlite_waiting.unwanted(self._db, group, streams, types, count)

    def _claim_waiting(self, req: ReadRequest, now: float) -> list[RawEntry]:
        out: list[RawEntry] = []
        with self._tx() as db:
            while len(out) < req.count:
                due = sqlite_waiting.due_heads(db, req.group, req.streams, now, req.count - len(out))
                if not due:
                    break
                for r in due:
                    row = db.execute(
                        f"SELECT p.count, {_TYPE}, {_PAYLOAD}, {_TARGET} "
                        f"FROM pending p JOIN entries e ON e.id = p.entry_id {_JOIN} "
                        "WHERE p.grp = ? AND p.stream = ? AND p.entry_id = ?",
                        (req.group, r.stream, int(r.entry_id)),
                    ).fetchone()
                    if row is None:  # settled around the bus: the next of its case is the head now
                        sqlite_waiting.drop(db, req.group, r.key)
                        continue
                    db.execute(
                        "UPDATE pending SET consumer = ?, delivered_ms = ?, count = count + 1 "
                        "WHERE grp = ? AND stream = ? AND entry_id = ?",
                        (req.consumer, _ms(), req.group, r.stream, int(r.entry_id)),
                    )
                    sqlite_waiting.put(db, req.group, replace(r, due=None))
                    out.append(
                        RawEntry(
                            r.stream,
                            r.entry_id,
                            _name(row[1]),
                            _text(row[2]),
                            _target(row[3]),
                            _count(row[0], r.stream, r.entry_id) + 1,
                        )
                    )
        return out

    def _last_error(self, stream: str, group: str, entry_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT error FROM pending WHERE grp = ? AND stream = ? AND entry_id = ?",
                (group, stream, int(entry_id)),
            ).fetchone()
        return row[0] if row else None

    def _dead(self, letter: Undeliverable) -> str:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO dlq (stream, grp, entry_id, type, event_id, reason, payload, count, "
                "encoding, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*astuple(letter), datetime.now(UTC).isoformat()),
            )
            if letter.entry_id != "-":
                db.execute(
                    "DELETE FROM pending WHERE grp = ? AND stream = ? AND entry_id = ?",
                    (letter.group, letter.stream, int(letter.entry_id)),
                )
                sqlite_waiting.drop(db, letter.group, f"{letter.stream} {letter.entry_id}")
        return str(cur.lastrowid)

    def _group_names(self, stream: str) -> set[str]:
        with self._lock:
            rows = self._db.execute("SELECT grp FROM groups WHERE stream = ?", (stream,)).fetchall()
        return {str(r[0]) for r in rows}

    def _positions(self, stream: str) -> list[GroupPosition]:
        with self._lock:
            return sqlite_groups.positions(self._db, stream, self._now_ms())

    def _pending_of(self, stream: str, group: str, count: int) -> list[RawEntry]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT p.entry_id, p.count, {_TYPE}, {_PAYLOAD}, {_TARGET} "
                f"FROM pending p JOIN entries e ON e.id = p.entry_id {_JOIN} "
                "WHERE p.grp = ? AND p.stream = ? ORDER BY p.entry_id LIMIT ?",
                (group, stream, count),
            ).fetchall()
        return [
            RawEntry(stream, str(r[0]), _name(r[2]), _text(r[3]), _target(r[4]), _count(r[1], stream, r[0]))
            for r in rows
        ]

    def _drop_group(self, stream: str, group: str, idle_s: float | None) -> tuple[str, float | None]:
        with self._tx() as db:
            return sqlite_groups.drop(db, stream, group, idle_s, self._now_ms())

    def _range(self, stream: str, after: str | None, count: int) -> list[tuple[str, str, Payload]]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT e.id, {_TYPE}, {_PAYLOAD} FROM entries e {_JOIN} WHERE e.stream = ? AND e.id > ? "
                "ORDER BY e.id LIMIT ?",
                (stream, id_key(after)[0] if after else 0, count),
            ).fetchall()
        return [(str(r[0]), _name(r[1]), _text(r[2])) for r in rows]

    def _restore(self, events: list[Event]) -> int:
        with self._tx() as db:
            db.executemany(
                "INSERT INTO audit (type, case_id, payload) VALUES (?, ?, ?)",
                [(e.type, e.case_id, e.to_json()) for e in events],
            )
        return len(events)

    def _trim_audit(self, through: str) -> int:
        last = id_key(through)[0]
        with self._tx() as db:
            # Work entries that still point at these rows keep their payload.
            db.execute(
                "UPDATE entries SET payload = (SELECT a.payload FROM audit a WHERE a.id = entries.audit_id), "
                "audit_id = NULL WHERE audit_id IS NOT NULL AND audit_id <= ?",
                (last,),
            )
            cur = db.execute("DELETE FROM audit WHERE id <= ?", (last,))
        return cur.rowcount

    # --- public backend-specific API ------------------------------------------------------------

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            return self._letters(self._db, "ORDER BY id LIMIT ?", (limit,))

    @staticmethod
    def _letters(db: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> list[DeadLetter]:
        # Text columns are read as bytes and decoded here: one row written around the bus (bytes
        # that are not UTF-8, a count or time that does not parse) must not hide every other letter.
        text = ", ".join(
            f"CAST({c} AS BLOB)"
            for c in (
                "stream",
                "grp",
                "entry_id",
                "type",
                "event_id",
                "reason",
                "payload",
                "count",
                "failed_at",
            )
        )
        rows = db.execute(f"SELECT id, {text}, encoding FROM dlq {where}", args).fetchall()
        return [_letter(r) for r in rows]

    def replay_dead_letter(self, dlq_id: str) -> str:
        with self._tx() as db:
            found = self._letters(db, "WHERE id = ?", (int(dlq_id) if dlq_id.isdigit() else -1,))
            if not found:
                raise BusError(f"no dead letter with id {dlq_id!r}")
            dl = found[0]
            self._replayable(dl)
            db.execute("DELETE FROM dlq WHERE id = ?", (int(dlq_id),))
            if dl.event_id:
                db.execute("DELETE FROM marks WHERE role = ? AND event_id = ?", (dl.group, dl.event_id))
            cur = db.execute(
                "INSERT INTO entries (stream, type, payload, target, added_ms) VALUES (?, ?, ?, ?, ?)",
                (dl.stream, dl.event_type or "unknown", dl.payload, dl.group, _ms()),
            )
        self._notify()
        return str(cur.lastrowid)

    def lock(self, key: str, ttl_s: float) -> bool:
        now = time.time()
        with self._tx() as db:
            sqlite_rows.drop_no_expiry(db, "keys", "lock", key)
            db.execute("DELETE FROM keys WHERE key = ? AND expires <= ?", (key, now))
            cur = db.execute("INSERT OR IGNORE INTO keys VALUES (?, ?)", (key, now + ttl_s))
        return cur.rowcount == 1

    def hold(self, key: str, ttl_s: float, holder: str) -> bool:
        now = time.time()
        with self._tx() as db:
            sqlite_rows.drop_no_expiry(db, "holds", "hold", key)
            db.execute("DELETE FROM holds WHERE key = ? AND expires <= ?", (key, now))
            cur = db.execute(
                "INSERT INTO holds VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE holder = excluded.holder",
                (key, now + ttl_s, holder),
            )
        return cur.rowcount == 1

    def unhold(self, key: str, holder: str) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "DELETE FROM holds WHERE key = ? AND holder = ? AND expires > ?", (key, holder, time.time())
            )
        return cur.rowcount == 1

    def holder_of(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT holder FROM holds WHERE key = ? AND expires > ?", (key, time.time())
            ).fetchone()
        return None if row is None else str(row[0])

    def heartbeat(self, name: str, info: dict[str, str], ttl_s: float = 30.0) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO heartbeats VALUES (?, ?, ?)",
                (name, time.time() + ttl_s, json.dumps(info)),
            )

    def heartbeats(self) -> dict[str, dict[str, str]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, CAST(info AS BLOB) FROM heartbeats WHERE expires > ?", (time.time(),)
            ).fetchall()
        live: dict[str, dict[str, str]] = {}
        for name, info in rows:
            try:
                record = json.loads(info)
                if not isinstance(record, dict):
                    raise TypeError(f"a {type(record).__name__}")
            except (ValueError, TypeError) as e:  # not written by heartbeat(): status still answers
                log.warning("heartbeat %r is not a heartbeat record (%s); skipped", name, e)
                continue
            live[str(name)] = {str(k): str(v) for k, v in record.items()}
        return live

    def trim(self, stream: str | None = None) -> int:
        removed = 0
        with self._tx() as db:
            now = int(time.time())
            db.execute("DELETE FROM marks WHERE expires <= ?", (now,))
            db.execute("DELETE FROM published WHERE expires <= ?", (now,))
            for name in [stream] if stream in TRIMMED_STREAMS else [] if stream else TRIMMED_STREAMS:
                groups = db.execute("SELECT grp, last_id FROM groups WHERE stream = ?", (name,)).fetchall()
                if not groups:  # no reader known: the newest ungrouped_max_len are kept
                    if self.ungrouped_max_len:
                        removed += db.execute(
                            "DELETE FROM entries WHERE stream = ?1 AND id <= (SELECT id FROM entries "
                            "WHERE stream = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                            (name, self.ungrouped_max_len),
                        ).rowcount
                    continue
                sqlite_rows.drop_orphans(db, name)
                # A position that is not an id (written around the bus) keeps the whole stream until
                # the group's next read resets it.
                keep = min(last + 1 if isinstance(last, int) else 0 for _, last in groups)
                row = db.execute("SELECT MIN(entry_id) FROM pending WHERE stream = ?", (name,)).fetchone()
                if row[0] is not None:
                    keep = min(keep, row[0])
                cur = db.execute("DELETE FROM entries WHERE stream = ? AND id < ?", (name, keep))
                removed += cur.rowcount
        return removed

    def stats(self) -> BusStats:
        with self._lock:
            db = self._db
            streams = []
            for name in WORK_STREAMS:
                length = db.execute("SELECT COUNT(*) FROM entries WHERE stream = ?", (name,)).fetchone()[0]
                groups = []
                for grp, last in db.execute(
                    "SELECT grp, last_id FROM groups WHERE stream = ? ORDER BY grp", (name,)
                ).fetchall():
                    pending, consumers = db.execute(
                        "SELECT COUNT(*), COUNT(DISTINCT NULLIF(consumer, ?)) FROM pending "
                        "WHERE stream = ? AND grp = ?",
                        (PARKED, name, grp),
                    ).fetchone()
                    lag = db.execute(
                        "SELECT COUNT(*) FROM entries WHERE stream = ? AND id > ?", (name, last)
                    ).fetchone()[0]
                    groups.append(GroupStats(grp, pending, lag, consumers))
                streams.append(StreamStats(name, length, groups))
            streams.append(StreamStats("audit", len(self._audit), []))
            dead = db.execute("SELECT COUNT(*) FROM dlq").fetchone()[0]
        return BusStats(streams, dead)
