"""The projection's SQLite snapshot: case records, reported campaigns, the audit cursor and the epoch.

One file per process (memory is local). Records, cursor and epoch are written in one transaction, so
a snapshot never claims a cursor its records do not reflect.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from aisoc.bus import id_key
from aisoc.events import Event, from_dict
from aisoc.memory.codec import record_from_obj, record_to_obj
from aisoc.memory.cold import COLD_TABLES, ColdStore
from aisoc.memory.projection import Projection
from aisoc.memory.records import CaseRecord, KnownCampaign

log = logging.getLogger(__name__)

FORMAT = "aisoc-memory/5"
"""Snapshot format; a snapshot of another format is ignored and rebuilt from the log (2: actions keep
their duty, deadline and latest reminder or escalation; 3: action events without a case id are kept
here and filed under their action's case; 4: cases keyed by id with their order of first sight,
and the cold tier of cases evicted from the window held in RAM; 5: a review request keeps whether it
is still open, decided in log order)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
  case_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, held INTEGER NOT NULL DEFAULT 1, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cases_held ON cases (held, seq);
CREATE TABLE IF NOT EXISTS campaigns (campaign_id TEXT PRIMARY KEY, data TEXT NOT NULL);
"""
_OLD_CASES = "SELECT 1 FROM pragma_table_info('cases') WHERE name = 'ix'"


@dataclass(frozen=True)
class Loaded:
    """What a snapshot held."""

    cursor: str | None
    epoch: str
    records: list[CaseRecord]
    campaigns: list[KnownCampaign]
    caseless: list[Event]
    """Action events published without a case id (filed through their action)."""
    seqs: list[int]
    """Each held record's order of first sight (same order as ``records``)."""
    next_seq: int
    """The order number the next new case gets."""
    cursor_event: str | None = None
    """The event id of the entry at ``cursor`` (``""``: an entry that does not decode; None: not
    recorded, a snapshot of an older release)."""


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
"""Compact JSON; one encoder for every row (``json.dumps`` builds a new one per call)."""
LOAD_CHUNK = 20_000
"""Rows decoded per ``json.loads`` call while loading (one call per row costs twice as much)."""


class Snapshot:
    """A SQLite file holding one projection.

    Args:
        path: the file (its folder is created).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        if self._db.execute(_OLD_CASES).fetchone():  # format 3 or older: rebuilt from the log
            self._db.executescript("DROP TABLE cases; DELETE FROM meta;")
        self._db.executescript(_SCHEMA)
        self.cold = ColdStore(self._db)
        """The cases evicted from the window held in RAM, with what recall needs to find them."""

    def _meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def load(self) -> Loaded | None:
        """Return what the snapshot holds, or None when it is empty or of another format."""
        meta = self._meta()
        if meta.get("format") != FORMAT or "epoch" not in meta:
            if meta:
                log.info("memory snapshot %s has format %s; rebuilding", self.path, meta.get("format"))
            return None
        records: list[CaseRecord] = []
        cur = self._db.execute("SELECT data FROM cases WHERE held = 1 ORDER BY seq")
        while rows := cur.fetchmany(LOAD_CHUNK):
            records += map(record_from_obj, json.loads("[" + ",".join(r[0] for r in rows) + "]"))
        campaigns = []
        for (data,) in self._db.execute("SELECT data FROM campaigns ORDER BY campaign_id"):
            c = json.loads(data)
            campaigns.append(KnownCampaign(c[0], c[1], frozenset(c[2]), c[3], c[4]))
        caseless = [from_dict(e) for e in json.loads(meta.get("caseless") or "[]")]
        seqs = [s for (s,) in self._db.execute("SELECT seq FROM cases WHERE held = 1 ORDER BY seq")]
        cursor = meta.get("cursor") or None
        if cursor is not None:
            id_key(cursor)  # an audit entry id, or the snapshot is damaged (ValueError)
        return Loaded(
            cursor,
            meta["epoch"],
            records,
            campaigns,
            caseless,
            seqs,
            int(meta.get("seq") or 0),
            meta.get("cursor_event"),
        )

    def save(
        self,
        proj: Projection,
        cursor: str | None,
        epoch: str,
        *,
        full: bool = False,
        cursor_event: str | None = None,
    ) -> int:
        """Write the records changed since the last save (all when ``full``), cursor and epoch (and
        the event id of the entry at the cursor, which tells a replaced log from this one).

        Returns:
            How many case records were written.
        """
        ixs = range(len(proj.records)) if full else sorted(proj.dirty)
        rows = [
            (proj.records[ix].case_id, proj.seqs[ix], _dumps(record_to_obj(proj.records[ix]))) for ix in ixs
        ]
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if full:
                db.execute("DELETE FROM campaigns")
            db.executemany(
                "INSERT OR REPLACE INTO cases (case_id, seq, held, data) VALUES (?, ?, 1, ?)", rows
            )
            if full or proj.campaigns_dirty:
                db.executemany(
                    "INSERT OR REPLACE INTO campaigns (campaign_id, data) VALUES (?, ?)",
                    [
                        (
                            c.campaign_id,
                            _dumps([c.campaign_id, c.tenant, sorted(c.case_ids), c.event_id, c.at]),
                        )
                        for c in proj.campaigns.values()
                    ],
                )
            meta = [
                ("format", FORMAT),
                ("cursor", cursor or ""),
                ("epoch", epoch),
                ("seq", str(proj.next_seq)),
            ]
            if cursor_event is not None:
                meta.append(("cursor_event", cursor_event))
            if full or proj.caseless_dirty:
                caseless = [json.loads(e.to_json()) for e in proj.caseless.values()]
                meta.append(("caseless", json.dumps(caseless)))
            db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        proj.dirty.clear()
        proj.campaigns_dirty = False
        proj.caseless_dirty = False
        return len(rows)

    def clear(self) -> None:
        """Forget everything (the projection is rebuilt from the log)."""
        self._db.executescript(
            "BEGIN IMMEDIATE; DELETE FROM cases; DELETE FROM campaigns; DELETE FROM meta;"
            + " ".join(f"DELETE FROM {t};" for t in COLD_TABLES)
            + " COMMIT;"
        )

    def close(self) -> None:
        """Close the file."""
        self._db.close()
