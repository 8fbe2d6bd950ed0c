"""The SQLite bus's side of ``aisoc.bus.groups``: each group's activity (``groups.seen_ms``, when a
consumer last read or acked, on the bus clock), its position as trimming sees it, and its removal.
Every function runs inside the caller's transaction (or under its lock, for reads)."""

from __future__ import annotations

import sqlite3

from aisoc.bus.groups import GroupPosition

SEEN = (
    "UPDATE groups SET seen_ms = ?1 WHERE stream = ?2 AND grp = ?3 "
    "AND (seen_ms IS NULL OR seen_ms < ?1 - 60000)"
)
"""Record a consumer's read or ack: (now_ms, stream, group). At most once a minute per group: an idle
worker polls every 50 ms, and a write per poll would only move a time compared in hours."""


def migrate(db: sqlite3.Connection, now_ms: int) -> None:
    """Give an older file's groups the ``seen_ms`` column, counting their idle time from now (when a
    consumer last read is not on record: a group is never reported idle at the upgrade itself)."""
    if "seen_ms" not in {row[1] for row in db.execute("PRAGMA table_info(groups)")}:
        db.execute("ALTER TABLE groups ADD COLUMN seen_ms INTEGER")
    db.execute("UPDATE groups SET seen_ms = ? WHERE seen_ms IS NULL", (now_ms,))


def positions(db: sqlite3.Connection, stream: str, now_ms: int) -> list[GroupPosition]:
    """Every group of ``stream``: its floor, pending count, entries not acked and idle seconds."""
    out = []
    for grp, last, seen in db.execute(
        "SELECT grp, last_id, seen_ms FROM groups WHERE stream = ?", (stream,)
    ).fetchall():
        pending, oldest = db.execute(
            "SELECT COUNT(*), MIN(entry_id) FROM pending WHERE stream = ? AND grp = ?", (stream, grp)
        ).fetchone()
        if not isinstance(last, int):  # written around the bus: reset at the group's next read
            last = 0
        undelivered = db.execute(
            "SELECT COUNT(*) FROM entries WHERE stream = ? AND id > ?", (stream, last)
        ).fetchone()[0]
        floor = min(last + 1, oldest) if oldest is not None else last + 1
        idle = None if seen is None else max(0.0, (now_ms - seen) / 1000)
        out.append(GroupPosition(str(grp), (floor, 0), pending, pending + undelivered, idle))
    return out


def drop(
    db: sqlite3.Connection, stream: str, group: str, idle_s: float | None, now_ms: int
) -> tuple[str, float | None]:
    """Remove ``group`` from ``stream`` unless it holds pending entries or was active within
    ``idle_s`` (see ``Bus._drop_group``)."""
    row = db.execute("SELECT seen_ms FROM groups WHERE stream = ? AND grp = ?", (stream, group)).fetchone()
    if row is None:
        return "absent", None
    idle = None if row[0] is None else max(0.0, (now_ms - row[0]) / 1000)
    if db.execute("SELECT 1 FROM pending WHERE stream = ? AND grp = ? LIMIT 1", (stream, group)).fetchone():
        return "pending", idle
    if idle_s is not None and idle is not None and idle < idle_s:
        return "active", idle
    db.execute("DELETE FROM groups WHERE stream = ? AND grp = ?", (stream, group))
    return "dropped", idle
