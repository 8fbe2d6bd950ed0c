"""Approval requests in Redis, next to the Redis bus (same client, keys under the bus's hash tag).

Keys (all ``{ns}:gate:...``): ``req:<id>`` a hash (``v`` version, ``d`` JSON), ``pending`` and ``all``
sorted sets by creation time, ``case:<case_id>`` a set, ``outbox`` a hash of queued events (and of
each one's place in the queue, under ``#<id>``), ``outbox:order`` their order, ``outbox:seq`` the last
place given, ``outbox:damaged`` a stream of the entries set aside as unpublishable
(fields ``id``, ``problem`` and ``payload`` as stored). Creation, compare-and-set, pruning and
setting aside run as Lua scripts, so they are atomic.

The sorted sets are indexes; the record decides. A request whose record exists but that an index
lacks (a partial restore, a hand edit, an index key evicted by an ``allkeys-*`` maxmemory policy
or deleted; writes themselves are atomic scripts) is found by
:meth:`RedisRequestStore.reindex`, a SCAN of the ``req:*`` keys in bounded steps, and put back; a
member whose record is gone, or a pending-set member whose record ended, is taken off its set where
a listing meets it. An index key holding another Redis type (a string written where the gate keeps a
sorted set) is moved aside to ``KEY.aside-YYYYmmddTHHMMSSZ`` where a listing or the repair meets it
(kept, never deleted, as ``aisoc bus repair`` does for the bus's keys), logged once as a warning, and
rebuilt from the records by a repair pass that starts at once (:attr:`RedisRequestStore.repair_due`).
The outbox keys are handled alike (:mod:`gate.store_redis_repair`): ``outbox:order`` is rebuilt at
once from the outbox entries, each of which carries its place in the queue (the field ``#<id>``),
``outbox:seq`` from the order, and ``outbox:damaged`` starts anew. Every script checks the keys it
writes before its first write, so such a key never leaves a transition half stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from redis.exceptions import ResponseError

from aisoc.events import Event
from gate.errors import UnreadableRequest
from gate.store import (
    ApprovalRequest,
    DamagedEntry,
    Noted,
    Reindexed,
    log,
    log_set_aside,
    note_bad_id,
    read_request,
    readable,
    sort_outbox,
    text_or_bytes,
)
from gate.store_redis_lua import CLEAR, CREATE, PRUNE, REINDEX, REPLACE, SET_ASIDE, UNINDEX, UNLIST
from gate.store_redis_repair import Keys

SCAN_COUNT = 1000
"""Keys one SCAN call of :meth:`RedisRequestStore.reindex` asks Redis to walk (a hint)."""
_MISSING = ((1, "the pending set"), (2, "the set of all requests"), (4, "its case's set"))
"""The bits :data:`REINDEX` answers, and the index each stands for."""


def _glob(text: str) -> str:
    """``text`` as a SCAN pattern that matches itself only (a namespace may hold ``*?[]\\``)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


