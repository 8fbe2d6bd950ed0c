"""One set of worker processes serving several namespaces, spread over a Redis Cluster's masters."""

from __future__ import annotations

import threading
import time

import pytest

from aisoc import Bus, models
from aisoc.runtime import RoleTeam
from aisoc.runtime.worker import WorkerSet
from aisoc.settings import KernelSettings
from aisoc.sources import ingest
from integrations.samples import demo_source
from tests.aisoc.runtime.test_team import outcomes
from tests.support.redis_cluster import RedisCluster

REACTIVE = ("sentinel", "tier2", "ir_lead", "threat_intel")


def namespaces_on_two_masters(cluster: RedisCluster, prefix: str) -> tuple[str, str]:
    """Two namespaces whose hash slots live on different masters."""
    first = f"{prefix}-0"
    owner = cluster.owner(first).port
    for i in range(1, 200):
        other = f"{prefix}-{i}"
        if cluster.owner(other).port != owner:
            return first, other
    raise AssertionError("every namespace hashed to one master")


@pytest.mark.redis
def test_one_worker_set_serves_two_namespaces_on_two_masters(
    redis_cluster: RedisCluster, cluster_namespace: str
) -> None:
    """Given two tenants' namespaces on different masters of a 3-master cluster and one WorkerSet per
    role (as one process per role would run), when both ingest the demo alerts, then each namespace
    reaches the same outcomes as the embedded team, and nothing crosses between them."""
    a, b = namespaces_on_two_masters(redis_cluster, cluster_namespace)
    expected_bus = Bus()
    RoleTeam(model=models.from_spec("stub"), bus=expected_bus).consume(demo_source())
    expected = {c: sorted(t) for c, t in outcomes(expected_bus).items()}
    stop = threading.Event()
    sets = []
    for role in REACTIVE:
        model = models.from_spec("stub")
        teams = [RoleTeam(model=model, bus=Bus(redis_cluster.url, namespace=ns)) for ns in (a, b)]
        sets.append(WorkerSet(teams, role, block_ms=100, stop=stop))
    threads = [threading.Thread(target=s.run, daemon=True) for s in sets]
    for t in threads:
        t.start()
    buses = [Bus(redis_cluster.url, namespace=ns) for ns in (a, b)]
    for bus in buses:
        ingest(demo_source(), bus)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all({c: sorted(t) for c, t in outcomes(bus).items()} == expected for bus in buses):
            break
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(15)
    for bus in buses:
        assert {c: sorted(t) for c, t in outcomes(bus).items()} == expected
        assert len(bus.audit) == len(expected_bus.audit)
    assert all(w.handled > 0 for s in sets for w in s.workers)


def test_settings_list_the_namespaces_a_worker_serves() -> None:
    """per_namespace() gives one settings object per namespace, the single one by default."""
    assert [s.namespace for s in KernelSettings(namespace="soc").per_namespace()] == ["soc"]
    many = KernelSettings(namespaces=["acme", "globex"]).per_namespace()
    assert [s.namespace for s in many] == ["acme", "globex"]


def test_a_worker_survives_a_bug_on_one_event_and_dead_letters_it() -> None:
    """Given a handler bug (not a bus error) on one event, the worker keeps running: the event is
    retried, then dead-lettered with the error, and the other events are handled."""
    from tests.aisoc.bus_contract import alert_event

    bus = Bus(max_deliveries=2, visibility_timeout_ms=60_000)
    team = RoleTeam(model=models.from_spec("stub"), bus=bus)
    poison = alert_event(1)
    real_process = team.process

    def process(role: str, d: object) -> None:
        if d.event.event_id == poison.event_id:  # type: ignore[attr-defined]
            raise KeyError("a bug in a handler")
        real_process(role, d)  # type: ignore[arg-type]

    team.process = process  # type: ignore[method-assign]
    good = [alert_event(0), alert_event(2)]
    for e in (good[0], poison, good[1]):
        bus.publish(e)
    stop = threading.Event()
    workers = WorkerSet([team], "sentinel", block_ms=20, stop=stop)
    thread = threading.Thread(target=workers.run)
    thread.start()
    deadline = time.monotonic() + 30
    handled = lambda: {e.causation_id for e in bus.audit if e.type == "triage.verdict"}  # noqa: E731
    while time.monotonic() < deadline and not (bus.dead_letters() and len(handled()) == 2):
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    (dl,) = bus.dead_letters()
    assert dl.event_id == poison.event_id and "KeyError" in dl.reason
    assert handled() == {e.event_id for e in good}
