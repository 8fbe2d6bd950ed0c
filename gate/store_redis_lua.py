"""The Redis approval store's Lua scripts: each runs atomically and touches only keys of the bus's
``{namespace}`` hash tag (one slot on Redis Cluster); the KEYS/ARGV layout heads each one."""

from __future__ import annotations

CREATE = """
-- KEYS: the request, gate:pending, gate:all, its case's set (gate:all when none).
-- ARGV: its id, version, record, creation time, state, '1' when it has a case.
-- Writes a new request with every index it belongs in; 0 (nothing written) when its id exists.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
if ARGV[5] == 'pending' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
if ARGV[6] == '1' then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1]) end
return 1
"""

REPLACE = """
-- KEYS: the request, gate:pending, gate:outbox, gate:outbox:order, gate:outbox:seq.
-- ARGV: its id, the version expected, the new version, the new record, its state, the number of
--       events, then each event's id and payload.
-- Compare-and-set on the version; the events are queued in the outbox in the same step.
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


PRUNE = """
-- KEYS: the request, gate:all, its case's set (gate:all when none), gate:pending.
-- ARGV: its id, its stored version as read.
-- Forgets a request whose record, read and parsed by the caller (which found it ended long ago), is
-- unchanged since: any change bumps the version, so a request changed meanwhile stays.
if (redis.call('HGET', KEYS[1], 'v') or '') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
"""


UNLIST = """
-- KEYS: the request, gate:pending. ARGV: its id, its stored version as read ('' when it had none).
-- Takes an ended (or missing) request off the pending set, unless its record changed meanwhile.
if (redis.call('HGET', KEYS[1], 'v') or '') ~= ARGV[2] then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""


UNINDEX = """
-- KEYS: the request, one of its indexes (gate:all or a case's set). ARGV: its id.
-- Takes a member whose record is gone off the index, unless the record exists (again) by now.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""


REINDEX = """
-- KEYS: the request, gate:pending, gate:all, its case's set (gate:all when none).
-- ARGV: its id, its stored version as read, its creation time, '1' when its record is pending.
-- Puts a request back in every index its record (unchanged since it was read) belongs in: gate:all
-- and its case's set always, gate:pending while pending. Returns what was missing as a bitmask: 1
-- pending, 2 all, 4 its case's set (0: nothing, or the record changed meanwhile).
if (redis.call('HGET', KEYS[1], 'v') or '') ~= ARGV[2] then return 0 end
local added = 0
if ARGV[4] == '1' and redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[1]) == 1 then added = added + 1 end
if redis.call('ZADD', KEYS[3], 'NX', ARGV[3], ARGV[1]) == 1 then added = added + 2 end
if KEYS[4] ~= KEYS[3] and redis.call('ZADD', KEYS[4], 'NX', ARGV[3], ARGV[1]) == 1 then
  added = added + 4
end
return added
"""


SET_ASIDE = """
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
