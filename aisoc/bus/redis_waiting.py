"""The Redis bus's waiting records (``aisoc.bus.waiting``): a hash and two sorted sets per group.

- ``{ns}:waiting:GROUP`` (hash): ``STREAM ENTRY_ID`` -> the record's JSON;
- ``{ns}:waiting-age:GROUP`` (sorted set, every score 0, so ordered by member): ``CASE\\0AGE\\0KEY``
  per record, so a case's head is the first member of its lexical range;
- ``{ns}:waiting-due:GROUP`` (sorted set): each case head that has a due time, scored by it.

Every change runs in one Lua script that keeps the three in step with the stream's pending list
(the ack and the drop of a record are one step). Records written by an earlier release (the hash
alone) are indexed once per group by the first process that meets them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aisoc.bus.records import RawEntry, ReadRequest, Undeliverable
from aisoc.bus.waiting import PARKED, Waiting
from aisoc.errors import StorageConflict

if TYPE_CHECKING:
    from aisoc.bus.redis import RedisBus

log = logging.getLogger(__name__)

_PRELUDE = """
-- KEYS[1..3]: the group's waiting hash, age index and due index (then what each script says).
local H, A, D = KEYS[1], KEYS[2], KEYS[3]
local function decode(json)
  if not json then return nil end
  local ok, rec = pcall(cjson.decode, json)
  if ok and type(rec) == 'table' and type(rec.case) == 'string' and type(rec.stream) == 'string'
      and type(rec.entry_id) == 'string' then
    return rec
  end
  return nil
end
local function pad(n) return string.rep('0', 20 - #n) .. n end
-- The member of a record in the age index: as aisoc.bus.waiting.age orders a case's records.
local function member(rec)
  local ms, seq = string.match(rec.entry_id, '^(%d+)%-?(%d*)$')
  if not ms then ms, seq = '0', '0' end
  if seq == '' then seq = '0' end
  local flag = (tonumber(rec.attempts) or 0) > 0 and '0' or '1'
  return rec.case .. '\\0' .. pad(ms) .. '-' .. pad(seq) .. '-' .. flag .. '\\0' .. rec.stream .. ' '
    .. rec.entry_id
end
local function head(case)
  local m = redis.call('ZRANGEBYLEX', A, '[' .. case .. '\\0', '(' .. case .. '\\1', 'LIMIT', 0, 1)[1]
  if m then return string.match(m, '%z([^%z]*)$') end
  return nil
end
-- Make the due index hold the case's head exactly when it has a due time (``before``: the head
-- before the change, taken out if it no longer is).
local function reindex(case, before)
  local now = head(case)
  if before and before ~= now then redis.call('ZREM', D, before) end
  if now then
    local rec = decode(redis.call('HGET', H, now))
    if rec and type(rec.due) == 'number' then
      redis.call('ZADD', D, string.format('%.17g', rec.due), now)
    else
      redis.call('ZREM', D, now)
    end
  end
end
local function put(key, rec, json)
  local before = head(rec.case)
  local old = decode(redis.call('HGET', H, key))
  if old then redis.call('ZREM', A, member(old)) end
  redis.call('HSET', H, key, json)
  redis.call('ZADD', A, 0, member(rec))
  reindex(rec.case, before)
end
local function drop(key)
  local json = redis.call('HGET', H, key)
  if not json then return 0 end
  redis.call('HDEL', H, key)
  redis.call('ZREM', D, key)
  local rec = decode(json)
  if rec then
    local before = head(rec.case)
    redis.call('ZREM', A, member(rec))
    reindex(rec.case, before)
  end
  return 1
end
"""

PARK = (
    _PRELUDE
    + """
-- KEYS[4]: the entry's stream. ARGV: group, consumer, delivery count, key, record JSON, entry id.
-- Gives the pending entry back to the consumer (fresh idle time, the count given) and stores the
-- record; an entry no longer pending (settled meanwhile) gets none. Returns 1 when stored.
local rec = decode(ARGV[5])
if not rec then return redis.error_reply('ERR aisoc park: not a waiting record') end
local got = redis.call('XCLAIM', KEYS[4], ARGV[1], ARGV[2], 0, ARGV[6], 'IDLE', 0, 'RETRYCOUNT', ARGV[3],
  'JUSTID')
