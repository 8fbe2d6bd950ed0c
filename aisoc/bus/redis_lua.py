"""The Redis bus's Lua scripts: each checks everything before its first write, so an error never
leaves half of it done, and each touches only keys of one ``{namespace}`` hash tag (Redis Cluster)."""

from __future__ import annotations

PUBLISH = """
-- KEYS: audit, mark (audit when none), published (audit when a mark is given),
--       then per event: its stream key and its case-index key (audit when none).
-- ARGV: has_mark, ttl_s, n, then per event: type, payload field ('d' text, 'y' compressed), payload,
--       stream name, case id ("" = none).
-- Returns the work-stream entry ids; false when the mark exists. Without a mark the call is
-- idempotent on its first event id: a retry (redis-py retries after a lost reply) returns the ids
-- the first run wrote instead of publishing twice.
local n = tonumber(ARGV[3])
local ttl = tonumber(ARGV[2])
if n == nil or ttl == nil or ttl < 1 or #ARGV ~= 3 + 5 * n or #KEYS ~= 3 + 2 * n then
  return redis.error_reply('ERR aisoc publish: malformed call')
end
local has_mark = ARGV[1] == '1'
if has_mark then
  if redis.call('EXISTS', KEYS[2]) == 1 then return false end
elseif n > 0 and redis.call('TYPE', KEYS[3])['ok'] ~= 'none' then
  -- Only entry ids written by an earlier run count: anything else at the key (written around the
  -- bus) would swallow the publish; it is published, and the SET below replaces the key.
  local ids = {}
  if redis.call('TYPE', KEYS[3])['ok'] == 'string' then
    for id in string.gmatch(redis.call('GET', KEYS[3]), '%S+') do
      if not string.match(id, '^%d+%-%d+$') then ids = {} break end
      ids[#ids + 1] = id
    end
  end
  if #ids > 0 then return ids end
  redis.log(redis.LOG_WARNING, 'aisoc publish: ' .. KEYS[3] .. ' holds no entry ids (written around the '
    .. 'bus?): replaced')
end
local function kind(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then
    return redis.error_reply('ERR aisoc publish: key ' .. key .. ' holds a ' .. t .. ', not a ' .. want)
  end
end
local bad = kind(KEYS[1], 'stream')
if bad then return bad end
for i = 1, n do
  local f, c = ARGV[3 + (i - 1) * 5 + 2], ARGV[3 + (i - 1) * 5 + 5]
  if f ~= 'd' and f ~= 'y' then return redis.error_reply('ERR aisoc publish: bad payload field') end
  bad = kind(KEYS[2 + 2 * i], 'stream') or (c ~= '' and kind(KEYS[3 + 2 * i], 'list'))
  if bad then return bad end
end
local ids = {}
for i = 1, n do
  local a = 3 + (i - 1) * 5
  local t, f, d, s, c = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  ids[i] = redis.call('XADD', KEYS[2 + 2 * i], '*', 't', t, f, d)
  local aid = redis.call('XADD', KEYS[1], '*', 't', t, f, d, 's', s)
  if c ~= '' then redis.call('RPUSH', KEYS[3 + 2 * i], aid) end
end
if has_mark then
  redis.call('SET', KEYS[2], '1', 'EX', ttl)
elseif n > 0 then
  redis.call('SET', KEYS[3], table.concat(ids, ' '), 'EX', ttl)
end
return ids
"""

TRIM = """
-- KEYS: one work stream. ARGV: how many entries to keep when no group reads it (0: all).
-- Drops entries every group has acked, atomically: the groups' positions and pending entries are
-- read in the same step as the trim, so nothing can move in between. With no group at all, no
-- reader is known: the newest ARGV[1] entries are kept.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then
  if tonumber(ARGV[1]) > 0 then return redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[1]) end
  return 0
end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local keep = nil
for _, g in ipairs(groups) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  local ms, seq = parse(info['last-delivered-id'])
  local candidate = ms .. '-' .. (seq + 1)
  if tonumber(info['pending']) > 0 then
    local summary = redis.call('XPENDING', KEYS[1], info['name'])
    if summary[2] and less(summary[2], candidate) then candidate = summary[2] end
  end
  if keep == nil or less(candidate, keep) then keep = candidate end
end
return redis.call('XTRIM', KEYS[1], 'MINID', keep)
"""

DROP_CASE_IDS = """
-- KEYS: per-case index lists. ARGV: the last audit id dropped by retention.
-- Pops each list's ids up to and including it (lists hold audit ids in publish order). A key that
-- is not a list, or a head that is not an entry id (written around the bus), ends that key's pass
-- and is left as it is: one damaged index must not stop retention for the others.
local ms, seq = string.match(ARGV[1], '^(%d+)-(%d+)$')
ms, seq = tonumber(ms), tonumber(seq)
if ms == nil then return redis.error_reply('ERR aisoc drop case ids: bad entry id') end
local removed = 0
for _, key in ipairs(KEYS) do
  while redis.call('TYPE', key)['ok'] == 'list' do
    local head = redis.call('LINDEX', key, 0)
    if not head then break end
    local hm, hs = string.match(head, '^(%d+)-(%d+)$')
    hm, hs = tonumber(hm), tonumber(hs)
    if hm == nil or hm > ms or (hm == ms and hs > seq) then break end
    redis.call('LPOP', key)
    removed = removed + 1
  end
end
return removed
"""

LOCK = """
-- KEYS: the lock key. ARGV: its time to live in milliseconds.
-- Returns 1 when taken, 0 when held elsewhere, 2 when the key had no expiry: lock() always sets one,
-- so such a key was written around the bus and would otherwise hold the lock forever; it is taken.
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
  return 2
end
return 0
"""

HOLD = """
-- KEYS: the hold key. ARGV: its time to live in milliseconds, the holder.
-- Takes the key for the holder, or renews it when the holder holds it; returns 1 then, 0 when someone
-- else holds it, 2 when the key had no expiry (written around the bus, as for LOCK): it is taken.
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[2] or redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
  if held == false or held == ARGV[2] then return 1 end
  return 2
end
return 0
"""

UNHOLD = """
-- KEYS: the hold key. ARGV: the holder. Deletes the key only while that holder holds it.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

FORGET_GROUP = """
-- KEYS: one work stream. ARGV: the group, the least idle time in ms of its consumers ('' = any),
-- the name of the waiting entries' holder (never a sign of a reader).
-- Destroys the group unless it holds pending entries or (ARGV[2] given) one of its consumers read
-- within ARGV[2] ms, in the same step as those checks. Returns {status, idle ms or -1 (no consumer)}:
-- status 'absent', 'pending', 'active' or 'dropped'.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'absent', -1} end
local found = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  if info['name'] == ARGV[1] then found = info end
end
if found == nil then return {'absent', -1} end
local idle = -1
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  local quiet = tonumber(info['idle'])
  if info['name'] ~= ARGV[3] and (idle < 0 or quiet < idle) then idle = quiet end
end
if tonumber(found['pending']) > 0 then return {'pending', idle} end
if ARGV[2] ~= '' and idle >= 0 and idle < tonumber(ARGV[2]) then return {'active', idle} end
redis.call('XGROUP', 'DESTROY', KEYS[1], ARGV[1])
return {'dropped', idle}
"""
