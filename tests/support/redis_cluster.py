"""A local Redis Cluster of the tests' own: 3 masters with one replica each on loopback ports.

Built with the real tools: ``redis-server --cluster-enabled yes`` per node, then
``redis-cli --cluster create ... --cluster-replicas 1``. Helpers move a namespace's hash slot to
another master (MIGRATING/IMPORTING, MIGRATE, SETSLOT NODE) and fail a master over.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis
from redis.cluster import key_slot

from tests.support.redis_server import RedisServer, free_port


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    for _ in range(200):
        port = free_port()
        if port <= 55535 and _free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class RedisCluster:
    """Six private redis-servers joined into one cluster; ``url`` is the bus's cluster URL."""

    def __init__(self, directory: Path, *, masters: int = 3, replicas: int = 1) -> None:
        if shutil.which("redis-cli") is None:
            raise RuntimeError("redis-cli is not installed (Debian package redis-tools)")
        self.dir = Path(directory)
        self.nodes: list[RedisServer] = []
        self.masters, self.replicas = masters, replicas

    @property
    def url(self) -> str:
        seeds = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:3])
        return f"redis+cluster://{seeds}/"

    def start(self) -> RedisCluster:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> RedisCluster:
        for i in range(self.masters * (1 + self.replicas)):
            port = _cluster_port()
            node = RedisServer(
                self.dir / f"node-{i}",
                port=port,
                extra=(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "1500",
                    # A replica of a quiet test master can look stale: let it fail over anyway.
                    "--cluster-replica-validity-factor",
                    "0",
                ),
            )
            self.nodes.append(node.start())
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        done = subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", str(self.replicas)]
            + ["--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout}{done.stderr}")
        self.wait_ok()
        return self

    def client(self, node: RedisServer) -> redis.Redis:
        return redis.Redis(port=node.port, decode_responses=True, socket_timeout=5)

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Wait until every live node reports ``cluster_state:ok`` and agrees on the slots."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                states = [self.client(n).cluster("info")["cluster_state"] for n in self.nodes if n.alive()]
                if states and all(s == "ok" for s in states):
                    return
            except redis.exceptions.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the cluster did not reach cluster_state:ok")

    def _node_table(self, via: RedisServer) -> list[dict[str, str]]:
        table = self.client(via).execute_command("CLUSTER NODES")  # parsed by redis-py: addr -> info
        return [
            {
                "id": n["node_id"],
                "port": addr.rsplit(":", 1)[1],
                "flags": n["flags"],
                "master": n["master_id"],
            }
            for addr, n in table.items()
        ]

    def node_for(self, port: int) -> RedisServer:
        return next(n for n in self.nodes if n.port == port)

    def owner(self, namespace: str) -> RedisServer:
        """The master that serves the namespace's hash slot now."""
        slot = key_slot(f"{{{namespace}}}".encode())
        live = next(n for n in self.nodes if n.alive())
        for start, end, master, *_ in self.client(live).execute_command("CLUSTER SLOTS"):
            if int(start) <= slot <= int(end):
                return self.node_for(int(master[1]))
        raise RuntimeError(f"no node serves slot {slot}")

    def node_id(self, node: RedisServer) -> str:
        return str(self.client(node).execute_command("CLUSTER MYID"))

    def migrate(self, namespace: str, to: RedisServer, *, batch: int = 10, pause_s: float = 0.0) -> int:
        """Move the namespace's slot, key by key, to master ``to`` (MOVED/ASK for clients meanwhile).

        Returns:
            How many keys moved.
        """
        slot = key_slot(f"{{{namespace}}}".encode())
        source = self.owner(namespace)
        src, dst = self.client(source), self.client(to)
        src_id, dst_id = self.node_id(source), self.node_id(to)
        dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
        src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
        moved = 0
        while keys := src.execute_command("CLUSTER GETKEYSINSLOT", slot, batch):
            src.execute_command("MIGRATE", "127.0.0.1", to.port, "", 0, 5000, "KEYS", *keys)
            moved += len(keys)
            time.sleep(pause_s)
        for node in self.nodes:
            if node.alive() and "master" in self._flags(node):
                self.client(node).execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)
        return moved

    def _flags(self, node: RedisServer) -> str:
        me = self.node_id(node)
        return next(r["flags"] for r in self._node_table(node) if r["id"] == me)

    def masters_now(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.alive() and "master" in self._flags(n)]

    def replica_of(self, master: RedisServer, timeout: float = 20.0) -> RedisServer:
        """The replica of ``master`` (waits for gossip to list it after the cluster was created)."""
        mid = self.node_id(master)
        deadline = time.monotonic() + timeout
        while True:
            rows = self._node_table(master)
            ports = [r["port"] for r in rows if r["master"] == mid and "slave" in r["flags"]]
            if ports or time.monotonic() > deadline:
                return self.node_for(int(ports[0]))
            time.sleep(0.2)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
