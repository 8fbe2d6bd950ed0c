"""Running the gate: the consumer/tick loop of the gate process, and the web app in a thread.

worker = GateWorker(gate).start()        # consumes action.proposed, case.closed, ir.plan; ticks
server = ServerThread(app, "127.0.0.1", 0).start(); server.url
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from aisoc.bus.delivery import settle_failed
from aisoc.health import heartbeat_info
from gate.service import GATE_EVENT_TYPES, Gate

log = logging.getLogger(__name__)

GROUP = "gate"
"""The gate's consumer group."""


class GateWorker:
    """The gate process's loop: consume the gate's events (group ``gate``) and tick on schedule.

    Args:
        gate: the Gate to feed.
        consumer: this process's consumer name (host and pid by default).
        block_ms: how long one read waits for new events.
        consume: False only ticks (the embedded demo feeds the gate through ``team.on_action_proposed``).
    """

    def __init__(
        self, gate: Gate, *, consumer: str | None = None, block_ms: int = 1000, consume: bool = True
    ) -> None:
        self.gate = gate
        self.consume = consume
        self.consumer = consumer or f"gate-{socket.gethostname()}-{os.getpid()}"
        self.block_ms = block_ms
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Consume one batch and handle it; returns how many events were delivered."""
        batch = self.gate.bus.consume(
            GROUP, self.consumer, types=GATE_EVENT_TYPES, count=50, block_ms=self.block_ms
        )
        for d in batch:
            try:
                self.gate.handle(d.event)
            except Exception as e:  # a bad event must not stop the gate (a damaged record: filed at once)
                settle_failed(d, e)
            else:
                d.ack()
        return len(batch)

    def run(self) -> None:
        """Loop until ``stop()``: consume, and every ``tick_s`` remind/escalate/expire and beat.

        First, a consuming gate opens again the requests its store lacks (after a restore)."""
        next_tick = 0.0
        recovered = not self.consume
        while not self.stopping.is_set():
            try:
                if not recovered:
                    if opened := self.gate.recover():
                        log.warning("recovered %d pending approval request(s) from the audit log", opened)
                    recovered = True
                if self.consume:
                    self.run_once()
                else:
                    self.stopping.wait(min(1.0, self.gate.settings.tick_s))
                if time.monotonic() >= next_tick:
                    report = self.gate.tick()
                    self.gate.bus.heartbeat(
                        self.consumer,
                        heartbeat_info("gate"),
                        ttl_s=max(30.0, 3 * self.gate.settings.tick_s),
                    )
                    if report.reminded or report.escalated or report.expired:
                        log.info("tick: %s", report)
                    next_tick = time.monotonic() + self.gate.settings.tick_s
            except Exception:  # the bus is down: keep trying, slowly
                log.exception("gate loop error; retrying")
                self.stopping.wait(2.0)

    def start(self) -> GateWorker:
        """Run the loop in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name=self.consumer, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to stop and wait for it."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)


class ServerThread:
    """A WSGI app served by werkzeug in a daemon thread (the demo and the browser tests).

    Args:
        app: the WSGI app.
        host: address to bind.
        port: port to bind (0 picks a free one).
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.host, self.port = host, self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, name="gate-http", daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.shutdown()
        self._thread.join(10)
