"""The abstract bus: the public API, delivery filtering, dead-lettering, and the scheme registry.

A backend implements a handful of primitives (``_append``, ``_read``, ``_take_over``, ``_ack``,
``_make_due``, ``_dead``...) and inherits identical semantics; the contract suite in
``tests/aisoc/bus_contract.py`` holds every backend to them. A backend answers to the URL schemes it
lists in ``schemes`` (built-in ones are registered lazily, by import string, below).
"""

from __future__ import annotations

import base64
import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from aisoc.bus import waiting
from aisoc.bus.audit import AuditLog
from aisoc.bus.coordination import Coordination
from aisoc.bus.delivery import Delivery, Handler, Runner, Subscription, batch_by_group
from aisoc.bus.groups import TRIMMED_STREAMS, GroupAdmin
from aisoc.bus.records import (
    AuditEntry,
    BusStats,
    DeadLetter,
    Payload,
    RawEntry,
    ReadRequest,
    Undeliverable,
    id_key,
)
from aisoc.bus.waiting import (
    DEFAULT_RETRY_BASE_S,
    DEFAULT_RETRY_MAX_S,
    DUE_SCAN_S,
    UNWANTED_SCAN_S,
    Waiting,
    WaitingRecords,
)
from aisoc.errors import BusError, ContractError
from aisoc.events import WORK_STREAMS, Event, class_for, from_json, revalidate

log = logging.getLogger(__name__)

DEFAULT_MAX_DELIVERIES = 5
"""Deliveries of one entry to one group before it is dead-lettered."""
DEFAULT_VISIBILITY_TIMEOUT_MS = 30_000
"""How long a delivery may stay unacked before another consumer of the group takes it over."""
DEFAULT_MARK_TTL_S = 30 * 24 * 3600
"""How long an idempotency mark is kept (far longer than any redelivery can happen)."""
DEFAULT_TRIM_EVERY = 500
"""Acks on one stream after which the acking process trims what every group has acked."""
UNTYPED = "unknown"
"""The stored type of an entry whose payload says what it is (``inject``'s default, and a dead
letter replayed without a type): routed by its payload's type, as an entry stored without one."""
DEFAULT_UNGROUPED_MAX_LEN = 100_000
"""The entries a work stream that no consumer group reads keeps (its newest): no reader is known,
so nothing says what may go, and without a bound it would grow until Redis ran out of memory."""


