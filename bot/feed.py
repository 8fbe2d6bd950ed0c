"""The bot's consumer group on the bus: every event worth a post becomes queued posts, durably.

Deliveries are handled a batch at a time: each delivery's posts are written in a savepoint of one
store transaction per batch (keyed by event id), the transaction commits, and only then is the batch
acked, in one round trip. So a crash loses nothing (nothing is acked before its posts are stored), a
redelivery queues nothing twice (post ids derive from event ids), and an event whose posts cannot be
planned is rolled back alone and failed (retried, then dead-lettered) while the rest of its batch is
stored and acked. Sending is the :class:`~bot.sender.Sender`'s job; this loop never waits on Webex,
and no role ever waits on it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from aisoc.bus import Bus, Delivery
from aisoc.health import heartbeat_info
from bot.compose import Composer
from bot.settings import BotSettings
from bot.store import BotStore, Plan, TransactionLost

log = logging.getLogger(__name__)

GROUP = "bot"
"""The bot's consumer group."""
STREAMS = ("cases", "actions", "reports")
"""Read in this order each round, so a case's plan is seen before its proposals and decisions."""
HEARTBEAT_S = 5.0
"""How often the bot tells ``status`` it is alive."""
BATCH = 50
"""Deliveries read per stream per round when the bot keeps up."""
MAX_BATCH = 400
"""The most read per stream per round: a full batch doubles the next one up to this while a backlog
lasts (fewer rounds, commits and acks per event; one batch holds the store for well under a second)."""


