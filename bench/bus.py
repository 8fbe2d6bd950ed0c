"""Bus throughput: publish + consume + ack per backend, against a raw redis-py baseline.

    python bench/bus.py [--events 20000] [--batch 100] [--redis redis://127.0.0.1:6379/15] [--no-modes]

The payloads are real: ``alert.received`` events normalized from ``data/wazuh/alerts.jsonl``
(cycled, each with a fresh event id). The raw baseline does the same logical work on the same
serialized payloads with no kernel in between: per event one MULTI with the work XADD and the
audit XADD; XREADGROUP in batches of ``--batch``; one XACK per batch — batched as the bus batches.
Targets (issue 2): Redis bus >= 50% of the baseline; in-memory >= 50,000 events/s; SQLite >= 5,000.
Durability modes and Redis Cluster (issue 15), each on servers of the bench's own: ``redis_fast_aof``
(appendonly yes, appendfsync everysec, durability=fast), ``redis_fsync`` (appendfsync always,
durability=fsync: Redis 7.0 has no WAITAOF) and ``redis_cluster`` (3 masters + 3 replicas on
loopback, through ``redis+cluster://``).
The process runs with the GC tuning every aisoc process applies at start (aisoc.tuning).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aisoc import Bus, events  # noqa: E402
from aisoc.tuning import tune_gc  # noqa: E402
from integrations.wazuh import WazuhFileSource  # noqa: E402
from tests.support.redis_cluster import RedisCluster  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402


def real_events(n: int) -> list[events.AlertReceived]:
    alerts = [
        a for a in WazuhFileSource(ROOT / "data/wazuh/alerts.jsonl").poll() if isinstance(a, events.Alert)
    ]
    by = events.ProducedBy(role="ingest")
    return [
        events.AlertReceived(
            alert=alerts[i % len(alerts)], case_id=alerts[i % len(alerts)].case_id, produced_by=by
        )
        for i in range(n)
    ]


def run_bus(bus: Bus, evs: list[events.AlertReceived], batch: int) -> dict[str, float]:
    t0 = time.perf_counter()
    for e in evs:
        bus.publish(e)
    t1 = time.perf_counter()
    got = 0
    while got < len(evs):
        deliveries = bus.consume("bench", "bench-1", types=["alert.received"], count=batch)
        if not deliveries:
            raise RuntimeError(f"only {got} of {len(evs)} events came back")
        got += len(deliveries)
        bus.ack_many(deliveries)
    t2 = time.perf_counter()
    return {"publish_s": t1 - t0, "consume_ack_s": t2 - t1, "events_per_s": len(evs) / (t2 - t0)}


def run_raw(url: str, payloads: list[tuple[str, str]], batch: int) -> dict[str, float]:
    r = redis.Redis.from_url(url, decode_responses=True, protocol=2)
    ns = f"{{raw{uuid.uuid4().hex[:6]}}}"
    work, audit = f"{ns}:alerts", f"{ns}:audit"
    r.xgroup_create(work, "bench", "0", mkstream=True)
    t0 = time.perf_counter()
    for etype, data in payloads:
        pipe = r.pipeline(transaction=True)
        pipe.xadd(work, {"t": etype, "d": data})
        pipe.xadd(audit, {"t": etype, "d": data, "s": "alerts"})
        pipe.execute()
    t1 = time.perf_counter()
    got = 0
    while got < len(payloads):
        resp = r.xreadgroup("bench", "bench-1", {work: ">"}, count=batch)
        entries = resp[0][1] if resp else []
        if not entries:
            raise RuntimeError("raw baseline lost events")
        for _, fields in entries:
            json.loads(fields["d"])  # the baseline must at least parse what it reads
        got += len(entries)
        r.xack(work, "bench", *[i for i, _ in entries])
    t2 = time.perf_counter()
    r.delete(work, audit)
    return {
        "publish_s": t1 - t0,
        "consume_ack_s": t2 - t1,
        "events_per_s": len(payloads) / (t2 - t0),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/15",
        help="Redis to use; a private redis-server is started when it does not answer",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds per backend; the median is reported",
    )
    p.add_argument(
        "--no-modes",
        action="store_true",
        help="skip the durability modes and the cluster (private servers started by the bench)",
    )
    p.add_argument("--out", default=str(ROOT / "build/bench/bus.json"))
    a = p.parse_args()
    tune_gc()  # as every aisoc process does at start (aisoc.tuning); the test data is not frozen

    evs = real_events(a.events)
    server = None
    try:
        redis.Redis.from_url(a.redis, socket_connect_timeout=1).ping()
        url = a.redis
    except redis.exceptions.ConnectionError:
        server = RedisServer(Path(tempfile.mkdtemp()) / "redis").start()
        url = server.url
    rounds: dict[str, list[dict[str, float]]] = {}
    extra: dict[str, tuple[str, str]] = {}  # name -> (url, durability)
    private: list[RedisServer | RedisCluster] = []
    if not a.no_modes:
        tmp = Path(tempfile.mkdtemp())
        fast = RedisServer(tmp / "fast", appendonly=True, appendfsync="everysec").start()
        strict = RedisServer(tmp / "fsync", appendonly=True, appendfsync="always").start()
        cluster = RedisCluster(tmp / "cluster").start()
        private += [fast, strict, cluster]
        extra = {
            "redis_fast_aof": (fast.url, "fast"),
            "redis_fsync": (strict.url, "fsync"),
            "redis_cluster": (cluster.url, "fast"),
        }
    # Same payload bytes for the baseline: what the bus writes for each event.
    payloads = [(e.type, e.to_json()) for e in evs]
    try:
        for n in range(a.rounds):
            rounds.setdefault("memory", []).append(run_bus(Bus(), evs, a.batch))
            with tempfile.TemporaryDirectory() as d:
                rounds.setdefault("sqlite", []).append(run_bus(Bus(f"sqlite:///{d}/bench.db"), evs, a.batch))
            ns = f"bench{uuid.uuid4().hex[:6]}"
            rbus = Bus(url, namespace=ns)
            pair = [
                ("redis_raw_baseline", lambda: run_raw(url, payloads, a.batch)),
                ("redis", lambda b=rbus: run_bus(b, evs, a.batch)),
            ]
            for name, fn in pair if n % 2 == 0 else reversed(pair):
                rounds.setdefault(name, []).append(fn())
            keys = list(rbus.client.scan_iter(match=f"{{{ns}}}:*"))
            if keys:
                rbus.client.delete(*keys)
            rbus.close()
            for name, (mode_url, durability) in extra.items():
                mbus = Bus(mode_url, namespace=f"bench{uuid.uuid4().hex[:6]}", durability=durability)
                rounds.setdefault(name, []).append(run_bus(mbus, evs, a.batch))
                mbus.close()
    finally:
        if server:
            server.stop()
        for s in private:
            s.stop()
    results = {name: sorted(rs, key=lambda r: r["events_per_s"])[len(rs) // 2] for name, rs in rounds.items()}

    ratio = results["redis"]["events_per_s"] / results["redis_raw_baseline"]["events_per_s"]
    targets = {"memory": 50_000, "sqlite": 5_000}
    size = sum(len(d) for _, d in payloads) // len(payloads)
    print(
        f"bus throughput: {a.events} real Wazuh alert events (~{size} B each), batch "
        f"{a.batch}, median of {a.rounds} interleaved rounds"
    )
    for name, r in results.items():
        target = targets.get(name)
        verdict = "" if target is None else (" OK" if r["events_per_s"] >= target else " BELOW")
        tgt = f" (target >= {target:,}/s{verdict})" if target else ""
        print(
            f"  {name:20} {r['events_per_s']:>10,.0f} events/s  publish {r['publish_s']:.2f}s  "
            f"consume+ack {r['consume_ack_s']:.2f}s{tgt}"
        )
    print(
        f"  redis bus / raw redis-py baseline = {ratio:.2f} (target >= 0.50"
        f"{' OK' if ratio >= 0.5 else ' BELOW'})"
    )
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "events": a.events,
                "batch": a.batch,
                "rounds": rounds,
                "median": results,
                "redis_ratio": ratio,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
