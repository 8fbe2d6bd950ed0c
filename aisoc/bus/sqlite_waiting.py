"""The SQLite bus's waiting records (``aisoc.bus.waiting``): the ``waiting`` table and its indexes.

Each row is one record (its JSON in ``record``) with the columns it is found by: ``case_id`` and
``age`` (the case's order, indexed), and ``head_due``, the due time of a case head that has one
(NULL for every other record, so the partial index on it holds only what may be claimed). Every
function runs inside the caller's transaction (or under its lock, for reads).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from aisoc.bus.waiting import Waiting, age

SCHEMA = """
CREATE TABLE IF NOT EXISTS waiting (
    grp TEXT NOT NULL, key TEXT NOT NULL, record TEXT NOT NULL, case_id TEXT, age TEXT, stream TEXT,
    head_due REAL, PRIMARY KEY (grp, key)) WITHOUT ROWID;
"""
INDEXES = (
    "CREATE INDEX IF NOT EXISTS waiting_case ON waiting (grp, case_id, age, key)",
    "CREATE INDEX IF NOT EXISTS waiting_due ON waiting (grp, head_due) WHERE head_due IS NOT NULL",
)
_COLUMNS = ("case_id TEXT", "age TEXT", "stream TEXT", "head_due REAL")
"""Columns an older file's table lacks (it kept the JSON only)."""
_CHUNK = 500
"""Keys per ``IN (...)`` list (SQLite limits the parameters of one statement)."""


def migrate(db: sqlite3.Connection) -> None:
    """Give an older file's records their indexed columns (and their cases their heads)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(waiting)")}
    for column in _COLUMNS:
        if column.split()[0] not in have:
            db.execute(f"ALTER TABLE waiting ADD COLUMN {column}")
    old = db.execute("SELECT grp, record FROM waiting WHERE age IS NULL").fetchall()
    cases = set()
    for grp, text in old:
        record = Waiting.from_json(text)
        if record is not None:  # one not written by the bus stays out of every index
            db.execute(
                "UPDATE waiting SET case_id = ?, age = ?, stream = ? WHERE grp = ? AND key = ?",
                (record.case, age(record), record.stream, grp, record.key),
            )
            cases.add((grp, record.case))
    for grp, case in cases:
        _reindex(db, grp, case)
    for statement in INDEXES:
        db.execute(statement)


def records(db: sqlite3.Connection, group: str) -> list[Waiting]:
    """Every record of ``group``."""
    rows = db.execute("SELECT record FROM waiting WHERE grp = ?", (group,)).fetchall()
    return [r for r in (Waiting.from_json(row[0]) for row in rows) if r is not None]


def lookup(
    db: sqlite3.Connection, group: str, keys: list[str], cases: Iterable[str]
) -> tuple[dict[str, Waiting], dict[str, Waiting]]:
    """The records of ``keys`` and the heads of ``cases`` (each found by its index)."""
    found: dict[str, Waiting] = {}
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        rows = db.execute(
            f"SELECT record FROM waiting WHERE grp = ? AND key IN ({','.join('?' * len(chunk))})",
            (group, *chunk),
        ).fetchall()
        for (text,) in rows:
            if (record := Waiting.from_json(text)) is not None:
                found[record.key] = record
    heads = {}
    for case in cases:
        if (head := _head(db, group, case)) is not None:
            heads[case] = head
    return found, heads


def put(db: sqlite3.Connection, group: str, record: Waiting) -> None:
    """Store ``record`` (replacing its entry's) and re-index its case's head."""
    db.execute(
        "INSERT OR REPLACE INTO waiting (grp, key, record, case_id, age, stream, head_due) "
        "VALUES (?, ?, ?, ?, ?, ?, NULL)",
        (group, record.key, record.to_json(), record.case, age(record), record.stream),
    )
    _reindex(db, group, record.case)


def drop(db: sqlite3.Connection, group: str, key: str) -> bool:
    """Remove the record of ``key``, if any; the next record of its case becomes the head."""
    row = db.execute(
        "DELETE FROM waiting WHERE grp = ? AND key = ? RETURNING case_id", (group, key)
    ).fetchone()
    if row is None:
        return False
    if row[0] is not None:
        _reindex(db, group, row[0])
    return True


def due_heads(
    db: sqlite3.Connection, group: str, streams: tuple[str, ...], now: float, count: int
) -> list[Waiting]:
    """Up to ``count`` case heads of ``streams`` due by ``now``, soonest due first."""
    rows = db.execute(
        f"SELECT record FROM waiting WHERE grp = ? AND head_due <= ? "
        f"AND stream IN ({','.join('?' * len(streams))}) ORDER BY head_due, age LIMIT ?",
        (group, now, *streams, count),
    ).fetchall()
    return [r for r in (Waiting.from_json(row[0]) for row in rows) if r is not None]


def unwanted(
    db: sqlite3.Connection, group: str, streams: tuple[str, ...], types: frozenset[str] | None, count: int
) -> list[Waiting]:
    """Up to ``count`` records of ``group`` whose stream is not one of ``streams`` or whose entry's
    stored type is not one of ``types`` (an entry stored without a type, or gone, is kept)."""
    in_streams = ",".join("?" * len(streams))
    other_type = "0"
    if types is not None:
        # The entry id is the key's second word (``STREAM ENTRY_ID``).
        other_type = (
            f"EXISTS (SELECT 1 FROM entries e WHERE e.id = CAST(substr(w.key, length(w.stream) + 2) "
            f"AS INTEGER) AND e.type != '' AND e.type NOT IN ({','.join('?' * len(types))}))"
        )
    rows = db.execute(
        f"SELECT w.record FROM waiting w WHERE w.grp = ? AND (w.stream NOT IN ({in_streams}) "
        f"OR {other_type}) LIMIT ?",
        (group, *streams, *sorted(types or ()), count),
    ).fetchall()
    return [r for r in (Waiting.from_json(row[0]) for row in rows) if r is not None]


def has_any(db: sqlite3.Connection, group: str) -> bool:
    """Whether ``group`` has a waiting record at all (most acks find none: one indexed probe)."""
    return db.execute("SELECT 1 FROM waiting WHERE grp = ? LIMIT 1", (group,)).fetchone() is not None


def _head(db: sqlite3.Connection, group: str, case: str) -> Waiting | None:
    row = db.execute(
        "SELECT record FROM waiting WHERE grp = ? AND case_id = ? ORDER BY age, key LIMIT 1", (group, case)
    ).fetchone()
    return None if row is None else Waiting.from_json(row[0])


def _reindex(db: sqlite3.Connection, group: str, case: str) -> None:
    """Make ``head_due`` set on ``case``'s current head exactly when it has a due time."""
    db.execute(
        "UPDATE waiting SET head_due = NULL WHERE grp = ? AND case_id = ? AND head_due IS NOT NULL",
        (group, case),
    )
    head = _head(db, group, case)
    if head is not None and head.due is not None:
        db.execute("UPDATE waiting SET head_due = ? WHERE grp = ? AND key = ?", (head.due, group, head.key))
