"""The bot's durable state: the outbox of posts, case threads, approval buttons, the digest buffer.

Every post is keyed by an id derived from what caused it (an event id, a received message id), and
is written once (``INSERT OR IGNORE``) in the same transaction as the thread it opens and the buttons
it carries, so a redelivered event or a replayed webhook never queues a post twice. The sender marks
a post sent only after Webex accepted it; a restart picks up whatever is still queued.

The store is a SQLite file next to a SQLite bus (``soc.db`` -> ``soc.bot.db``), a file in the state
directory for a Redis bus, or in memory next to the in-memory bus.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aisoc.bus import Bus
from aisoc.bus.sqlite import SqliteBus
from aisoc.sqlitedb import Database, store_url_path

Op = Literal["create", "update"]
Thread = Literal["none", "case", "case-reply", "parent", "root", "reply"]
"""Where a post goes: ``none`` (the room), ``case`` (the case thread, opening it), ``case-reply`` (only
into an existing case thread), ``parent`` (under ``parent_message_id``). Stored as root/reply."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, post_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL,
    op TEXT NOT NULL, case_id TEXT, thread TEXT NOT NULL, parent_message_id TEXT, target_post_id TEXT,
    body TEXT NOT NULL, fallback TEXT, action_ids TEXT NOT NULL, source_event_id TEXT, kind TEXT,
    notice INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, message_id TEXT,
    last_error TEXT, created_at REAL NOT NULL, sent_at REAL);
