"""``aisoc bus repair``: keys written around the bus with another Redis type, shown and moved aside
on a real Redis (never deleted), with ``--dry-run``."""

from __future__ import annotations

from pathlib import Path

import pytest

from aisoc import Bus
from aisoc.cli import main
from aisoc.errors import StorageConflict
from tests.aisoc.bus_contract import alert_event, verdict_for

pytestmark = pytest.mark.redis


@pytest.fixture(params=["node", "cluster"])
def target(request: pytest.FixtureRequest) -> tuple[str, str]:
    """A Redis URL and a fresh namespace: the shared node, or the session's cluster."""
    if request.param == "node":
        return request.getfixturevalue("redis_url"), request.getfixturevalue("namespace")
    cluster = request.getfixturevalue("redis_cluster")
    return cluster.url, request.getfixturevalue("cluster_namespace")


def test_keys_of_another_type_are_listed_then_moved_aside_and_the_bus_works_again(
    target: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a string where the cases stream belongs, a list where the heartbeats hash belongs, a
    hash where a case index belongs, and a key the bus does not own, when `aisoc bus repair
    --dry-run` runs, then it lists the three bus keys (exit 1) and renames nothing; when it runs for
    real, each is renamed with a timestamp suffix holding what it held, the other key is left, and
    publishing and heartbeats work again."""
    from aisoc.redisconn import connect

    redis_url, namespace = target
    bus = Bus(redis_url, namespace=namespace)
    cause = alert_event(1)
    bus.publish(cause)
    raw = connect(redis_url)
    raw.set(bus.key("cases"), "written around the bus")
    raw.rpush(bus.key("heartbeats"), "x")
    raw.hset(bus.key("case:jsonl:9"), "a", "b")
    raw.set(bus.key("gate:setting"), "not the bus's")
    with pytest.raises(StorageConflict):
        bus.publish(verdict_for(cause))
    with pytest.raises(StorageConflict):
        bus.heartbeat("sentinel-1", {"role": "sentinel"})
    cli = ["bus", "repair", "--bus", redis_url, "--namespace", namespace]

    assert main([*cli, "--dry-run"]) == 1
    out = capsys.readouterr().out
    for key, found, kept in [
        ("case:jsonl:9", "hash", "list"),
        ("cases", "string", "stream"),
        ("heartbeats", "list", "hash"),
    ]:
        assert f"{bus.key(key)}: holds a {found}, the bus keeps a {kept} there" in out
    assert "gate:setting" not in out and "3 key(s) to move aside" in out
    assert raw.type(bus.key("cases")) == "string"

    assert main(cli) == 0
    out = capsys.readouterr().out
    aside = sorted(raw.scan_iter(match=f"{{{namespace}}}:*.aside-*"))
    assert len(aside) == 3 and "3 key(s) moved aside" in out
    moved = {k.rsplit(".aside-", 1)[0]: k for k in aside}
    assert raw.get(moved[bus.key("cases")]) == "written around the bus"
    assert raw.lrange(moved[bus.key("heartbeats")], 0, -1) == ["x"]
    assert raw.hgetall(moved[bus.key("case:jsonl:9")]) == {"a": "b"}
    assert raw.get(bus.key("gate:setting")) == "not the bus's"
    bus.publish(verdict_for(cause))
    bus.heartbeat("sentinel-1", {"role": "sentinel"})
    assert [e.type for e in bus.audit] == ["alert.received", "triage.verdict"]
    assert main([*cli, "--dry-run"]) == 0
    assert "every key of namespace" in capsys.readouterr().out
    raw.close()
    bus.close()


def test_repair_on_an_embedded_bus_says_there_is_nothing_to_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a SQLite bus, `aisoc bus repair` says it keeps no typed keys and succeeds."""
    assert main(["bus", "repair", "--bus", f"sqlite:///{tmp_path}/soc.db", "--dry-run"]) == 0
    assert "nothing to repair: the sqlite bus" in capsys.readouterr().out
