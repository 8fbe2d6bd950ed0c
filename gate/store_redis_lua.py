"""The Redis approval store's Lua scripts: each runs atomically and touches only keys of the bus's
``{namespace}`` hash tag (one slot on Redis Cluster); the KEYS/ARGV layout heads each one."""

from __future__ import annotations

CHECK = """
-- wrong(i, want): whether KEYS[i] holds something else than the gate keeps there: another Redis
-- type than want, or, for want 'counter', anything but a string of at most 18 digits (what INCR
-- takes). check(wants): -i for the first such key (want '' is not checked), else 0. A script calls
-- check before its first write, so a key written around the gate leaves nothing half done: the
-- caller moves that key aside and runs the script again.
local function wrong(i, want)
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t == 'none' then return false end
  if want ~= 'counter' then return t ~= want end
  if t ~= 'string' then return true end
  local v = redis.call('GET', KEYS[i])
  return #v > 18 or not string.match(v, '^%-?%d+$')
end
local function check(wants)
  for i, want in ipairs(wants) do
    if want ~= '' and wrong(i, want) then return -i end
  end
  return 0
end
"""
"""Prepended to every script that writes: each answers ``-i`` (nothing written) when ``KEYS[i]`` holds
something else than the gate keeps there (see :meth:`gate.store_redis_repair.Keys.run`)."""

CREATE = (
    CHECK
    + """
-- KEYS: the request, gate:pending, gate:all, its case's set (gate:all when none).
-- ARGV: its id, version, record, creation time, state, '1' when it has a case.
-- Writes a new request with every index it belongs in; 0 (nothing written) when its id exists.
local bad = check({'', 'zset', 'zset', 'zset'})
if bad ~= 0 then return bad end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
if ARGV[5] == 'pending' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
if ARGV[6] == '1' then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1]) end
return 1
"""
)

REPLACE = (
    CHECK
    + """
-- KEYS: the request, gate:pending, gate:outbox, gate:outbox:order, gate:outbox:seq.
-- ARGV: its id, the version expected, the new version, the new record, its state, the number of
--       events, then each event's id and payload.
-- Compare-and-set on the version; the events are queued in the outbox in the same step, each with
-- its place in the queue twice: as its score in gate:outbox:order and in the outbox itself, as the
-- field '#<id>' (an event id never holds '#'), from which gate:outbox:order can be rebuilt.
local bad = check({'', 'zset', 'hash', 'zset', 'counter'})
if bad ~= 0 then return bad end
local v = redis.call('HGET', KEYS[1], 'v')
if not v or tonumber(v) ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'd', ARGV[4])
if ARGV[5] ~= 'pending' then redis.call('ZREM', KEYS[2], ARGV[1]) end
local n = tonumber(ARGV[6])
for i = 0, n - 1 do
  local id = ARGV[7 + 2 * i]
  if redis.call('HSETNX', KEYS[3], id, ARGV[8 + 2 * i]) == 1 then
    local seq = redis.call('INCR', KEYS[5])
    redis.call('HSET', KEYS[3], '#' .. id, seq)
    redis.call('ZADD', KEYS[4], seq, id)
  end
end
return 1
"""
)


PRUNE = (
    CHECK
    + """
-- KEYS: the request, gate:all, its case's set (gate:all when none), gate:pending.
-- ARGV: its id, its stored version as read.
-- Forgets a request whose record, read and parsed by the caller (which found it ended long ago), is
-- unchanged since: any change bumps the version, so a request changed meanwhile stays.
local bad = check({'hash', 'zset', 'zset', 'zset'})
if bad ~= 0 then return bad end
if (redis.call('HGET', KEYS[1], 'v') or '') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
"""
)


