"""Delivery of one entry to one consumer, and the in-process runner behind ``subscribe``/``drain``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aisoc.bus.waiting import Waiting, case_key, hold
from aisoc.errors import BusError, Unavailable, Unprocessable
from aisoc.events import Event

if TYPE_CHECKING:
    from aisoc.bus.base import Bus

log = logging.getLogger(__name__)


class Delivery:
    """One event delivered to one consumer of a group; settle it exactly once: ack it, fail it,
    release it, retry it later or file it as a dead letter."""

    __slots__ = (
        "_bus",
        "consumer",
        "delivery_count",
        "done",
        "entry_id",
        "event",
        "group",
        "stream",
        "waiting",
        "waiting_cases",
    )

    def __init__(
        self,
        bus: Bus,
        event: Event,
        stream: str,
        entry_id: str,
        group: str,
        consumer: str,
        delivery_count: int,
    ) -> None:
        self._bus = bus
        self.event = event
        self.stream = stream
        self.entry_id = entry_id
        self.group = group
        self.consumer = consumer
        self.delivery_count = delivery_count
        self.done = False
        self.waiting: Waiting | None = None
        """Its waiting record when it is the retry of a delivery that waited (``retry_later``)."""
        self.waiting_cases: dict[str, str] = {}
        """Cases that wait for this group, shared by the deliveries of one batch (``hold_back``)."""

    def ack(self) -> None:
        """Mark the event handled for this group (a waiting record of it goes in the same step)."""
        if not self.done:
            self._bus._settle(self.stream, self.group, [self.entry_id])
            self.done = True

    def retry_later(self, reason: str, after_s: float | None = None) -> None:
        """Give the event back to be tried again later, without counting a failure: a dependency is
        unavailable (the model server restarts), not the event unprocessable.

        The next try comes after ``retry_base_s``, doubling per try up to ``retry_max_s``, and not
        before ``after_s`` (the dependency's ``Retry-After``); until it is handled, the later events
        of its case wait behind it for this group. It is never dead-lettered for waiting.
        """
        if not self.done:
            self.done = True
            record = self._bus._retry_later(self, reason, after_s)
            self.waiting_cases.setdefault(record.case, record.key)

    def hold_back(self) -> bool:
        """Whether an earlier event of this delivery's case, in the same batch, began to wait
        (``retry_later``) meanwhile: then this delivery is parked behind it, unhandled, and True is
        returned. Consumers that handle a batch call it before each delivery; ``consume`` already
        holds back what waits from earlier batches."""
        if self.done or not self.waiting_cases:
            return False
        behind = self.waiting_cases.get(case_key(self))
        if behind is None or behind == f"{self.stream} {self.entry_id}":
            return False
        self.done = True
        hold(self._bus, self, behind, self._bus.clock())
        return True

    def fail(self, reason: str) -> None:
        """Record a failed attempt: redelivered at once, or dead-lettered after ``max_deliveries``."""
        if self.done:
            return
        self.done = True
        if self.delivery_count >= self._bus.max_deliveries:
            self._bus._dead_letter_delivery(
                self, f"failed {self.delivery_count} deliveries; last error: {reason}"
            )
        else:
            self._bus._requeue(self, self.delivery_count, reason)

    def dead_letter(self, reason: str) -> None:
        """File the event as a dead letter now, without another try (a person decides: replaying
        it runs it again on purpose)."""
        if not self.done:
            self.done = True
            self._bus._dead_letter_delivery(self, reason)

    def release(self) -> None:
        """Give the event back without counting a failure (shutdown): another consumer takes it."""
        if not self.done:
            self.done = True
            self._bus._requeue(self, max(0, self.delivery_count - 1), None)

    def __repr__(self) -> str:
        return (
            f"Delivery({self.event.type} {self.event.event_id} from {self.stream}#{self.entry_id} "
            f"to {self.group}/{self.consumer}, n={self.delivery_count})"
        )


Handler = Callable[[Delivery], None]


@dataclass
class Subscription:
    """An in-process handler registered with ``bus.subscribe`` (used by ``drain`` and workers)."""

    group: str
    consumer: str
    handler: Handler
    types: frozenset[str] | None
    streams: tuple[str, ...]
    count: int = 100
    active: Callable[[], bool] | None = None
    """When it returns False the subscription takes no work (a paused role)."""


class Runner:
    """Runs in-process subscriptions against one bus: one batch at a time, or until quiet (``drain``)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.subscriptions: list[Subscription] = []

    def add(self, sub: Subscription) -> Subscription:
        """Register ``sub``; ``drain`` delivers to it from now on."""
        self.subscriptions.append(sub)
        return sub

    def run_once(self, sub: Subscription, block_ms: int = 0) -> int:
        """Deliver one batch to one subscription; a handler that raises fails its delivery."""
        if sub.active is not None and not sub.active():
            return 0
        batch = self.bus.consume(
            sub.group,
            sub.consumer,
            types=sub.types,
            count=sub.count,
            block_ms=block_ms,
            streams=sub.streams,
        )
        for d in batch:
            if d.hold_back():
                continue
            try:
                sub.handler(d)
            except Exception as e:  # a handler bug must not kill the loop: count it, retry, DLQ
                settle_failed(d, e)
        return len(batch)

    def drain(self, max_rounds: int = 1_000_000) -> int:
        """Deliver to every subscription until a whole round delivers nothing.

        Returns:
            How many deliveries were made.

        Raises:
            BusError: it did not settle within ``max_rounds`` rounds.
        """
        total = 0
        for _ in range(max_rounds):
            delivered = sum(self.run_once(sub) for sub in list(self.subscriptions))
            total += delivered
            if not delivered:
                return total
        raise BusError(f"drain() did not settle after {max_rounds} rounds (a handler loops?)")


def settle_failed(d: Delivery, error: Exception) -> None:
    """Settle a delivery whose handler raised ``error``, which must not stop the consumer.

    An :class:`~aisoc.errors.Unprocessable` event is filed as a dead letter now and logged once, as an
    error saying why (another try would read the same damage); replaying the letter after the repair
    handles it. An :class:`~aisoc.errors.Unavailable` dependency makes the delivery wait
    (``retry_later``). Anything else is logged with its traceback and failed: retried, then
    dead-lettered after ``max_deliveries``.
    """
    context = {"event_id": d.event.event_id, "case_id": d.event.case_id}
    if isinstance(error, Unavailable):
        d.retry_later(f"{type(error).__name__}: {error}", error.retry_after_s)
        return
    if isinstance(error, Unprocessable):
        log.error(
            "%s Group %s filed %s %s as a dead letter: replay it once that is repaired.",
            error,
            d.group,
            d.event.type,
            d.event.event_id,
            extra=context,
        )
        d.dead_letter(str(error))
        return
    log.exception("handler of %s failed on %s", d.group, d.event.event_id, extra=context, exc_info=error)
    d.fail(f"{type(error).__name__}: {error}")


def batch_by_group(deliveries: Iterable[Delivery]) -> dict[tuple[str, str], list[str]]:
    """Group open deliveries' entry ids by (stream, group), marking each done (``ack_many``; the
    waiting records of deliveries that waited go with the ack)."""
    by_key: dict[tuple[str, str], list[str]] = {}
    for d in deliveries:
        if not d.done:
            by_key.setdefault((d.stream, d.group), []).append(d.entry_id)
            d.done = True
    return by_key
