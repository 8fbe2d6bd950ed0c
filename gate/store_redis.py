"""Approval requests in Redis, next to the Redis bus (same client, keys under the bus's hash tag).

Keys (all ``{ns}:gate:...``): ``req:<id>`` a hash (``v`` version, ``d`` JSON), ``pending`` and ``all``
sorted sets by creation time, ``case:<case_id>`` a set, ``outbox`` a hash of queued events and
``outbox:order`` their order, ``outbox:damaged`` a stream of the entries set aside as unpublishable
(fields ``id``, ``problem`` and ``payload`` as stored). Creation, compare-and-set, pruning and
setting aside run as Lua scripts, so they are atomic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aisoc.events import Event
from gate.store import (
    ApprovalRequest,
    DamagedEntry,
    Noted,
    log,
    log_set_aside,
    note_bad_id,
    read_request,
    readable,
    sort_outbox,
    text_or_bytes,
)

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
if ARGV[5] == 'pending' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
if ARGV[6] == '1' then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1]) end
return 1
"""

_REPLACE = """
local v = redis.call('HGET', KEYS[1], 'v')
if not v or tonumber(v) ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'd', ARGV[4])
if ARGV[5] ~= 'pending' then redis.call('ZREM', KEYS[2], ARGV[1]) end
local n = tonumber(ARGV[6])
for i = 0, n - 1 do
  local id = ARGV[7 + 2 * i]
  if redis.call('HSETNX', KEYS[3], id, ARGV[8 + 2 * i]) == 1 then
    redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[5]), id)
  end
end
return 1
"""


_PRUNE = """
-- KEYS: the request, gate:all, its case's set (gate:all when none), gate:pending. ARGV: its id.
-- Forgets a request that is not pending (checked here, so a request reopened meanwhile stays).
local d = redis.call('HGET', KEYS[1], 'd')
if not d or redis.call('ZSCORE', KEYS[4], ARGV[1]) then return 0 end
if string.find(d, '"state":"pending"', 1, true) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""


_UNLIST = """
-- KEYS: the request, gate:pending. ARGV: its id, its stored version as read ('' when it had none).
-- Takes an ended (or missing) request off the pending set, unless its record changed meanwhile.
if (redis.call('HGET', KEYS[1], 'v') or '') ~= ARGV[2] then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""


