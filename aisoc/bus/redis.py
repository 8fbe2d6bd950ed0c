"""The Redis Streams bus: durable, multi-process, the production path.

Every key of one SOC starts with the ``{namespace}`` hash tag, so publish + audit mirror + mark run
in one Lua script even on Redis Cluster. A Redis that restarts empty answers ``NOGROUP``: groups are
recreated and consumers carry on.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from redis.exceptions import (
    AskError,
    ClusterError,
    RedisClusterUnreachableError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aisoc.bus import redis_groups, zdict
from aisoc.bus.audit import AuditLog, decoded, readable
from aisoc.bus.base import Bus
from aisoc.bus.delivery import Delivery
from aisoc.bus.groups import TRIMMED_STREAMS, GroupPosition
from aisoc.bus.records import (
    AuditEntry,
    BrokenEntry,
    BusStats,
    DeadLetter,
    GroupStats,
    Payload,
    RawEntry,
    ReadRequest,
    StreamStats,
    Undeliverable,
)
from aisoc.bus.redis_case_index import sweep as sweep_case_index
from aisoc.bus.redis_durability import check_durability
from aisoc.bus.redis_keys import MisplacedKey, misplaced, move_aside
from aisoc.bus.redis_lua import DROP_CASE_IDS, FORGET_GROUP, HOLD, LOCK, PUBLISH, TRIM, UNHOLD
from aisoc.bus.redis_waiting import RedisWaiting, letter_fields
from aisoc.bus.waiting import PARKED, Waiting
from aisoc.errors import BusError, ContractError, StorageConflict
from aisoc.events import WORK_STREAMS, Event, from_json
from aisoc.redisconn import CLUSTER_SCHEMES, connect

T = TypeVar("T")
log = logging.getLogger(__name__)

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, RedisClusterUnreachableError)
"""What redis-py raises when no server answers (a LOADING server too: BusyLoadingError)."""

_ENTRY_ID = re.compile(rb"\d+-\d+")
"""A Redis stream entry id, as read from a per-case index list."""
COMPRESS_MIN = 1024
"""Event JSON of at least this many bytes is stored compressed (field ``y``: zlib with a preset
dictionary, ``aisoc.bus.zdict``; entries of earlier releases in ``z``: plain zlib): traces compress
about 3.5x, and Redis memory is what a busy SOC runs out of first."""
CLUSTER_SETTLE_S = 30.0
"""How long a call keeps retrying while a cluster slot migrates or a master fails over."""


def _case_of(payload: str | bytes | None) -> str | None:
    """The case id inside a stored event's JSON, or None (retention only: not the hot path)."""
    try:
        value = json.loads(payload or b"{}").get("case_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _successor(entry_id: str) -> str:
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


def _str(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "backslashreplace")


def _stored(text: str) -> tuple[str, str | bytes]:
    """The field and value an event's JSON is stored under: ``y`` (compressed with the preset
    dictionary) from COMPRESS_MIN bytes, else ``d`` (text).

    Raises:
        ContractError: the JSON is longer than readers accept (``zdict.MAX_SIZE``); nothing is
            written, so no reader meets an entry it must refuse.
    """
    if len(text) < COMPRESS_MIN:
        return "d", text
    data = text.encode()
    if len(data) > zdict.MAX_SIZE:
        raise ContractError(
            f"event JSON of {len(data)} bytes is over the bus's limit of {zdict.MAX_SIZE} bytes"
        )
    return "y", zdict.compress(data)


def _payload(fields: dict[bytes, bytes]) -> str | bytes | None:
    """An entry's payload: its text, the raw bytes when they are not UTF-8 or do not decompress
    (poison, dead-lettered), or None when the entry has none."""
    value = fields.get(b"d")
    if value is None:
        if (packed := fields.get(b"y")) is not None:
            try:
                value = zdict.decompress(packed)
            except ValueError as e:
                log.warning("a stored payload does not decompress (%s): kept as raw bytes", e)
                return packed
        elif (packed := fields.get(b"z")) is not None:
            try:
                unpacker = zlib.decompressobj()
                value = unpacker.decompress(packed, zdict.MAX_SIZE + 1)
                if len(value) > zdict.MAX_SIZE or not unpacker.eof:
                    log.warning("a stored zlib payload is truncated or over %d bytes", zdict.MAX_SIZE)
                    return packed  # a deflate bomb or a truncated stream: poison, dead-lettered
            except zlib.error:
                return packed
        else:
            return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _event(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Event:
    """Decode an audit entry read as bytes.

    Raises:
        ContractError: no payload, not UTF-8 text, or not a valid event.
    """
    payload = _payload(fields)
    if not isinstance(payload, str):
        raise ContractError(f"audit entry {_str(entry_id)}: no payload, or not UTF-8 text")
    stored_type = fields.get(b"t")
    return from_json(payload, None if not stored_type else _str(stored_type))


def _letter(dlq_id: str, raw: dict[bytes, bytes]) -> DeadLetter:
    """A dead-letter entry read as bytes. An entry that was not written by the bus (fields missing,
    not UTF-8, a count or time that does not parse) is still listed, with what it holds: a broken
    letter must not hide the others from ``aisoc bus dlq``."""
    f = {_str(k): v for k, v in raw.items()}

    def text(name: str) -> str | None:
        value = f.get(name)
        return None if value is None else _str(value)

    payload, encoding = f.get("d"), text("enc") or "utf-8"
    if payload is not None:
        try:
            payload_text = payload.decode("utf-8")
        except UnicodeDecodeError:
            payload_text, encoding = base64.b64encode(payload).decode("ascii"), "base64"
    try:
        count = int(text("count") or 0)
    except ValueError:
        count = 0
    try:
        failed_at = datetime.fromisoformat(text("at") or "")
    except ValueError:
        failed_at = datetime.fromtimestamp(int(dlq_id.partition("-")[0]) / 1000, UTC)
    known = ("stream", "group", "reason")
    return DeadLetter(
        stream=text("stream") or "",
        group=text("group") or "",
        entry_id=text("entry_id") or "-",
        event_type=text("t") or None,
        event_id=text("event_id") or None,
        reason=text("reason")
        or f"a dead-letter entry without {', '.join(k for k in known if k not in f)} (fields: "
        f"{', '.join(sorted(f)) or 'none'})",
        payload=None if payload is None else payload_text,
        delivery_count=count,
        encoding=encoding,
        id=dlq_id,
        failed_at=failed_at,
    )


class _RedisAudit(AuditLog):
    def __init__(self, bus: RedisBus) -> None:
        self._bus = bus

    def scan(self, since: str | None = None, limit: int | None = None) -> Iterator[AuditEntry | BrokenEntry]:
        r, key = self._bus._rb, self._bus._key("audit")
        start = "-" if since is None else f"({since}"
        remaining = limit
        while remaining is None or remaining > 0:
            page = 1000 if remaining is None else min(1000, remaining)
            rows = self._bus._call(r.xrange, key, start, "+", count=page)
            for entry_id, fields in rows:
                stored = fields.get(b"t")
                yield decoded(
                    _str(entry_id),
                    None if stored is None else _str(stored),
                    _payload(fields),
                    lambda: _event(entry_id, fields),  # noqa: B023
                )
            if len(rows) < page:
                return
            start = f"({_str(rows[-1][0])}"
            if remaining is not None:
                remaining -= len(rows)

    def entries(self, since: str | None = None, limit: int | None = None) -> Iterator[AuditEntry]:
        return self._decodable(since, limit)

    def entry_at(self, entry_id: str) -> AuditEntry | BrokenEntry | None:
        rows = self._bus._call(self._bus._rb.xrange, self._bus._key("audit"), entry_id, entry_id, count=1)
        if not rows:
            return None
        found_id, fields = rows[0]
        stored = fields.get(b"t")
        return decoded(
            _str(found_id),
            None if stored is None else _str(stored),
            _payload(fields),
            lambda: _event(found_id, fields),
        )

    def for_case(self, case_id: str) -> list[Event]:
        r, key = self._bus._rb, self._bus._key("audit")
        listed = self._bus._call(r.lrange, self._bus._key(f"case:{case_id}"), 0, -1)
        ids = [i for i in listed if _ENTRY_ID.fullmatch(i)]
        if len(ids) < len(listed):  # written around the bus: skipped, or the case could not be read
            log.warning(
                "case index of %s holds %d values that are not entry ids; skipped",
                case_id,
                len(listed) - len(ids),
            )
        pipe = r.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xrange(key, entry_id, entry_id, count=1)
        rows = self._bus._call(pipe.execute) if ids else []
        decoded = (
            readable(_str(found[0][0]), lambda: _event(found[0][0], found[0][1]))  # noqa: B023
            for found in rows
            if found
        )
        return [e for e in decoded if e is not None]

    def last_id(self) -> str | None:
        rows = self._bus._call(self._bus._rb.xrevrange, self._bus._key("audit"), count=1)
        return _str(rows[0][0]) if rows else None

    def first_id(self) -> str | None:
        rows = self._bus._call(self._bus._rb.xrange, self._bus._key("audit"), count=1)
        return _str(rows[0][0]) if rows else None

    def __len__(self) -> int:
        return int(self._bus._call(self._bus._r.xlen, self._bus._key("audit")))

    @property
    def epoch(self) -> str:
        r, key = self._bus._r, self._bus._key("epoch")
        self._bus._call(r.set, key, uuid.uuid4().hex, nx=True)
        return str(self._bus._call(r.get, key))


class RedisBus(Bus):
    """Redis Streams bus (``Bus("redis://host:6379/0")``); needs the ``redis`` extra."""

    schemes = ("redis", "rediss", "unix", *CLUSTER_SCHEMES)

    def __init__(self, url: str | None = None, **options: Any) -> None:
        super().__init__(url, **options)
        conn: dict[str, Any] = {"protocol": 2, "socket_timeout": 30, "socket_connect_timeout": 5}
        try:
            # redis-py types every reply as a union with Awaitable; treat the clients as untyped.
            self._r: Any = connect(self.url, health_check_interval=30, **conn)
            # Entries are read as bytes: one that is not UTF-8 must not fail a whole batch.
            self._rb: Any = connect(self.url, decode=False, **conn)
        except ValueError as e:
            raise BusError(str(e)) from e
        except _UNREACHABLE as e:  # a cluster with no seed answering, too
            raise BusError(f"Redis at {self._safe_url()} is unreachable: {e}") from e
        self._publish_script = self._r.register_script(PUBLISH)
        self._trim_script = self._r.register_script(TRIM)
        self._forget_script = self._r.register_script(FORGET_GROUP)
        self._drop_case_ids = self._r.register_script(DROP_CASE_IDS)
        self._lock_script = self._r.register_script(LOCK)
        self._hold_script = self._r.register_script(HOLD)
        self._unhold_script = self._r.register_script(UNHOLD)
        self._groups: set[tuple[str, str]] = set()
        self._audit = _RedisAudit(self)
        self._wait = RedisWaiting(self)
        self._waitaof: bool | None = None
        """Whether publishes wait for WAITAOF; None until Redis answered the durability check."""
        try:
            self._waitaof = check_durability(self, self.durability)
        except BusError as e:
            if not isinstance(e.__cause__, _UNREACHABLE):
                raise  # a Redis that cannot keep the promise: refused at start
            # Redis is down (or loading) as the process starts: like durability=fast, wait for it;
            # nothing is published before the check has passed.
            log.warning(
                "durability=%s: %s; its persistence settings are checked before the first publish",
                self.durability,
                e,
            )

    def misplaced_keys(self) -> list[MisplacedKey]:
        """Keys of this namespace holding another Redis type than the bus keeps there (written around
        the bus): what touches one fails with a ``StorageConflict`` until it is moved aside."""
        return misplaced(self)

    def move_aside(self, keys: list[MisplacedKey]) -> list[MisplacedKey]:
        """Rename each of ``keys`` to ``KEY.aside-TIMESTAMP`` (never deleted); the bus recreates the
        key it expects on its next write.

        Returns:
            The keys moved, with their new names (one repaired meanwhile is left alone).
        """
        return move_aside(self, keys, datetime.now(UTC))

    @property
    def client(self) -> Any:
        """The redis-py client (for components that keep their own state next to the bus, under
        ``key(...)`` names). It decodes replies as text: read the bus's own streams through the bus,
        whose payloads may be stored compressed."""
        return self._r

    def key(self, name: str) -> str:
        """Return the namespaced key ``{namespace}:name`` (same hash slot as the streams)."""
        return self._key(name)

    def _key(self, name: str) -> str:
        return f"{{{self.namespace}}}:{name}"

    @property
    def audit(self) -> AuditLog:
        return self._audit

    def close(self) -> None:
        self._r.close()
        self._rb.close()

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        deadline: float | None = None
        while True:
            try:
                return fn(*args, **kwargs)
            except _UNREACHABLE as e:
                raise BusError(f"Redis at {self._safe_url()} is unreachable: {e}") from e
            except (ClusterError, TryAgainError, AskError, SlotNotCoveredError) as e:
                # Before ResponseError: redis-py's CLUSTERDOWN, TRYAGAIN and ASK errors are ResponseErrors
                # too, and were re-raised raw (a worker's heartbeat then ended the process).
                # A slot being migrated (TRYAGAIN while a script's keys are split) or a failover
                # under way: redis-py's own redirections ran out. Every write here is idempotent
                # (publishes on their event ids, acks, marks), so try again for a while.
                now = time.monotonic()
                deadline = deadline or now + CLUSTER_SETTLE_S
                if now >= deadline:
                    raise BusError(f"Redis Cluster at {self._safe_url()} did not settle: {e}") from e
                time.sleep(0.1)
            except ResponseError as e:
                if "WRONGTYPE" not in str(e):
                    raise
                # Something wrote around the bus (a string where a stream belongs): no retry can
                # help, and the operator needs the key to repair, not a traceback.
                keys = self._keys_in(args, kwargs)
                raise StorageConflict(
                    f"Redis key {' or '.join(keys) or 'of the bus'} holds another type than the bus "
                    f"keeps there (written around the bus?); check it with TYPE and remove or rename "
                    f"it: {e}",
                    key=keys[0] if len(keys) == 1 else None,
                ) from e

    def _keys_in(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
        """The bus's keys among a call's arguments (stream dicts included), for error messages."""
        prefix = self._key("")
        found: list[str] = []
        for value in (*args, *kwargs.values()):
            for item in value if isinstance(value, dict | list) else [value]:
                name = _str(item) if isinstance(item, bytes | str) else ""
                if name.startswith(prefix) and name not in found:
                    found.append(name)
        return found

    def _safe_url(self) -> str:
        head, sep, tail = self.url.rpartition("@")
        return f"{self.url.split('://')[0]}://***@{tail}" if sep else self.url

    # --- groups ---------------------------------------------------------------------------------

    def _ensure_groups(self, group: str, streams: tuple[str, ...]) -> None:
        for name in streams:
            if (name, group) in self._groups:
                continue
            try:
                self._call(self._r.xgroup_create, self._key(name), group, "0", mkstream=True)
            except ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise
            self._groups.add((name, group))

    def _with_groups(
        self, group: str, streams: tuple[str, ...], fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        self._ensure_groups(group, streams)
        try:
            return self._call(fn, *args, **kwargs)
        except ResponseError as e:
            if "NOGROUP" not in str(e):
                raise
            # Redis came back empty (it keeps nothing on disk here): recreate and carry on.
            self._groups = {g for g in self._groups if g[1] != group}
            self._ensure_groups(group, streams)
            return self._call(fn, *args, **kwargs)

    # --- primitives -----------------------------------------------------------------------------

    def _append(self, events: list[Event], mark: tuple[str, str] | None, ttl_s: int) -> list[str] | None:
        keys = [self._key("audit"), self._key(f"mark:{mark[0]}:{mark[1]}") if mark else ""]
        args: list[Any] = ["1" if mark else "0", ttl_s, len(events)]
        for e in events:
            keys.append(self._key(e.STREAM))
            keys.append(self._key(f"case:{e.case_id}") if e.case_id else self._key("audit"))
            args.extend((e.type, *_stored(e.to_json()), e.STREAM, e.case_id or ""))
        if mark:
            keys.insert(2, self._key("audit"))
        else:
            keys[1] = self._key("audit")
            keys.insert(2, self._key(f"published:{events[0].event_id}") if events else self._key("audit"))
        if self._waitaof is None:
            # Raises BusError while Redis is unreachable (the publisher retries), or for a Redis that
            # cannot keep the promise (then every publish is refused, naming the setting).
            self._waitaof = check_durability(self, self.durability)
        try:
            if self._waitaof:
                # One round trip: the script, then WAITAOF for the fsync of what it wrote.
                pipe = self._r.pipeline(transaction=False)
                self._publish_script(keys=keys, args=args, client=pipe)
                pipe.execute_command("WAITAOF", 1, 0, 0)
                ids, (local, _) = self._call(pipe.execute)
                if int(local) < 1:
                    raise BusError("Redis did not confirm the fsync of a publish (WAITAOF)")
            else:
                ids = self._call(self._publish_script, keys=keys, args=args)
        except ResponseError as e:
            raise self._conflict(e, events) from e
        return None if ids is None else [_str(i) for i in ids]

    def _conflict(self, error: ResponseError, events: list[Event]) -> Exception:
        """The publish script's refusal of a key of the wrong type, as a StorageConflict naming the
        key (and the case, when the key is that case's own index); any other error as it came."""
        found = re.search(r"aisoc publish: key (\S+) holds a (\S+), not a (\S+)", str(error))
        if found is None:
            return error
        key = found.group(1)
        case_id = next(
            (e.case_id for e in events if e.case_id and self._key(f"case:{e.case_id}") == key), None
        )
        return StorageConflict(
            f"Redis key {key} holds a {found.group(2)} where the bus keeps a {found.group(3)} (written "
            "around the bus?): nothing was published; remove or rename the key "
            f"({'only case ' + case_id + ' is affected' if case_id else 'every publish is affected'})",
            key=key,
            case_id=case_id,
        )

    def _inject(self, stream: str, payload: str, event_type: str) -> str:
        return str(self._call(self._r.xadd, self._key(stream), {"t": event_type, "d": payload}))

    def _entry_time(self, stream: str, entry_id: str) -> float | None:
        ms, sep, _ = entry_id.partition("-")
        return int(ms) / 1000 if sep and ms.isdigit() else None

    def _has_mark(self, role: str, event_id: str) -> bool:
        return bool(self._call(self._r.exists, self._key(f"mark:{role}:{event_id}")))

    def _to_raw(self, name: str, entries: list[Any], counts: dict[str, int] | None) -> list[RawEntry]:
        out = []
        for raw_id, fields in entries:
            if not fields:
                continue
            entry_id = _str(raw_id)
            target = fields.get(b"g")
            out.append(
                RawEntry(
                    name,
                    entry_id,
                    _str(fields.get(b"t", b"")),
                    _payload(fields),
                    None if target is None else _str(target),
                    counts.get(entry_id, 1) if counts is not None else 1,
                )
            )
        return out

    def _read(self, req: ReadRequest, block_ms: int) -> list[RawEntry]:
        keys = {self._key(s): ">" for s in req.streams}
        resp = self._with_groups(
            req.group,
            req.streams,
            self._rb.xreadgroup,
            req.group,
            req.consumer,
            keys,
            count=req.count,
            block=block_ms or None,
        )
        out: list[RawEntry] = []
        for key, entries in resp or []:
            out.extend(self._to_raw(_str(key).rsplit(":", 1)[1], entries, None))
        return out

    def _take_over(self, req: ReadRequest, min_idle_ms: int) -> list[RawEntry]:
        return self._wait.take_over(req, min_idle_ms)

    def _ack(self, stream: str, group: str, entry_ids: list[str]) -> int:
        return self._wait.ack(stream, group, entry_ids) if entry_ids else 0

    def _make_due(self, d: Delivery, delivery_count: int, reason: str | None) -> None:
        pipe = self._r.pipeline(transaction=True)
        pipe.xclaim(
            self._key(d.stream),
            d.group,
            d.consumer,
            0,
            [d.entry_id],
            idle=self.visibility_timeout_ms + 1000,
            retrycount=delivery_count,
            justid=True,
        )
        if reason is not None:
            pipe.set(self._key(f"err:{d.stream}:{d.group}:{d.entry_id}"), reason[:2000], ex=7 * 86400)
        try:
            self._call(pipe.execute)
        except ResponseError as e:
            if "NOGROUP" not in str(e):
                raise
            raise BusError(
                f"cannot give back {d.stream}#{d.entry_id} to group {d.group!r}: the group no longer "
                "exists (Redis restarted without its data?); the entry is gone with it"
            ) from e

    def _waiting(self, group: str) -> list[Waiting]:
        return self._wait.records(group)

    def _waiting_for(
        self, group: str, keys: list[str], cases: set[str]
    ) -> tuple[dict[str, Waiting], dict[str, Waiting]]:
        return self._wait.lookup(group, keys, cases)

    def _park(self, group: str, consumer: str, record: Waiting, delivery_count: int) -> None:
        self._wait.park(group, consumer, record, delivery_count)

    def _waiting_unwanted(
        self, group: str, streams: tuple[str, ...], types: frozenset[str] | None, count: int
    ) -> list[Waiting]:
        return self._wait.unwanted(group, streams, types, count)

    def _claim_waiting(self, req: ReadRequest, now: float) -> list[RawEntry]:
        return self._wait.claim(req, now)

    def _last_error(self, stream: str, group: str, entry_id: str) -> str | None:
        key = self._key(f"err:{stream}:{group}:{entry_id}")
        try:
            value = self._call(self._r.get, key)
        except StorageConflict as e:
            # Written around the bus: the entry is still dead-lettered (the letter's DEL clears the
            # key), or one such key would fail every read of its group for ever.
            log.warning("last error of %s#%s for %s is unreadable: %s", stream, entry_id, group, e)
            return f"unreadable: {key} holds another type than the bus keeps there"
        return None if value is None else str(value)

    def _dead(self, letter: Undeliverable) -> str:
        if letter.entry_id != "-":
            return self._wait.dead(letter)  # with the ack of its entry and the drop of its record
        return str(self._call(self._r.xadd, self._key("dlq"), letter_fields(letter)))

    def _group_names(self, stream: str) -> set[str]:
        try:
            info = self._call(self._r.xinfo_groups, self._key(stream))
        except ResponseError:
            return set()  # no such stream any more
        return {str(g["name"]) for g in info}

    def _positions(self, stream: str) -> list[GroupPosition]:
        return redis_groups.positions(self, stream)

    def _pending_of(self, stream: str, group: str, count: int) -> list[RawEntry]:
        return redis_groups.pending_of(self, stream, group, count)

    def _drop_group(self, stream: str, group: str, idle_s: float | None) -> tuple[str, float | None]:
        return redis_groups.drop(self, stream, group, idle_s)

    def _range(self, stream: str, after: str | None, count: int) -> list[tuple[str, str, Payload]]:
        start = f"({after}" if after else "-"
        rows = self._call(self._rb.xrange, self._key(stream), start, "+", count=count)
        return [(e.entry_id, e.event_type, e.payload) for e in self._to_raw(stream, rows, None)]

    def _restore(self, events: list[Event]) -> int:
        pipe = self._r.pipeline(transaction=True)
        for e in events:
            field, value = _stored(e.to_json())
            pipe.xadd(self._key("audit"), {"t": e.type, field: value, "s": e.STREAM})
        ids = self._call(pipe.execute)
        pipe = self._r.pipeline(transaction=False)
        for e, audit_id in zip(events, ids, strict=True):
            if e.case_id:
                pipe.rpush(self._key(f"case:{e.case_id}"), audit_id)
        self._call(pipe.execute)
        return len(events)

    def _trim_audit(self, through: str) -> int:
        # Per-case indexes follow the audit log: collect the cases of the entries that go and pop
        # their ids off the front of each case's list, then trim. In this order a crash in between
        # leaves entries still in the log, which the next pass finds and trims again; the other order
        # would leave ids that point at nothing, in lists no later pass could find.
        cases: set[str] = set()
        start = "-"
        while rows := self._call(self._rb.xrange, self._key("audit"), start, through, count=1000):
            for _, fields in rows:
                case = _case_of(_payload(fields))
                if case:
                    cases.add(case)
            start = f"({_str(rows[-1][0])}"
        keys = [self._key(f"case:{c}") for c in sorted(cases)]
        for i in range(0, len(keys), 500):
            self._call(self._drop_case_ids, keys=keys[i : i + 500], args=[through])
        return int(
            self._call(self._r.xtrim, self._key("audit"), minid=_successor(through), approximate=False)
        )

    def _repair_audit_index(self) -> int:
        swept = sweep_case_index(self)
        if swept.damaged:
            log.warning(
                "%d per-case index keys hold another type or a value that is not an entry id at their "
                "head (written around the bus); left as they are: 'aisoc bus repair' moves misplaced keys "
                "aside",
                swept.damaged,
            )
        return swept.removed

    # --- public backend-specific API ------------------------------------------------------------

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        return self.dead_letters_between("-", "+", limit)

    def dead_letters_between(self, first: str, last: str, limit: int = 100) -> list[DeadLetter]:
        """Dead letters with ids in ``[first, last]`` (``-`` and ``+`` for the ends), oldest first."""
        rows = self._call(self._rb.xrange, self._key("dlq"), first, last, count=limit)
        return [_letter(_str(i), f) for i, f in rows]

    def replay_dead_letter(self, dlq_id: str) -> str:
        try:
            found = self.dead_letters_between(dlq_id, dlq_id)
        except ResponseError:
            found = []  # not an entry id at all
        if not found:
            raise BusError(f"no dead letter with id {dlq_id!r}")
        dl = found[0]
        self._replayable(dl)
        pipe = self._r.pipeline(transaction=True)
        pipe.xadd(self._key(dl.stream), {"t": dl.event_type or "unknown", "d": dl.payload, "g": dl.group})
        if dl.event_id:
            pipe.delete(self._key(f"mark:{dl.group}:{dl.event_id}"))
        pipe.xdel(self._key("dlq"), dlq_id)
        return str(self._call(pipe.execute)[0])

    def lock(self, key: str, ttl_s: float) -> bool:
        ttl_ms = max(1, int(ttl_s * 1000))
        taken = int(self._call(self._lock_script, keys=[self._key(f"lock:{key}")], args=[ttl_ms]))
        if taken == 2:
            log.warning(
                "lock %s had no expiry (not written by the bus, or it would hold forever): taken", key
            )
        return taken > 0

    def hold(self, key: str, ttl_s: float, holder: str) -> bool:
        ttl_ms = max(1, int(ttl_s * 1000))
        taken = int(self._call(self._hold_script, keys=[self._key(f"hold:{key}")], args=[ttl_ms, holder]))
        if taken == 2:
            log.warning(
                "hold %s had no expiry (not written by the bus, or it would hold forever): taken", key
            )
        return taken > 0

    def unhold(self, key: str, holder: str) -> bool:
        return bool(self._call(self._unhold_script, keys=[self._key(f"hold:{key}")], args=[holder]))

    def holder_of(self, key: str) -> str | None:
        held = self._call(self._r.get, self._key(f"hold:{key}"))
        return None if held is None else str(held)

    def heartbeat(self, name: str, info: dict[str, str], ttl_s: float = 30.0) -> None:
        value = json.dumps({"expires": time.time() + ttl_s, "info": info})
        self._call(self._r.hset, self._key("heartbeats"), name, value)

    def heartbeats(self) -> dict[str, dict[str, str]]:
        raw = self._call(self._r.hgetall, self._key("heartbeats"))
        now, live, stale = time.time(), {}, []
        for name, value in raw.items():
            try:
                record = json.loads(value)
                expires, info = float(record["expires"]), record["info"]
                if not isinstance(info, dict):
                    raise TypeError(f"info is a {type(info).__name__}")
            except (ValueError, TypeError, KeyError) as e:
                # Not written by heartbeat(): dropped like a stale one, so status still answers.
                log.warning("heartbeat %r is not a heartbeat record (%s); removed", name, e)
                stale.append(name)
                continue
            if expires > now:
                live[name] = {str(k): str(v) for k, v in info.items()}
            else:
                stale.append(name)
        if stale:
            self._call(self._r.hdel, self._key("heartbeats"), *stale)
        return live

    def trim(self, stream: str | None = None) -> int:
        removed = 0
        for name in [stream] if stream in TRIMMED_STREAMS else [] if stream else TRIMMED_STREAMS:
            keys, args = [self._key(name)], [self.ungrouped_max_len]
            removed += int(self._call(self._trim_script, keys=keys, args=args))
        return removed

    def forget_idle_consumers(self, idle_s: float) -> int:
        """Delete consumers idle longer than ``idle_s`` that hold nothing (processes gone for good).

        A consumer that still holds pending entries is kept: its entries go to another consumer
        by take-over first, so nothing is lost by forgetting it later.

        Returns:
            How many consumers were deleted.
        """
        forgotten = 0
        for name in WORK_STREAMS:
            key = self._key(name)
            try:
                groups = self._call(self._r.xinfo_groups, key)
            except ResponseError:
                continue  # no such stream yet
            for g in groups:
                for c in self._call(self._r.xinfo_consumers, key, g["name"]):
                    # The waiting entries' holder may receive one at any moment: never forgotten.
                    if c["name"] != PARKED and int(c["pending"]) == 0 and int(c["idle"]) > idle_s * 1000:
                        self._call(self._r.xgroup_delconsumer, key, g["name"], c["name"])
                        forgotten += 1
        return forgotten

    def stats(self) -> BusStats:
        streams = []
        for name in WORK_STREAMS:
            key = self._key(name)
            length = int(self._call(self._r.xlen, key))
            groups: list[GroupStats] = []
            if length or self._call(self._r.exists, key):
                try:
                    info = self._call(self._r.xinfo_groups, key)
                    # XINFO STREAM carries the first and last entries: read it as bytes.
                    stream_info = self._call(self._rb.xinfo_stream, key)
                    newest = _str(stream_info["last-generated-id"])
                except ResponseError:
                    info, newest = [], ""
                for g in sorted(info, key=lambda g: str(g["name"])):
                    # Redis's lag comes from counters that a restart from the AOF can leave stale (a
                    # group that has read everything reported 985 behind); a group whose last delivered
                    # id is the stream's newest is caught up, whatever the counter says.
                    lag = 0 if str(g["last-delivered-id"]) == newest else g.get("lag")
                    groups.append(
                        GroupStats(
                            str(g["name"]),
                            int(g["pending"]),
                            None if lag is None else int(lag),
                            int(g["consumers"]),
                        )
                    )
            streams.append(StreamStats(name, length, groups))
        streams.append(StreamStats("audit", len(self._audit), []))
        dead = int(self._call(self._r.xlen, self._key("dlq")))
        return BusStats(streams, dead)
