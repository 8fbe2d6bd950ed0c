"""Deliveries that wait: a retry after a growing delay, with the later events of the case behind it.

A handler whose dependency cannot serve now (``aisoc.errors.Unavailable``: the model server is
restarting) gives its delivery back with ``Delivery.retry_later``. The entry stays pending for its
group (nothing is lost if every process dies) and a *waiting record* says when it may be tried again:
after ``retry_base_s`` seconds, doubling each time up to ``retry_max_s``, and never sooner than the
dependency's ``Retry-After``. Such a try does not count toward ``max_deliveries``: a poison event is
dead-lettered after its tries, an outage never dead-letters anything.

Per-case order: while an entry of a case waits for a group, every later entry of that case that the
group reads is *held* behind it (a record with no attempts), and only the oldest waiting entry of a
case (its *head*) is ever retried; the next one goes once the head is settled. A record whose head is
being run has no due time (``due is None``: in flight) until it is settled or waits again.

A record goes the moment its entry is acked or filed as a dead letter, whatever the reason (handled,
an entry of a type the group no longer reads, a poison event), in the same step as the ack, and the
next record of its case becomes the head at once. A record of a stream the group no longer reads at
all (a deploy changed its subscription) would never be read again, and one of a type it no longer
reads would hold its case until due: a consumer settles such records when it starts reading and
every ``UNWANTED_SCAN_S`` after (acked, as a skipped entry of another type is).

While its record says when it goes next, a waiting entry's pending entry is held by the consumer
``PARKED``, which the take-over passes by: the entries of a long outage are not claimed and given
back every visibility timeout, and a crashed consumer's work (a waiting entry it was running
included) is found without a walk through them.

A backend keeps each group's records indexed by case (in age order: :func:`age`) and keeps the
case *heads* that have a due time indexed by it, so a batch reads only the records of its own
entries and cases, and a look for due work reads only what is due (memory: ``WaitTable``; SQLite:
the ``waiting`` table's indexed columns; Redis: the hash ``{ns}:waiting:GROUP`` with the sorted
sets ``waiting-age:GROUP`` and ``waiting-due:GROUP``). The primitives of ``Bus``:

- ``_waiting(group)``: every record (``aisoc status``; not on the delivery path);
- ``_waiting_for(group, keys, cases)``: the records of some entries and the heads of some cases;
- ``_park(group, consumer, record, delivery_count)``: store a record, give its entry back;
- ``_claim_waiting(req, now)``: claim the due heads, oldest due first, marking them in flight;
- ``_waiting_unwanted(group, streams, types, count)``: records the group no longer reads;
- ``_ack`` and ``_dead``: settle entries and drop their records (``_ack`` returns how many).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from aisoc.bus.records import RawEntry, ReadRequest, id_key

if TYPE_CHECKING:
    from aisoc.bus.base import Bus
    from aisoc.bus.delivery import Delivery

log = logging.getLogger(__name__)

DEFAULT_RETRY_BASE_S = 5.0
"""First delay of a delivery whose dependency was unavailable (then doubled per try)."""
DEFAULT_RETRY_MAX_S = 300.0
"""Longest delay between two tries of a waiting delivery."""
DUE_SCAN_S = 1.0
"""How often (bus clock) a consumer looks for waiting deliveries that are due."""
UNWANTED_SCAN_S = 60.0
"""How often (bus clock), after its first read, a consumer looks for waiting records of streams or
types its group no longer reads (an older process of a rolling deploy may still park one)."""
PARKED = "(waiting)"
"""The consumer that holds the pending entry of a waiting delivery while it is not in flight."""
UNWANTED_BATCH = 1000
"""Waiting records no longer read settled per backend call."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """One entry that waits for one group: retried (``attempts`` > 0) or held behind its case."""

    stream: str
    entry_id: str
    case: str
    """The case id (an event without one is its own case: its event id)."""
    due: float | None
    """When it may be tried again (bus clock, POSIX seconds); None while a consumer runs it."""
    attempts: int
    """Tries that found the dependency unavailable (0: held behind an earlier entry of its case)."""
    reason: str
    since: float
    """When it first waited (bus clock)."""

    @property
    def key(self) -> str:
        """The record's key within its group: ``STREAM ENTRY_ID``."""
        return f"{self.stream} {self.entry_id}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Waiting | None:
        """The record stored as ``text``, or None when it is not one (written around the bus: JSON
        of another shape, a field of another type, an entry id that is not one). A record that is not
        one is ignored, so its entry is delivered as if it had none; trusting a due time that is text
        would park the entry for good."""
        try:
            record = cls(**json.loads(text))
            id_key(record.entry_id)
        except (TypeError, ValueError, AttributeError):
            return None
        number = (int, float)
        if (
            not all(isinstance(v, str) for v in (record.stream, record.case, record.reason))
            or not isinstance(record.attempts, int)
            or any(isinstance(v, bool) for v in (record.due, record.attempts, record.since))
            or not (record.due is None or isinstance(record.due, number))
            or not isinstance(record.since, number)
        ):
            return None
        return record


