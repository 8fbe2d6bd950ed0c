"""Throughput against a batching model server: worker processes with ``--concurrency N``.

    python bench/concurrency.py [--delay 1.0] [--per-lane 8] [--n 1 2 4 8] [--redis URL]

A local fake OpenAI-compatible server (``tests/support/fake_openai.py``) answers every request after
a fixed delay, however many arrive at once: a GPU server that batches, as the workers see it. One
``aisoc worker`` process per role (Sentinel, Tier 2, IR Lead, Threat Intel) runs on Redis with
``--concurrency N``; ``per-lane x N`` real Wazuh alerts (the pipeline bench's mix, three quarters
going the whole way) are ingested at once, and the run ends when every expected event is in the
audit log. Reported per N: alerts/s, the scaling against N = 1 (target >= 0.8 x N), the most
requests the server had in flight at once, and the invariants: every expected event present, no
role's result published twice for one trigger, each case's events in causal order.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import _Source, in_process, mix  # noqa: E402

from aisoc import Bus  # noqa: E402
from aisoc.sources import ingest  # noqa: E402
from tests.support.fake_openai import fake_openai  # noqa: E402

ROLES = ("sentinel", "tier2", "ir_lead", "threat_intel")


def invariants(bus: Bus) -> dict[str, Any]:
    """No role result twice for one trigger; within a case, every event after the one that caused it."""
    seen: Counter[tuple[str, str, str]] = Counter()  # (role, trigger, type[:action])
    position: dict[str, int] = {}
    out_of_order = 0
    for n, e in enumerate(bus.audit):
        position[e.event_id] = n
        if e.causation_id and e.produced_by.role in ROLES:
            # One of each type per trigger, except proposals: one per action (their ids are derived).
            seen[(str(e.produced_by.role), e.causation_id, f"{e.type}:{getattr(e, 'action_id', '')}")] += 1
            if position.get(e.causation_id, n) > n:
                out_of_order += 1
    return {"duplicates": sum(c - 1 for c in seen.values() if c > 1), "out_of_order": out_of_order}


def run(url: str, n: int, per_lane: int, delay: float, timeout_s: float) -> dict[str, Any]:
    alerts = mix(per_lane * n)
    expected = sum(in_process(alerts)["events"].values())
    ns = f"conc{uuid.uuid4().hex[:6]}"
    with fake_openai(delay) as fake:
        env = {
            **os.environ,
            "AISOC_BUS": url,
            "AISOC_NAMESPACE": ns,
            "AISOC_LOG_LEVEL": "WARNING",
            "AISOC_RECALL": "off",
        }
        spec = f"openai+{fake.url}?mode=json&model=local&timeout=120"
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "aisoc", "worker", role, "--model", spec, "--concurrency", str(n)],
                env=env,
                cwd=ROOT,
            )
            for role in ROLES
        ]
        bus = Bus(url, namespace=ns)
        try:
            deadline = time.monotonic() + 120
            while len(bus.heartbeats()) < len(ROLES) and time.monotonic() < deadline:
                time.sleep(0.2)  # every worker connected and consuming
            t = time.perf_counter()
            ingest(_Source(alerts), bus)
            done = 0
            while time.perf_counter() - t < timeout_s:
                done = {s.name: s.length for s in bus.stats().streams}["audit"]
                if done >= expected:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - t
            checks = invariants(bus)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(60)
            keys = list(bus.client.scan_iter(match=f"{{{ns}}}:*"))
            if keys:
                bus.client.delete(*keys)
        return {
            "n": n,
            "alerts": len(alerts),
            "seconds": elapsed,
            "alerts_per_s": len(alerts) / elapsed,
            "model_requests": len(fake.requests),
            "peak_in_flight": fake.peak,
            "complete": done >= expected,
            "events": done,
            "expected_events": expected,
            **checks,
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--delay", type=float, default=1.0, help="seconds the fake server takes per request")
    p.add_argument("--per-lane", type=int, default=8, help="alerts per unit of concurrency")
    p.add_argument("--n", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--out", default=str(ROOT / "build/bench/concurrency.json"))
    a = p.parse_args()
    rows = []
    for n in a.n:
        r = run(a.redis, n, a.per_lane, a.delay, a.timeout)
        base = rows[0]["alerts_per_s"] if rows else r["alerts_per_s"]
        r["scaling"] = r["alerts_per_s"] / base
        rows.append(r)
        print(
            f"N={n}: {r['alerts']} alerts in {r['seconds']:.1f} s = {r['alerts_per_s']:.2f} alerts/s, "
            f"scaling {r['scaling']:.2f} (target >= {0.8 * n:.1f}), peak {r['peak_in_flight']} requests "
            f"in flight, complete={r['complete']}, duplicates={r['duplicates']}, "
            f"out_of_order={r['out_of_order']}"
        )
    path = Path(a.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"delay_s": a.delay, "runs": rows}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
