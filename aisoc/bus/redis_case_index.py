"""The Redis bus's per-case audit indexes (``case:<case_id>`` lists of audit entry ids) after
retention: ids of entries no longer in the log are found and removed.

Retention drops a case's ids before it trims their entries (``RedisBus._trim_audit``), so a crash
between the two leaves entries that the next pass trims again, never ids that point at nothing. A
crash of an earlier release (which trimmed first), a restore of the lists without the log, or a hand
edit can still leave such ids, and a case whose entries are all gone would keep its key for ever:
:func:`sweep` walks every index key with SCAN and pops the ids older than the log's first entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aisoc.bus.redis import RedisBus

SWEEP = """
-- KEYS: the audit stream, then per-case index lists (all of one {namespace} hash tag).
-- ARGV: none. Pops, from the head of each list, the ids older than the audit log's first entry
-- (those of an empty log: up to the last id it ever gave), so they are gone from the log; a list
-- left empty is deleted by Redis. A key that is not a list, or a head that is not an entry id
-- (written around the bus), is left as it is and counted. Returns {ids removed, keys left damaged}.
local first
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'stream' then return {0, 0} end
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local inclusive = false
if #head > 0 then
  first = head[1][1]
else
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then first = info[i + 1] end
  end
  inclusive = true
end
local fm, fs = string.match(first or '', '^(%d+)-(%d+)$')
fm, fs = tonumber(fm), tonumber(fs)
if fm == nil then return {0, 0} end
local removed, damaged = 0, 0
for i = 2, #KEYS do
  local key = KEYS[i]
  if redis.call('TYPE', key)['ok'] ~= 'list' then
    damaged = damaged + 1
  else
    while true do
      local id = redis.call('LINDEX', key, 0)
      if not id then break end
      local m, s = string.match(id, '^(%d+)-(%d+)$')
      m, s = tonumber(m), tonumber(s)
      if m == nil then damaged = damaged + 1; break end
      if m > fm or (m == fm and (s > fs or (s == fs and not inclusive))) then break end
      redis.call('LPOP', key)
      removed = removed + 1
    end
  end
end
return {removed, damaged}
"""

BATCH = 500
"""Index keys per script call."""


@dataclass(frozen=True, slots=True)
class Swept:
    """What one sweep of the per-case indexes did."""

    removed: int
    """Ids of entries no longer in the log, popped."""
    damaged: int
    """Keys left as they are: not a list, or a value at their head that is not an entry id."""


def sweep(bus: RedisBus) -> Swept:
    """Pop, from every per-case index of ``bus``, the ids of entries no longer in its audit log.

    Walks the namespace with SCAN (about a second per million keys) and runs :data:`SWEEP` on the
    ``case:*`` keys it finds, ``BATCH`` at a time; each call reads the log's first entry itself, so
    events published meanwhile are never touched. Safe to run at any time and again.
    """
    script = bus.client.register_script(SWEEP)
    removed = damaged = 0
    batch: list[str] = []
    for key in _case_keys(bus):
        batch.append(key)
        if len(batch) == BATCH:
            r, d = bus._call(script, keys=[bus.key("audit"), *batch])
            removed, damaged, batch = removed + int(r), damaged + int(d), []
    if batch:
        r, d = bus._call(script, keys=[bus.key("audit"), *batch])
        removed, damaged = removed + int(r), damaged + int(d)
    return Swept(removed, damaged)


def _case_keys(bus: RedisBus) -> Iterator[str]:
    """The ``case:*`` keys of ``bus``'s namespace (a key whose name is not UTF-8 is not the bus's)."""
    from aisoc.bus.redis_keys import ASIDE

    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", bus.key("case:")) + "*"  # a namespace may hold *?[]\
    for raw in bus._rb.scan_iter(match=pattern.encode(), count=1000):
        try:
            key = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not ASIDE.search(key):
            yield key
