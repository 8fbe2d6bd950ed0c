"""The SQLite bus's reading of rows written around it (a bad actor with the file, a broken disk, a
tool that edited it): text where a number belongs, names that are not UTF-8, rows that point at
nothing. Each is logged and read as the bus can best use it, so no such row fails every read of a
group or holds something for ever. Every function runs inside the caller's transaction."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from aisoc.bus import sqlite_waiting

log = logging.getLogger("aisoc.bus.sqlite")

TARGET = "CAST(e.target AS BLOB)"
"""A work entry's target group, as bytes: a name that is not UTF-8 must not fail every read."""


def target(value: Any) -> str | None:
    """A target column read as bytes (``TARGET``): the group's name, escaped if not UTF-8 (no group
    has that name, so each group files the entry as a dead letter naming it)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return None if value is None else str(value)


def count(value: Any, stream: str, entry_id: Any) -> int:
    """A pending entry's delivery count; one that is not a number counts as none, with a warning,
    instead of failing every take-over of its group."""
    if isinstance(value, int):
        return value
    log.warning(
        "pending %s#%s has a delivery count that is not a number (%r): counted as 0", stream, entry_id, value
    )
    return 0


def reset_position(db: sqlite3.Connection, stream: str, group: str, found: Any) -> int:
    """Put a group whose last-read id is not one back before the start of the stream: it reads again
    what the stream holds (its idempotency marks keep the effects once) instead of comparing every id
    below the text and reading nothing ever again. Returns the new position."""
    first = db.execute("SELECT MIN(id) FROM entries WHERE stream = ?", (stream,)).fetchone()[0]
    last = 0 if first is None else int(first) - 1
    log.warning(
        "group %s of %s had a last-read id that is not one (%r): it reads the stream again from its "
        "start (entry %d)",
        group,
        stream,
        found,
        last + 1,
    )
    db.execute("UPDATE groups SET last_id = ? WHERE stream = ? AND grp = ?", (last, stream, group))
    return last


def drop_no_expiry(db: sqlite3.Connection, table: str, what: str, key: str) -> None:
    """Drop a lock or hold row whose expiry is not a time: text compares above every number, so it
    would be held for ever; it is taken, as Redis takes a lock key without expiry."""
    if db.execute(
        f"DELETE FROM {table} WHERE key = ? AND typeof(expires) NOT IN ('integer', 'real') RETURNING key",
        (key,),
    ).fetchone():
        log.warning("%s %s had an expiry that is not a time (written around the bus): taken", what, key)


def drop_orphans(db: sqlite3.Connection, stream: str) -> None:
    """Drop pending rows (and waiting records) of entries no longer in ``stream``: no consumer can be
    given them, and the oldest would hold back trimming for ever."""
    gone = db.execute(
        "DELETE FROM pending WHERE stream = ? AND NOT EXISTS (SELECT 1 FROM entries e WHERE "
        "e.id = pending.entry_id AND e.stream = pending.stream) RETURNING grp, entry_id",
        (stream,),
    ).fetchall()
    for grp, entry_id in gone:
        sqlite_waiting.drop(db, grp, f"{stream} {entry_id}")
        log.warning(
            "pending %s#%s of group %s: its entry is gone (deleted around the bus); dropped",
            stream,
            entry_id,
            grp,
        )
