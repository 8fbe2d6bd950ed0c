"""Soak: alerts through the Procfile's processes on a Redis of its own, recall on, memory sampled.

    python bench/soak.py [--alerts 20000] [--rate 40] [--sample-s 5] [--max-entries 0]
                         [--memory-max-cases 2000] [--mark-retention-hours 0]
                         [--gate-open-s 0] [--gate-retention-hours 0]

Starts redis-server on a free port, then every process of the Procfile (bot offline, gate, the four
reactive roles, scheduler, metrics, ingest of a Wazuh file that grows at ``--rate`` real alerts per
second). Every ``--sample-s`` seconds it records the RSS of each process (/proc/PID/status) and
Redis ``used_memory``; it stops when every alert has been routed (or at ``--timeout-s``). With
``--max-entries`` the scheduler's retention keeps the audit at that size (every 60 s); the workers'
case memory holds ``--memory-max-cases`` in RAM; ``--mark-retention-hours`` shortens the idempotency
marks' TTL; ``--gate-open-s`` caps how long an approval stays open (nobody decides in a soak) and
``--gate-retention-hours`` how long the gate's store keeps ended ones. Each sample also counts Redis
keys by kind and the bot's backlog (entries of cases/actions/reports its group has not acked yet).
The summary gives each curve's slope per 1,000 alerts over the second half of the run (a flat curve
has a slope near 0).
Writes build/bench/soak.json and bench/soak.png (needs the ``bench`` extra: matplotlib).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis as redis_py  # noqa: E402

from aisoc import Bus  # noqa: E402
from tests.support.chaos import real_alerts  # noqa: E402
from tests.support.procfile import Supervisor, read_procfile  # noqa: E402
from tests.support.redis_server import RedisServer, free_port  # noqa: E402

PROCESSES = ("bot", "gate", "sentinel", "tier2", "ir_lead", "threat_intel", "scheduler", "metrics")
"""The Procfile entries run as they are (ports from the settings file); ingest is pointed at the feed."""


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process in MB (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def routed(client: Any) -> int:
    """Alerts Sentinel has read and acknowledged (Redis counts reads past any trim)."""
    try:
        groups = client.xinfo_groups("{soc}:alerts")
    except Exception:  # the stream does not exist yet
        return 0
    for g in groups:
        if g["name"] in (b"sentinel", "sentinel"):
            return int(g.get("entries-read") or 0) - int(g["pending"])
    return 0


def bot_streams(client: Any) -> tuple[int, int]:
    """On the streams the bot reads (cases, actions, reports): the entries its consumer group has
    not acked yet (unread + pending), and the entries ever added (what the bot must keep up with)."""
    backlog = added = 0
    for stream in ("cases", "actions", "reports"):
        try:
            added += int(client.xinfo_stream(f"{{soc}}:{stream}")["entries-added"])
            groups = client.xinfo_groups(f"{{soc}}:{stream}")
        except Exception:  # the stream does not exist yet
            continue
        for g in groups:
            if g["name"] in (b"bot", "bot"):
                backlog += int(g.get("lag") or 0) + int(g["pending"])
    return backlog, added


def key_census(client: Any) -> dict[str, int]:
    """Redis keys by kind (the part of the name after the namespace, up to its first colon)."""
    kinds: dict[str, int] = {}
    for key in client.scan_iter(count=2000):
        name = key.decode("utf-8", "replace").split("}:", 1)[-1]
        kind = name.split(":", 1)[0] if ":" in name else name
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


def slopes(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Least-squares slope (MB per 1,000 alerts routed) of each curve over the second half."""
    last = samples[-1]["routed"]
    half = [s for s in samples if s["routed"] >= last / 2]
    curves: dict[str, list[tuple[float, float]]] = {"redis": [(s["routed"], s["redis_mb"]) for s in half]}
    for s in half:
        for name, mb in s["rss_mb"].items():
            if mb is not None:
                curves.setdefault(name, []).append((s["routed"], mb))
    out = {}
    for name, pts in curves.items():
        n = len(pts)
        mx, my = sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
        var = sum((p[0] - mx) ** 2 for p in pts)
        out[name] = round(1000 * sum((p[0] - mx) * (p[1] - my) for p in pts) / var, 2) if var else 0.0
    return out