class Feed:
    """Consumes group ``bot`` and queues posts; rolls Sentinel's closures into the digest on schedule.

    Args:
        bus: the bus.
        composer: event -> posts.
        store: the outbox.
        settings: digest interval and size.
        on_queued: called after new posts are queued (wakes the sender).
        consumer: this process's consumer name.
        clock: wall-clock seconds (injected by tests).
        sweep: ``now -> plan`` of reminders and escalations due (the :class:`~bot.nudges.Nudger`).
        inbox: ``now -> answered``: answers the webhook deliveries kept in the store (the receiver's
            :meth:`~bot.inbound.Receiver.work`); questions are answered here, never in the request.
        keep_up: ``() -> entries read``: reads a page of the log into the bot's own read models (the
            hosts' addresses and the catalogs questions built, :meth:`bot.commands.Commands.keep_up`),
            so they are current when a question comes and no question reads every case.
    """

    def __init__(
        self,
        bus: Bus,
        composer: Composer,
        store: BotStore,
        settings: BotSettings,
        *,
        on_queued: Callable[[], None] = lambda: None,
        consumer: str | None = None,
        clock: Callable[[], float] = time.time,
        sweep: Callable[[float], Plan] | None = None,
        inbox: Callable[[float], int] | None = None,
        keep_up: Callable[[], int] | None = None,
    ) -> None:
        self.bus = bus
        self.composer = composer
        self.store = store
        self.settings = settings
        self.on_queued = on_queued
        self.consumer = consumer or f"bot-{socket.gethostname()}-{os.getpid()}"
        self.clock = clock
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.handled = 0
        self.sweep = sweep
        self.inbox = inbox
        self.keep_up = keep_up
        self._next_sweep = 0.0
        self._count = dict.fromkeys(STREAMS, BATCH)

    def run_once(self, block_ms: int = 0) -> int:
        """Consume one batch per stream (cases, then actions, then reports: a plan is seen before its
        proposals and decisions), queue the posts, flush the digest when due; returns deliveries."""
        handled, queued = 0, False
        for stream in STREAMS:
            count = self._count[stream]
            batch = self.bus.consume(GROUP, self.consumer, streams=[stream], count=count)
            self._count[stream] = min(MAX_BATCH, count * 2) if len(batch) >= count else BATCH
            handled += len(batch)
            if batch:
                queued = self._handle_batch(batch) or queued
        queued = self.flush_digest() or queued
        queued = self.chase() or queued
        if self.inbox is not None:
            handled += self.inbox(self.clock())
        if queued:
            self.on_queued()
        caught_up = self._keep_up()
        if not handled and caught_up and block_ms:
            self.stopping.wait(block_ms / 1000)
        return handled

    def _keep_up(self) -> bool:
        """Read a page of the log into the bot's own read models; returns whether they are current
        (a failure is logged and tried again next round: posting goes on)."""
        if self.keep_up is None:
            return True
        try:
            return self.keep_up() == 0
        except Exception:
            log.exception("bot could not follow the audit log for its read models; retrying")
            return True

    def _handle_batch(self, batch: list[Delivery]) -> bool:
        """Store a batch's posts in one transaction (each delivery's in a savepoint of it, planned
        in order so an event sees the posts of those before it), then ack the stored ones at once
        and fail the others; returns whether any post was queued."""
        stored: list[Delivery] = []
        failed: list[tuple[Delivery, str]] = []
        queued = False
        try:
            with self.store.batch(), self.composer.batch():
                for d in batch:
                    try:
                        with self.store.step():
                            plan = self.composer.plan(d.event)
                            queued = bool(plan and self.store.apply(plan)) or queued
                    except TransactionLost:
                        raise  # what was stored before is gone too: the whole batch again, one by one
                    except Exception as e:  # a bad event must not stop the bot: retried, then dead-lettered
                        self._log_failure(d)
                        failed.append((d, f"{type(e).__name__}: {e}"))
                    else:
                        stored.append(d)
        except Exception:  # the commit itself failed: nothing of the batch is stored; one at a time
            log.exception("bot could not store a batch of %d deliveries; one at a time now", len(batch))
            results = [self._handle(d) for d in batch]
            return any(results)
        self.bus.ack_many(stored)  # only now: the posts are committed
        self.handled += len(stored)
        for d, reason in failed:
            d.fail(reason)
        return queued

    def _handle(self, d: Delivery) -> bool:
        """One delivery in a transaction of its own (the fallback when a batch cannot commit)."""
        try:
            with self.store.step():
                plan = self.composer.plan(d.event)
                queued = bool(plan and self.store.apply(plan))
        except Exception as e:  # a bad event must not stop the bot: retried, then dead-lettered
            self._log_failure(d)
            d.fail(f"{type(e).__name__}: {e}")
            return False
        d.ack()
        self.handled += 1
        return queued

    @staticmethod
    def _log_failure(d: Delivery) -> None:
        ctx = {"case_id": d.event.case_id, "event_id": d.event.event_id}
        log.exception("bot could not plan posts for %s (%s)", d.event.event_id, d.event.type, extra=ctx)

    def chase(self) -> bool:
        """Queue the reminders and escalations due (approved-not-done actions, unacknowledged reviews),
        at most once per ``sweep_interval_s``; returns whether any was queued."""
        now = self.clock()
        if self.sweep is None or now < self._next_sweep:
            return False
        self._next_sweep = now + self.settings.sweep_interval_s
        try:
            return bool(self.store.apply(self.sweep(now)))
        except Exception:  # a failed sweep is tried again next interval
            log.exception("bot could not chase waiting work")
            return False

    def drain(self) -> int:
        """Consume until nothing is left (tests and the demo)."""
        total = 0
        while n := self.run_once():
            total += n
        return total

    def flush_digest(self, *, force: bool = False) -> bool:
        """Queue the digest card when the oldest buffered closure is ``digest_interval_s`` old, when
        ``digest_max`` closures wait, or when forced; returns whether a digest was queued. One card
        rolls up at most ``digest_max`` closures (a batch read from a backlog may buffer more)."""
        items = self.store.digest_items()
        if not items:
            return False
        most = self.settings.digest_max
        due = self.clock() - items[0][3] >= self.settings.digest_interval_s
        if not (force or due or len(items) >= most):
            return False
        queued = False
        for start in range(0, len(items), most):
            chunk = items[start : start + most]
            post = self.composer.digest(chunk)
            done = self.store.apply(Plan(posts=[post] if post else []), drop_digest=[i[0] for i in chunk])
            queued = bool(done) or queued
            log.info("digest of %d closure(s) queued", len(chunk))
        return queued

    def run(self) -> None:
        """Loop until ``stop()``: consume, flush the digest, beat."""
        next_beat = 0.0
        while not self.stopping.is_set():
            try:
                self.run_once(block_ms=500)
                if time.monotonic() >= next_beat:
                    self.bus.heartbeat(self.consumer, heartbeat_info("bot", handled=self.handled), ttl_s=30.0)
                    next_beat = time.monotonic() + HEARTBEAT_S
            except Exception:  # the bus is down: keep trying, slowly
                log.exception("bot feed error; retrying")
                self.stopping.wait(2.0)

    def start(self) -> Feed:
        """Run the loop in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="bot-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and wait for it."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