if #got == 0 then return 0 end
put(ARGV[4], rec, ARGV[5])
return 1
"""
)

CLAIM = (
    _PRELUDE
    + """
-- KEYS[4..]: the streams read. ARGV: group, consumer, now, count, then the streams' names.
-- Claims up to count due case heads of those streams, soonest due first, counting a delivery, and
-- marks each in flight (due null, out of the due index); a head whose entry is no longer pending is
-- dropped and the next record of its case is the head. Returns per claimed entry:
-- {index of its stream key among the stream keys, entry id, fields, delivery count}.
local group, consumer, now, want = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local index = {}
for i = 4, #KEYS do index[ARGV[i + 1]] = i end
local out, skipped = {}, 0
while #out < want do
  local due = redis.call('ZRANGEBYSCORE', D, '-inf', now, 'LIMIT', skipped, want - #out)
  if #due == 0 then break end
  for _, key in ipairs(due) do
    local stream, id = string.match(key, '^(%S+) (%S+)$')
    local k = stream and index[stream]
    if not k then
      skipped = skipped + 1  -- a stream this consumer does not read
    else
      local json = redis.call('HGET', H, key)
      local got = json and redis.call('XCLAIM', KEYS[k], group, consumer, 0, id) or {}
      if got[1] and got[1][2] then
        redis.call('HSET', H, key, (string.gsub(json, '"due":[^,}]+', '"due":null', 1)))
        redis.call('ZREM', D, key)
        local p = redis.call('XPENDING', KEYS[k], group, id, id, 1)
        out[#out + 1] = {k - 3, got[1][1], got[1][2], p[1][4]}
      elseif drop(key) == 0 then
        redis.call('ZREM', D, key)
      end
    end
  end
end
return out
"""
)

ACK = (
    _PRELUDE
    + """
-- KEYS[4]: the stream. ARGV: group, stream name, entry ids. Acks the entries and, in the same step,
-- drops their waiting records (the next record of each case becomes its head). Returns how many
-- records went.
local acked = redis.pcall('XACK', KEYS[4], ARGV[1], unpack(ARGV, 3))
if type(acked) == 'table' and acked.err then return acked end
if redis.call('EXISTS', H) == 0 then return 0 end
local dropped = 0
for i = 3, #ARGV do dropped = dropped + drop(ARGV[2] .. ' ' .. ARGV[i]) end
return dropped
"""
)

DEAD = (
    _PRELUDE
    + """
-- KEYS[4]: the entry's stream, KEYS[5]: the dead-letter stream, KEYS[6]: the entry's last error.
-- ARGV: group, stream name, entry id, then the letter's fields and values. Files the letter, acks
-- the entry (its group may be gone: Redis restarted empty) and drops its record. Returns the id.
local id = redis.call('XADD', KEYS[5], '*', unpack(ARGV, 4))
redis.pcall('XACK', KEYS[4], ARGV[1], ARGV[3])
redis.call('DEL', KEYS[6])
drop(ARGV[2] .. ' ' .. ARGV[3])
return id
"""
)

LOOKUP = (
    _PRELUDE
    + """
-- ARGV: n, then n keys, then cases. Returns {the records of the keys, the heads of the cases},
-- '' where there is none.
local n = tonumber(ARGV[1])
local found, heads = {}, {}
for i = 2, n + 1 do found[#found + 1] = redis.call('HGET', H, ARGV[i]) or '' end
for i = n + 2, #ARGV do
  local key = head(ARGV[i])
  heads[#heads + 1] = key and redis.call('HGET', H, key) or ''
end
return {found, heads}
"""
)

INDEX = (
    _PRELUDE
    + """
-- Indexes records an earlier release stored in the hash alone (no age index yet), or whose indexes
-- are gone (moved aside by 'aisoc bus repair', deleted around the bus). Returns how many.
if redis.call('EXISTS', H) == 0 or (redis.call('EXISTS', A) == 1 and redis.call('EXISTS', D) == 1) then
  return 0
end
local flat, cases, n = redis.call('HGETALL', H), {}, 0
for i = 1, #flat, 2 do
  local rec = decode(flat[i + 1])
  if rec then
    redis.call('ZADD', A, 0, member(rec))
    cases[rec.case], n = true, n + 1
  end
end
for case in pairs(cases) do reindex(case, nil) end
return n
"""
)

UNWANTED = (
    _PRELUDE
    + """
-- KEYS[4..]: the streams the group reads. ARGV: count, how many types (-1: any), the types, then the
-- streams' names. Returns up to count records (their JSON) of the group whose stream is none of
-- those, or whose entry's stored type ('t') is none of the types (an entry without one, or gone,
-- is kept). Reads every key of the hash and, with types, every waiting entry's type: in pages of the
-- stream from each next waiting id (a page grows while most of it is waiting entries, shrinks when
-- it jumps over others), so 5,000 waiting entries in a row cost a few XRANGEs, not 5,000. A consumer
-- asks at its first read and once a minute after (without types), not on the delivery path.
local want, any, out = tonumber(ARGV[1]), tonumber(ARGV[2]) < 0, {}
local ntypes, wanted, read = math.max(tonumber(ARGV[2]), 0), {}, {}
for i = 3, 2 + ntypes do wanted[ARGV[i]] = true end
for i = 3 + ntypes, #ARGV do read[ARGV[i]] = KEYS[i - ntypes + 1] end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function before(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
-- The stored type of each of ``ids`` (entry ids of one stream) that is still in it.
local function types_of(key, ids)
  table.sort(ids, before)
  local found, i, page = {}, 1, 16
  while i <= #ids do
    local rows = redis.call('XRANGE', key, ids[i], '+', 'COUNT', page)
    if #rows == 0 then break end
    for _, entry in ipairs(rows) do
      local fields, t = entry[2], ''
      for j = 1, #fields, 2 do
        if fields[j] == 't' then t = fields[j + 1] end
      end
      found[entry[1]] = t
    end
    local last, from = rows[#rows][1], i
    while i <= #ids and not before(last, ids[i]) do i = i + 1 end
    if 2 * (i - from) >= #rows then
      page = math.min(2 * page, 1000)
    else
      page = math.max(1, math.floor(page / 2))
    end
  end
  return found
end
local fields, by_stream = redis.call('HKEYS', H), {}
if not any then
  for _, field in ipairs(fields) do
    local stream, id = string.match(field, '^(%S+) (%S+)$')
    if stream and read[stream] and parse(id) then
      by_stream[stream] = by_stream[stream] or {}
      table.insert(by_stream[stream], id)
    end
  end
  for stream, ids in pairs(by_stream) do by_stream[stream] = types_of(read[stream], ids) end
end
for _, field in ipairs(fields) do
  local stream, id = string.match(field, '^(%S+) (%S+)$')
  if stream then
    local key = read[stream]
    local unwanted = not key
    if key and not any then
      local t = by_stream[stream] and by_stream[stream][id]
      unwanted = t ~= nil and t ~= '' and not wanted[t]
    end
    if unwanted then
      out[#out + 1] = redis.call('HGET', H, field)
      if #out >= want then break end
    end
  end
end
return out
"""
)

TAKE_OVER = """
-- KEYS[1]: the group's waiting hash; KEYS[2..]: the streams read. ARGV: group, consumer, min idle ms,
-- count, the parked consumer's name, then the streams' names.
-- Takes over for the consumer up to count entries of the group pending longer than min idle ms,
-- counting a delivery, from every consumer but the parked one, which holds the waiting entries
-- whose records say when they go next: only each other consumer's stale entries are looked at
-- (XPENDING IDLE per consumer), never the waiting ones. When the parked consumer holds more entries
-- than there are records (records deleted or moved aside around the bus), its entries that have no
-- record are taken over too: nothing else would ever claim them. An entry deleted from its stream
-- leaves the pending list. Returns {per entry: {index of its stream key among the streams, entry id,
-- fields, delivery count}, how many of them had no record}; a stream that is gone answers NOGROUP
-- (the caller recreates it).
local group, consumer, idle, want, parked = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local out, held, orphans, lost = {}, 0, {}, 0
local records = redis.call('TYPE', KEYS[1])['ok'] == 'hash' and redis.call('HLEN', KEYS[1]) or 0
local function claim(k, row)
  local entry = redis.call('XCLAIM', KEYS[k], group, consumer, idle, row[1])[1]
  if type(entry) == 'table' and type(entry[2]) == 'table' then
    out[#out + 1] = {k - 1, entry[1], entry[2], row[4] + 1}
  end
end
for k = 2, #KEYS do
  local holders = redis.pcall('XINFO', 'CONSUMERS', KEYS[k], group)
  if holders.err then
    if string.find(holders.err, 'no such key', 1, true) then
      return redis.error_reply('NOGROUP ' .. holders.err)
    end
    return holders
  end
  for _, c in ipairs(holders) do
    if #out >= want then return {out, 0} end
    local info = {}
    for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
    if info.name == parked then
      held = held + tonumber(info.pending)
      if tonumber(info.pending) > 0 then orphans[#orphans + 1] = k end
    elseif tonumber(info.pending) > 0 then
      local rows = redis.call('XPENDING', KEYS[k], group, 'IDLE', idle, '-', '+', want - #out, info.name)
      for _, row in ipairs(rows) do claim(k, row) end
    end
  end
end
if held > records then
  for _, k in ipairs(orphans) do
    local rows = redis.call('XPENDING', KEYS[k], group, 'IDLE', idle, '-', '+', held, parked)
    for _, row in ipairs(rows) do
      if #out >= want then return {out, lost} end
      if records == 0 or redis.call('HEXISTS', KEYS[1], ARGV[4 + k] .. ' ' .. row[1]) == 0 then
        claim(k, row)
        lost = lost + 1
      end
    end
  end
end
return {out, lost}
"""

ACK_CHUNK = 1000
"""Entry ids per ACK script call (Lua's ``unpack`` has a limit)."""


class RedisWaiting:
    """The waiting-record primitives of one ``RedisBus``."""

    def __init__(self, bus: RedisBus) -> None:
        self._bus = bus
        self._park = bus.client.register_script(PARK)
        self._claim = bus._rb.register_script(CLAIM)
        self._ack = bus.client.register_script(ACK)
        self._dead = bus.client.register_script(DEAD)
        self._lookup = bus.client.register_script(LOOKUP)
        self._index = bus.client.register_script(INDEX)
        self._unwanted = bus.client.register_script(UNWANTED)
        self._take_over = bus._rb.register_script(TAKE_OVER)
        self._indexed: set[str] = set()

    def keys(self, group: str) -> list[str]:
        """The group's hash, age index and due index."""
        return [self._bus.key(f"{name}:{group}") for name in ("waiting", "waiting-age", "waiting-due")]

    def _ready(self, group: str) -> list[str]:
        """The group's keys, after indexing what an earlier release left (once per process, and
        again after one of them was found holding another type: once repaired, it is re-indexed)."""
        keys = self.keys(group)
        if group not in self._indexed:
            self._bus._call(self._index, keys=keys, args=[])
            self._indexed.add(group)
        return keys

    def _run(self, group: str, script: Any, keys: list[str], args: list[Any]) -> Any:
        """Run one of the group's scripts; a key of another type is reported as it is, and the
        group's indexes are checked again at its next call (after 'aisoc bus repair')."""
        try:
            return self._bus._call(script, keys=keys, args=args)
        except StorageConflict:
            self._indexed.discard(group)
            raise

    def records(self, group: str) -> list[Waiting]:
        stored = self._bus._call(self._bus.client.hvals, self.keys(group)[0])
        return [r for r in (Waiting.from_json(v) for v in stored) if r is not None]

    def lookup(
        self, group: str, keys: list[str], cases: set[str]
    ) -> tuple[dict[str, Waiting], dict[str, Waiting]]:
        ordered = sorted(cases)
        found, heads = self._run(group, self._lookup, self._ready(group), [len(keys), *keys, *ordered])
        by_key = {r.key: r for r in (Waiting.from_json(v) for v in found if v) if r is not None}
        first = {c: r for c, v in zip(ordered, heads, strict=True) if v and (r := Waiting.from_json(v))}
        return by_key, first

    def park(self, group: str, consumer: str, record: Waiting, delivery_count: int) -> None:
        args = [group, consumer, max(0, delivery_count), record.key, record.to_json(), record.entry_id]
        keys = [*self._ready(group), self._bus.key(record.stream)]
        self._run(group, self._park, keys, args)

    def claim(self, req: ReadRequest, now: float) -> list[RawEntry]:
        keys = [*self._ready(req.group), *(self._bus.key(s) for s in req.streams)]
        args = [req.group, req.consumer, repr(float(now)), req.count, *req.streams]
        return self._entries(req, self._run(req.group, self._claim, keys, args))

    def take_over(self, req: ReadRequest, min_idle_ms: int) -> list[RawEntry]:
        """Take over the group's stale entries but the waiting ones (``PARKED``'s), in one step."""
        keys = [self.keys(req.group)[0], *(self._bus.key(s) for s in req.streams)]
        args = [req.group, req.consumer, min_idle_ms, req.count, PARKED, *req.streams]
        rows, lost = self._bus._with_groups(req.group, req.streams, self._take_over, keys=keys, args=args)
        if lost:
            log.warning(
                "%s: %d waiting entr%s had no waiting record (deleted or moved aside around the bus): "
                "taken over, delivered as any other",
                req.group,
                lost,
                "y" if lost == 1 else "ies",
            )
        return self._entries(req, rows)

    def unwanted(
        self, group: str, streams: tuple[str, ...], types: frozenset[str] | None, count: int
    ) -> list[Waiting]:
        keys = [*self._ready(group), *(self._bus.key(s) for s in streams)]
        names = sorted(types or ())
        args = [count, -1 if types is None else len(names), *names, *streams]
        found = self._run(group, self._unwanted, keys, args)
        return [r for r in (Waiting.from_json(v) for v in found) if r is not None]

    def _entries(self, req: ReadRequest, rows: list[Any]) -> list[RawEntry]:
        """The entries a script claimed: {index of the stream among ``req.streams`` (from 1), entry
        id, flat fields, delivery count} each."""
        out = []
        for index, raw_id, flat, count in rows:
            fields = dict(zip(flat[::2], flat[1::2], strict=True))
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            stream = req.streams[int(index) - 1]
            out.extend(self._bus._to_raw(stream, [(raw_id, fields)], {entry_id: int(count)}))
        return out

    def ack(self, stream: str, group: str, entry_ids: list[str]) -> int:
        keys = [*self.keys(group), self._bus.key(stream)]
        dropped = 0
        for i in range(0, len(entry_ids), ACK_CHUNK):
            chunk = entry_ids[i : i + ACK_CHUNK]
            dropped += int(self._bus._call(self._ack, keys=keys, args=[group, stream, *chunk]))
        return dropped

    def dead(self, letter: Undeliverable) -> str:
        """File ``letter`` (of an entry), ack its entry and drop its record in one step."""
        fields: list[Any] = []
        for name, value in letter_fields(letter).items():
            fields += [name, value]
        keys = [
            *self.keys(letter.group),
            self._bus.key(letter.stream),
            self._bus.key("dlq"),
            self._bus.key(f"err:{letter.stream}:{letter.group}:{letter.entry_id}"),
        ]
        args = [letter.group, letter.stream, letter.entry_id, *fields]
        return str(self._bus._call(self._dead, keys=keys, args=args))


def letter_fields(letter: Undeliverable) -> dict[str, Any]:
    """The fields a dead letter is filed with (``aisoc.bus.redis._letter`` reads them)."""
    fields: dict[str, Any] = {
        "stream": letter.stream,
        "group": letter.group,
        "entry_id": letter.entry_id,
        "t": letter.event_type or "",
        "event_id": letter.event_id or "",
        "reason": letter.reason,
        "count": letter.delivery_count,
        "at": datetime.now(UTC).isoformat(),
        "enc": letter.encoding,
    }
    if letter.payload is not None:
        fields["d"] = letter.payload
    return fields
