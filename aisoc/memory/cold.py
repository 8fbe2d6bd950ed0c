"""The cold tier of a bounded projection: cases evicted from RAM, kept in the process's snapshot.

A worker holds a window of cases in RAM (the newest by alert creation time, within an age); older
cases stay in its SQLite snapshot with just enough index to be found again: their scoped indicator
keys, their rule with its outcome code, and their actions. Recall and rule history add what the
cold tier holds, so an answer does not change when a case leaves RAM; an event about a cold case
brings it back into the window.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from aisoc.memory.codec import record_from_obj
from aisoc.memory.records import CaseRecord
from aisoc.sqlitedb import CACHE_DAMAGE

log = logging.getLogger(__name__)

COLD_TABLES = ("cold_keys", "cold_rules", "cold_actions")
"""The cold tier's index tables (the records themselves stay in ``cases`` with ``held = 0``)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cold_keys (skey TEXT NOT NULL, created REAL NOT NULL, case_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cold_keys_k ON cold_keys (skey, created, case_id);
CREATE INDEX IF NOT EXISTS cold_keys_c ON cold_keys (case_id);
CREATE TABLE IF NOT EXISTS cold_rules (
  skey TEXT NOT NULL, created REAL NOT NULL, case_id TEXT NOT NULL, code INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS cold_rules_k ON cold_rules (skey, created, case_id);
CREATE INDEX IF NOT EXISTS cold_rules_c ON cold_rules (case_id);
CREATE TABLE IF NOT EXISTS cold_actions (action_id TEXT PRIMARY KEY, case_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cold_actions_c ON cold_actions (case_id);
"""

_INF = float("inf")
_BEFORE = "(created < ? OR created >= '')"
"""Created before a time, or not a time at all (text and blobs sort above every number: a damaged
row is read, fails to decode and is reported, instead of leaving answers short without a word)."""


@dataclass(frozen=True, slots=True)
class Evicted:
    """What the cold tier indexes of one case leaving RAM."""

    case_id: str
    created: float
    skeys: tuple[str, ...]
    """Its scoped indicator keys (tenant + key, as RAM's postings)."""
    rule_skey: str | None
    code: int
    action_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ColdCounts:
    """How a rule's cold cases created before some time ended, by outcome code."""

    by_code: dict[int, int]
    first: float | None
    last: float | None

    @property
    def total(self) -> int:
        """How many cold cases."""
        return sum(self.by_code.values())


class ColdStore:
    """The cold tier inside a snapshot's SQLite connection (its caller holds the projection's lock).

    Args:
        db: the snapshot's connection (autocommit; the ``cases`` table exists).
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        db.executescript(_SCHEMA)
        self.damage: str | None = None
        """Why a cold row did not decode (written around the process, a disk error), or None: the
        snapshot is a cache of the log, so memory moves it aside and rebuilds at its next refresh;
        until then the row is left out of answers."""

    def _damaged(self, what: str, exc: BaseException) -> None:
        if self.damage is None:
            log.error(
                "memory snapshot: %s does not decode (%s: %s); rebuilt from the log at the next refresh",
                what,
                type(exc).__name__,
                exc,
            )
        self.damage = self.damage or f"{what}: {type(exc).__name__}: {exc}"

    def evict(self, cases: Iterable[Evicted]) -> int:
        """Mark cases as cold (their records must already be saved) and index them.

        Returns:
            How many cases were evicted.
        """
        rows = list(cases)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("UPDATE cases SET held = 0 WHERE case_id = ?", [(c.case_id,) for c in rows])
            db.executemany(
                "INSERT INTO cold_keys (skey, created, case_id) VALUES (?, ?, ?)",
                [(k, c.created, c.case_id) for c in rows for k in c.skeys],
            )
            db.executemany(
                "INSERT INTO cold_rules (skey, created, case_id, code) VALUES (?, ?, ?, ?)",
                [(c.rule_skey, c.created, c.case_id, c.code) for c in rows if c.rule_skey is not None],
            )
            db.executemany(
                "INSERT OR REPLACE INTO cold_actions (action_id, case_id) VALUES (?, ?)",
                [(a, c.case_id) for c in rows for a in c.action_ids],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len(rows)

    def record(self, case_id: str) -> CaseRecord | None:
        """The record of a cold case (None when the case is not cold)."""
        row = self._db.execute("SELECT data FROM cases WHERE case_id = ? AND held = 0", (case_id,)).fetchone()
        if row is None:
            return None
        try:
            return record_from_obj(json.loads(row[0]))
        except CACHE_DAMAGE as e:
            self._damaged(f"cold case {case_id}", e)
            return None

    def records(self, case_ids: Iterable[str]) -> dict[str, CaseRecord]:
        """The records of those cold cases (missing ones are left out)."""
        out: dict[str, CaseRecord] = {}
        for case_id in dict.fromkeys(case_ids):
            rec = self.record(case_id)
            if rec is not None:
                out[case_id] = rec
        return out

    def readmit(self, case_id: str) -> tuple[CaseRecord, int] | None:
        """Take a cold case back into RAM: its record and order number (None: not cold)."""
        db = self._db
        row = db.execute("SELECT data, seq FROM cases WHERE case_id = ? AND held = 0", (case_id,)).fetchone()
        if row is None:
            return None
        try:
            back = record_from_obj(json.loads(row[0])), int(row[1])
        except CACHE_DAMAGE as e:
            self._damaged(f"cold case {case_id}", e)  # left cold: the rebuild folds it again
            return None
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("UPDATE cases SET held = 1 WHERE case_id = ?", (case_id,))
            for table in COLD_TABLES:
                db.execute(f"DELETE FROM {table} WHERE case_id = ?", (case_id,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return back

    def action_case(self, action_id: str) -> str | None:
        """The cold case an action belongs to (None: not a cold case's action)."""
        row = self._db.execute(
            "SELECT case_id FROM cold_actions WHERE action_id = ?", (action_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def with_key(self, skey: str, before: float | None) -> list[tuple[float, str]]:
        """``(created, case_id)`` of the cold cases sharing scoped key ``skey``, created before
        ``before`` (all when None), oldest first."""
        rows = self._db.execute(
            f"SELECT created, case_id FROM cold_keys WHERE skey = ? AND {_BEFORE} ORDER BY created, case_id",
            (skey, _INF if before is None else before),
        ).fetchall()
        return self._pairs(rows, f"cold key {skey}")

    def _pairs(self, rows: list[tuple[object, object]], what: str) -> list[tuple[float, str]]:
        """``(created, case_id)`` rows; one that does not decode is left out (and the damage noted)."""
        out = []
        for t, c in rows:
            try:
                out.append((float(t), str(c)))  # type: ignore[arg-type]
            except CACHE_DAMAGE as e:
                self._damaged(f"a row of {what}", e)
        return out

    def count_key(self, skey: str, before: float | None) -> int:
        """How many cold cases share ``skey`` and were created before ``before``."""
        row = self._db.execute(
            f"SELECT count(*) FROM cold_keys WHERE skey = ? AND {_BEFORE}",
            (skey, _INF if before is None else before),
        ).fetchone()
        return int(row[0])

    def rule_latest(self, rule_skey: str, before: float | None, n: int) -> list[tuple[float, str]]:
        """The ``n`` most recent cold cases of a rule created before ``before``, oldest first."""
        rows = self._db.execute(
            f"SELECT created, case_id FROM cold_rules WHERE skey = ? AND {_BEFORE}"
            " ORDER BY created DESC, case_id DESC LIMIT ?",
            (rule_skey, _INF if before is None else before, n),
        ).fetchall()
        return self._pairs(list(reversed(rows)), f"cold rule {rule_skey}")

    def rule_counts(self, rule_skey: str, before: float | None) -> ColdCounts:
        """How a rule's cold cases created before ``before`` ended."""
        rows = self._db.execute(
            "SELECT code, count(*), min(created), max(created) FROM cold_rules"
            f" WHERE skey = ? AND {_BEFORE} GROUP BY code",
            (rule_skey, _INF if before is None else before),
        ).fetchall()
        if not rows:
            return ColdCounts({}, None, None)
        try:
            return ColdCounts(
                {int(c): int(n) for c, n, _, _ in rows},
                min(float(r[2]) for r in rows),
                max(float(r[3]) for r in rows),
            )
        except CACHE_DAMAGE as e:
            self._damaged(f"the outcomes of cold rule {rule_skey}", e)
            return ColdCounts({}, None, None)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM cases WHERE held = 0").fetchone()[0])
