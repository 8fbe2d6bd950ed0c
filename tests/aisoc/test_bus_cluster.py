"""The bus on a real Redis Cluster while the cluster changes under it: a slot moves mid-run."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from aisoc import Bus
from aisoc.errors import BusError
from tests.aisoc.bus_contract import alert_event, verdict_for
from tests.support.redis_cluster import RedisCluster

pytestmark = pytest.mark.redis


def run_consumer(bus: Bus, stop: threading.Event, errors: list[str]) -> None:
    """A role-like loop: effects with the exactly-once mark, then ack; bus errors are retried."""
    while not stop.is_set():
        try:
            batch = bus.consume("sentinel", "s-1", types=["alert.received"], count=10, block_ms=100)
            for d in batch:
                bus.publish_many([verdict_for(d.event)], once=("sentinel", d.event.event_id))
            bus.ack_many(batch)
        except BusError as e:  # the real Worker backs off and retries the same way
            errors.append(str(e))
        except Exception as e:  # anything else would crash a worker: record it and fail the test
            errors.append(f"CRASH {type(e).__name__}: {e}")
            return


def test_moving_the_namespace_slot_mid_run_loses_nothing_and_crashes_nothing(
    redis_cluster: RedisCluster, cluster_namespace: str
) -> None:
    """Given a publisher and a consumer running on a namespace, when its hash slot is migrated key by
    key to another master (clients see ASK, then MOVED), then neither crashes and every alert has
    exactly one effect."""
    ns = cluster_namespace
    publisher_bus = Bus(redis_cluster.url, namespace=ns, visibility_timeout_ms=2000)
    consumer_bus = Bus(redis_cluster.url, namespace=ns, visibility_timeout_ms=2000)
    alerts = [alert_event(i) for i in range(300)]
    stop, errors = threading.Event(), []
    for e in alerts[:100]:
        publisher_bus.publish(e)
    consumer = threading.Thread(target=run_consumer, args=(consumer_bus, stop, errors))
    consumer.start()

    def publish_rest() -> None:
        for e in alerts[100:]:
            publisher_bus.publish(e)

    publisher = threading.Thread(target=publish_rest)
    publisher.start()
    source = redis_cluster.owner(ns)
    target = next(m for m in redis_cluster.masters_now() if m.port != source.port)
    moved = redis_cluster.migrate(ns, target, batch=2, pause_s=0.01)
    publisher.join(120)
    assert redis_cluster.owner(ns).port == target.port and moved > 0
    audit = publisher_bus.audit
    for _ in range(600):
        effects = Counter(e.causation_id for e in audit if e.type == "triage.verdict")
        if len(effects) == len(alerts):
            break
        stop.wait(0.1)
    stop.set()
    consumer.join(30)
    assert not [e for e in errors if e.startswith("CRASH")], errors
    assert set(effects) == {e.event_id for e in alerts} and set(effects.values()) == {1}
