"""Redis memory per alert through the whole team (issue 15): what one alert costs the bus to keep.

    python bench/bus_memory.py [--alerts 200]

Real Wazuh alerts (``data/wazuh/alerts.jsonl``, cycled with fresh source ids) go through the whole
team with the canned (stub) model on a private redis-server (no persistence), in-process (drain).
The gate's and the bot's consumer groups read what they read in production (``actions``; ``cases``,
``actions`` and ``reports``) and ack it, so the work streams hold what a deployment's would.
Reported: ``MEMORY USAGE`` summed over the namespace's keys, per alert, by kind of key, as the team
leaves it (every ``trim_every`` acks trim their stream) and after a final ``bus.trim()`` (the audit
log stays), the mean stored size of each event type, and what an alert costs by how far it went
(closed by Sentinel, by Tier 2, or the whole way to a plan). Target: <= 15 KB per alert.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aisoc import Bus, events, models  # noqa: E402
from aisoc.runtime import RoleTeam  # noqa: E402
from bench.pipeline import _Source  # noqa: E402
from integrations.wazuh import WazuhFileSource  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402


def alerts(n: int) -> list[events.Alert]:
    real = [
        a for a in WazuhFileSource(ROOT / "data/wazuh/alerts.jsonl").poll() if isinstance(a, events.Alert)
    ]
    out = []
    for i in range(n):
        a = real[i % len(real)]
        out.append(a if i < len(real) else a.model_copy(update={"source_id": f"{a.source_id}-copy{i}"}))
    return [events.Alert.model_validate(a.model_dump()) for a in out]


def kind(key: str) -> str:
    name = key.split("}:", 1)[1]
    head = name.split(":", 1)[0]
    return head if head in ("mark", "case", "published", "err", "lock") else name


def usage(client: Any, ns: str) -> dict[str, int]:
    by_kind: dict[str, int] = defaultdict(int)
    for key in client.scan_iter(match=f"{{{ns}}}:*", count=1000):
        by_kind[kind(key)] += int(client.memory_usage(key, samples=0) or 0)
    return dict(by_kind)


def cost_by_path(by_case: dict[str, list[tuple[str, int]]]) -> dict[str, tuple[int, float]]:
    """Event JSON bytes per case, grouped by how far the case went: (cases, mean bytes)."""
    out: dict[str, list[int]] = defaultdict(list)
    for stored in by_case.values():
        types = {t for t, _ in stored}
        path = "plan" if "ir.plan" in types else "tier2" if "tier2.decision" in types else "sentinel"
        out[path].append(sum(n for _, n in stored))
    return {p: (len(v), sum(v) / len(v)) for p, v in sorted(out.items())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--alerts", type=int, default=200)
    p.add_argument("--out", default=str(ROOT / "build/bench/bus_memory.json"))
    a = p.parse_args()
    server = RedisServer(Path(tempfile.mkdtemp()) / "redis").start()
    try:
        bus = Bus(server.url, namespace="mem")
        team = RoleTeam(model=models.from_spec("stub"), bus=bus)
        team.consume(_Source(alerts(a.alerts)))
        for group, streams in (("gate", ["actions"]), ("bot", ["cases", "actions", "reports"])):
            while batch := bus.consume(group, f"{group}-1", streams=streams, count=500):
                bus.ack_many(batch)
        client = bus.client
        before = usage(client, "mem")
        sizes: dict[str, list[int]] = defaultdict(list)
        by_case: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for e in bus.audit:
            stored = len(e.to_json())
            sizes[e.type].append(stored)
            by_case[e.case_id or ""].append((e.type, stored))
        paths = cost_by_path(by_case)
        bus.trim()
        after = usage(client, "mem")
    finally:
        server.stop()
    n = a.alerts
    print(f"Redis memory per alert, {n} real Wazuh alerts through the whole team (stub model)")
    for label, table in (("as left by the team", before), ("after bus.trim()", after)):
        total = sum(table.values())
        print(f"  {label:22} {total / n / 1024:8.1f} KB/alert  (target <= 15 KB)")
        for k, v in sorted(table.items(), key=lambda kv: -kv[1]):
            print(f"      {k:20} {v / n / 1024:8.1f} KB/alert")
    print("  event JSON per alert by how far it went (before compression):")
    for path, (count, mean) in paths.items():
        print(f"      {path:22} {count:5d} alerts  {mean / 1024:6.1f} KB")
    print("  mean stored event size:")
    for t, s in sorted(sizes.items(), key=lambda kv: -sum(kv[1])):
        print(f"      {t:22} {sum(s) / len(s) / 1024:6.1f} KB x {len(s) / n:.2f} per alert")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "alerts": n,
                "bytes_by_kind": before,
                "bytes_by_kind_after_trim": after,
                "per_alert_kb": sum(before.values()) / n / 1024,
                "per_alert_kb_after_trim": sum(after.values()) / n / 1024,
                "event_kb": {t: sum(s) / len(s) / 1024 for t, s in sizes.items()},
                "event_json_kb_by_path": {p: {"alerts": c, "kb": m / 1024} for p, (c, m) in paths.items()},
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
