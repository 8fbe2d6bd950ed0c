"""The chaos drill shared by the test (short form) and the benchmark (long form).

Real processes from the Procfile against a redis-server of the drill's own with AOF (fsync always);
alerts fed through the ingest process; while they flow, reactive role processes are SIGKILLed at
random moments (restarted as a supervisor would), Redis is restarted once, and malformed alerts and
model garbage are injected. Every fault point comes from one seed, so a failure reproduces.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aisoc import Bus, events
from tests.support.procfile import Supervisor, read_procfile
from tests.support.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
REACTIVE = ("sentinel", "tier2", "ir_lead", "threat_intel")
BAD_LINES = (
    "{not json at all",
    '{"id": "broken-1", "label": "TP"}',
    '{"id": "broken-2", "alert": {"_source": {"timestamp": "yesterday"}}}',
    "[1, 2, 3]",
    '{"id": "broken-3", "alert": {"_id": "x", "_source": {"rule": {"id": "1"}}}}',
)
"""Malformed alerts: not JSON, no alert document, an unreadable time, not an object, no timestamp."""


def real_alerts(n: int) -> list[str]:
    """``n`` real Wazuh records (the development split, cycled with fresh ids), one JSON line each."""
    records = [
        json.loads(line) for line in (ROOT / "data/wazuh/alerts.jsonl").read_text().splitlines() if line
    ]
    out = []
    for i in range(n):
        r = json.loads(json.dumps(records[i % len(records)]))
        if i >= len(records):
            r["id"] = f"{r['id']}-copy{i}"
        out.append(json.dumps(r))
    return out


@dataclass
class Drill:
    """One chaos run; ``run()`` returns the report, ``check()`` the invariants that failed."""

    workdir: Path
    alerts: int = 100
    seed: int = 7
    kills: int = 8
    garbage: float = 0.05
    feed_s: float = 10.0
    settle_s: float = 180.0
    report: dict[str, Any] = field(default_factory=dict)

    def setup(self) -> None:
        self.redis = RedisServer(self.workdir / "redis", appendonly=True).start()
        self.feed = self.workdir / "alerts.jsonl"
        self.feed.write_text("")
        gate_port = free_port()
        config = self.workdir / "aisoc.toml"
        config.write_text(
            f'[aisoc]\nbus = "{self.redis.url}"\nmodel = "stub?garbage={self.garbage}"\n'
            f'state_dir = "{self.workdir / "state"}"\nrecall = "on"\n'
            f'[gate]\ndemo = true\nport = {gate_port}\nbase_url = "http://127.0.0.1:{gate_port}"\n'
        )
        procs = read_procfile(ROOT / "Procfile")
        lines = [f"{name}: {procs[name]}" for name in (*REACTIVE, "gate")]
        lines.append(f"ingest: aisoc ingest wazuh {self.feed} --interval 0.3")
        procfile = self.workdir / "Procfile"
        procfile.write_text("\n".join(lines) + "\n")
        self.sup = Supervisor(
            procfile, {"AISOC_CONFIG": str(config), "AISOC_LOG_LEVEL": "WARNING"}, self.workdir / "logs"
        ).start()
        self.bus = Bus(self.redis.url)

    def run(self) -> dict[str, Any]:
        rng = random.Random(self.seed)
        good = real_alerts(self.alerts)
        bad = [BAD_LINES[i % len(BAD_LINES)] for i in range(max(3, self.alerts // 20))]
        lines = good + bad
        rng.shuffle(lines)
        kill_times = sorted(rng.uniform(0.5, self.feed_s * 1.5) for _ in range(self.kills))
        redis_at = rng.uniform(self.feed_s * 0.3, self.feed_s * 0.8)
        chunk = max(1, len(lines) // max(1, int(self.feed_s / 0.25)))
        t0 = time.monotonic()
        fed = restarted_redis = 0
        recoveries: list[dict[str, Any]] = []
        pending_kills = list(kill_times)
        while time.monotonic() - t0 < self.feed_s * 1.6 or fed < len(lines):
            now = time.monotonic() - t0
            if fed < len(lines):
                with self.feed.open("a") as f:
                    f.write("\n".join(lines[fed : fed + chunk]) + "\n")
                fed += chunk
            if pending_kills and now >= pending_kills[0]:
                pending_kills.pop(0)
                role = rng.choice(REACTIVE)
                killed = time.time()
                self.sup.kill(role)
                time.sleep(rng.uniform(0.1, 0.8))
                self.sup.restart(role)
                recoveries.append(
                    {"role": role, "at_s": round(now, 2), "killed": killed, "restarted": time.time()}
                )
            if not restarted_redis and now >= redis_at:
                self.redis.restart(kill=True)
                restarted_redis = 1
            self.sup.revive()
            time.sleep(0.25)
        feed_done = time.monotonic() - t0
        settled = self._settle(len(good), time.monotonic() + self.settle_s)
        elapsed = time.monotonic() - t0
        for r in recoveries:
            r["recovered_s"] = self._recovery(r)
        codes = self.sup.stop()
        audit = list(self.bus.audit)
        self.report = {
            "alerts": len(good),
            "bad_lines": len(bad),
            "kills": len(recoveries),
            "redis_restarts": restarted_redis,
            "feed_s": feed_done,
            "settled": settled,
            "elapsed_s": elapsed,
            "events": len(audit),
            "events_per_s": len(audit) / elapsed,
            "recoveries": recoveries,
            "exit_codes": codes,
            "restarts": {n: p.restarts for n, p in self.sup.processes.items()},
        }
        self.audit = audit
        return self.report

    def _routes(self) -> dict[str, list[str]]:
        routes: dict[str, list[str]] = defaultdict(list)
        for e in self.bus.audit:
            if e.case_id and _route(e):
                routes[e.case_id].append(e.type)
        return routes

    def _settle(self, good: int, deadline: float) -> bool:
        """Wait until every good alert has its outcome, nothing is pending and the log is quiet.

        Facts, not lag counters: Redis's own lag can come back stale from an AOF reload.
        """
        quiet, size = 0, -1
        while time.monotonic() < deadline:
            self.sup.revive()
            stats = self.bus.stats()
            pending = sum(g.pending for s in stats.streams for g in s.groups)
            length = next(s.length for s in stats.streams if s.name == "audit")
            quiet = quiet + 1 if length == size else 0
            size = length
            if pending == 0 and quiet >= 6 and len(self._routes()) >= good:
                return True
            time.sleep(0.5)
        return False

    def _recovery(self, r: dict[str, Any]) -> float | None:
        """Seconds from the kill to the restarted role's first result (None: it had no more work)."""
        for e in self.bus.audit:
            if str(e.produced_by.role) == r["role"] and e.occurred_at.timestamp() >= r["restarted"]:
                return round(e.occurred_at.timestamp() - r["killed"], 3)
        return None

    def check(self) -> list[str]:
        """The invariants, read from the audit log; an empty list means the drill passed."""
        problems: list[str] = []
        audit = self.audit
        alerts = {e.case_id for e in audit if isinstance(e, events.AlertReceived)}
        if len(alerts) != self.report["alerts"]:
            problems.append(f"{len(alerts)} of {self.report['alerts']} good alerts entered the SOC")
        routes = defaultdict(list)
        for e in audit:
            if e.case_id and _route(e):
                routes[e.case_id].append(e.type)
        for case in alerts:
            if len(routes[case]) != 1:
                problems.append(f"{case}: {len(routes[case])} terminal outcomes {routes[case]}")
        results = Counter(
            (e.type, e.causation_id)
            for e in audit
            if e.type in ("triage.verdict", "tier2.decision", "ir.plan", "intel.attribution")
        )
        problems += [f"{t} produced {n} times for {c}" for (t, c), n in results.items() if n > 1]
        per_case = Counter((e.type, e.case_id) for e in audit if e.type in ("triage.verdict", "ir.plan"))
        problems += [f"{t} {n} times in {c}" for (t, c), n in per_case.items() if n > 1]
        actions = Counter(e.action_id for e in audit if isinstance(e, events.ActionProposed))
        problems += [f"action {a} proposed {n} times" for a, n in actions.items() if n > 1]
        dead = [d for d in self.bus.dead_letters(limit=10_000) if d.group == "ingest"]
        if len(dead) != self.report["bad_lines"] or not all(d.reason for d in dead):
            problems.append(f"{len(dead)} dead letters from ingest for {self.report['bad_lines']} bad lines")
        decided = [e for e in audit if isinstance(e, events.ActionDecided)]
        if decided:
            problems.append(f"{len(decided)} approvals were decided though nobody decided anything")
        from gate.store import open_store

        pending = {r.action_id for r in open_store(self.bus).pending()}
        if pending != set(actions):
            problems.append(f"{len(pending)} pending approval requests for {len(actions)} proposals")
        if not self.report["settled"]:
            problems.append("the SOC did not settle")
        return problems

    def close(self) -> None:
        try:
            self.sup.stop(5)
        except Exception:
            pass
        self.redis.stop()


def _route(e: events.Event) -> bool:
    """The events that end a case's automated path: closed, sent to a person, or escalated."""
    if isinstance(e, events.CaseClosed | events.IrPlan):
        return True
    return isinstance(e, events.ReviewRequested) and str(e.role) in ("sentinel", "tier2", "ir_lead")
