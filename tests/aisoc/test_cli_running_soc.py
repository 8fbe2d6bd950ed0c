"""The operator's commands look at the running SOC, or say why they cannot: a Redis Cluster with a
master down."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from redis.cluster import key_slot

from aisoc import Bus
from aisoc.cli import main
from tests.aisoc.bus_contract import alert_event
from tests.support.redis_server import RedisServer


def _cluster_node(directory: Path, *, full_coverage: bool) -> RedisServer:
    """One cluster-enabled redis-server serving the slot of namespace ``soc`` only: the rest of the
    cluster's slots have no master, as when a master without a replica is down."""
    node = RedisServer(
        directory,
        extra=(
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-require-full-coverage",
            "yes" if full_coverage else "no",
        ),
    ).start()
    client = redis.Redis(port=node.port, decode_responses=True)
    client.execute_command("CLUSTER ADDSLOTS", key_slot(b"{soc}"))
    client.close()
    return node


@pytest.mark.redis
def test_a_process_starts_while_another_namespaces_master_is_down(tmp_path: Path) -> None:
    """Given a cluster whose servers keep serving the slots they hold (cluster-require-full-coverage
    no) while the slots of other namespaces have no master, when a process opens the bus on it,
    then it starts and works (redis-py's default refuses to start without every slot covered: a
    process restarted then would crash-loop although its namespace is served)."""
    node = _cluster_node(tmp_path, full_coverage=False)
    try:
        bus = Bus(f"redis+cluster://127.0.0.1:{node.port}/", namespace="soc")
        alert = alert_event(1)
        bus.publish(alert)
        (delivery,) = bus.consume("sentinel", "s-1", types=["alert.received"], count=5)
        assert delivery.event.event_id == alert.event_id
        bus.close()
    finally:
        node.stop()


@pytest.mark.redis
def test_a_command_on_a_cluster_that_is_down_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a cluster that is down (a master without a replica is gone and the servers require full
    coverage: every command is answered CLUSTERDOWN), when the operator runs aisoc status or bus
    stats, then the command exits 2 with one line saying the cluster is down, not a traceback."""
    import aisoc.bus.redis

    monkeypatch.setattr(aisoc.bus.redis, "CLUSTER_SETTLE_S", 0.2)  # should the bus retry it first
    node = _cluster_node(tmp_path, full_coverage=True)
    try:
        for argv in (["status"], ["bus", "stats"]):
            assert main([*argv, "--bus", f"redis+cluster://127.0.0.1:{node.port}/"]) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"aisoc {argv[0]}: ") and "down" in err and "Traceback" not in err, err
    finally:
        node.stop()