class Bus(Coordination, WaitingRecords, GroupAdmin):
    """The event bus. ``Bus()`` is in-memory, ``Bus("sqlite:///soc.db")`` durable and embedded,
    ``Bus("redis://host:6379/0")`` Redis Streams.

    Args:
        url: backend URL (None or ``memory://`` for the in-memory bus).
        namespace: key prefix; every key of one SOC shares the ``{namespace}`` hash tag.
        max_deliveries: deliveries of one entry to one group before it is dead-lettered.
        visibility_timeout_ms: how long a delivery may stay unacked before it is redelivered.
        mark_ttl_s: how long idempotency marks are kept (the one retention of every mark: a role's
            ``(role, event_id)`` and the event id of a publish).
        redactor: applied to every event before it is stored (configured secret/PII patterns).
        durability: ``fast`` (acknowledged once the backend has it) or ``fsync`` (acknowledged once
            it is on disk; see ``aisoc.bus.redis_durability`` for Redis). The in-memory bus keeps
            nothing and refuses ``fsync``.
        trim_every: after this many acks on one work stream, the acking process trims that stream
            to what its groups still need (``trim``), so work streams stay bounded between the
            scheduler's maintenance runs; 0 leaves trimming to maintenance alone.
        retry_base_s: first delay of a delivery given back with ``retry_later`` (a dependency
            unavailable); doubled per try (``aisoc.bus.waiting``).
        retry_max_s: longest delay between two such tries.
        clock: POSIX seconds now (``time.time``); tests pass a frozen one to move waits along.
        ungrouped_max_len: how many entries (the newest) ``trim`` keeps of a work stream no
            consumer group reads (none yet, or every one forgotten); 0 keeps them all.
    """

    schemes: ClassVar[tuple[str, ...]] = ()
    """URL schemes the backend answers to (registered when the class is defined)."""
    scheme: ClassVar[str] = ""
    """The backend's family, its first scheme (stores that live next to the bus choose by it)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("schemes", ())
        if own:
            cls.scheme = own[0]
        for scheme in own:
            _SCHEMES[scheme] = cls

    def __new__(cls, url: str | None = None, **options: Any) -> Bus:
        if cls is Bus:
            cls = backend_for(url)
        return super().__new__(cls)

    def __init__(
        self,
        url: str | None = None,
        *,
        namespace: str = "soc",
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        visibility_timeout_ms: int = DEFAULT_VISIBILITY_TIMEOUT_MS,
        mark_ttl_s: int = DEFAULT_MARK_TTL_S,
        redactor: Callable[[Event], Event] | None = None,
        durability: str = "fast",
        trim_every: int = DEFAULT_TRIM_EVERY,
        retry_base_s: float = DEFAULT_RETRY_BASE_S,
        retry_max_s: float = DEFAULT_RETRY_MAX_S,
        clock: Callable[[], float] = time.time,
        ungrouped_max_len: int = DEFAULT_UNGROUPED_MAX_LEN,
    ) -> None:
        if trim_every < 0:
            raise BusError("trim_every must be 0 (off) or a positive number of acks")
        if durability not in ("fast", "fsync"):
            raise BusError(f"durability {durability!r}: expected 'fast' or 'fsync'")
        if not namespace or any(c in namespace for c in "{}: "):
            raise BusError(f"namespace {namespace!r}: may not be empty or hold '{{', '}}', ':' or a space")
        if max_deliveries < 1:
            raise BusError("max_deliveries must be at least 1")
        if ungrouped_max_len < 0:
            raise BusError("ungrouped_max_len must be 0 (keep all) or a positive number of entries")
        self.ungrouped_max_len = ungrouped_max_len
        if not 0 < retry_base_s <= retry_max_s:
            raise BusError(
                f"retry delays: need 0 < retry_base_s <= retry_max_s, got {retry_base_s} and {retry_max_s}"
            )
        self.url = url or "memory://"
        self.namespace = namespace
        self.max_deliveries = max_deliveries
        self.visibility_timeout_ms = visibility_timeout_ms
        self.mark_ttl_s = mark_ttl_s
        self.redactor = redactor
        self.durability = durability
        self._runner = Runner(self)
        self._take_over_at: dict[tuple[str, str], float] = {}
        self._take_over_lock = threading.Lock()
        self.trim_every = trim_every
        self._acks_since_trim: dict[str, int] = {}
        self.retry_base_s, self.retry_max_s, self.clock = retry_base_s, retry_max_s, clock
        self._due_scan_at: dict[tuple[str, str], float] = {}
        self._unwanted_scan_at: dict[tuple[str, str, str], float] = {}

    # --- publishing -----------------------------------------------------------------------------

    def publish(self, event: Event) -> str:
        """Append ``event`` to its stream and, atomically, to the audit log.

        Publishing is idempotent on the event id: publishing the same event again (a retry after a
        lost reply, an ingest run repeated) within the mark retention writes nothing and returns the
        first entry id.

        Returns:
            The entry id on the event's work stream.

        Raises:
            ContractError: ``event`` is not a valid event (the message names the field); nothing is
                written.
        """
        ids = self._append(self._at_the_door([event], "event"), None, self.mark_ttl_s)
        assert ids is not None
        return ids[0]

    def publish_many(
        self, events: Sequence[Event], once: tuple[str, str] | None = None, *, keep_s: int | None = None
    ) -> bool:
        """Publish ``events`` all-or-nothing; with ``once=(role, event_id)`` also write that mark.

        Without ``once`` the call is idempotent on its first event's id, as ``publish`` is.
        ``keep_s`` keeps this call's mark longer than ``mark_ttl_s`` (never shorter): a scheduled
        report's completion mark must outlive the gap to its role's next fire.

        Returns:
            False (and publishes nothing) when the mark already exists, True otherwise.

        Raises:
            ContractError: one of ``events`` is not a valid event (the message names its index and
                the field); nothing is written.
        """
        if once is not None and (not once[0] or not once[1]):
            raise BusError(f"once= needs (role, event_id), got {once!r}")
        if not events and once is None:
            return True
        ttl_s = max(self.mark_ttl_s, keep_s or 0)
        return self._append(self._at_the_door(events, "events[{}]"), once, ttl_s) is not None

    def _at_the_door(self, events: Sequence[object], where: str) -> list[Event]:
        """Validate every event again (however it was built), then redact it: what is stored decodes."""
        if not isinstance(events, list | tuple) and (
            isinstance(events, str | bytes) or not isinstance(events, Sequence)
        ):
            raise ContractError(f"events: expected a list of events, got {type(events).__name__}")
        checked = [revalidate(e, where, i) for i, e in enumerate(events)]
        return [self.redactor(e) for e in checked] if self.redactor else checked

    def seen(self, role: str, event_id: str) -> bool:
        """Return whether ``role`` already recorded the effects of ``event_id``."""
        return self._has_mark(role, event_id)

    def past_mark_window(self, d: Delivery, now: float | None = None) -> bool:
        """Whether a redelivery is too old for a missing mark to prove its handler never ran.

        A mark is written after its event was published and kept ``mark_ttl_s``, so it exists
        for at least that long after the entry was added. A redelivered entry older than that
        (less the visibility timeout, for clocks that differ between hosts) may have lost its
        mark to expiry: running it again could repeat its effects, so the caller files it as a
        dead letter instead (replaying a dead letter runs it again on purpose). An entry whose
        time is not known (one written to a SQLite file before entries carried it) answers False.
        """
        if d.delivery_count <= 1:
            return False
        born = self._entry_time(d.stream, d.entry_id)
        if born is None:
            return False
        margin = self.visibility_timeout_ms / 1000
        return (time.time() if now is None else now) - born >= self.mark_ttl_s - margin

    # --- consuming ------------------------------------------------------------------------------

    def consume(
        self,
        group: str,
        consumer: str,
        types: Iterable[str] | None = None,
        count: int = 10,
        block_ms: int = 0,
        streams: Iterable[str] | None = None,
    ) -> list[Delivery]:
        """Read up to ``count`` deliveries for ``consumer`` of ``group``.

        The group reads whole streams (``streams``, or the streams of ``types``); entries of other
        types, and dead letters replayed for other groups, are acked for this group silently.
        Redeliveries (unacked past the visibility timeout, or failed) come first.

        Raises:
            BusError: neither ``types`` nor ``streams`` names anything to read.
        """
        wanted = frozenset(types) if types is not None else None
        names = self._streams_for(wanted, streams)
        deadline = time.monotonic() + block_ms / 1000
        while True:
            # Waiting entries that are due first: claimed, they are no longer idle, so the take-over
            # that follows cannot hand out one of them a second time.
            raw = self._claim_due(ReadRequest(group, consumer, names, count), wanted)
            if len(raw) < count:
                raw += self._take_over_due(ReadRequest(group, consumer, names, count - len(raw)))
            if len(raw) < count:
                wait = 0 if raw else max(0, int((deadline - time.monotonic()) * 1000))
                raw += self._read(ReadRequest(group, consumer, names, count - len(raw)), wait)
            out = self._filter(group, consumer, raw, wanted)
            # Entries of other types were acked and skipped: read on (they are gone for this group,
            # so this ends), or a wanted event behind ``count`` others would never be returned.
            if out or not raw:
                return out

    def waiting(self, group: str) -> list[Waiting]:
        """The deliveries that wait for ``group`` (``Delivery.retry_later``, and the later events of
        their cases held behind them), oldest first: what ``aisoc status`` reports."""
        return sorted(self._waiting(group), key=lambda r: id_key(r.entry_id))

    def ack_many(self, deliveries: Iterable[Delivery]) -> None:
        """Ack several deliveries with as few round trips as the backend allows."""
        for (stream, group), ids in batch_by_group(deliveries).items():
            self._settle(stream, group, ids)

    def subscribe(
        self,
        group: str,
        handler: Handler,
        *,
        types: Iterable[str] | None = None,
        streams: Iterable[str] | None = None,
        consumer: str | None = None,
        count: int = 100,
        active: Callable[[], bool] | None = None,
    ) -> Subscription:
        """Register an in-process handler for ``drain()`` (and for workers that run subscriptions)."""
        wanted = frozenset(types) if types is not None else None
        sub = Subscription(
            group=group,
            consumer=consumer or f"{group}-local",
            handler=handler,
            types=wanted,
            streams=self._streams_for(wanted, streams),
            count=count,
            active=active,
        )
        return self._runner.add(sub)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """The in-process subscriptions ``drain()`` delivers to."""
        return tuple(self._runner.subscriptions)

    def run_once(self, sub: Subscription, block_ms: int = 0) -> int:
        """Deliver one batch to one subscription; a handler that raises fails its delivery."""
        return self._runner.run_once(sub, block_ms)

    def drain(self, max_rounds: int = 1_000_000) -> int:
        """Deliver to every subscription until a whole round delivers nothing (deterministic tests).

        Returns:
            How many deliveries were made.
        """
        return self._runner.drain(max_rounds)

    # --- dead letters ---------------------------------------------------------------------------

    def dead_letter(
        self,
        reason: str,
        payload: str,
        *,
        stream: str = "alerts",
        group: str = "ingest",
        event_type: str | None = None,
        event_id: str | None = None,
    ) -> str:
        """Record a bad input that never became an event (a record that cannot be normalized)."""
        letter = Undeliverable(
            stream=stream,
            group=group,
            entry_id="-",
            event_type=event_type,
            event_id=event_id,
            reason=reason,
            payload=payload,
            delivery_count=0,
        )
        return self._dead(letter)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Return dead letters, oldest first."""
        raise NotImplementedError

    def replay_dead_letter(self, dlq_id: str) -> str:
        """Put a dead letter back on its stream for its group only, clearing the group's mark.

        Returns:
            The new entry id.

        Raises:
            BusError: no dead letter has that id, or it has no stream to go back to.
        """
        raise NotImplementedError

    @staticmethod
    def _replayable(letter: DeadLetter) -> None:
        """Refuse to replay a dead letter that has no stream or no text to put back."""
        if letter.stream not in WORK_STREAMS:
            raise BusError(f"dead letter {letter.id} has no stream to go back to")
        if letter.payload is None or letter.encoding != "utf-8":
            raise BusError(
                f"dead letter {letter.id} has no text payload to replay ({letter.reason}); "
                "read it with dead_letters() and publish a corrected event instead"
            )

    def inject(self, stream: str, payload: str, event_type: str = UNTYPED) -> str:
        """Append an undecoded payload to a work stream (bridges, and tests of bad input)."""
        if stream not in WORK_STREAMS:
            raise BusError(f"unknown stream {stream!r}; expected one of {', '.join(WORK_STREAMS)}")
        return self._inject(stream, payload, event_type)

    # --- maintenance ----------------------------------------------------------------------------

    def trim(self, stream: str | None = None) -> int:
        """Drop work-stream entries every group has acked; never the audit log, never ``control``
        (processes fold the kill-switch history from it when they start).

        Returns:
            How many entries were removed.
        """
        raise NotImplementedError

    def read(self, stream: str, after: str | None = None, count: int = 1000) -> list[AuditEntry]:
        """Read a work stream's entries after ``after`` without a consumer group (tailing, folding
        small streams such as ``control``); undecodable entries are skipped."""
        if stream not in WORK_STREAMS:
            raise BusError(f"unknown stream {stream!r}; expected one of {', '.join(WORK_STREAMS)}")
        out = []
        for entry_id, event_type, payload in self._range(stream, after, count):
            try:
                if not isinstance(payload, Event | str):
                    raise ContractError("no payload, or not UTF-8 text")
                event = payload if isinstance(payload, Event) else from_json(payload, event_type or None)
            except ContractError:
                log.warning("read(%s): entry %s does not decode; skipped", stream, entry_id)
                continue
            out.append(AuditEntry(entry_id, event))
        return out

    def restore_audit(self, events: Iterable[Event]) -> int:
        """Append events to an EMPTY audit log only (a restore from an export): work streams are not
        touched, so nothing is handled again.

        Raises:
            BusError: the audit log is not empty.
        """
        if len(self.audit):
            raise BusError(
                f"the audit log of {self!r} is not empty ({len(self.audit)} entries): "
                "restore only into an empty bus"
            )
        batch: list[Event] = []
        count = 0
        for e in events:
            batch.append(self.redactor(e) if self.redactor else e)  # an import obeys today's redaction
            if len(batch) >= 500:
                count += self._restore(batch)
                batch = []
        return count + (self._restore(batch) if batch else 0)

    def trim_audit(self, through: str) -> int:
        """Drop audit entries up to and including ``through`` (retention; archive them first).

        Returns:
            How many entries were removed.
        """
        return self._trim_audit(through)

    def repair_audit_index(self) -> int:
        """Remove the per-case index entries of audit entries no longer in the log (retention runs
        it after each trim; a crash of an earlier release between trimming and dropping them, a
        restore or a hand edit may have left some), so no index of a case whose entries are all gone
        stays behind. Idempotent; safe beside publishers.

        Returns:
            How many index entries were removed (0 where the index lives with the log).
        """
        return self._repair_audit_index()

    def forget_idle_consumers(self, idle_s: float) -> int:
        """Remove consumers idle longer than ``idle_s`` that hold no pending entry.

        Returns:
            How many were removed (the embedded backends keep no consumer records: 0).
        """
        return 0

    def stats(self) -> BusStats:
        """Return per-stream length, per-group pending and lag, and the dead-letter count."""
        raise NotImplementedError

    @property
    def audit(self) -> AuditLog:
        """The audit log: every event in publish order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, namespace={self.namespace!r})"

    # --- backend primitives ---------------------------------------------------------------------

    def _append(self, events: list[Event], mark: tuple[str, str] | None, ttl_s: int) -> list[str] | None:
        """Append events (+ audit copies, + mark) atomically; None when the mark existed."""
        raise NotImplementedError

    def _entry_time(self, stream: str, entry_id: str) -> float | None:
        """When a work entry was added (POSIX seconds), if its id says so (None: it does not)."""
        return None

    def _has_mark(self, role: str, event_id: str) -> bool:
        raise NotImplementedError

    def _read(self, req: ReadRequest, block_ms: int) -> list[RawEntry]:
        """Read never-delivered entries for the group (creating it at the stream start if new)."""
        raise NotImplementedError

    def _take_over(self, req: ReadRequest, min_idle_ms: int) -> list[RawEntry]:
        """Take over entries of the group pending longer than ``min_idle_ms`` (redelivery: the
        delivery count is incremented and the entries now belong to ``req.consumer``)."""
        raise NotImplementedError

    def _ack(self, stream: str, group: str, entry_ids: list[str]) -> int:
        """Ack entries and, in the same step, drop their waiting records; returns how many went."""
        raise NotImplementedError

    def _settle(self, stream: str, group: str, entry_ids: list[str]) -> None:
        """Ack entries, then trim their stream once ``trim_every`` acks have gathered on it.

        The trim is best effort: the ack has happened, so a failed trim (the backend unreachable
        for a moment) is logged and left to the next one or to the scheduler's maintenance.
        """
        if self._ack(stream, group, entry_ids):
            self._wake_waiting(group)
        if not self.trim_every or stream not in TRIMMED_STREAMS:
            return
        count = self._acks_since_trim.get(stream, 0) + len(entry_ids)
        if count < self.trim_every:
            self._acks_since_trim[stream] = count
            return
        self._acks_since_trim[stream] = 0
        try:
            self.trim(stream)
        except BusError as exc:
            log.warning("trimming %s after %d acks failed (left to maintenance): %s", stream, count, exc)

    def _make_due(self, d: Delivery, delivery_count: int, reason: str | None) -> None:
        """Make a pending delivery due for redelivery now with ``delivery_count``, remembering ``reason``."""
        raise NotImplementedError

    def _last_error(self, stream: str, group: str, entry_id: str) -> str | None:
        raise NotImplementedError

    def _group_names(self, stream: str) -> set[str]:
        """The names of the consumer groups that read ``stream``."""
        raise NotImplementedError

    def _dead(self, letter: Undeliverable) -> str:
        """File one dead letter (and ack its entry for its group when it has one)."""
        raise NotImplementedError

    def _inject(self, stream: str, payload: str, event_type: str) -> str:
        raise NotImplementedError

    def _range(self, stream: str, after: str | None, count: int) -> list[tuple[str, str, Payload]]:
        """Entries of a work stream after ``after``: (id, type, payload)."""
        raise NotImplementedError

    def _restore(self, events: list[Event]) -> int:
        """Append events to the audit log only."""
        raise NotImplementedError

    def _trim_audit(self, through: str) -> int:
        raise NotImplementedError

    # The waiting-record primitives (``_waiting``, ``_park``...) are ``aisoc.bus.waiting``'s.

    def _repair_audit_index(self) -> int:
        return 0  # SQLite indexes the audit table's own column; memory rebuilds its index with the trim

    # --- shared machinery -----------------------------------------------------------------------

    def _claim_due(self, req: ReadRequest, types: frozenset[str] | None) -> list[RawEntry]:
        # Looking for due waiting entries costs a round trip: at most once a second (bus clock), or at
        # once after this process settled an entry that had a waiting record. Waiting entries the
        # group no longer reads are looked for at a reader's first read (by stream and by type) and
        # once a minute after (by stream alone: one of a type no longer read is settled when it is
        # claimed, and looking up the types of every waiting entry each minute would cost more).
        key = (req.group, ",".join(req.streams))
        reader = (*key, ",".join(sorted(types)) if types is not None else "*")
        now = self.clock()
        with self._take_over_lock:
            next_look = self._unwanted_scan_at.get(reader)
            unwanted = next_look is None or now >= next_look
            if not unwanted and now < self._due_scan_at.get(key, 0.0):
                return []
            self._due_scan_at[key] = now + DUE_SCAN_S
            if unwanted:
                self._unwanted_scan_at[reader] = now + UNWANTED_SCAN_S
        if unwanted:
            waiting.settle_unwanted(self, req.group, req.streams, types if next_look is None else None)
        return self._claim_waiting(req, now)

    def _retry_later(self, d: Delivery, reason: str, after_s: float | None) -> Waiting:
        return waiting.retry_later(self, d, reason, after_s, self.clock())

    def _wake_waiting(self, group: str) -> None:
        """A waiting record of ``group`` went: the next waiting event of its case may go at once."""
        with self._take_over_lock:
            for key in list(self._due_scan_at):
                if key[0] == group:
                    self._due_scan_at[key] = 0.0

    def _streams_for(self, types: frozenset[str] | None, streams: Iterable[str] | None) -> tuple[str, ...]:
        names = list(streams or ())
        for t in sorted(types or ()):
            s = class_for(t).STREAM
            if s not in names:
                names.append(s)
        if not names:
            raise BusError("consume() needs types= or streams= to know what to read")
        for s in names:
            if s not in WORK_STREAMS:
                raise BusError(f"cannot consume {s!r}; work streams are {', '.join(WORK_STREAMS)}")
        return tuple(names)

    def _take_over_due(self, req: ReadRequest) -> list[RawEntry]:
        # Scanning for stale deliveries on every poll would cost a round trip each time: do it at
        # most every quarter visibility timeout, or at once after a local fail()/release().
        key = (req.group, ",".join(req.streams))
        now = time.monotonic()
        with self._take_over_lock:
            if now < self._take_over_at.get(key, 0.0):
                return []
            self._take_over_at[key] = now + max(0.05, self.visibility_timeout_ms / 4000)
        return self._take_over(req, self.visibility_timeout_ms)

    def _requeue(self, d: Delivery, delivery_count: int, reason: str | None) -> None:
        """Give a delivery back for redelivery (failed or released) and look for it on the next poll."""
        self._make_due(d, delivery_count, reason)
        with self._take_over_lock:
            for key in list(self._take_over_at):
                if key[0] == d.group:
                    self._take_over_at[key] = 0.0

    def _filter(
        self, group: str, consumer: str, raw: list[RawEntry], wanted: frozenset[str] | None
    ) -> list[Delivery]:
        out: list[Delivery] = []
        skip: dict[str, list[str]] = {}
        groups: dict[str, set[str]] = {}
        for entry in raw:
            if entry.event_type == UNTYPED:  # what inject() and a replayed untyped letter store
                entry = replace(entry, event_type="")
            if entry.target is not None and entry.target != group:
                # A replayed dead letter is for one group; every other group passes it by. A target
                # that names no group of the stream (written around the bus) would be passed by
                # every group, so it is lost unless each files it.
                known = groups.get(entry.stream)
                if known is None:
                    known = groups[entry.stream] = self._group_names(entry.stream)
                if entry.target in known:
                    skip.setdefault(entry.stream, []).append(entry.entry_id)
                else:
                    self._dead_raw(
                        group,
                        entry,
                        f"cannot deliver: the entry's 'g' field names no consumer group of "
                        f"{entry.stream}: {entry.target!r}",
                    )
                continue
            if wanted is not None and entry.event_type and entry.event_type not in wanted:
                # An entry that carries no type is decoded first: its payload says what it is. One
                # stored under a type no release has (a typo, garbage, a newer release) is no other
                # group's either: each group that meets it files it instead of passing it by.
                if _registered(entry.event_type):
                    skip.setdefault(entry.stream, []).append(entry.entry_id)
                    continue
            if entry.delivery_count > self.max_deliveries:
                last = self._last_error(entry.stream, group, entry.entry_id)
                self._dead_raw(
                    group,
                    entry,
                    f"delivered {entry.delivery_count - 1} times without an ack; last error: "
                    f"{last or 'consumer died or timed out'}",
                )
                continue
            event = self._decode(group, entry)
            if event is None:
                continue
            if wanted is not None and event.type not in wanted:  # an untyped entry of another type
                skip.setdefault(entry.stream, []).append(entry.entry_id)
                continue
            out.append(
                Delivery(self, event, entry.stream, entry.entry_id, group, consumer, entry.delivery_count)
            )
        for stream, ids in skip.items():
            self._settle(stream, group, ids)
        return waiting.order(self, group, out, self.clock()) if out else out

    def _decode(self, group: str, entry: RawEntry) -> Event | None:
        """Decode a stored payload, or dead-letter it with the reason (poison never blocks a group)."""
        payload = entry.payload
        if isinstance(payload, Event):
            return payload
        if entry.event_type and not _registered(entry.event_type):
            reason = f"cannot decode: stored as {entry.event_type!r}, which is no event type of this release"
        elif payload is None:
            reason = "cannot decode: the entry has no payload"
        elif isinstance(payload, bytes):
            reason = "cannot decode: the payload is not UTF-8 text"
        else:
            try:
                event = from_json(payload, entry.event_type or None)
            except ContractError as e:
                reason = f"cannot decode: {e}"
            else:
                if not entry.event_type or class_for(entry.event_type) is type(event):
                    return event
                reason = f"cannot decode: stored as {entry.event_type!r} but the payload is {event.type!r}"
        self._dead_raw(group, entry, reason)
        return None

    def _dead_raw(self, group: str, entry: RawEntry, reason: str) -> None:
        payload = entry.payload
        event_id = entry.event_id()
        text = payload.to_json() if isinstance(payload, Event) else payload
        encoding = "utf-8"
        if isinstance(text, bytes):
            text, encoding = base64.b64encode(text).decode("ascii"), "base64"
        log.warning("dead letter %s#%s for %s: %s", entry.stream, entry.entry_id, group, reason)
        self._wake_waiting(group)
        self._dead(
            Undeliverable(
                stream=entry.stream,
                group=group,
                entry_id=entry.entry_id,
                event_type=entry.event_type,
                event_id=event_id,
                reason=reason,
                payload=text,
                delivery_count=entry.delivery_count,
                encoding=encoding,
            )
        )

    def _dead_letter_delivery(self, d: Delivery, reason: str) -> None:
        log.warning("dead letter %s (%s) for %s: %s", d.event.event_id, d.event.type, d.group, reason)
        self._wake_waiting(d.group)
        self._dead(
            Undeliverable(
                stream=d.stream,
                group=d.group,
                entry_id=d.entry_id,
                event_type=d.event.type,
                event_id=d.event.event_id,
                reason=reason,
                payload=d.event.to_json(),
                delivery_count=d.delivery_count,
            )
        )


def _registered(event_type: str) -> bool:
    """Whether ``event_type`` is an event type of this release (aliases included)."""
    try:
        class_for(event_type)
    except ContractError:
        return False
    return True


_SCHEMES: dict[str, type[Bus] | str] = {}
"""URL scheme -> backend class, or the ``module:Class`` import string of a built-in not loaded yet."""
_FORMS: dict[str, str] = {}
"""URL scheme -> the form an error message shows."""


def register_scheme(scheme: str, backend: type[Bus] | str, form: str = "") -> None:
    """Make ``Bus(url)`` choose ``backend`` for URLs of ``scheme``.

    Args:
        scheme: the URL scheme, lowercase (``redis``).
        backend: the class, or ``"module:Class"`` imported on first use (keeps extras optional).
        form: how the URL looks, for error messages (``redis://HOST:PORT/DB``).
    """
    _SCHEMES[scheme] = backend
    if form:
        _FORMS[scheme] = form


def backend_for(url: str | None) -> type[Bus]:
    """Return the backend class for ``url`` (None means in-memory).

    Raises:
        BusError: no backend answers to the URL's scheme.
    """
    scheme = (url or "memory://").split(":", 1)[0].lower()
    backend = _SCHEMES.get(scheme)
    if backend is None:
        forms = list(dict.fromkeys(_FORMS.values()))
        expected = ", ".join(forms[:-1]) + f" or {forms[-1]}" if len(forms) > 1 else "".join(forms)
        raise BusError(f"bus URL {url!r}: unknown scheme {scheme!r}; expected {expected}")
    if isinstance(backend, str):
        module, _, name = backend.partition(":")
        loaded = getattr(importlib.import_module(module), name)
        if not (isinstance(loaded, type) and issubclass(loaded, Bus)):
            raise BusError(f"bus backend {backend!r} is not a Bus subclass")
        _SCHEMES[scheme] = backend = loaded
    return backend


register_scheme("memory", "aisoc.bus.memory:MemoryBus", "memory://")
register_scheme("sqlite", "aisoc.bus.sqlite:SqliteBus", "sqlite:///PATH")
for _scheme in ("redis", "rediss", "unix"):
    register_scheme(_scheme, "aisoc.bus.redis:RedisBus", "redis://HOST:PORT/DB")
for _scheme in ("redis+cluster", "rediss+cluster"):
    register_scheme(_scheme, "aisoc.bus.redis:RedisBus", "redis+cluster://HOST:PORT,HOST:PORT")
