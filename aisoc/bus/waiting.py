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

A backend stores the records per group (memory: a dict; SQLite: the ``waiting`` table; Redis: the
hash ``{ns}:waiting:GROUP``) through five primitives of ``Bus``: ``_waiting``, ``_park``,
``_claim_waiting``, ``_unpark`` and ``_dead`` (which drops the record of what it files).
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
        """The record stored as ``text``, or None when it is not one (written around the bus)."""
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError):
            return None


def retry_delay_s(attempt: int, base_s: float, max_s: float, asked_s: float | None = None) -> float:
    """The delay before try ``attempt + 1``: ``base_s * 2 ** (attempt - 1)`` up to ``max_s``, and at
    least ``asked_s`` (the dependency's ``Retry-After``, already capped by whoever read it)."""
    delay = min(max_s, base_s * 2.0 ** min(max(attempt - 1, 0), 40))
    return max(delay, asked_s or 0.0)


def case_key(d: Delivery) -> str:
    """The case a delivery belongs to for ordering (an event without a case is its own)."""
    return d.event.case_id or d.event.event_id


def _age(r: Waiting) -> tuple[tuple[int, int], bool]:
    """How a case's records are ordered: by entry id, and on a tie a retried record before a held
    one. Redis gives entries of two streams added in the same millisecond the same id (an alert and
    its verdict), and a held record was held behind the one that was retried."""
    return id_key(r.entry_id), r.attempts == 0


def heads(records: list[Waiting]) -> dict[str, Waiting]:
    """The oldest waiting record of each case: the only one that may be retried."""
    out: dict[str, Waiting] = {}
    for r in records:
        head = out.get(r.case)
        if head is None or _age(r) < _age(head):
            out[r.case] = r
    return out


def claim_due(bus: Bus, req: ReadRequest, now: float) -> list[RawEntry]:
    """Claim up to ``req.count`` waiting heads of ``req.group`` that are due, oldest due first."""
    due = [
        r
        for r in heads(bus._waiting(req.group)).values()
        if r.due is not None and r.due <= now and r.stream in req.streams
    ]
    due.sort(key=lambda r: (r.due or 0.0, id_key(r.entry_id)))
    return bus._claim_waiting(req.group, req.consumer, due[: req.count]) if due else []


def order(bus: Bus, group: str, deliveries: list[Delivery], now: float) -> list[Delivery]:
    """Keep what may run now; park the rest (a waiting entry that is not due, an entry behind one).

    Every delivery kept shares one view of the cases that wait (``Delivery.hold_back`` reads it), so
    an entry of the same batch behind one that starts waiting is held too.
    """
    records = bus._waiting(group)
    by_key = {r.key: r for r in records}
    first = heads(records)
    waiting_cases = {case: r.key for case, r in first.items()}
    kept = []
    for d in deliveries:
        case, key = case_key(d), f"{d.stream} {d.entry_id}"
        record = by_key.get(key)
        if record is not None and record.due is None:  # claimed when due, or taken over from a crash
            d.waiting = record
        elif record is not None:  # waits still (taken over after the visibility timeout)
            bus._park(group, d.consumer, record, d.delivery_count - 1)
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
    bus._park(d.group, d.consumer, record, d.delivery_count - 1)


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
    bus._park(d.group, d.consumer, record, d.delivery_count - 1)
    return record