UNLIST = (
    CHECK
    + """
-- KEYS: the request, gate:pending. ARGV: its id, its stored version as read ('' when it had none).
-- Takes an ended (or missing) request off the pending set, unless its record changed meanwhile.
local bad = check({'hash', 'zset'})
if bad ~= 0 then return bad end
if (redis.call('HGET', KEYS[1], 'v') or '') ~= ARGV[2] then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""
)


UNINDEX = (
    CHECK
    + """
-- KEYS: the request, one of its indexes (gate:all or a case's set). ARGV: its id.
-- Takes a member whose record is gone off the index, unless the record exists (again) by now.
local bad = check({'', 'zset'})
if bad ~= 0 then return bad end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""
)


REINDEX = (
    CHECK
    + """
-- KEYS: the request, gate:pending, gate:all, its case's set (gate:all when none).
-- ARGV: its id, its stored version as read, its creation time, '1' when its record is pending.
-- Puts a request back in every index its record (unchanged since it was read) belongs in: gate:all
-- and its case's set always, gate:pending while pending. Returns what was missing as a bitmask: 1
-- pending, 2 all, 4 its case's set (0: nothing, or the record changed meanwhile).
local bad = check({'hash', 'zset', 'zset', 'zset'})
if bad ~= 0 then return bad end
if (redis.call('HGET', KEYS[1], 'v') or '') ~= ARGV[2] then return 0 end
local added = 0
if ARGV[4] == '1' and redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[1]) == 1 then added = added + 1 end
if redis.call('ZADD', KEYS[3], 'NX', ARGV[3], ARGV[1]) == 1 then added = added + 2 end
if KEYS[4] ~= KEYS[3] and redis.call('ZADD', KEYS[4], 'NX', ARGV[3], ARGV[1]) == 1 then
  added = added + 4
end
return added
"""
)


SET_ASIDE = (
    CHECK
    + """
-- KEYS: gate:outbox (hash), gate:outbox:order (sorted set), gate:outbox:damaged (stream).
-- ARGV: the entry's id, why it cannot be published. Moves the entry, its payload byte for byte, to
-- the stream, unless another gate process did first (then returns 0).
local bad = check({'hash', 'zset', 'stream'})
if bad ~= 0 then return bad end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
local fields = {'id', ARGV[1], 'problem', ARGV[2]}
local p = redis.call('HGET', KEYS[1], ARGV[1])
if p then fields[5] = 'payload'; fields[6] = p end
redis.call('XADD', KEYS[3], '*', unpack(fields))
redis.call('HDEL', KEYS[1], ARGV[1], '#' .. ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""
)


CLEAR = (
    CHECK
    + """
-- KEYS: gate:outbox, gate:outbox:order. ARGV: the ids of events now on the bus.
-- Forgets each entry: its payload, its place in the queue and its order.
local bad = check({'hash', 'zset'})
if bad ~= 0 then return bad end
for _, id in ipairs(ARGV) do
  redis.call('HDEL', KEYS[1], id, '#' .. id)
  redis.call('ZREM', KEYS[2], id)
end
return 1
"""
)


REORDER = (
    CHECK
    + """
-- KEYS: gate:outbox, gate:outbox:order, the name to move the order aside to (same hash tag).
-- ARGV: pairs of a score and an entry's id, oldest first (read from the outbox beforehand).
-- In one step, so that no other gate process queues or publishes in between: moves the order aside
-- when it holds another type than a sorted set (not when another process rebuilt it meanwhile),
-- then puts each entry still in the outbox (not published and cleared meanwhile) back in the order
-- with that score, unless it is there already. Returns {the type moved aside ('' when none), how
-- many were put back}; {'taken', 0} and nothing written when the new name is taken.
local bad = check({'hash'})
if bad ~= 0 then return bad end
local held = redis.call('TYPE', KEYS[2])['ok']
if held == 'none' or held == 'zset' then
  held = ''
elseif redis.call('RENAMENX', KEYS[2], KEYS[3]) == 0 then
  return {'taken', 0}
end
local added = 0
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i + 1]) == 1 then
    added = added + redis.call('ZADD', KEYS[2], 'NX', ARGV[i], ARGV[i + 1])
  end
end
return {held, added}
"""
)


RESEQ = (
    CHECK
    + """
-- KEYS: gate:outbox:seq, gate:outbox:order.
-- Sets the counter to the highest score in the order when it is lower (or missing), so an entry
-- queued next goes after every entry waiting; returns the counter.
local bad = check({'counter', 'zset'})
if bad ~= 0 then return bad end
local top = redis.call('ZRANGE', KEYS[2], 0, 0, 'REV', 'WITHSCORES')
local n = top[2] and math.ceil(tonumber(top[2])) or 0
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < n then redis.call('SET', KEYS[1], n); cur = n end
return cur
"""
)