class RedisRequestStore:
    """``RequestStore`` on Redis.

    Args:
        client: a redis-py client with ``decode_responses=True`` (``RedisBus.client``).
        key: ``name -> "{ns}:name"`` (``RedisBus.key``), so every key shares the bus's hash slot.
    """

    def __init__(self, client: Any, key: Callable[[str], str]) -> None:
        self._r = client
        self._key = key
        self._create = client.register_script(CREATE)
        self._replace = client.register_script(REPLACE)
        self._prune = client.register_script(PRUNE)
        self._set_aside_script = client.register_script(SET_ASIDE)
        self._clear = client.register_script(CLEAR)
        self._unlist = client.register_script(UNLIST)
        self._unindex = client.register_script(UNINDEX)
        self._reindex_script = client.register_script(REINDEX)
        self._noted = Noted()
        self._cursor = 0
        """Where the SCAN of :meth:`reindex` goes on (0: a new pass)."""
        self._asides = 0
        """Index keys of another type moved aside so far (each restarts the repair pass)."""
        self._rebuild = False
        """Whether an index was moved aside and the pass rebuilding it has not finished."""
        self._keys = Keys(client, key, self._index_moved)

    @property
    def repair_due(self) -> bool:
        """Whether an index of another type was moved aside and a repair pass must rebuild it now."""
        return self._rebuild

    def _index_moved(self) -> None:
        """An index key was moved aside (another type than the sorted set the gate keeps there):
        start a repair pass afresh, which rebuilds it from the records."""
        self._asides += 1
        self._cursor = 0
        self._rebuild = True

    def _req(self, request_id: str) -> str:
        return self._key(f"gate:req:{request_id}")

    def _raw(self, *command: Any) -> Any:
        """Run ``command`` and answer bytes (the client decodes every other answer, and one value
        that is not UTF-8 would fail the whole read)."""
        return self._r.execute_command(*command, NEVER_DECODE=True)

    def _ids(self, *command: Any) -> list[str]:
        """The request ids among the members a read ``command`` on an index answers (see
        :meth:`_as_ids`; an index of another type is moved aside and read as empty until rebuilt)."""
        return self._as_ids(command[1], self._keys.read(*command))

    def _as_ids(self, key: str, members: Sequence[bytes]) -> list[str]:
        """``members`` of ``key`` as request ids: one that is not UTF-8 (written by something else
        than the gate) is left out and logged once, so it fails itself and not the read."""
        ids = []
        for member in members:
            try:
                ids.append(member.decode("utf-8"))
            except UnicodeDecodeError:
                note_bad_id(self._noted, key, member)
        return ids

    def _fetch(self, ids: Sequence[str]) -> list[tuple[str, bytes | None, bytes | None]]:
        """``(id, stored version, stored record)`` of each id, as bytes (None when absent)."""
        if not ids:
            return []
        rows = self._records(ids)
        return [(rid, *rows[rid]) for rid in ids if rid in rows]

    def _load(self, index: str, ids: Sequence[str]) -> list[ApprovalRequest]:
        """The readable requests of ``ids``, members of ``index`` (see :meth:`_rows`)."""
        return readable(((rid, v, d) for rid, v, d in self._rows(index, ids) if d), self._noted)

    def _rows(self, index: str, ids: Sequence[str]) -> list[tuple[str, bytes | None, bytes | None]]:
        """``(id, stored version, stored record)`` of ``ids``, members of ``index``; a member whose
        record is gone (a hand edit, a partial restore) is taken off ``index``, logged once, or it
        would be read on every listing and prune for ever."""
        rows = self._fetch(ids)
        for rid in (rid for rid, v, d in rows if v is None and d is None):
            if self._keys.run(self._unindex, [self._req(rid), index], [rid]):
                log.warning(
                    "gate store: %s held request %s, which has no record; taken off it",
                    index,
                    rid,
                    extra={"event_id": rid},
                )
        return rows

    def create(self, request: ApprovalRequest) -> bool:
        case_key = self._key(f"gate:case:{request.case_id}") if request.case_id else self._key("gate:all")
        created = self._keys.run(
            self._create,
            [self._req(request.request_id), self._key("gate:pending"), self._key("gate:all"), case_key],
            [
                request.request_id,
                request.version,
                request.model_dump_json(),
                request.created_at.timestamp(),
                request.state.value,
                "1" if request.case_id else "0",
            ],
        )
        return bool(created)

    def get(self, request_id: str) -> ApprovalRequest | None:
        key = self._req(request_id)
        try:
            version, data = self._raw("HMGET", key, "v", "d")
        except ResponseError as e:  # written around the gate: kept as it is for a person
            if "WRONGTYPE" not in str(e):
                raise
            kind = self._r.type(key)
            raise UnreadableRequest(request_id, f"its key {key} holds a Redis {kind}, not a hash") from None
        if not data and (version is not None or self._r.exists(key)):
            raise UnreadableRequest(request_id, f"its key {key} holds no record (field 'd')")
        return read_request(request_id, data, version) if data else None

    def replace(self, request: ApprovalRequest, events: Sequence[Event] = ()) -> bool:
        args: list[Any] = [
            request.request_id,
            request.version - 1,
            request.version,
            request.model_dump_json(),
            request.state.value,
            len(events),
        ]
        for e in events:
            args += [e.event_id, e.to_json()]
        keys = self._keys
        touched = [self._req(request.request_id), keys.pending, keys.outbox, keys.order, keys.seq]
        done = keys.run(self._replace, touched, args)
        return bool(done)

    def pending(self) -> list[ApprovalRequest]:
        key = self._key("gate:pending")
        rows = self._fetch(self._ids("ZRANGE", key, 0, -1))
        found = readable(((rid, v, d) for rid, v, d in rows if d), self._noted)
        # The record decides: an ended request (or none at all) left in the set by a hand edit or a
        # bad restore is taken off it, or it would be read on every tick and never pruned.
        version = {rid: v or b"" for rid, v, _ in rows}
        stale = [(r.request_id, r.state.value) for r in found if not r.is_pending]
        stale += [(rid, "missing") for rid, v, d in rows if v is None and d is None]
        for rid, state in stale:
            if self._keys.run(self._unlist, [self._req(rid), self._key("gate:pending")], [rid, version[rid]]):
                log.warning(
                    "gate store: request %s was in the pending set though its record is %s; taken off it",
                    rid,
                    state,
                    extra={"event_id": rid},
                )
        return [r for r in found if r.is_pending]

    def for_case(self, case_id: str) -> list[ApprovalRequest]:
        key = self._key(f"gate:case:{case_id}")
        return self._load(key, self._ids("ZRANGE", key, 0, -1))

    def recent(self, limit: int = 100) -> list[ApprovalRequest]:
        key = self._key("gate:all")
        return self._load(key, self._ids("ZREVRANGE", key, 0, max(0, limit - 1)))

    def outbox(self, limit: int = 100) -> list[Event]:
        while True:  # each pass sets aside what it found damaged, so the next reads further
            keys = self._keys
            members = keys.read("ZRANGE", keys.order, 0, max(0, limit - 1))
            if not members:
                return []
            payloads = keys.read("HMGET", keys.outbox, *members)
            entries: list[tuple[Any, str, str | bytes | None, str | None]] = []
            bad_ids: list[tuple[Any, str, str]] = []  # an id that is not UTF-8 is no event's id
            for member, payload in zip(members, payloads, strict=True):
                if isinstance(event_id := text_or_bytes(member), str):
                    entries.append((member, event_id, payload, None))
                else:
                    shown = member.decode("utf-8", "backslashreplace")
                    bad_ids.append((member, shown, "its id is not UTF-8 text"))
            events, damaged = sort_outbox(entries)
            damaged += bad_ids
            if not damaged:
                return events
            where, touched = f"stream {keys.damaged}", [keys.outbox, keys.order, keys.damaged]
            for member, event_id, problem in damaged:
                if keys.run(self._set_aside_script, touched, [member, problem]):
                    log_set_aside(event_id, problem, where)

    def damaged_outbox(self, limit: int = 100) -> list[DamagedEntry]:
        found = []
        for _, fields in self._keys.read("XRANGE", self._keys.damaged, "-", "+", "COUNT", limit):
            payload = fields.get(b"payload")
            found.append(
                DamagedEntry(
                    fields.get(b"id", b"").decode("utf-8", "backslashreplace"),
                    None if payload is None else text_or_bytes(payload),
                    fields.get(b"problem", b"").decode("utf-8", "backslashreplace"),
                )
            )
        return found

    def clear_outbox(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            self._keys.run(self._clear, [self._keys.outbox, self._keys.order], list(event_ids))

    def prune(self, ended_before: datetime, limit: int = 1000) -> int:
        # A request cannot end before it was created: only those created before the cut are read.
        # The record decides, parsed with the model; the script forgets it only if its version is
        # still the one read (any change bumps it). A record that does not parse is kept (logged).
        cut = ended_before.timestamp()
        gone: list[tuple[ApprovalRequest, bytes]] = []
        offset, page = 0, max(100, limit)
        all_key = self._key("gate:all")
        while len(gone) < limit:  # pages oldest first; those kept (still open, ended later) are skipped
            members = self._keys.read("ZRANGEBYSCORE", all_key, "-inf", f"({cut}", "LIMIT", offset, page)
            rows = self._rows(all_key, self._as_ids(all_key, members))
            version = {rid: v or b"" for rid, v, _ in rows}
            for req in readable(((rid, v, d) for rid, v, d in rows if d), self._noted):
                ended = req.ended_at
                if ended is not None and ended.timestamp() < cut:
                    gone.append((req, version[req.request_id]))
            if len(members) < page:
                break
            offset += page
        done = 0
        for req, stored in gone[:limit]:
            case = self._key(f"gate:case:{req.case_id}") if req.case_id else all_key
            done += int(
                self._keys.run(
                    self._prune,
                    [self._req(req.request_id), all_key, case, self._key("gate:pending")],
                    [req.request_id, stored],
                )
            )
        return done

    def reindex(self, limit: int = 1000) -> Reindexed:
        self._keys.check([self._key("gate:pending"), self._key("gate:all")])
        ids = self._scan_ids(limit)
        asides = self._asides
        rows = self._records(ids)
        found = readable(((rid, v, d) for rid, (v, d) in rows.items() if d), self._noted)
        missing = self._missing(found)
        repaired = 0
        for req in found:
            if missing.get(req.request_id):
                repaired += self._put_back(req, rows[req.request_id][0])
        # An index moved aside after this step's SCAN lacks what the pass walked before: start over.
        done = self._cursor == 0 and self._asides == asides
        self._rebuild = self._rebuild and not done
        return Reindexed(len(ids), repaired, done)

    def _scan_ids(self, limit: int) -> list[str]:
        """The ids of the ``req:*`` keys the next SCAN calls of this pass find (about ``limit`` keys
        walked). On a cluster SCAN walks one node: the one holding the namespace's slot, where every
        gate key lives; a failover mid-pass may make the pass miss keys, which the next pass finds."""
        node_of = getattr(self._r, "get_node_from_key", None)
        node = self._r if node_of is None else self._r.get_redis_connection(node_of(self._key("gate:all")))
        prefix = self._key("gate:req:")
        pattern, start = _glob(prefix) + "*", len(prefix.encode("utf-8"))
        members: list[bytes] = []
        for _ in range(max(1, -(-limit // SCAN_COUNT))):
            cursor, keys = node.scan(self._cursor, match=pattern, count=SCAN_COUNT, NEVER_DECODE=True)
            self._cursor = int(cursor)
            members += [k[start:] for k in keys]
            if self._cursor == 0:
                break
        return self._as_ids(f"the keys {pattern}", members)

    def _records(self, ids: Sequence[str]) -> dict[str, tuple[bytes | None, bytes | None]]:
        """``id -> (stored version, stored record)`` of each id whose key is a hash; a key of another
        type (written around the gate) is left out and logged once."""
        pipe = self._r.pipeline(transaction=False)
        for rid in ids:
            pipe.execute_command("HMGET", self._req(rid), "v", "d", NEVER_DECODE=True)
        rows = {}
        for rid, answer in zip(ids, pipe.execute(raise_on_error=False) if ids else [], strict=True):
            if isinstance(answer, ResponseError):
                self._note_failed(self._req(rid), answer)
            else:
                rows[rid] = (answer[0], answer[1])
        return rows

    def _missing(self, found: Sequence[ApprovalRequest]) -> dict[str, bool]:
        """``id -> whether an index its record belongs in lacks it`` (one round trip for all)."""
        pipe = self._r.pipeline(transaction=False)
        wanted = []
        for req in found:
            keys = [self._key("gate:all")]
            keys += [self._key(f"gate:case:{req.case_id}")] if req.case_id else []
            keys += [self._key("gate:pending")] if req.is_pending else []
            for key in keys:
                pipe.zscore(key, req.request_id)
            wanted.append((req.request_id, keys))
        answers = iter(pipe.execute(raise_on_error=False) if wanted else [])
        scores = {rid: [(key, next(answers)) for key in keys] for rid, keys in wanted}  # pipeline order
        refused = {key for found in scores.values() for key, s in found if isinstance(s, ResponseError)}
        self._keys.check(sorted(refused))  # moved aside: read as missing, so put back below
        return {rid: any(not isinstance(s, float) for _, s in found) for rid, found in scores.items()}

    def _put_back(self, req: ApprovalRequest, version: bytes | None) -> int:
        """Put ``req`` back in the indexes it is missing from, unless its record changed since
        ``version`` was read; 1 when it was put back (and logged), else 0."""
        rid = req.request_id
        case = self._key(f"gate:case:{req.case_id}") if req.case_id else self._key("gate:all")
        keys = [self._req(rid), self._key("gate:pending"), self._key("gate:all"), case]
        args = [rid, version or b"", req.created_at.timestamp(), "1" if req.is_pending else "0"]
        try:
            added = int(self._keys.run(self._reindex_script, keys, args))  # an index moved aside: rebuilt
        except ResponseError as e:
            self._note_failed(f"the indexes of request {rid}", e)
            return 0
        if not added:
            return 0
        log.warning(
            "gate store: request %s (%s) was missing from %s (a crash, a hand edit or a partial "
            "restore); put back, so it is listed, reminded, expired and pruned as its record says",
            rid,
            req.state.value,
            ", ".join(name for bit, name in _MISSING if added & bit),
            extra={"event_id": rid},
        )
        return 1

    def _note_failed(self, where: str, error: ResponseError) -> None:
        """Log once that Redis refused a command on ``where`` (a request key of another type than the
        hash the gate keeps there: no record can be read from it, so repairing it is a person's job)."""
        if self._noted.first((where, str(error))):
            log.error("gate store: cannot repair %s: %s; fix or remove the key", where, error)

    def close(self) -> None:
        """The client belongs to the bus; nothing to release here."""

    def __repr__(self) -> str:
        return f"RedisRequestStore({self._key('gate')!r})"
