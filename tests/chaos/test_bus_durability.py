"""Durability under crashes: Redis SIGKILLed again and again while events are published.

Marked ``chaos`` (``make test-chaos``). In ``fsync`` mode a publish that returned is on disk: no
kill may lose it, and no retry may write it twice.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from aisoc import Bus
from aisoc.errors import BusError
from tests.aisoc.bus_contract import alert_event
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.chaos
KILLS = 50


def test_no_acknowledged_publish_is_lost_over_50_sigkills_in_fsync_mode(tmp_path: Path) -> None:
    """Given durability=fsync and a publisher retrying through outages, when Redis is SIGKILLed 50
    times at random moments during publishes and restarted from its AOF, then every publish that
    returned is in the audit log exactly once."""
    server = RedisServer(tmp_path / "redis", appendonly=True, appendfsync="always").start()
    bus = Bus(server.url, namespace="durable", durability="fsync")
    acked: list[str] = []
    stop = threading.Event()
    errors = 0

    def publish() -> None:
        nonlocal errors
        n = 0
        while not stop.is_set():
            event = alert_event(n)
            while not stop.is_set():
                try:
                    bus.publish(event)  # the same event again after a failure: idempotent
                except BusError:
                    errors += 1
                    time.sleep(0.01)
                    continue
                acked.append(event.event_id)
                n += 1
                break

    rng = random.Random(15)
    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    try:
        for _ in range(KILLS):
            before = len(acked)
            deadline = time.monotonic() + 30
            while len(acked) < before + 5 and time.monotonic() < deadline:
                time.sleep(0.005)  # let publishes flow before the next crash
            time.sleep(rng.uniform(0, 0.05))
            server.kill()
            server.start()
    finally:
        stop.set()
        thread.join(60)
    stored = [e.event_id for e in bus.audit]
    lost = set(acked) - set(stored)
    assert len(acked) >= KILLS * 5 and errors > 0  # the kills really hit publishes in flight
    assert not lost, f"{len(lost)} acknowledged publishes lost over {KILLS} kills"
    assert len(stored) == len(set(stored)), "a retried publish was written twice"
    bus.close()
    server.stop()
