"""The operator's commands look at the running SOC, or say why they cannot: the bus named nowhere, a
Redis Cluster with a master down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from redis.cluster import key_slot

from aisoc import Bus
from aisoc.cli import main
from aisoc.health import AGENT_SLUGS, heartbeat_info
from tests.aisoc.bus_contract import alert_event
from tests.support.redis_cluster import _cluster_port
from tests.support.redis_server import RedisServer


@pytest.mark.parametrize(
    "argv",
    [["status"], ["bus", "stats"], ["bus", "dlq", "list"], ["pause", "sentinel", "--reason", "x"]],
    ids=" ".join,
)
def test_a_command_about_the_running_soc_refuses_the_in_process_bus(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a shell where no setting names the bus (no ./aisoc.toml, no AISOC_CONFIG or AISOC_BUS:
    an operator's login shell beside systemd units reading /etc/aisoc/aisoc.toml), when the operator
    runs status, bus stats, dlq list or pause, then the command refuses (status 2) and says where the
    bus is named, instead of reporting an empty SOC ("no process", no dead letters) or pausing
    nothing."""
    monkeypatch.chdir(tmp_path)
    for name in ("AISOC_CONFIG", "AISOC_BUS"):
        monkeypatch.delenv(name, raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "'memory://'" in err and "AISOC_BUS" in err and "AISOC_CONFIG" in err, err


def _cluster_node(directory: Path, *, full_coverage: bool) -> RedisServer:
    """One cluster-enabled redis-server serving the slot of namespace ``soc`` only: the rest of the
    cluster's slots have no master, as when a master without a replica is down."""
    node = RedisServer(
        directory,
        port=_cluster_port(),  # its cluster bus port (+10000) must be a valid port too
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


@pytest.mark.redis
def test_status_stats_and_dlq_read_every_namespace_the_workers_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given namespaces = ["acme", "globex"] (the workers serve both, spread over a cluster's
    masters) and a worker of every role beating in each, when the operator runs status, bus stats
    and dlq list without --namespace, then each namespace is reported (not the default namespace,
    which nothing uses: every role "no process"), and --namespace still reads just one."""
    monkeypatch.setenv("COLUMNS", "200")
    server = RedisServer(tmp_path / "redis").start()
    try:
        config = tmp_path / "aisoc.toml"
        config.write_text(f'[aisoc]\nbus = "{server.url}"\nnamespaces = ["acme", "globex"]\n')
        for ns in ("acme", "globex"):
            bus = Bus(server.url, namespace=ns)
            for role in AGENT_SLUGS:
                bus.heartbeat(f"{role}-0", heartbeat_info(role), ttl_s=600)
            if ns == "acme":
                bus.publish(alert_event(1))
            bus.close()
        cli = ["--config", str(config)]
        assert main([*cli, "status"]) == 0
        out = capsys.readouterr().out
        assert "namespace acme:" in out and "namespace globex:" in out and "no process" not in out, out
        assert main([*cli, "bus", "stats", "--json"]) == 0
        docs = json.loads(capsys.readouterr().out)
        lengths = {d["namespace"]: {s["name"]: s["length"] for s in d["report"]["streams"]} for d in docs}
        assert lengths["acme"]["alerts"] == 1 and lengths["globex"]["alerts"] == 0
        assert main([*cli, "bus", "dlq", "list"]) == 0
        assert capsys.readouterr().out.count("no dead letters") == 2
        assert main([*cli, "status", "--namespace", "globex"]) == 0
        assert "namespace acme" not in capsys.readouterr().out
    finally:
        server.stop()