CREATE INDEX IF NOT EXISTS posts_queue ON posts (state, room_id, seq);
CREATE INDEX IF NOT EXISTS posts_message ON posts (message_id);
CREATE INDEX IF NOT EXISTS posts_parent ON posts (parent_message_id);
CREATE TABLE IF NOT EXISTS threads (
    case_id TEXT PRIMARY KEY, room_id TEXT NOT NULL, root_post_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS buttons (
    action_id TEXT PRIMARY KEY, post_id TEXT NOT NULL, case_id TEXT, proposal_event_id TEXT);
CREATE TABLE IF NOT EXISTS digest (event_id TEXT PRIMARY KEY, case_id TEXT, payload TEXT NOT NULL,
    added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rooms (room_id TEXT PRIMARY KEY, not_before REAL NOT NULL, reason TEXT);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbox (item_id TEXT PRIMARY KEY, envelope TEXT NOT NULL,
    attempts INTEGER NOT NULL, next_at REAL NOT NULL, last_error TEXT);
CREATE TABLE IF NOT EXISTS ran (message_id TEXT PRIMARY KEY, command TEXT NOT NULL, at REAL NOT NULL);
"""


class TransactionLost(Exception):
    """Raised when SQLite rolled back a whole batch's transaction (an I/O error, a full disk):
    nothing written in the batch so far is stored, so none of it may be acknowledged."""


@dataclass(frozen=True)
class Post:
    """One message to create, or one card to edit, as the planner wants it sent."""

    post_id: str
    room_id: str
    body: dict[str, Any]
    """``markdown`` (and ``text``) and at most one card in ``attachments``; no room or parent."""
    op: Op = "create"
    case_id: str | None = None
    thread: Thread = "none"
    parent_message_id: str | None = None
    target_post_id: str | None = None
    """For an edit: the post whose message is edited."""
    fallback: dict[str, Any] | None = None
    """For an edit: the body posted as a thread reply when Webex refuses the edit."""
    action_ids: tuple[str, ...] = ()
    """Approval buttons this card carries (decisions later edit it)."""
    source_event_id: str | None = None
    kind: str | None = None
    """What it shows (the event type, ``sentinel.digest``, ``reply``, ``notice``)."""
    notice: bool = False
    """An error notice of the bot itself (its failures never cause another notice)."""


@dataclass(frozen=True)
class StoredPost(Post):
    """A post as stored: its queue position and delivery state."""

    seq: int = 0
    state: str = "queued"
    attempts: int = 0
    message_id: str | None = None
    last_error: str | None = None
    created_at: float = 0.0
    sent_at: float | None = None


@dataclass
class Plan:
    """Everything one event or command changes in the store, written in one transaction."""

    posts: list[Post] = field(default_factory=list)
    digest: list[tuple[str, str | None, str]] = field(default_factory=list)
    """(event_id, case_id, event JSON) to add to the digest buffer."""

    def __bool__(self) -> bool:
        return bool(self.posts or self.digest)


_COLUMNS = (
    "seq, post_id, room_id, op, case_id, thread, parent_message_id, target_post_id, body, fallback, "
    "action_ids, source_event_id, kind, notice, state, attempts, message_id, last_error, created_at, sent_at"
)


def _row(r: Sequence[Any]) -> StoredPost:
    return StoredPost(
        seq=r[0],
        post_id=r[1],
        room_id=r[2],
        op=r[3],
        case_id=r[4],
        thread=r[5],
        parent_message_id=r[6],
        target_post_id=r[7],
        body=json.loads(r[8]),
        fallback=json.loads(r[9]) if r[9] else None,
        action_ids=tuple(json.loads(r[10])),
        source_event_id=r[11],
        kind=r[12],
        notice=bool(r[13]),
        state=r[14],
        attempts=r[15],
        message_id=r[16],
        last_error=r[17],
        created_at=r[18],
        sent_at=r[19],
    )


class BotStore:
    """The bot's SQLite store (thread-safe; one connection behind a lock).

    ``with store.batch():`` makes every write of the block one transaction (one commit, one fsync)
    while each write inside it stays all-or-nothing on its own (a savepoint): the feed writes a
    whole batch of deliveries' posts this way, and one that fails leaves the others in.

    Args:
        path: database file (created with its directory), or ``":memory:"``.
        clock: wall-clock seconds (injected by tests).
    """

    def __init__(self, path: str | os.PathLike[str], *, clock: Any = time.time) -> None:
        raw = str(path)
        self.path = raw if raw == ":memory:" else os.path.abspath(raw)
        self.clock = clock
        self._sql = Database(self.path, _SCHEMA)
        self._lock, self._db = self._sql.lock, self._sql.db
        self._query = self._sql.query
        self._depth = 0
        """Open savepoints inside ``batch()`` (0: not in a batch); read only with the lock held."""

    # --- transactions -----------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction around the block: its writes commit together when it ends, or none do
        when it raises. Other threads wait for the lock until then (keep the block short)."""
        with self._tx():
            yield

    @contextmanager
    def step(self) -> Iterator[None]:
        """All of the block's writes or none: a savepoint inside ``batch()``, else a transaction."""
        with self._tx():
            yield

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A transaction, or a savepoint of the one this thread has open (writes nest)."""
        with self._lock:
            if not self._depth:
                with self._sql.tx() as db:
                    self._depth = 1
                    try:
                        yield db
                    finally:
                        self._depth = 0
                return
            name = f"step{self._depth}"
            if not self._db.in_transaction:
                raise TransactionLost("the batch's transaction is gone (SQLite rolled it back)")
            self._depth += 1
            self._db.execute(f"SAVEPOINT {name}")
            try:
                yield self._db
            except BaseException as e:
                if not self._db.in_transaction:  # an I/O error or a full disk rolled back everything
                    raise TransactionLost("the batch's transaction is gone (SQLite rolled it back)") from e
                self._db.execute(f"ROLLBACK TO {name}")
                self._db.execute(f"RELEASE {name}")
                raise
            finally:
                self._depth -= 1
            self._db.execute(f"RELEASE {name}")

    # --- planning ---------------------------------------------------------------------------------

    def apply(self, plan: Plan, *, drop_digest: Sequence[str] = ()) -> list[str]:
        """Queue a plan's posts (each once, by id) and digest items in one transaction.

        A ``case`` post opens the case's thread when it has none (it becomes the root); a
        ``case-reply`` post is dropped when the case has no thread.

        Args:
            plan: the posts and digest items.
            drop_digest: digest items the plan's digest post rolls up (removed in the same step).

        Returns:
            The ids of the posts newly queued.
        """
        queued: list[str] = []
        now = self.clock()
        with self._tx() as db:
            db.executemany("DELETE FROM digest WHERE event_id = ?", [(e,) for e in drop_digest])
            for p in plan.posts:
                if db.execute("SELECT 1 FROM posts WHERE post_id = ?", (p.post_id,)).fetchone():
                    continue
                thread = p.thread
                if thread in ("case", "case-reply") and p.case_id:
                    has = db.execute("SELECT 1 FROM threads WHERE case_id = ?", (p.case_id,)).fetchone()
                    if has:
                        thread = "reply"
                    elif thread == "case-reply":
                        continue
                    else:
                        db.execute("INSERT INTO threads VALUES (?, ?, ?)", (p.case_id, p.room_id, p.post_id))
                        thread = "root"
                elif thread in ("case", "case-reply"):
                    thread = "none"
                db.execute(
                    f"INSERT INTO posts ({_COLUMNS}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "'queued', 0, NULL, NULL, ?, NULL)",
                    (
                        p.post_id,
                        p.room_id,
                        p.op,
                        p.case_id,
                        thread,
                        p.parent_message_id,
                        p.target_post_id,
                        json.dumps(p.body),
                        json.dumps(p.fallback) if p.fallback is not None else None,
                        json.dumps(list(p.action_ids)),
                        p.source_event_id,
                        p.kind,
                        int(p.notice),
                        now,
                    ),
                )
                for action_id in p.action_ids:  # an edit's buttons live on the message it edits
                    db.execute(
                        "INSERT OR REPLACE INTO buttons VALUES (?, ?, ?, NULL)",
                        (action_id, p.target_post_id or p.post_id, p.case_id),
                    )
                queued.append(p.post_id)
            for event_id, case_id, payload in plan.digest:
                db.execute(
                    "INSERT OR IGNORE INTO digest VALUES (?, ?, ?, ?)", (event_id, case_id, payload, now)
                )
        return queued

    def has_post(self, post_id: str) -> bool:
        """Whether a post with this id was ever queued."""
        return bool(self._query("SELECT 1 FROM posts WHERE post_id = ?", (post_id,)))

    # --- reading ----------------------------------------------------------------------------------

    def get(self, post_id: str) -> StoredPost | None:
        """A post by id."""
        rows = self._query(f"SELECT {_COLUMNS} FROM posts WHERE post_id = ?", (post_id,))
        return _row(rows[0]) if rows else None

    def by_message(self, message_id: str) -> StoredPost | None:
        """The post that became (or was last edited into) a Webex message."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM posts WHERE message_id = ? ORDER BY seq LIMIT 1", (message_id,)
        )
        return _row(rows[0]) if rows else None

    def reply_case(self, message_id: str) -> str | None:
        """The case the bot's latest answer under a person's message was about: a conversation
        begun at top level ("why did it contain that host?") continues about that case."""
        rows = self._query(
            "SELECT case_id FROM posts WHERE parent_message_id = ? AND kind = 'reply' "
            "AND case_id IS NOT NULL ORDER BY seq DESC LIMIT 1",
            (message_id,),
        )
        return str(rows[0][0]) if rows else None

    def posts(self, state: str | None = None, limit: int = 1000) -> list[StoredPost]:
        """Posts in queue order (optionally only those in one state)."""
        if state is None:
            rows = self._query(f"SELECT {_COLUMNS} FROM posts ORDER BY seq LIMIT ?", (limit,))
        else:
            rows = self._query(
                f"SELECT {_COLUMNS} FROM posts WHERE state = ? ORDER BY seq LIMIT ?", (state, limit)
            )
        return [_row(r) for r in rows]

    def thread_root(self, case_id: str) -> StoredPost | None:
        """The root post of a case's thread."""
        rows = self._query(
            f"SELECT {', '.join('p.' + c.strip() for c in _COLUMNS.split(','))} FROM threads t "
            "JOIN posts p ON p.post_id = t.root_post_id WHERE t.case_id = ?",
            (case_id,),
        )
        return _row(rows[0]) if rows else None

    def button(self, action_id: str) -> StoredPost | None:
        """The card that carries an action's approval button."""
        rows = self._query("SELECT post_id FROM buttons WHERE action_id = ?", (action_id,))
        return self.get(rows[0][0]) if rows else None

    def counts(self) -> dict[str, int]:
        """Posts by state."""
        return {state: n for state, n in self._query("SELECT state, COUNT(*) FROM posts GROUP BY state")}

    # --- sending ----------------------------------------------------------------------------------

    def next_due(self, now: float | None = None) -> StoredPost | None:
        """The oldest queued post among rooms that may be posted to now (each room keeps its order)."""
        at = self.clock() if now is None else now
        rows = self._query(
            f"SELECT {_COLUMNS} FROM posts WHERE seq IN (SELECT MIN(seq) FROM posts WHERE state = 'queued' "
            "GROUP BY room_id) AND room_id NOT IN (SELECT room_id FROM rooms WHERE not_before > ?) "
            "ORDER BY seq LIMIT 1",
            (at,),
        )
        return _row(rows[0]) if rows else None

    def next_wakeup(self) -> float | None:
        """When the earliest blocked room with queued posts opens again (None: nothing is waiting)."""
        rows = self._query(
            "SELECT MIN(r.not_before) FROM rooms r WHERE EXISTS "
            "(SELECT 1 FROM posts p WHERE p.room_id = r.room_id AND p.state = 'queued')"
        )
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def block_room(self, room_id: str, until: float, reason: str) -> None:
        """Hold every post to ``room_id`` until ``until`` (pacing, Retry-After, backoff)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO rooms VALUES (?, ?, ?) ON CONFLICT(room_id) DO UPDATE SET "
                "not_before = MAX(not_before, excluded.not_before), reason = excluded.reason",
                (room_id, until, reason),
            )

    def mark_sent(self, post_id: str, message_id: str, *, note: str | None = None) -> None:
        """Record that Webex accepted a post (the edit of an update, or its fallback reply)."""
        with self._tx() as db:
            db.execute(
                "UPDATE posts SET state = 'sent', message_id = ?, sent_at = ?, last_error = ? "
                "WHERE post_id = ?",
                (message_id, self.clock(), note, post_id),
            )

    def mark_failed(self, post_id: str, error: str) -> int:
        """Count a failed attempt; returns the attempts so far."""
        with self._tx() as db:
            db.execute(
                "UPDATE posts SET attempts = attempts + 1, last_error = ? WHERE post_id = ?",
                (error[:2000], post_id),
            )
            row = db.execute("SELECT attempts FROM posts WHERE post_id = ?", (post_id,)).fetchone()
        return int(row[0]) if row else 0

    def mark_dead(self, post_id: str, error: str) -> None:
        """Give a post up (it stays in the store for ``aisoc bot outbox``)."""
        with self._tx() as db:
            db.execute(
                "UPDATE posts SET state = 'dead', last_error = ? WHERE post_id = ?", (error[:2000], post_id)
            )

    def degrade(self, post_id: str, body: dict[str, Any]) -> None:
        """Replace a post's body before another try (a text-only retry, a retry outside its thread)."""
        with self._tx() as db:
            db.execute("UPDATE posts SET body = ? WHERE post_id = ?", (json.dumps(body), post_id))

    def reroot(self, case_id: str, post_id: str) -> None:
        """Make ``post_id`` the root of the case's thread (its old root could not be posted)."""
        with self._tx() as db:
            db.execute("UPDATE threads SET root_post_id = ? WHERE case_id = ?", (post_id, case_id))
            db.execute("UPDATE posts SET thread = 'root' WHERE post_id = ?", (post_id,))

    def retry(self, post_id: str) -> bool:
        """Queue a dead post again (``aisoc bot outbox --retry``)."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE posts SET state = 'queued', attempts = 0 WHERE post_id = ? AND state = 'dead'",
                (post_id,),
            )
        return cur.rowcount == 1

    # --- digest and meta --------------------------------------------------------------------------

    def digest_items(self) -> list[tuple[str, str | None, str, float]]:
        """Buffered closures, oldest first: (event_id, case_id, event JSON, added_at)."""
        return [
            tuple(r)
            for r in self._query(
                "SELECT event_id, case_id, payload, added_at FROM digest ORDER BY added_at, rowid"
            )
        ]

    # --- inbox: webhook deliveries to fetch and answer -------------------------------------------

    def take_in(self, item_id: str, envelope: dict[str, Any]) -> bool:
        """Keep a verified webhook delivery to be fetched and answered; False when already kept."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO inbox VALUES (?, ?, 0, ?, NULL)",
                (item_id, json.dumps(envelope), self.clock()),
            )
            return cur.rowcount == 1

    def inbox_due(self, limit: int = 20) -> list[tuple[str, dict[str, Any], int]]:
        """Kept deliveries due now, oldest first: ``(item_id, envelope, attempts)``."""
        rows = self._query(
            "SELECT item_id, envelope, attempts FROM inbox WHERE next_at <= ? ORDER BY next_at LIMIT ?",
            (self.clock(), limit),
        )
        return [(r[0], json.loads(r[1]), r[2]) for r in rows]

    def inbox_done(self, item_id: str) -> None:
        """A kept delivery was answered (or given up): it leaves the inbox."""
        with self._tx() as db:
            db.execute("DELETE FROM inbox WHERE item_id = ?", (item_id,))

    def inbox_retry(self, item_id: str, error: str, at: float) -> None:
        """A kept delivery could not be fetched: try again at ``at``."""
        with self._tx() as db:
            db.execute(
                "UPDATE inbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE item_id = ?",
                (at, error, item_id),
            )

    # --- commands people's messages ran (an edit never runs one again) ---------------------------

    def ran(self, message_id: str) -> str | None:
        """The state-changing command a person's message ran (``close wazuh:1001 fp``), if any."""
        rows = self._query("SELECT command FROM ran WHERE message_id = ?", (message_id,))
        return str(rows[0][0]) if rows else None

    def note_ran(self, message_id: str, command: str) -> None:
        """Keep the command a message ran; the first one stays (an edit does not replace it)."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO ran VALUES (?, ?, ?)", (message_id, command, self.clock()))

    def meta(self, key: str) -> str | None:
        """A stored value (throttles, cursors)."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a value."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def store_path(bus: Bus, store: str | None, state_dir: Path | None) -> str:
    """Where the bot's store lives: ``store`` if set, next to a SQLite bus, in memory next to the
    memory bus, else ``{state_dir}/bot-{namespace}.db``."""
    if store:
        return store_url_path(store)
    if isinstance(bus, SqliteBus):
        if bus.path == ":memory:":
            return bus.path
        p = Path(bus.path)
        return str(p.with_name(p.stem + ".bot" + (p.suffix or ".db")))
    if bus.scheme == "redis":
        return str((state_dir or Path(".aisoc")) / f"bot-{bus.namespace}.db")
    return ":memory:"
