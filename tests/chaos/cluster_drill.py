"""A SOC deployed on a real Redis Cluster the way docs/operations.md says, while the cluster changes.

The Procfile's processes (the four role workers, the scheduler, the gate, the bot in preview mode,
ingest) run as separate OS processes; their only settings are the settings file named by
``AISOC_CONFIG`` and ``AISOC_BUS`` (the cluster URL), as documented. Real Wazuh alerts go in through
ingest in phases; between and during them a worker is SIGKILLed with deliveries in hand, the master
holding the namespace's slot is SIGKILLed (its replica takes over) and brought back, a replica is
promoted by ``CLUSTER FAILOVER``, and ``redis-cli --cluster reshard`` moves the namespace's slot to
another master (clients meet ASK, then MOVED). The operator's commands (``aisoc status``, ``aisoc bus
stats``, ``aisoc bus dlq list``) run against the cluster as separate processes too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.cluster import key_slot

from aisoc import Bus, events
from tests.support.chaos import BAD_LINES, REACTIVE, _route, real_alerts
from tests.support.fake_openai import fake_openai
from tests.support.procfile import Supervisor, read_procfile
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "soc"
"""The default namespace: every key of the SOC in one hash slot."""
PROCESSES = (*REACTIVE, "scheduler", "gate", "bot")


@dataclass
class ClusterDrill:
    """One deployment on a cluster of ``masters`` masters with ``replicas`` replicas each."""

    workdir: Path
    masters: int = 3
    replicas: int = 1
    alerts: int = 45
    model_delay_s: float = 0.02
    settle_s: float = 60.0
    outage_s: float = 12.0
    """How long a master without a replica stays down (3-master cluster): longer than redis-py's own
    retries of CLUSTERDOWN (about 8 s), so the processes meet the outage themselves."""
    log: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    """Processes that exited on their own (restarted as systemd's Restart=always would), with the
    last lines of their logs."""
    cli: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stack = ExitStack()

    # --- deployment ------------------------------------------------------------------------------

    def setup(self) -> None:
        self.cluster = RedisCluster(self.workdir / "cluster", masters=self.masters, replicas=self.replicas)
        self.cluster.start()
        self._stack.callback(self.cluster.stop)
        model = self._stack.enter_context(fake_openai(self.model_delay_s))
        self.feed = self.workdir / "alerts.jsonl"
        self.feed.write_text("")
        gate_port, bot_port = free_port(), free_port()
        config = self.workdir / "aisoc.toml"
        config.write_text(
            "[aisoc]\n"
            f'model = "openai+{model.url}?mode=json"\n'
            f'state_dir = "{self.workdir / "state"}"\n'
            'recall = "on"\n'
            "visibility_timeout_s = 3\n"
            f'[gate]\ndemo = true\nport = {gate_port}\nbase_url = "http://127.0.0.1:{gate_port}"\n'
            f"[bot]\nport = {bot_port}\n"
        )
        procs = read_procfile(ROOT / "Procfile")
        lines = [f"{name}: {procs[name]}" for name in PROCESSES]
        lines.append(f"ingest: aisoc ingest wazuh {self.feed} --interval 0.2")
        procfile = self.workdir / "Procfile"
        procfile.write_text("\n".join(lines) + "\n")
        self.env = {
            "AISOC_CONFIG": str(config),
            "AISOC_BUS": self.cluster.url,
            "AISOC_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        self.sup = Supervisor(procfile, self.env, self.workdir / "logs").start()
        self._stack.callback(self.sup.stop, 5)
        self.bus = Bus(self.cluster.url, namespace=NAMESPACE)
        self._stack.callback(self.bus.close)
        good = real_alerts(self.alerts)
        third = len(good) // 3
        self.phases = [good[:third], good[third : 2 * third], good[2 * third :]]
        self.bad = list(BAD_LINES[:2])

    def close(self) -> None:
        self._stack.close()

    # --- faults ------------------------------------------------------------------------------------

    def run(self) -> None:
        """Feed three phases of alerts, with the cluster's and the processes' faults among them."""
        self._feed(self.phases[0][: len(self.phases[0]) // 2] + self.bad[:1])
        self.kill_worker_mid_batch("sentinel")
        self._feed(self.phases[0][len(self.phases[0]) // 2 :])
        self.settle()
        self.run_cli("after a worker was killed")
        if self.replicas:
            self.kill_master_and_bring_it_back()
            self._feed(self.phases[1][: len(self.phases[1]) // 2])
            self.manual_failover()
            self._feed(self.phases[1][len(self.phases[1]) // 2 :] + self.bad[1:])
        else:
            half = len(self.phases[1]) // 2
            self.lose_a_master_for_a_while(self.phases[1][:half])
            self._feed(self.phases[1][half:] + self.bad[1:])
        self.settle()
        self.run_cli("after the failovers")
        self._feed(self.phases[2])
        self.reshard()
        self.settle()
        self.run_cli("after the reshard")

    def _feed(self, lines: list[str]) -> None:
        with self.feed.open("a") as f:
            f.write("".join(line + "\n" for line in lines))

    def kill_worker_mid_batch(self, role: str) -> None:
        """SIGKILL the role's worker while it holds delivered, unacknowledged entries; restart it."""
        for _ in self._wait(30, f"{role} holding deliveries"):
            if self._pending(role) > 0:
                break
        self.sup.kill(role)
        held = self._pending(role)
        self.log.append(f"SIGKILLed {role} holding {held} deliveries")
        self.sup.restart(role)

    def kill_master_and_bring_it_back(self) -> None:
        """SIGKILL the master of the namespace's slot once its replica has caught up (so nothing the
        SOC was told is stored can vanish with it: asynchronous replication is documented to lose the
        last writes otherwise), wait for the replica's promotion, restart the dead node (it rejoins
        as a replica)."""
        master = self.cluster.owner(NAMESPACE)
        replica = self.cluster.replica_of(master)
        for _ in self._wait(20, "the replica to catch up"):
            if self._caught_up(master, replica):
                break
        master.kill()
        self.log.append(f"SIGKILLed master :{master.port} of slot {self.slot}")
        for _ in self._wait(30, "the replica to be promoted"):
            if self._owner_port() == replica.port:
                break
        master.start()
        for _ in self._wait(30, f":{master.port} to rejoin as a replica"):
            if self._role_of(master) == "slave" and self._link_up(master):
                break
        self.log.append(f":{replica.port} promoted; :{master.port} rejoined as its replica")

    def lose_a_master_for_a_while(self, lines: list[str]) -> None:
        """SIGKILL a master that has no replica (not the SOC's): with Redis's default
        ``cluster-require-full-coverage yes`` the whole cluster answers CLUSTERDOWN until it is
        back. Alerts arrive and the operator runs ``aisoc status`` meanwhile; after ``outage_s`` (the
        fault's length) it is restarted."""
        owner = self.cluster.owner(NAMESPACE)
        victim = next(m for m in self.cluster.masters_now() if m.port != owner.port)
        victim.kill()
        for _ in self._wait(30, "the cluster to see the master fail"):
            if self.cluster.client(owner).cluster("info")["cluster_state"] == "fail":
                break
        down_at = time.monotonic()
        self._feed(lines)
        self.log.append(f"SIGKILLed master :{victim.port} (no replica): the cluster is down")
        self.run_cli("while the cluster is down", ("status",))
        time.sleep(max(0.0, self.outage_s - (time.monotonic() - down_at)))
        victim.start()
        self.cluster.wait_ok()
        self.log.append(f"restarted :{victim.port}: the cluster is up")

    def manual_failover(self) -> None:
        """``CLUSTER FAILOVER`` on the replica of the namespace's master, under load."""
        master = self.cluster.owner(NAMESPACE)
        replica = self.cluster.replica_of(master)
        self.cluster.client(replica).execute_command("CLUSTER FAILOVER")
        for _ in self._wait(30, "CLUSTER FAILOVER"):
            if self._owner_port() == replica.port:
                break
        self.log.append(f"CLUSTER FAILOVER: :{replica.port} took slot {self.slot} over from :{master.port}")

    def reshard(self) -> None:
        """``redis-cli --cluster reshard``: move every slot up to the namespace's from its master to
        another (the tool moves a master's lowest slots first), while alerts flow."""
        source = self.cluster.owner(NAMESPACE)
        target = next(m for m in self.cluster.masters_now() if m.port != source.port)
        first = min(int(s) for s, _e, master, *_ in self._slots() if int(master[1]) == source.port)
        count = self.slot - first + 1
        done = subprocess.run(
            ["redis-cli", "--cluster", "reshard", f"127.0.0.1:{source.port}"]
            + ["--cluster-from", self.cluster.node_id(source), "--cluster-to", self.cluster.node_id(target)]
            + ["--cluster-slots", str(count), "--cluster-yes", "--cluster-pipeline", "5"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr
        self.cluster.wait_ok()
        assert self._owner_port() == target.port, "the reshard did not move the namespace's slot"
        self.log.append(
            f"resharded {count} slots (slot {self.slot} included) :{source.port} -> :{target.port}"
        )

    # --- observation -------------------------------------------------------------------------------

    @property
    def slot(self) -> int:
        return key_slot(f"{{{NAMESPACE}}}".encode())

    def _slots(self) -> list[Any]:
        live = next(n for n in self.cluster.nodes if n.alive())
        return list(self.cluster.client(live).execute_command("CLUSTER SLOTS"))

    def _owner_port(self) -> int | None:
        try:
            return self.cluster.owner(NAMESPACE).port
        except (redis.RedisError, RuntimeError, StopIteration):
            return None

    def _role_of(self, node: RedisServer) -> str | None:
        try:
            return str(self.cluster.client(node).info("replication")["role"])
        except redis.RedisError:
            return None

    def _link_up(self, node: RedisServer) -> bool:
        try:
            info = self.cluster.client(node).info("replication")
        except redis.RedisError:
            return False
        return info.get("master_link_status") == "up" and not info.get("master_sync_in_progress")

    def _caught_up(self, master: RedisServer, replica: RedisServer) -> bool:
        try:
            offset = self.cluster.client(master).info("replication")["master_repl_offset"]
            return int(self.cluster.client(replica).info("replication")["slave_repl_offset"]) >= offset
        except (redis.RedisError, KeyError):
            return False

    def _pending(self, group: str) -> int:
        try:
            stats = self.bus.stats()
        except Exception:
            return 0
        return sum(g.pending for s in stats.streams for g in s.groups if g.name == group)

    def _wait(self, timeout: float, what: str, step: float = 0.05) -> Iterator[None]:
        """Yield until the caller breaks; fail naming ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._revive()
            yield
            time.sleep(step)
        raise AssertionError(f"timed out waiting for {what}; {self.log}")

    def _revive(self) -> None:
        for name in self.sup.revive():
            self.crashes.append(f"{name}: {self.sup.tail(name, 1)}")

    def routes(self) -> dict[str, list[str]]:
        routes: dict[str, list[str]] = defaultdict(list)
        for e in self.bus.audit:
            if e.case_id and _route(e):
                routes[e.case_id].append(e.type)
        return routes

    def settle(self) -> None:
        """Wait until every alert fed so far has an outcome, nothing is pending and the log is quiet."""
        want = sum(len(p) for p in self.phases if p and p[-1] in self.feed.read_text())
        size, quiet = -1, 0
        for _ in self._wait(self.settle_s, f"{want} alerts to reach an outcome", step=0.3):
            try:
                stats = self.bus.stats()
            except Exception:
                continue
            pending = sum(g.pending for s in stats.streams for g in s.groups if s.name != "reports")
            length = next(s.length for s in stats.streams if s.name == "audit")
            quiet = quiet + 1 if length == size else 0
            size = length
            if pending == 0 and quiet >= 3 and len(self.routes()) >= want:
                return

    def run_cli(self, when: str, *commands: tuple[str, ...]) -> None:
        """Run the operator's commands as processes against the cluster (settings as documented)."""
        for argv in commands or (("status",), ("bus", "stats"), ("bus", "dlq", "list")):
            done = subprocess.run(
                [sys.executable, "-m", "aisoc", *argv],
                env={**os.environ, **self.env},
                capture_output=True,
                text=True,
                timeout=60,
                cwd=self.workdir,
            )
            self.cli[f"{' '.join(argv)} ({when})"] = done

    # --- verdict -----------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """The invariants, read from the audit log and the gate's store; empty when the drill passed."""
        problems: list[str] = []
        audit = list(self.bus.audit)
        want = sum(len(p) for p in self.phases)
        alerts = Counter(e.case_id for e in audit if isinstance(e, events.AlertReceived))
        if len(alerts) != want:
            problems.append(f"{len(alerts)} of {want} alerts entered the SOC")
        problems += [f"{c}: alert.received {n} times" for c, n in alerts.items() if n > 1]
        routes = self.routes()
        for case in alerts:
            if len(routes[case]) != 1:
                problems.append(f"{case}: {len(routes[case])} terminal outcomes {routes[case]}")
        results = Counter(
            (e.type, e.causation_id)
            for e in audit
            if e.type in ("triage.verdict", "tier2.decision", "ir.plan", "intel.attribution")
        )
        problems += [f"{t} produced {n} times for {c}" for (t, c), n in results.items() if n > 1]
        actions = Counter(e.action_id for e in audit if isinstance(e, events.ActionProposed))
        problems += [f"action {a} proposed {n} times" for a, n in actions.items() if n > 1]
        dead = self.bus.dead_letters(limit=1000)
        if sorted(d.group for d in dead) != ["ingest"] * len(self.bad):
            problems.append(
                f"dead letters {[(d.group, d.reason) for d in dead]} for {len(self.bad)} bad lines"
            )
        from gate.store import open_store

        pending = [r.action_id for r in open_store(self.bus).pending()]
        if sorted(pending) != sorted(actions):
            problems.append(f"{len(pending)} pending approval requests for {len(actions)} proposals")
        codes = self.sup.stop(20)
        problems += [f"{n} exited {c} on SIGTERM:\n{self.sup.tail(n)}" for n, c in codes.items() if c != 0]
        return problems

    def describe(self) -> str:
        restarts = {n: p.restarts for n, p in self.sup.processes.items() if p.restarts}
        return json.dumps({"log": self.log, "restarts": restarts, "crashes": self.crashes}, indent=1)
