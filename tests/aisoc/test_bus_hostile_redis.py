"""The Redis bus (a node and a real Cluster) against keys written around it: a value of the wrong
type, garbage where the bus keeps its own bookkeeping, records that vanished. Each case must log
what it found, keep the group moving and lose no good event."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from aisoc import Bus
from aisoc.errors import StorageConflict
from tests.aisoc.bus_contract_events import alert_event

pytestmark = pytest.mark.redis


@pytest.fixture(params=["node", "cluster"])
def target(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(URL, namespace) on the shared Redis node or on the session's local Cluster."""
    if request.param == "node":
        return request.getfixturevalue("redis_url"), request.getfixturevalue("namespace")
    return request.getfixturevalue("redis_cluster").url, request.getfixturevalue("cluster_namespace")


@pytest.fixture
def bus(target: tuple[str, str]) -> Iterator[Bus]:
    b = Bus(target[0], namespace=target[1], visibility_timeout_ms=60_000, max_deliveries=1)
    yield b
    b.close()


def client(bus: Bus) -> Any:
    return bus.client  # type: ignore[attr-defined]


def test_a_last_error_key_of_the_wrong_type_does_not_stop_the_group(
    target: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Given an entry whose consumer died holding it past max_deliveries and whose last-error key was
    overwritten with a hash, when another consumer takes it over, then the entry is a dead letter
    saying its last error could not be read (naming the key, logged) and the good alert behind it is
    delivered (before, every consume of the group raised a StorageConflict on that key for ever)."""
    url, ns = target
    bus = Bus(url, namespace=ns, visibility_timeout_ms=60_000, max_deliveries=1)
    first = alert_event(1)
    bus.publish(first)
    (d,) = bus.consume("sentinel", "s", types=["alert.received"])  # its consumer dies holding it
    err = bus.key(f"err:alerts:sentinel:{d.entry_id}")  # type: ignore[attr-defined]
    client(bus).hset(err, "x", "y")
    good = alert_event(2)
    bus.publish(good)
    other = Bus(url, namespace=ns, visibility_timeout_ms=0, max_deliveries=1)
    with caplog.at_level(logging.WARNING):
        got = other.consume("sentinel", "s2", types=["alert.received"], count=10)
    assert [x.event for x in got] == [good]
    (letter,) = other.dead_letters()
    assert letter.event_id == first.event_id and err in letter.reason
    assert letter.reason.startswith("delivered 1 times without an ack; last error: unreadable")
    assert err in caplog.text
    bus.close()
    other.close()


def test_a_published_key_holding_garbage_does_not_swallow_the_publish(bus: Bus) -> None:
    """Given the publish-once key of an event overwritten with text that is not entry ids, and that
    of another event with a hash, when both events are published, then each is written to its stream
    and the audit log (before, the first publish returned the garbage as its entry id and wrote
    nothing: the event was lost silently; the second raised a StorageConflict)."""
    a, b = alert_event(1), alert_event(2)
    r = client(bus)
    r.set(bus.key(f"published:{a.event_id}"), "garbage")  # type: ignore[attr-defined]
    r.hset(bus.key(f"published:{b.event_id}"), "x", "y")  # type: ignore[attr-defined]
    first, second = bus.publish(a), bus.publish(b)
    assert first != "garbage" and "-" in first and "-" in second
    assert [e.event_id for e in bus.audit] == [a.event_id, b.event_id]
    assert bus.publish(a) == first  # and idempotent again from then on
    assert len(bus.audit) == 2


def test_a_waiting_record_of_another_shape_does_not_park_its_entry_for_ever(bus: Bus) -> None:
    """Given a waiting record (JSON the scripts accept) whose due time is text, written at the key of
    an undelivered alert, when the group consumes, then the alert is delivered (the record is not one)
    instead of being parked with a record that never falls due."""
    alert = alert_event(1)
    entry_id = bus.publish(alert)
    record = {
        "stream": "alerts",
        "entry_id": entry_id,
        "case": alert.case_id,
        "due": "soon",
        "attempts": 1,
        "reason": "r",
        "since": 0,
    }
    key = bus.key("waiting:sentinel")  # type: ignore[attr-defined]
    client(bus).hset(key, f"alerts {entry_id}", json.dumps(record))
    (d,) = bus.consume("sentinel", "s", types=["alert.received"])
    assert d.event == alert
    d.ack()


def test_a_waiting_entry_whose_record_vanished_is_taken_over(target: tuple[str, str]) -> None:
    """Given an entry waiting for its model (held by the waiting consumer) whose waiting hash was
    deleted around the bus, when another consumer looks for stale work, then it takes the entry over
    and it is delivered (before, the take-over passed the waiting consumer by and nothing ever claimed
    the entry again: lost for its group)."""
    url, ns = target
    bus = Bus(url, namespace=ns, visibility_timeout_ms=60_000)
    alert = alert_event(1)
    bus.publish(alert)
    (d,) = bus.consume("sentinel", "s", types=["alert.received"])
    d.retry_later("model down", 300)
    assert len(bus.waiting("sentinel")) == 1
    client(bus).delete(bus.key("waiting:sentinel"))  # type: ignore[attr-defined]
    other = Bus(url, namespace=ns, visibility_timeout_ms=0)
    (again,) = other.consume("sentinel", "s2", types=["alert.received"])
    assert again.event == alert
    again.ack()
    assert other.consume("sentinel", "s2", types=["alert.received"]) == []
    bus.close()
    other.close()


def test_a_due_index_of_the_wrong_type_is_reported_then_repaired_and_its_entry_goes(
    target: tuple[str, str],
) -> None:
    """Given an entry waiting for its model whose group's due index was overwritten with a string,
    when the group consumes, then a StorageConflict names the key; once 'aisoc bus repair' moved it
    aside, the record is indexed again and the entry is delivered when due (before, the record stayed
    out of the new index: the entry never went again)."""
    url, ns = target
    now = [1_000.0]
    bus = Bus(url, namespace=ns, visibility_timeout_ms=60_000, clock=lambda: now[0])
    alert = alert_event(1)
    bus.publish(alert)
    (d,) = bus.consume("sentinel", "s", types=["alert.received"])
    d.retry_later("model down", 30)
    due = bus.key("waiting-due:sentinel")  # type: ignore[attr-defined]
    r = client(bus)
    r.delete(due)
    r.set(due, "garbage")
    now[0] += 60
    with pytest.raises(StorageConflict, match="waiting-due:sentinel"):
        bus.consume("sentinel", "s", types=["alert.received"])
    moved = bus.move_aside(bus.misplaced_keys())  # type: ignore[attr-defined]
    assert [m.key for m in moved] == [due]
    now[0] += 60
    (again,) = bus.consume("sentinel", "s", types=["alert.received"])
    assert again.event == alert and again.waiting is not None
    again.ack()
    bus.close()


def test_a_new_readers_first_look_at_waiting_types_costs_a_few_commands_not_one_per_entry(
    redis_server: Any,
) -> None:
    """Given 300 alerts waiting for Sentinel's model, when a reader of a new subscription (alerts and
    verdicts) first reads, then it looks up the stored type of every waiting entry (none is settled:
    it still reads alerts) in a few dozen Redis commands, the types being read in pages of the stream
    (300+ before: one XRANGE per waiting entry, 5,009 with 5,000 waiting), and a verdict published
    meanwhile is delivered."""
    from tests.aisoc.bus_contract_events import verdict_for

    bus = Bus(redis_server.url, retry_base_s=3600, retry_max_s=3600)
    alerts = [alert_event(i) for i in range(300)]
    bus.publish_many(alerts)
    parked = 0
    while parked < len(alerts):
        batch = bus.consume("sentinel", "old", types=["alert.received"], count=100)
        for d in batch:
            d.retry_later("model unreachable")
        parked += len(batch)
    verdict = verdict_for(alert_event(999))
    bus.publish(verdict)
    reader = Bus(redis_server.url)
    r = client(reader)

    def calls() -> int:
        stats = r.info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")

    before = calls()
    got = reader.consume("sentinel", "new", types=["alert.received", "triage.verdict"])
    spent = calls() - before
    assert [d.event for d in got] == [verdict]
    assert len(reader.waiting("sentinel")) == 300
    assert spent < 60, spent
    bus.close()
    reader.close()
