"""The in-memory bus: the embedded default, same semantics as Redis, thread-safe, with drain()."""

from __future__ import annotations

import bisect
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from aisoc.bus.audit import AuditLog
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
    id_key,
)
from aisoc.bus.waiting import PARKED, Waiting
from aisoc.bus.waiting_table import WaitTable
from aisoc.errors import BusError
from aisoc.events import WORK_STREAMS, Event, utcnow


@dataclass(slots=True)
class _Entry:
    seq: int
    event_type: str
    payload: Event | str | bytes | None
    target: str | None
    at: float = field(default_factory=time.time)


@dataclass(slots=True)
class _Pending:
    pos: int
    consumer: str
    delivered_at: float
    count: int
    error: str | None = None


@dataclass
class _Group:
    next_pos: int = 0
    pending: dict[int, _Pending] = field(default_factory=dict)  # keyed by seq, in delivery order
    seen: float = 0.0  # when a consumer last read or acked (bus clock): how long the group is idle


@dataclass
class _Stream:
    entries: list[_Entry] = field(default_factory=list)
    base: int = 0  # absolute position of entries[0]
    groups: dict[str, _Group] = field(default_factory=dict)

    def end(self) -> int:
        return self.base + len(self.entries)


class _MemoryAudit(AuditLog):
    def __init__(self, bus: MemoryBus) -> None:
        self._bus = bus
        self._seqs: list[int] = []
        self._events: list[Event] = []
        self._by_case: dict[str, list[int]] = {}
        self._epoch = uuid.uuid4().hex

    def _add(self, seq: int, event: Event) -> None:
        self._seqs.append(seq)
        self._events.append(event)
        if event.case_id is not None:
            self._by_case.setdefault(event.case_id, []).append(len(self._events) - 1)

    def _drop_through(self, seq: int) -> int:
        cut = bisect.bisect_right(self._seqs, seq)
        if cut:
            self._seqs, self._events = self._seqs[cut:], self._events[cut:]
            self._by_case = {}
            for i, event in enumerate(self._events):
                if event.case_id is not None:
                    self._by_case.setdefault(event.case_id, []).append(i)
        return cut

    def entries(self, since: str | None = None, limit: int | None = None) -> Iterator[AuditEntry]:
        with self._bus._lock:
            start = 0 if since is None else bisect.bisect_right(self._seqs, id_key(since)[0])
            stop = len(self._seqs) if limit is None else min(len(self._seqs), start + limit)
            chunk = [AuditEntry(str(self._seqs[i]), self._events[i]) for i in range(start, stop)]
        yield from chunk

    def entry_at(self, entry_id: str) -> AuditEntry | BrokenEntry | None:
        with self._bus._lock:
            seq = id_key(entry_id)[0]
            i = bisect.bisect_left(self._seqs, seq)
            found = i < len(self._seqs) and self._seqs[i] == seq
            return AuditEntry(str(seq), self._events[i]) if found else None

    def for_case(self, case_id: str) -> list[Event]:
        with self._bus._lock:
            return [self._events[i] for i in self._by_case.get(case_id, ())]

    def last_id(self) -> str | None:
        with self._bus._lock:
            return str(self._seqs[-1]) if self._seqs else None

    def first_id(self) -> str | None:
        with self._bus._lock:
            return str(self._seqs[0]) if self._seqs else None

    def __len__(self) -> int:
        return len(self._seqs)

    @property
    def epoch(self) -> str:
        return self._epoch


