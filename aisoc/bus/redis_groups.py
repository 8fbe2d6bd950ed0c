"""The Redis bus's side of ``aisoc.bus.groups``: each group's position as trimming sees it (XINFO
GROUPS, XPENDING), its idle time (the least ``idle`` of XINFO CONSUMERS, the waiting entries' holder
aside), its pending entries, and its removal (XGROUP DESTROY in a script that checks first). Every
call touches one work stream's key: one hash slot, as on Redis Cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from aisoc.bus.groups import GroupPosition
from aisoc.bus.records import RawEntry, id_key
from aisoc.bus.waiting import PARKED

if TYPE_CHECKING:
    from aisoc.bus.redis import RedisBus


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "backslashreplace")


def positions(bus: RedisBus, stream: str) -> list[GroupPosition]:
    """Every group of ``stream``: its floor, pending count, entries not acked and idle seconds."""
    key = bus.key(stream)
    try:
        info = bus._call(bus._r.xinfo_groups, key)
        newest = _text(bus._call(bus._rb.xinfo_stream, key)["last-generated-id"]) if info else ""
    except ResponseError:
        return []  # no such stream yet
    out = []
    for g in info:
        name, last, pending = str(g["name"]), str(g["last-delivered-id"]), int(g["pending"])
        ms, seq = id_key(last)
        floor = (ms, seq + 1)
        if pending:
            oldest = bus._call(bus._r.xpending, key, name).get("min")
            if oldest:
                floor = min(floor, id_key(_text(oldest)))
        # As in stats(): a group whose last delivered id is the newest is caught up whatever the
        # lag counter says (a restart from the AOF can leave it stale).
        lag = 0 if last == newest else g.get("lag")
        readers = [c for c in bus._call(bus._r.xinfo_consumers, key, name) if str(c["name"]) != PARKED]
        idle = min(int(c["idle"]) for c in readers) / 1000 if readers else None
        out.append(GroupPosition(name, floor, pending, None if lag is None else pending + int(lag), idle))
    return out


def pending_of(bus: RedisBus, stream: str, group: str, count: int) -> list[RawEntry]:
    """Up to ``count`` of ``group``'s pending entries on ``stream``, oldest first (one whose entry
    is gone, deleted around the bus, comes without a payload: it is still filed)."""
    key = bus.key(stream)
    try:
        listed = bus._call(bus._r.xpending_range, key, group, min="-", max="+", count=count)
    except ResponseError:
        return []  # the group (or the stream) is gone
    if not listed:
        return []
    pipe = bus._rb.pipeline(transaction=False)
    for p in listed:
        pipe.xrange(key, p["message_id"], p["message_id"], count=1)
    rows: list[Any] = bus._call(pipe.execute)
    out = []
    for p, found in zip(listed, rows, strict=True):
        entry_id, times = _text(p["message_id"]), int(p["times_delivered"])
        raw = bus._to_raw(stream, found, {entry_id: times}) if found else []
        out.extend(raw or [RawEntry(stream, entry_id, "", None, None, times)])
    return out


def drop(bus: RedisBus, stream: str, group: str, idle_s: float | None) -> tuple[str, float | None]:
    """XGROUP DESTROY ``group`` on ``stream`` unless it holds pending entries or was active within
    ``idle_s`` (one script: see ``redis_lua.FORGET_GROUP``)."""
    least = "" if idle_s is None else int(idle_s * 1000)
    status, idle_ms = bus._call(bus._forget_script, keys=[bus.key(stream)], args=[group, least, PARKED])
    if status == "dropped":
        bus._groups.discard((stream, group))
    return str(status), None if int(idle_ms) < 0 else int(idle_ms) / 1000