_SET_ASIDE = """
-- KEYS: gate:outbox (hash), gate:outbox:order (sorted set), gate:outbox:damaged (stream).
-- ARGV: the entry's id, why it cannot be published. Moves the entry, its payload byte for byte, to
-- the stream, unless another gate process did first (then returns 0).
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
local fields = {'id', ARGV[1], 'problem', ARGV[2]}
local p = redis.call('HGET', KEYS[1], ARGV[1])
if p then fields[5] = 'payload'; fields[6] = p end
redis.call('XADD', KEYS[3], '*', unpack(fields))
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


class RedisRequestStore:
    """``RequestStore`` on Redis.

    Args:
        client: a redis-py client with ``decode_responses=True`` (``RedisBus.client``).
        key: ``name -> "{ns}:name"`` (``RedisBus.key``), so every key shares the bus's hash slot.
    """

    def __init__(self, client: Any, key: Callable[[str], str]) -> None:
        self._r = client
        self._key = key
        self._create = client.register_script(_CREATE)
        self._replace = client.register_script(_REPLACE)
        self._prune = client.register_script(_PRUNE)
        self._set_aside_script = client.register_script(_SET_ASIDE)
        self._unlist = client.register_script(_UNLIST)
        self._noted = Noted()

    def _req(self, request_id: str) -> str:
        return self._key(f"gate:req:{request_id}")

    def _raw(self, *command: Any) -> Any:
        """Run ``command`` and answer bytes (the client decodes every other answer, and one value
        that is not UTF-8 would fail the whole read)."""
        return self._r.execute_command(*command, NEVER_DECODE=True)

    def _ids(self, *command: Any) -> list[str]:
        """The request ids among the members a sorted-set ``command`` answers (see :meth:`_as_ids`)."""
        return self._as_ids(command[1], self._raw(*command))

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
        pipe = self._r.pipeline(transaction=False)
        for rid in ids:
            pipe.execute_command("HMGET", self._req(rid), "v", "d", NEVER_DECODE=True)
        return [(rid, v, d) for rid, (v, d) in zip(ids, pipe.execute(), strict=True)]

    def _load(self, ids: Sequence[str]) -> list[ApprovalRequest]:
        return readable(((rid, v, d) for rid, v, d in self._fetch(ids) if d), self._noted)

    def create(self, request: ApprovalRequest) -> bool:
        case_key = self._key(f"gate:case:{request.case_id}") if request.case_id else self._key("gate:all")
        created = self._create(
            keys=[self._req(request.request_id), self._key("gate:pending"), self._key("gate:all"), case_key],
            args=[
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
        version, data = self._raw("HMGET", self._req(request_id), "v", "d")
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
        done = self._replace(
            keys=[
                self._req(request.request_id),
                self._key("gate:pending"),
                self._key("gate:outbox"),
                self._key("gate:outbox:order"),
                self._key("gate:outbox:seq"),
            ],
            args=args,
        )
        return bool(done)

    def pending(self) -> list[ApprovalRequest]:
        rows = self._fetch(self._ids("ZRANGE", self._key("gate:pending"), 0, -1))
        found = readable(((rid, v, d) for rid, v, d in rows if d), self._noted)
        # The record decides: an ended request (or none at all) left in the set by a hand edit or a
        # bad restore is taken off it, or it would be read on every tick and never pruned.
        version = {rid: v or b"" for rid, v, _ in rows}
        stale = [(r.request_id, r.state.value) for r in found if not r.is_pending]
        stale += [(rid, "missing") for rid, v, d in rows if v is None and d is None]
        for rid, state in stale:
            if self._unlist(keys=[self._req(rid), self._key("gate:pending")], args=[rid, version[rid]]):
                log.warning(
                    "gate store: request %s was in the pending set though its record is %s; taken off it",
                    rid,
                    state,
                    extra={"event_id": rid},
                )
        return [r for r in found if r.is_pending]

    def for_case(self, case_id: str) -> list[ApprovalRequest]:
        return self._load(self._ids("ZRANGE", self._key(f"gate:case:{case_id}"), 0, -1))

    def recent(self, limit: int = 100) -> list[ApprovalRequest]:
        return self._load(self._ids("ZREVRANGE", self._key("gate:all"), 0, max(0, limit - 1)))

    def outbox(self, limit: int = 100) -> list[Event]:
        while True:  # each pass sets aside what it found damaged, so the next reads further
            members = self._raw("ZRANGE", self._key("gate:outbox:order"), 0, max(0, limit - 1))
            if not members:
                return []
            payloads = self._raw("HMGET", self._key("gate:outbox"), *members)
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
            where = f"stream {self._key('gate:outbox:damaged')}"
            for member, event_id, problem in damaged:
                keys = [self._key(f"gate:outbox{k}") for k in ("", ":order", ":damaged")]
                if self._set_aside_script(keys=keys, args=[member, problem]):
                    log_set_aside(event_id, problem, where)

    def damaged_outbox(self, limit: int = 100) -> list[DamagedEntry]:
        found = []
        for _, fields in self._raw("XRANGE", self._key("gate:outbox:damaged"), "-", "+", "COUNT", limit):
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
            pipe = self._r.pipeline(transaction=True)
            pipe.hdel(self._key("gate:outbox"), *event_ids)
            pipe.zrem(self._key("gate:outbox:order"), *event_ids)
            pipe.execute()

    def prune(self, ended_before: datetime, limit: int = 1000) -> int:
        # A request cannot end before it was created: only those created before the cut are read.
        cut = ended_before.timestamp()
        gone: list[ApprovalRequest] = []
        offset, page = 0, max(100, limit)
        while len(gone) < limit:  # pages oldest first; those kept (still open, ended later) are skipped
            all_key = self._key("gate:all")
            members = self._raw("ZRANGEBYSCORE", all_key, "-inf", f"({cut}", "LIMIT", offset, page)
            for req in self._load(self._as_ids(all_key, members)):
                ended = req.ended_at
                if ended is not None and ended.timestamp() < cut:
                    gone.append(req)
            if len(members) < page:
                break
            offset += page
        gone = gone[:limit]
        done = 0
        for req in gone:
            done += int(
                self._prune(
                    keys=[
                        self._req(req.request_id),
                        self._key("gate:all"),
                        self._key(f"gate:case:{req.case_id}") if req.case_id else self._key("gate:all"),
                        self._key("gate:pending"),
                    ],
                    args=[req.request_id],
                )
            )
        return done

    def close(self) -> None:
        """The client belongs to the bus; nothing to release here."""

    def __repr__(self) -> str:
        return f"RedisRequestStore({self._key('gate')!r})"