class MemoryBus(Bus):
    """In-process bus (``Bus()`` / ``Bus("memory://")``); everything is lost when the process exits."""

    schemes = ("memory",)

    def __init__(self, url: str | None = None, **options: Any) -> None:
        super().__init__(url, **options)
        if self.durability == "fsync":
            raise BusError("durability=fsync: the in-memory bus keeps nothing; use sqlite:// or redis://")
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._seq = 0
        self._streams: dict[str, _Stream] = {s: _Stream() for s in WORK_STREAMS}
        self._audit = _MemoryAudit(self)
        self._marks: dict[tuple[str, str], float] = {}  # (role, event id) -> expiry (time.time)
        # first event id -> (expiry, entry ids joined by spaces): atoms only, nothing for the GC to scan
        self._published: dict[str, tuple[float, str]] = {}
        self._sweep_at = 0.0
        self._dlq: dict[int, DeadLetter] = {}
        self._keys: dict[str, float] = {}
        self._holds: dict[str, tuple[float, str]] = {}  # key -> (expiry, holder)
        self._beats: dict[str, tuple[float, dict[str, str]]] = {}
        self._wait: dict[str, WaitTable] = {}  # group -> its waiting records

    @property
    def audit(self) -> AuditLog:
        return self._audit

    # --- primitives -----------------------------------------------------------------------------

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _append(self, events: list[Event], mark: tuple[str, str] | None, ttl_s: int) -> list[str] | None:
        with self._cond:
            now = time.time()
            self._sweep(now)
            if mark is not None:
                if self._marks.get(mark, 0.0) > now:
                    return None
                self._marks[mark] = now + ttl_s
            elif events:
                done = self._published.get(events[0].event_id)
                if done is not None and done[0] > now:
                    return done[1].split()
            ids = []
            for event in events:
                seq = self._next()
                self._streams[event.STREAM].entries.append(_Entry(seq, event.type, event, None))
                self._audit._add(seq, event)
                ids.append(str(seq))
            if mark is None and events:
                self._published[events[0].event_id] = (now + ttl_s, " ".join(ids))
            self._cond.notify_all()
            return ids

    def _sweep(self, now: float) -> None:
        """Forget expired marks, at most once a minute (called under the lock)."""
        if now < self._sweep_at:
            return
        self._sweep_at = now + 60
        self._marks = {k: exp for k, exp in self._marks.items() if exp > now}
        self._published = {k: v for k, v in self._published.items() if v[0] > now}

    def _inject(self, stream: str, payload: str, event_type: str) -> str:
        with self._cond:
            seq = self._next()
            self._streams[stream].entries.append(_Entry(seq, event_type, payload, None))
            self._cond.notify_all()
            return str(seq)

    def _entry_time(self, stream: str, entry_id: str) -> float | None:
        entry = self._entry(stream, entry_id)
        return entry.at if entry is not None else None

    def _entry(self, stream: str, entry_id: str) -> _Entry | None:
        with self._lock:
            entries = self._streams[stream].entries if stream in self._streams else []
            i = (
                bisect.bisect_left(entries, int(entry_id), key=lambda e: e.seq)
                if entry_id.isdigit()
                else len(entries)
            )
            return entries[i] if i < len(entries) and entries[i].seq == int(entry_id) else None

    def _has_mark(self, role: str, event_id: str) -> bool:
        with self._lock:
            return self._marks.get((role, event_id), 0.0) > time.time()

    def _read(self, req: ReadRequest, block_ms: int) -> list[RawEntry]:
        group, consumer, streams, count = req.group, req.consumer, req.streams, req.count
        deadline = time.monotonic() + block_ms / 1000
        with self._cond:
            while True:
                out: list[RawEntry] = []
                for name in streams:
                    st = self._streams[name]
                    g = st.groups.setdefault(group, _Group(next_pos=st.base))
                    g.seen = self.clock()
                    now = time.monotonic()
                    while g.next_pos < st.end() and len(out) < count:
                        e = st.entries[g.next_pos - st.base]
                        g.pending[e.seq] = _Pending(g.next_pos, consumer, now, 1)
                        g.next_pos += 1
                        out.append(RawEntry(name, str(e.seq), e.event_type, e.payload, e.target, 1))
                remaining = deadline - time.monotonic()
                if out or remaining <= 0:
                    return out
                self._cond.wait(remaining)

    def _take_over(self, req: ReadRequest, min_idle_ms: int) -> list[RawEntry]:
        group, consumer, streams, count = req.group, req.consumer, req.streams, req.count
        out: list[RawEntry] = []
        with self._lock:
            now = time.monotonic()
            cutoff = now - min_idle_ms / 1000
            for name in streams:
                st = self._streams[name]
                g = st.groups.get(group)
                if g is None:
                    continue
                g.seen = self.clock()
                for seq, p in list(g.pending.items()):
                    if len(out) >= count:
                        return out
                    if p.delivered_at > cutoff or p.consumer == PARKED:
                        continue  # not stale, or waiting: its record says when it goes next
                    p.consumer, p.delivered_at, p.count = consumer, now, p.count + 1
                    g.pending[seq] = g.pending.pop(seq)  # keep delivery order: move to the end
                    e = st.entries[p.pos - st.base]
                    out.append(RawEntry(name, str(seq), e.event_type, e.payload, e.target, p.count))
        return out

    def _ack(self, stream: str, group: str, entry_ids: list[str]) -> int:
        with self._lock:
            g = self._streams[stream].groups.get(group)
            if g is not None:
                g.seen = self.clock()
                for eid in entry_ids:
                    g.pending.pop(int(eid), None)
            table = self._wait.get(group)
            return sum(table.drop(f"{stream} {eid}") for eid in entry_ids) if table else 0

    def _make_due(self, d: Delivery, delivery_count: int, reason: str | None) -> None:
        with self._cond:
            g = self._streams[d.stream].groups.get(d.group)
            p = g.pending.get(int(d.entry_id)) if g else None
            if p is not None:
                p.delivered_at, p.count = float("-inf"), delivery_count
                if reason is not None:
                    p.error = reason
            self._cond.notify_all()

    def _waiting(self, group: str) -> list[Waiting]:
        with self._lock:
            table = self._wait.get(group)
            return list(table.records.values()) if table else []

    def _waiting_for(
        self, group: str, keys: list[str], cases: set[str]
    ) -> tuple[dict[str, Waiting], dict[str, Waiting]]:
        with self._lock:
            table = self._wait.get(group)
            if table is None:
                return {}, {}
            found = {k: r for k in keys if (r := table.records.get(k)) is not None}
            return found, {c: h for c in cases if (h := table.head(c)) is not None}

    def _park(self, group: str, consumer: str, record: Waiting, delivery_count: int) -> None:
        with self._cond:
            g = self._streams[record.stream].groups.get(group)
            p = g.pending.get(int(record.entry_id)) if g else None
            if p is None:
                return  # settled meanwhile: nothing waits
            p.consumer, p.delivered_at, p.count = consumer, time.monotonic(), delivery_count
            self._wait.setdefault(group, WaitTable()).put(record)

    def _waiting_unwanted(
        self, group: str, streams: tuple[str, ...], types: frozenset[str] | None, count: int
    ) -> list[Waiting]:
        out: list[Waiting] = []
        with self._lock:
            table = self._wait.get(group)
            for r in table.records.values() if table else ():
                if len(out) >= count:
                    break
                if r.stream not in streams:
                    out.append(r)
                elif types is not None and (e := self._entry(r.stream, r.entry_id)) is not None:
                    if e.event_type and e.event_type not in types:
                        out.append(r)
        return out

    def _claim_waiting(self, req: ReadRequest, now: float) -> list[RawEntry]:
        out: list[RawEntry] = []
        with self._lock:
            table = self._wait.get(req.group)
            while table is not None and len(out) < req.count:
                due = table.due_heads(req.streams, now, req.count - len(out))
                if not due:
                    break
                for r in due:
                    st = self._streams[r.stream]
                    g = st.groups.get(req.group)
                    p = g.pending.get(int(r.entry_id)) if g else None
                    if p is None:  # settled around the bus: the next of its case is the head now
                        table.drop(r.key)
                        continue
                    table.put(replace(r, due=None))
                    p.consumer, p.delivered_at, p.count = req.consumer, time.monotonic(), p.count + 1
                    e = st.entries[p.pos - st.base]
                    out.append(RawEntry(r.stream, r.entry_id, e.event_type, e.payload, e.target, p.count))
        return out

    def _last_error(self, stream: str, group: str, entry_id: str) -> str | None:
        with self._lock:
            g = self._streams[stream].groups.get(group)
            p = g.pending.get(int(entry_id)) if g else None
            return p.error if p else None

    def _dead(self, letter: Undeliverable) -> str:
        with self._lock:
            seq = self._next()
            self._dlq[seq] = DeadLetter.filed(letter, str(seq), utcnow())
            if letter.entry_id != "-":
                self._ack(letter.stream, letter.group, [letter.entry_id])  # drops its waiting record
            return str(seq)

    def _group_names(self, stream: str) -> set[str]:
        with self._lock:
            return set(self._streams[stream].groups)

    def _positions(self, stream: str) -> list[GroupPosition]:
        with self._lock:
            st, now = self._streams[stream], self.clock()
            return [
                GroupPosition(
                    name,
                    (min([g.next_pos, *(p.pos for p in g.pending.values())]), 0),
                    len(g.pending),
                    len(g.pending) + st.end() - g.next_pos,
                    max(0.0, now - g.seen),
                )
                for name, g in st.groups.items()
            ]

    def _pending_of(self, stream: str, group: str, count: int) -> list[RawEntry]:
        with self._lock:
            st = self._streams[stream]
            g = st.groups.get(group)
            taken = sorted(g.pending.items())[:count] if g else []
            return [
                RawEntry(stream, str(seq), e.event_type, e.payload, e.target, p.count)
                for seq, p in taken
                for e in [st.entries[p.pos - st.base]]
            ]

    def _drop_group(self, stream: str, group: str, idle_s: float | None) -> tuple[str, float | None]:
        with self._lock:
            g = self._streams[stream].groups.get(group)
            if g is None:
                return "absent", None
            idle = max(0.0, self.clock() - g.seen)
            if g.pending:
                return "pending", idle
            if idle_s is not None and idle < idle_s:
                return "active", idle
            del self._streams[stream].groups[group]
            return "dropped", idle

    def _range(self, stream: str, after: str | None, count: int) -> list[tuple[str, str, Payload]]:
        with self._lock:
            floor = id_key(after)[0] if after else 0
            entries = [e for e in self._streams[stream].entries if e.seq > floor][:count]
            return [(str(e.seq), e.event_type, e.payload) for e in entries]

    def _restore(self, events: list[Event]) -> int:
        with self._lock:
            for event in events:
                self._audit._add(self._next(), event)
            return len(events)

    def _trim_audit(self, through: str) -> int:
        with self._lock:
            return self._audit._drop_through(id_key(through)[0])

    # --- public backend-specific API ------------------------------------------------------------

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            return list(self._dlq.values())[:limit]

    def replay_dead_letter(self, dlq_id: str) -> str:
        with self._cond:
            dl = self._dlq.get(int(dlq_id)) if dlq_id.isdigit() else None
            if dl is None:
                raise BusError(f"no dead letter with id {dlq_id!r}")
            self._replayable(dl)
            del self._dlq[int(dlq_id)]
            if dl.event_id:
                self._marks.pop((dl.group, dl.event_id), None)
            seq = self._next()
            self._streams[dl.stream].entries.append(
                _Entry(seq, dl.event_type or "unknown", dl.payload, dl.group)
            )
            self._cond.notify_all()
            return str(seq)

    def lock(self, key: str, ttl_s: float) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._keys.get(key, 0.0) > now:
                return False
            self._keys[key] = now + ttl_s
            return True

    def hold(self, key: str, ttl_s: float, holder: str) -> bool:
        with self._lock:
            if (held := self.holder_of(key)) is not None and held != holder:
                return False
            self._holds[key] = (time.monotonic() + ttl_s, holder)
            return True

    def unhold(self, key: str, holder: str) -> bool:
        with self._lock:
            if self.holder_of(key) != holder:
                return False
            del self._holds[key]
            return True

    def holder_of(self, key: str) -> str | None:
        with self._lock:
            expires, holder = self._holds.get(key, (0.0, ""))
            return holder if expires > time.monotonic() else None

    def heartbeat(self, name: str, info: dict[str, str], ttl_s: float = 30.0) -> None:
        with self._lock:
            self._beats[name] = (time.monotonic() + ttl_s, dict(info))

    def heartbeats(self) -> dict[str, dict[str, str]]:
        with self._lock:
            now = time.monotonic()
            return {n: dict(i) for n, (exp, i) in self._beats.items() if exp > now}

    def trim(self, stream: str | None = None) -> int:
        removed = 0
        with self._lock:
            for name in [stream] if stream in TRIMMED_STREAMS else [] if stream else TRIMMED_STREAMS:
                st = self._streams[name]
                if not st.groups:  # no reader known: the newest ungrouped_max_len are kept
                    drop = len(st.entries) - self.ungrouped_max_len if self.ungrouped_max_len else 0
                    if drop > 0:
                        del st.entries[:drop]
                        st.base += drop
                        removed += drop
                    continue
                keep = min(
                    min([g.next_pos, *(p.pos for p in g.pending.values())]) for g in st.groups.values()
                )
                drop = keep - st.base
                if drop > 0:
                    del st.entries[:drop]
                    st.base = keep
                    removed += drop
        return removed

    def stats(self) -> BusStats:
        with self._lock:
            streams = []
            for name in WORK_STREAMS:
                st = self._streams[name]
                groups = [
                    GroupStats(
                        gname,
                        len(g.pending),
                        st.end() - g.next_pos,
                        len({p.consumer for p in g.pending.values()} - {PARKED}),
                    )
                    for gname, g in sorted(st.groups.items())
                ]
                streams.append(StreamStats(name, len(st.entries), groups))
            streams.append(StreamStats("audit", len(self._audit), []))
            return BusStats(streams, len(self._dlq))
