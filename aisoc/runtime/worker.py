"""One role per process: consume, handle, ack; heartbeat; finish the current event on SIGTERM.

With ``concurrency`` above 1 a worker runs several invocations at once (a GPU server batches them),
one case at a time: events of one case are handled in the order they were delivered.

One process may serve one role for several namespaces (tenants, partitions): ``WorkerSet`` runs a
``Worker`` per namespace's team in threads that stop together, so a Redis Cluster spreads the
namespaces over its masters while the number of processes stays one per role.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aisoc.bus import Bus, Delivery
from aisoc.errors import BusError, StorageConflict
from aisoc.health import heartbeat_info
from aisoc.runtime.team import Invocation, RoleTeam
from aisoc.stopsignal import on_stop

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
"""Seconds between heartbeats; a process is stale after three missed ones."""


def consumer_name(role: str, instance: int = 0) -> str:
    """A stable, unique consumer name: the same process restarted takes back its own name."""
    return f"{role}@{socket.gethostname()}#{instance}"


class Worker:
    """Runs one agent role of ``team`` until ``stop`` is set (SIGTERM/SIGINT set it too)."""

    def __init__(
        self,
        team: RoleTeam,
        role: str,
        *,
        instance: int = 0,
        block_ms: int = 1000,
        version: str = "",
        stop: threading.Event | None = None,
        concurrency: int = 1,
    ) -> None:
        if role not in team.agents:
            raise BusError(f"unknown role {role!r}; this team runs {', '.join(sorted(team.agents))}")
        if concurrency < 1:
            raise BusError(f"concurrency must be 1 or more, got {concurrency}")
        self.team, self.role, self.block_ms, self.version = team, role, block_ms, version
        self.concurrency = concurrency
        self.consumer = consumer_name(role, instance)
        self.stop = stop or threading.Event()
        self.handled = 0
        self._handled_lock = threading.Lock()
        self.last: Invocation | None = None
        self._beat_at = 0.0
        team.observers.append(self._seen)

    def _seen(self, inv: Invocation) -> None:
        if inv.role == self.role:
            self.last = inv

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT finish the current event, then the loop exits."""

        def handler(signum: int) -> None:
            log.info("%s: signal %d, finishing the current event and stopping", self.consumer, signum)
            self.stop.set()

        on_stop(handler)

    def heartbeat(self, bus: Bus, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._beat_at < HEARTBEAT_S:
            return
        self._beat_at = now
        info = heartbeat_info(
            self.role,
            version=self.version,
            handled=self.handled,
            model_leg=(self.last.leg if self.last else None) or self.team.caps.leg,
            last_event=self.last.event.event_id if self.last else "",
            last_case=(self.last.event.case_id or "") if self.last else "",
            paused="yes" if self.team.controls.is_paused(self.role) else "",
            waiting_on="model" if self.team.unserved else "",
        )
        try:
            bus.heartbeat(self.consumer, info, ttl_s=3 * HEARTBEAT_S)
        except BusError as e:
            log.warning("%s: heartbeat failed: %s", self.consumer, e)

    def pause(self, bus: Bus, seconds: float) -> None:
        """Wait ``seconds`` or until stopped, heartbeating meanwhile: a long wait (a server's
        ``Retry-After``) must not make the process look hung."""
        left = seconds
        while left > 0 and not self.stop.is_set():
            self.heartbeat(bus, force=True)
            chunk = min(left, HEARTBEAT_S)
            self.stop.wait(chunk)
            left -= chunk

    def run(self) -> int:
        """Consume until stopped; returns the number of deliveries handled."""
        bus, role = self.team.bus, self.team.agents[self.role]
        backoff = 0.5
        lanes = Lanes(self.concurrency, self.handle, self.stop) if self.concurrency > 1 else None
        log.info("%s: consuming %s (%d at once)", self.consumer, ", ".join(role.subscribes), self.concurrency)
        waited = 0  # the team's count of unserved invocations this worker last waited for
        while not self.stop.is_set():
            self.heartbeat(bus)
            unserved = self.team.unserved
            if unserved > waited:  # no leg of the model served: wait longer after each such call
                pause = self.team.model_backoff_s()
                log.warning(
                    "%s: no model leg serves; its deliveries wait in the bus, next invocation in %.0fs",
                    self.consumer,
                    pause,
                )
                self.pause(bus, pause)
                waited = unserved
                continue
            waited = min(waited, unserved)
            try:
                if not self.team.active(self.role):
                    self.stop.wait(self.block_ms / 1000)
                    continue
                free = lanes.wait_free(self.block_ms / 1000) if lanes is not None else 1
                if free == 0:
                    continue
                batch = bus.consume(
                    self.role, self.consumer, types=role.subscribes, count=free, block_ms=self.block_ms
                )
            except BusError as e:
                log.warning("%s: bus unavailable (%s); retrying in %.1fs", self.consumer, e, backoff)
                self.stop.wait(backoff)
                backoff = min(10.0, backoff * 2)
                continue
            except Exception:  # a bug must not crash-loop the process: log it, back off, go on
                log.exception("%s: consume failed; retrying in %.1fs", self.consumer, backoff)
                self.stop.wait(backoff)
                backoff = min(10.0, backoff * 2)
                continue
            backoff = 0.5
            for d in batch:
                if lanes is not None:
                    lanes.submit(d)
                elif self.stop.is_set():
                    d.release()
                else:
                    self.handle(d)
        if lanes is not None:
            lanes.close()
        self.heartbeat(bus, force=True)
        log.info("%s: stopped after %d deliveries", self.consumer, self.handled)
        return self.handled

    def handle(self, d: Delivery) -> None:
        """Process one delivery, unless an earlier event of its case began to wait meanwhile (then it
        waits behind it); a bus or handler failure is logged and left to redelivery."""
        if d.hold_back():
            return
        try:
            self.team.process(self.role, d)
        except StorageConflict as e:  # a damaged key: retried, then dead-lettered naming it
            log.warning("%s: %s failed: %s", self.consumer, d.event.event_id, e)
            try:
                d.fail(str(e))
            except BusError as gone:
                log.warning("%s: could not record the failure: %s", self.consumer, gone)
        except BusError as e:  # the bus went away mid-event: redelivered later, exactly once
            log.warning("%s: bus error while handling %s: %s", self.consumer, d.event.event_id, e)
        except Exception as e:  # a bug on one event: retried, then dead-lettered with it
            log.exception("%s: handling %s failed", self.consumer, d.event.event_id)
            try:
                d.fail(f"{type(e).__name__}: {e}")
            except BusError as gone:
                log.warning("%s: could not record the failure: %s", self.consumer, gone)
        with self._handled_lock:
            self.handled += 1


class Lanes:
    """Runs up to ``n`` deliveries at once, one case at a time: a case's events keep their order.

    A delivery whose case is already running waits behind it in that case's lane; different cases
    run side by side (a GPU server batches their model calls). On stop, the running deliveries
    finish and the waiting ones are released for redelivery.
    """

    def __init__(self, n: int, run: Callable[[Delivery], None], stop: threading.Event) -> None:
        self.n, self.run, self.stop = n, run, stop
        self.pool = ThreadPoolExecutor(n, thread_name_prefix="invocation")
        self.waiting: dict[str, deque[Delivery]] = {}
        """Per case with a running delivery: the deliveries queued behind it."""
        self.accepted = 0
        """Deliveries submitted and not yet finished (running or waiting)."""
        self._cond = threading.Condition()

    def wait_free(self, timeout_s: float) -> int:
        """How many more deliveries may be taken, waiting up to ``timeout_s`` for one to finish."""
        with self._cond:
            if self.accepted >= self.n:
                self._cond.wait(timeout_s)
            return max(0, self.n - self.accepted)

    def submit(self, d: Delivery) -> None:
        """Start ``d`` now, or queue it behind the running delivery of its case."""
        key = d.event.case_id or d.event.event_id
        with self._cond:
            self.accepted += 1
            lane = self.waiting.get(key)
            if lane is not None:
                lane.append(d)
                return
            self.waiting[key] = deque()
        self.pool.submit(self._lane, key, d)

    def _lane(self, key: str, d: Delivery | None) -> None:
        while d is not None:
            if self.stop.is_set():
                d.release()
            else:
                self.run(d)
            with self._cond:
                self.accepted -= 1
                self._cond.notify_all()
                lane = self.waiting[key]
                d = lane.popleft() if lane else None
                if d is None:
                    del self.waiting[key]

    def close(self) -> None:
        """Wait for the running deliveries (waiting ones are released once stop is set)."""
        self.pool.shutdown(wait=True)


class WorkerSet:
    """One role over several namespaces in one process: a ``Worker`` per team, stopping together.

    Args:
        teams: one team per namespace, each on its own namespace's bus.
        role: the role slug every worker runs.
        stop: set it to stop every worker (SIGTERM/SIGINT set it too).
        options: passed to each ``Worker`` (``instance``, ``block_ms``, ``version``, ``concurrency``).
    """

    def __init__(
        self,
        teams: Sequence[RoleTeam],
        role: str,
        *,
        stop: threading.Event | None = None,
        **options: Any,
    ) -> None:
        if not teams:
            raise BusError("a worker set needs at least one team (one per namespace)")
        self.stop = stop or threading.Event()
        self.workers = [Worker(t, role, stop=self.stop, **options) for t in teams]

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT finish each worker's current event, then every loop exits."""
        self.workers[0].install_signal_handlers()

    def run(self) -> int:
        """Run every worker until stopped; returns the deliveries handled over all namespaces."""
        if len(self.workers) == 1:
            return self.workers[0].run()
        threads = [
            threading.Thread(target=w.run, name=f"{w.consumer}/{w.team.bus.namespace}", daemon=True)
            for w in self.workers
        ]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(0.5)
        return sum(w.handled for w in self.workers)