class WaitingRecords:
    """The waiting-record primitives of a bus (each backend implements them; ``Bus`` has them)."""

    def _waiting(self, group: str) -> list[Waiting]:
        """Every waiting record of ``group``, in no order (``aisoc status``: not the hot path)."""
        raise NotImplementedError

    def _waiting_for(
        self, group: str, keys: list[str], cases: set[str]
    ) -> tuple[dict[str, Waiting], dict[str, Waiting]]:
        """The records of the entries ``keys`` (``STREAM ENTRY_ID``) that have one, by key, and the
        head of each of ``cases`` that has a record, by case."""
        raise NotImplementedError

    def _park(self, group: str, consumer: str, record: Waiting, delivery_count: int) -> None:
        """Store ``record`` and, in the same step, give its pending entry to ``consumer`` (the bus
        passes ``PARKED``, which the take-over passes by) with ``delivery_count`` and a fresh idle
        time; the head of its case is re-indexed. An entry no longer pending (settled meanwhile)
        gets no record."""
        raise NotImplementedError

    def _waiting_unwanted(
        self, group: str, streams: tuple[str, ...], types: frozenset[str] | None, count: int
    ) -> list[Waiting]:
        """Up to ``count`` records of ``group`` whose stream is not one of ``streams`` or whose
        entry's stored type is not one of ``types`` (None: any; an entry stored without a type, or
        gone, is kept)."""
        raise NotImplementedError

    def _claim_waiting(self, req: ReadRequest, now: float) -> list[RawEntry]:
        """Claim for ``req.consumer`` up to ``req.count`` case heads of ``req.streams`` due by
        ``now``, soonest due first, in one step: each record is marked in flight (``due`` None) and a
        delivery counted; a head whose entry is no longer pending is dropped (its case's next record
        becomes the head)."""
        raise NotImplementedError


def retry_delay_s(attempt: int, base_s: float, max_s: float, asked_s: float | None = None) -> float:
    """The delay before try ``attempt + 1``: ``base_s * 2 ** (attempt - 1)`` up to ``max_s``, and at
    least ``asked_s`` (the dependency's ``Retry-After``, already capped by whoever read it)."""
    delay = min(max_s, base_s * 2.0 ** min(max(attempt - 1, 0), 40))
    return max(delay, asked_s or 0.0)


def case_key(d: Delivery) -> str:
    """The case a delivery belongs to for ordering (an event without a case is its own)."""
    return d.event.case_id or d.event.event_id


def age(r: Waiting) -> str:
    """Where a record stands in its case, as text that sorts: by entry id, and on a tie a retried
    record before a held one (Redis gives entries of two streams added in the same millisecond the
    same id, an alert and its verdict, and a held record was held behind the one that was retried).
    The Redis scripts build the same text (``aisoc.bus.redis_waiting``)."""
    ms, seq = id_key(r.entry_id)
    return f"{ms:020d}-{seq:020d}-{0 if r.attempts else 1}"


def heads(records: list[Waiting]) -> dict[str, Waiting]:
    """The oldest waiting record of each case: the only one that may be retried."""
    out: dict[str, Waiting] = {}
    for r in records:
        head = out.get(r.case)
        if head is None or (age(r), r.key) < (age(head), head.key):
            out[r.case] = r
    return out


