"""The store contract on SQLite (memory and file) and Redis, plus durability across processes."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from aisoc.bus import Bus
from gate.settings import default_store_path
from gate.store import RequestStore, State, open_store
from gate.store_redis import RedisRequestStore
from gate.store_sqlite import SqliteRequestStore
from tests.gate.factory import gate_settings
from tests.gate.store_contract import RedisStoreContract, StoreContract, make_request
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_server import RedisServer


class TestSqliteMemoryStore(StoreContract):
    def create_store(self) -> RequestStore:
        return SqliteRequestStore(":memory:")


class TestSqliteFileStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _dir(self, tmp_path: Path) -> None:
        self.path = tmp_path / "soc.gate.db"

    def create_store(self) -> RequestStore:
        return SqliteRequestStore(str(self.path))

    def test_requests_survive_a_new_process(self) -> None:
        """Given a request stored in a file, when another process opens it, then it reads the request."""
        store, req = self.create_store(), make_request()
        store.create(req)
        store.replace(req.evolve(state=State.APPROVED, decided_by="alice"))
        store.close()
        code = (
            "import sys; from gate.store_sqlite import SqliteRequestStore; "
            "r = SqliteRequestStore(sys.argv[1]).get(sys.argv[2]); print(r.state.value, r.decided_by)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(self.path), req.request_id],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.split() == ["approved", "alice"]


@pytest.mark.redis
class TestRedisClusterStore(RedisStoreContract):
    """The approval store next to a bus on a real Redis Cluster (its keys share the bus's slot)."""

    @pytest.fixture(autouse=True)
    def _cluster(self, redis_cluster: RedisCluster, cluster_namespace: str) -> None:
        self.bus = Bus(redis_cluster.url, namespace=cluster_namespace)

    def create_store(self) -> RequestStore:
        assert open_store(self.bus).__class__ is RedisRequestStore
        return RedisRequestStore(self.bus.client, self.bus.key)  # type: ignore[attr-defined]


@pytest.mark.redis
class TestRedisStore(RedisStoreContract):
    @pytest.fixture(autouse=True)
    def _redis(self, redis_url: str, namespace: str) -> None:
        self.bus = Bus(redis_url, namespace=namespace)

    def create_store(self) -> RequestStore:
        return RedisRequestStore(self.bus.client, self.bus.key)  # type: ignore[attr-defined]

    def test_pruned_requests_leave_no_key_behind(self) -> None:
        """Given 30 requests of 10 cases that ended a day ago, when pruned, then the gate's keys in
        Redis are the pending set's and one pending request's only (counted with SCAN)."""
        store = self.create_store()
        reqs = [make_request(n, case=f"x:{n % 10}", minutes=n) for n in range(30)]
        for r in reqs:
            store.create(r)
        for r in reqs[1:]:
            store.replace(r.evolve(state=State.REJECTED, decided_at=r.created_at))
        client = self.bus.client  # type: ignore[attr-defined]

        def gate_keys() -> list[str]:
            return sorted(client.scan_iter(match=self.bus.key("gate:*"), count=1000))  # type: ignore[attr-defined]

        assert len(gate_keys()) > 30
        assert store.prune(reqs[-1].created_at + timedelta(days=1)) == 29
        assert gate_keys() == sorted(
            [
                self.bus.key(f"gate:req:{reqs[0].request_id}"),  # type: ignore[attr-defined]
                self.bus.key("gate:pending"),  # type: ignore[attr-defined]
                self.bus.key("gate:all"),  # type: ignore[attr-defined]
                self.bus.key("gate:case:x:0"),  # type: ignore[attr-defined]
            ]
        )

    def test_requests_survive_a_new_process(self) -> None:
        """Given a request on Redis, when a new process connects, then it sees the request and its outbox."""
        store, req = self.create_store(), make_request()
        store.create(req)
        store.replace(req.evolve(state=State.REJECTED, decided_by="carol"))
        code = (
            "import sys; from aisoc import Bus; from gate.store import open_store; "
            "bus = Bus(sys.argv[1], namespace=sys.argv[2]); r = open_store(bus).get(sys.argv[3]); "
            "print(type(open_store(bus)).__name__, r.state.value, r.decided_by)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, self.bus.url, self.bus.namespace, req.request_id],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.split() == ["RedisRequestStore", "rejected", "carol"]


def test_open_store_follows_the_bus(tmp_path: Path) -> None:
    """Given each bus, when the gate opens its store, then it picks SQLite next to the file or in memory."""
    sqlite_bus = Bus(f"sqlite:///{tmp_path}/soc.db")
    store = open_store(sqlite_bus, gate_settings())
    assert isinstance(store, SqliteRequestStore) and store.path == str(tmp_path / "soc.gate.db")
    assert default_store_path(str(tmp_path / "x.db")) == str(tmp_path / "x.gate.db")
    memory = open_store(Bus(), gate_settings())
    assert isinstance(memory, SqliteRequestStore) and memory.path == ":memory:"
    explicit = open_store(Bus(), gate_settings(store=f"sqlite:///{tmp_path}/mine.db"))
    assert isinstance(explicit, SqliteRequestStore) and explicit.path.endswith("mine.db")
    with pytest.raises(ValueError, match="expected memory://"):
        open_store(Bus(), gate_settings(store="postgres://x"))


@pytest.mark.redis
def test_redis_requests_survive_a_redis_crash(redis_server: RedisServer) -> None:
    """Given a decided request on Redis with AOF, when Redis is killed and restarted, then it is kept."""
    bus = Bus(redis_server.url, namespace="gate-durable")
    store = open_store(bus, gate_settings())
    req = make_request()
    store.create(req)
    store.replace(req.evolve(state=State.APPROVED, decided_by="alice"))
    bus.close()
    redis_server.restart(kill=True)
    again = open_store(Bus(redis_server.url, namespace="gate-durable"), gate_settings())
    stored = again.get(req.request_id)
    assert stored is not None and (stored.state, stored.decided_by, stored.version) == (
        State.APPROVED,
        "alice",
        2,
    )
    assert again.pending() == [] and [r.request_id for r in again.recent()] == [req.request_id]