def run(a: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    redis = RedisServer(workdir / "redis").start()
    feed = workdir / "alerts.jsonl"
    feed.write_text("")
    gate_port, bot_port, metrics_port = free_port(), free_port(), free_port()
    config = workdir / "aisoc.toml"
    retention = (
        f"audit_max_entries = {a.max_entries}\nretention_interval_s = 60\n"
        f'audit_archive_dir = "{workdir / "archive"}"\n'
        if a.max_entries
        else ""
    )
    if a.mark_retention_hours:
        retention += f"mark_retention_days = {a.mark_retention_hours / 24}\n"
    config.write_text(
        f'[aisoc]\nbus = "{redis.url}"\nmodel = "stub"\nrecall = "on"\nstate_dir = "{workdir / "state"}"\n'
        f"memory_max_cases = {a.memory_max_cases}\n"
        f"{retention}"
        f'[gate]\ndemo = true\nport = {gate_port}\nbase_url = "http://127.0.0.1:{gate_port}"\n'
        + (f"max_open_s = {a.gate_open_s}\n" if a.gate_open_s else "")
        + (f"ended_retention_days = {a.gate_retention_hours / 24}\n" if a.gate_retention_hours else "")
        + f"[bot]\nport = {bot_port}\n"
    )
    procs = read_procfile(ROOT / "Procfile")
    lines = [f"{n}: {procs[n]}" for n in PROCESSES if n != "metrics"]
    lines.append(f"metrics: aisoc metrics --port {metrics_port}")
    lines.append(f"ingest: aisoc ingest wazuh {feed} --interval 0.5")
    procfile = workdir / "Procfile"
    procfile.write_text("\n".join(lines) + "\n")
    sup = Supervisor(
        procfile, {"AISOC_CONFIG": str(config), "AISOC_LOG_LEVEL": "WARNING"}, workdir / "logs"
    ).start()
    bus = Bus(redis.url)
    client = redis_py.Redis.from_url(redis.url)
    alerts = real_alerts(a.alerts)
    samples: list[dict[str, Any]] = []
    t0 = time.monotonic()
    fed = 0
    next_sample = 0.0
    done = False
    try:
        while time.monotonic() - t0 < a.timeout_s:
            now = time.monotonic() - t0
            due = min(len(alerts), int(now * a.rate))
            if due > fed:
                with feed.open("a") as f:
                    f.write("\n".join(alerts[fed:due]) + "\n")
                fed = due
            if now >= next_sample:
                handled = routed(client)
                backlog, added = bot_streams(client)
                sample = {
                    "t_s": round(now, 1),
                    "fed": fed,
                    "routed": handled,
                    "redis_mb": int(client.info("memory")["used_memory"]) / 2**20,
                    "audit": len(bus.audit),
                    "bot_backlog": backlog,
                    "bot_stream_entries": added,
                    "keys": key_census(client),
                    "rss_mb": {n: rss_mb(p.proc.pid) for n, p in sup.processes.items() if p.proc is not None},
                }
                samples.append(sample)
                print(
                    f"{sample['t_s']:7.1f}s fed {fed:6d} routed {handled:6d} audit {sample['audit']:7d} "
                    f"redis {sample['redis_mb']:7.1f} MB bot backlog {sample['bot_backlog']:6d}  "
                    + " ".join(f"{n}={v:.0f}" for n, v in sample["rss_mb"].items() if v is not None),
                    flush=True,
                )
                next_sample = now + a.sample_s
                if fed == len(alerts) and handled >= len(alerts):
                    done = True
                    break
            sup.revive()
            time.sleep(0.2)
    finally:
        codes = sup.stop()
        redis.stop()
    return {
        "alerts": a.alerts,
        "rate_per_s": a.rate,
        "recall": "on",
        "max_entries": a.max_entries,
        "memory_max_cases": a.memory_max_cases,
        "mark_retention_hours": a.mark_retention_hours,
        "gate_open_s": a.gate_open_s,
        "gate_retention_hours": a.gate_retention_hours,
        "finished": done,
        "elapsed_s": round(time.monotonic() - t0, 1),
        "restarts": {n: p.restarts for n, p in sup.processes.items()},
        "exit_codes": codes,
        "samples": samples,
    }


def chart(report: dict[str, Any], path: Path) -> None:
    """RSS of every process and Redis memory against alerts routed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = report["samples"]
    x = [s["routed"] for s in samples]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name in samples[-1]["rss_mb"]:
        left.plot(x, [s["rss_mb"].get(name) for s in samples], label=name)
    left.set(xlabel="alerts routed", ylabel="RSS (MB)", title="RSS per process")
    left.legend(fontsize=7, ncol=2)
    right.plot(x, [s["redis_mb"] for s in samples], color="tab:red")
    right.set(xlabel="alerts routed", ylabel="used_memory (MB)", title="Redis memory")
    fig.suptitle(
        f"soak: {report['alerts']} alerts, recall on"
        + (f", audit kept at {report['max_entries']} entries" if report["max_entries"] else ", no retention")
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--alerts", type=int, default=20_000)
    p.add_argument("--rate", type=float, default=40.0, help="alerts appended to the feed per second")
    p.add_argument("--sample-s", type=float, default=5.0)
    p.add_argument("--timeout-s", type=float, default=3600.0)
    p.add_argument("--max-entries", type=int, default=0, help="audit size kept by retention (0: off)")
    p.add_argument("--memory-max-cases", type=int, default=2000, help="cases a worker holds in RAM")
    p.add_argument("--mark-retention-hours", type=float, default=0, help="idempotency mark TTL (0: default)")
    p.add_argument("--gate-open-s", type=int, default=0, help="gate max_open_s (0: the default)")
    p.add_argument("--gate-retention-hours", type=float, default=0, help="gate ended_retention_days x 24")
    p.add_argument("--out", default=str(ROOT / "build/bench/soak.json"))
    p.add_argument("--chart", default=str(ROOT / "bench/soak.png"))
    a = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="aisoc-soak-"))
    report = run(a, workdir)
    warm = [s for s in report["samples"] if s["routed"] > 0] or report["samples"]
    report["slopes_mb_per_1000"] = slopes(warm)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    first, last = warm[0], warm[-1]  # from the first routed alert: start-up imports are not growth
    print(
        f"soak: {last['routed']} of {report['alerts']} alerts routed in {report['elapsed_s']}s; wrote {out}"
    )
    for name, mb in last["rss_mb"].items():
        print(f"  {name:13} RSS {first['rss_mb'].get(name) or 0:7.1f} -> {mb or 0:7.1f} MB")
    redis_mb = f"{first['redis_mb']:7.1f} -> {last['redis_mb']:7.1f} MB"
    print(f"  redis         {redis_mb}; audit {last['audit']} entries; keys {last['keys']}")
    backlog = [s.get("bot_backlog", 0) for s in warm]
    added = last.get("bot_stream_entries", 0)
    print(
        f"  bot backlog   peak {max(backlog)}, at the end {backlog[-1]} entries; the bot's streams got "
        f"{added} entries ({added / max(1, last['routed']):.2f} per alert routed, "
        f"{added / max(1.0, report['elapsed_s']):.0f}/s)"
    )
    print("slope over the second half, MB per 1,000 alerts:", report["slopes_mb_per_1000"])
    chart(report, Path(a.chart))
    print(f"chart: {a.chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