def order(bus: Bus, group: str, deliveries: list[Delivery], now: float) -> list[Delivery]:
    """Keep what may run now; park the rest (a waiting entry that is not due, an entry behind one).

    Only the records of the batch's own entries and the heads of its own cases are read. Every
    delivery kept shares one view of those cases (``Delivery.hold_back`` reads it, and
    ``retry_later`` adds to it), so an entry of the same batch behind one that starts waiting is
    held too.
    """
    keys = [f"{d.stream} {d.entry_id}" for d in deliveries]
    by_key, first = bus._waiting_for(group, keys, {case_key(d) for d in deliveries})
    waiting_cases = {case: r.key for case, r in first.items()}
    kept = []
    for d in deliveries:
        case, key = case_key(d), f"{d.stream} {d.entry_id}"
        record = by_key.get(key)
        if record is not None and record.due is None:  # claimed when due, or taken over from a crash
            d.waiting = record
        elif record is not None:  # waits still (taken over from a consumer of an earlier release)
            bus._park(group, PARKED, record, d.delivery_count - 1)
            continue
        elif case in first and id_key(first[case].entry_id) <= id_key(d.entry_id):
            # An entry of the case that is not waiting yet is held behind the case's head, also on
            # an id tie (another stream, the same millisecond: it was read after the head failed).
            hold(bus, d, first[case].key, now)
            continue
        d.waiting_cases = waiting_cases
        kept.append(d)
    return kept


def hold(bus: Bus, d: Delivery, behind: str, now: float) -> None:
    """Park ``d`` behind the waiting entry ``behind`` of its case (no try is counted)."""
    record = Waiting(d.stream, d.entry_id, case_key(d), now, 0, f"behind {behind} of its case", now)
    log.info(
        "%s: %s %s waits behind %s of case %s",
        d.group,
        d.event.type,
        d.event.event_id,
        behind,
        record.case,
        extra={"event_id": d.event.event_id, "case_id": d.event.case_id},
    )
    bus._park(d.group, PARKED, record, d.delivery_count - 1)


def retry_later(bus: Bus, d: Delivery, reason: str, after_s: float | None, now: float) -> Waiting:
    """Park ``d`` until its next try is due; returns its waiting record."""
    previous = d.waiting
    attempts = (previous.attempts if previous else 0) + 1
    delay = retry_delay_s(attempts, bus.retry_base_s, bus.retry_max_s, after_s)
    record = Waiting(d.stream, d.entry_id, case_key(d), now + delay, attempts, reason, now)
    if previous is not None:
        record = replace(record, since=previous.since)
    log.warning(
        "%s: %s %s of case %s waits %.0fs before its next try (unavailable %d time(s) since %.0fs "
        "ago; later events of the case wait behind it): %s",
        d.group,
        d.event.type,
        d.event.event_id,
        record.case,
        delay,
        attempts,
        now - record.since,
        reason,
        extra={"event_id": d.event.event_id, "case_id": d.event.case_id},
    )
    bus._park(d.group, PARKED, record, d.delivery_count - 1)
    return record


def settle_unwanted(bus: Bus, group: str, streams: tuple[str, ...], types: frozenset[str] | None) -> None:
    """Ack the waiting entries ``group`` no longer reads (their stream is not one of ``streams``,
    or their type not one of ``types``; None: any type), with their records.

    No consumer of the group would handle them, and the later events of their cases would wait
    behind them until they fell due (for good, for a stream no longer read). They are settled as an
    entry of a type the group no longer reads is (acked, not dead-lettered), each ack with its record
    in one step, and the next records of their cases are claimed at once.
    """
    settled: dict[tuple[str, str], int] = {}
    dropped = UNWANTED_BATCH
    while dropped == UNWANTED_BATCH:  # a batch that took fewer records with it was the last
        found: dict[str, list[str]] = {}
        for r in bus._waiting_unwanted(group, streams, types, UNWANTED_BATCH):
            found.setdefault(r.stream, []).append(r.entry_id)
        dropped = 0
        for stream, ids in found.items():
            dropped += bus._ack(stream, group, ids)
            why = "types" if stream in streams else "stream"
            settled[stream, why] = settled.get((stream, why), 0) + len(ids)
    if settled:
        bus._wake_waiting(group)
    for (stream, why), n in sorted(settled.items()):
        log.warning(
            "%s: %d waiting entr%s of %s acked: the group no longer reads %s (the later events of "
            "their cases go on)",
            group,
            n,
            "y" if n == 1 else "ies",
            stream,
            "that stream" if why == "stream" else "their types",
        )
