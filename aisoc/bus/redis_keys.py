"""The Redis keys a bus keeps, by type: finding those that hold another type and moving them aside.

A key written around the bus (a string where a stream or the heartbeats hash belongs) makes every
command on it fail with ``WRONGTYPE``: workers log a ``StorageConflict`` and back off, and nothing on
that key moves until it is repaired. ``aisoc bus repair`` renames each such key to
``KEY.aside-YYYYmmddTHHMMSSZ`` (same hash slot, never deleted: it may be evidence), so the bus
recreates the key it expects on its next write; ``--dry-run`` only lists them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aisoc.events import STREAMS

if TYPE_CHECKING:
    from aisoc.bus.redis import RedisBus

FIXED: dict[str, str] = {
    **{s: "stream" for s in STREAMS},
    "heartbeats": "hash",
    "epoch": "string",
}
"""The shared keys (name after the namespace) and the Redis type the bus keeps at each."""
PREFIXES: dict[str, str] = {
    "case:": "list",
    "mark:": "string",
    "published:": "string",
    "err:": "string",
    "lock:": "string",
    "hold:": "string",
    "waiting:": "hash",
    "waiting-age:": "zset",
    "waiting-due:": "zset",
}
"""Per-item keys by name prefix and their type; keys of other names are not the bus's and are left."""
ASIDE = re.compile(r"\.aside-\d{8}T\d{6}Z(-\d+)?$")
"""The suffix of a key already moved aside (never checked again)."""

MOVE_ASIDE = """
-- KEYS: the key, its new name (same {namespace} hash tag). ARGV: the type the bus keeps at the key.
-- Renames the key only if it still holds another type and the new name is free; returns the type it
-- held, or false when there was nothing to move (repaired meanwhile) or the name is taken.
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' or t == ARGV[1] then return false end
if redis.call('RENAMENX', KEYS[1], KEYS[2]) == 0 then return false end
return t
"""


@dataclass(frozen=True, slots=True)
class MisplacedKey:
    """A bus key holding another Redis type than the bus keeps there."""

    key: str
    found: str
    """The Redis type it holds (``string``, ``hash``, ``list``, ``set``, ``zset``, ``stream``)."""
    expected: str
    moved_to: str | None = None
    """Its new name once moved aside (None: not moved)."""


def expected_type(namespace_prefix: str, key: str) -> str | None:
    """The Redis type the bus keeps at ``key`` (a full key), or None when the key is not the bus's."""
    name = key.removeprefix(namespace_prefix)
    if name == key or ASIDE.search(name):
        return None
    if name in FIXED:
        return FIXED[name]
    return next((kind for prefix, kind in PREFIXES.items() if name.startswith(prefix)), None)


def misplaced(bus: RedisBus, batch: int = 1000) -> list[MisplacedKey]:
    """Every key of ``bus``'s namespace that holds another type than the bus keeps there.

    Walks the namespace with SCAN (marks included: expect about a second per million keys) and asks
    each key's TYPE in pipelines of ``batch``.
    """
    prefix = bus.key("")
    out: list[MisplacedKey] = []
    for chunk in _chunks(_scan(bus, prefix), batch):
        pipe = bus.client.pipeline(transaction=False)
        for key, _ in chunk:
            pipe.type(key)
        found = bus._call(pipe.execute)
        for (key, want), kind in zip(chunk, found, strict=True):
            if kind not in ("none", want):
                out.append(MisplacedKey(key, str(kind), want))
    return sorted(out, key=lambda m: m.key)


def move_aside(bus: RedisBus, keys: list[MisplacedKey], now: datetime) -> list[MisplacedKey]:
    """Rename each misplaced key to ``KEY.aside-TIMESTAMP`` (``-N`` added if that name is taken).

    Returns:
        The keys moved, with their new names; a key repaired meanwhile is left and not returned.
    """
    moved = []
    for m in keys:
        done = move_key_aside(bus.client, m.key, m.expected, now, call=bus._call)
        if done is not None:
            moved.append(replace(m, found=done[0], moved_to=done[1]))
    return moved


def move_key_aside(
    client: Any, key: str, expected: str, now: datetime, call: Callable[..., Any] | None = None
) -> tuple[str, str] | None:
    """Rename ``key`` to ``KEY.aside-TIMESTAMP`` (``-N`` added if that name is taken) if it holds
    another Redis type than ``expected``: for a bus's keys and for those an app keeps beside them.

    Args:
        client: a redis-py client (the new name shares the key's hash tag, so its slot).
        call: runs each command (the bus's error translation); None runs them as they are.

    Returns:
        ``(the type it held, its new name)``, or None when there was nothing to move.
    """
    run = call or (lambda fn, *a, **k: fn(*a, **k))
    script = client.register_script(MOVE_ASIDE)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    for n in range(100):
        target = f"{key}.aside-{stamp}" + (f"-{n}" if n else "")
        if run(client.exists, target):
            continue
        held = run(script, keys=[key, target], args=[expected])
        return None if held is None else (str(held), target)
    return None


def _scan(bus: RedisBus, prefix: str) -> Iterator[tuple[str, str]]:
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
    for raw in bus._rb.scan_iter(match=pattern.encode(), count=1000):
        try:
            key = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue  # the bus names its keys from text: not one of its keys
        want = expected_type(prefix, key)
        if want is not None:
            yield key, want


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
