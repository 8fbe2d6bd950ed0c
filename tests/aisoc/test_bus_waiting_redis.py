"""Waiting deliveries on Redis survive a crash: the consumer that parked them is SIGKILLed and Redis
itself is killed and restarted (AOF, fsync always); every event is then handled once, in its case's
order, and nothing is dead-lettered."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from aisoc import Bus
from tests.aisoc.bus_contract_events import alert_event, verdict_for
from tests.support.redis_server import RedisServer
from tests.support.waiting_worker import TYPES

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]


def test_events_that_wait_survive_a_killed_consumer_and_a_killed_redis(redis_server: RedisServer) -> None:
    """Given five cases' alerts and verdicts all waiting (the consumer's model is down), when the
    consumer is SIGKILLed and Redis is killed and restarted, then a consumer an hour later handles
    all ten once each, each case's alert before its verdict, with no dead letter."""
    bus = Bus(redis_server.url, namespace="w")
    published = []
    for i in range(5):
        alert = alert_event(i)
        published += [alert, verdict_for(alert)]
    for e in published:
        bus.publish(e)
    bus.close()
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.waiting_worker", redis_server.url, "w", "10"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "10"
    finally:
        child.kill()
        child.wait(10)
    redis_server.restart(kill=True)
    later = Bus(redis_server.url, namespace="w", clock=lambda: time.time() + 3600)
    try:
        records = later.waiting("g")
        assert len(records) == 10 and sum(r.attempts == 0 for r in records) == 5
        handled: list[str] = []
        deadline = time.monotonic() + 30
        while len(handled) < 10 and time.monotonic() < deadline:
            for d in later.consume("g", "back", types=TYPES, count=50, block_ms=100):
                if not d.hold_back():
                    handled.append(d.event.event_id)
                    d.ack()
        assert sorted(handled) == sorted(e.event_id for e in published)
        for alert, verdict in zip(published[::2], published[1::2], strict=True):
            assert handled.index(alert.event_id) < handled.index(verdict.event_id)
        assert later.dead_letters() == [] and later.waiting("g") == []
        assert later.consume("g", "back", types=TYPES, count=50) == []
    finally:
        later.close()
