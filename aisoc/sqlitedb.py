"""One SQLite file shared by the threads of a process: WAL journal, writes in ``BEGIN IMMEDIATE``.

The SQLite bus keeps its log this way; app packages (the gate's and the bot's stores) use it for
the state they keep next to an embedded bus.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Database:
    """A SQLite connection guarded by one re-entrant lock.

    Args:
        path: the file (its folder is created), or ``:memory:``.
        schema: SQL run once when opening (``CREATE TABLE IF NOT EXISTS ...``).
    """

    def __init__(self, path: str, schema: str = "") -> None:
        self.path = path
        if path != ":memory:":
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
        if schema:
            self.db.executescript(schema)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all of it commits, or none of it (other processes wait for the lock)."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """Rows of a read."""
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self.lock:
            self.db.close()


def store_url_path(url: str) -> str:
    """The SQLite file a component's ``store`` setting names: ``sqlite:///PATH`` is ``PATH``,
    ``memory://`` is ``":memory:"``; anything else is a ValueError that says what is expected."""
    if url.startswith("memory:"):
        return ":memory:"
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    raise ValueError(f"store {url!r}: expected memory:// or sqlite:///PATH")


CACHE_DAMAGE = (sqlite3.DatabaseError, ValueError, TypeError, KeyError, IndexError, AttributeError)
"""What reading a damaged cache file raises: not SQLite, truncated, a row that does not decode."""


def move_aside(path: str | os.PathLike[str]) -> str:
    """Rename a damaged file (and its WAL files) to a free ``PATH.damaged-N``; return the new name.

    For files that are caches of the audit log (memory snapshots, the scheduler's feed): the process
    rebuilds them from the log, and the damaged file stays for a post-mortem.
    """
    name = os.fspath(path)
    n = 1
    while os.path.exists(f"{name}.damaged-{n}"):
        n += 1
    aside = f"{name}.damaged-{n}"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(name + suffix):
            os.replace(name + suffix, aside + suffix)
    return aside
