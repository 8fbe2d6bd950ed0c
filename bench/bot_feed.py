"""How fast the bot's feed drains a backlog of the soak's events on Redis.

    python bench/bot_feed.py [--alerts 2000] [--profile] [--heap N] [--out build/bench/bot_feed.json]

Makes the events the soak's processes make (the four reactive roles with the canned model and
recall on, over real Wazuh alerts cycled with fresh ids; the gate opening a request per proposal
and letting each expire after ``--open-s`` as nobody decides in a soak), publishes them in order on
a redis-server of its own, then times an offline bot (the local preview, the soak's settings)
draining its consumer group: ``Feed.run_once`` until nothing is left. The sender is not run (it
posts at most one message a second per room; the feed never waits on it).

Prints the events per alert the bot reads (``cases``, ``actions``, ``reports``), what that makes at
``--rate`` alerts per second, the drain rate in events per second and its multiple of the soak's,
and with ``--profile`` the functions where the feed spends its time. Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aisoc import Bus, events  # noqa: E402
from aisoc.cli._team import build_team  # noqa: E402
from aisoc.settings import KernelSettings  # noqa: E402
from bot.feed import GROUP, STREAMS  # noqa: E402
from bot.service import Bot  # noqa: E402
from bot.settings import BotSettings  # noqa: E402
from gate.service import Gate  # noqa: E402
from gate.settings import GateSettings  # noqa: E402
from integrations.wazuh import WazuhFileSource  # noqa: E402
from tests.support.chaos import real_alerts  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.sources import ListSource  # noqa: E402

CHUNK = 100
"""Alerts handled between two ticks of the gate (its requests end ``--open-s`` after they open)."""


def soak_events(n: int, open_s: int, workdir: Path) -> list[events.Event]:
    """The events the soak's roles and gate publish for ``n`` alerts, in publish order."""
    lines = workdir / "alerts.jsonl"
    lines.write_text("\n".join(real_alerts(n)) + "\n")
    alerts = [a for a in WazuhFileSource(lines).poll() if isinstance(a, events.Alert)]
    bus = Bus()
    settings = KernelSettings(bus="memory://", model="stub", recall="on", state_dir=workdir / "state")
    team = build_team(settings, bus, dry_run=True, tools=[])
    gate_settings = GateSettings(demo=True, max_open_s=open_s, base_url="http://127.0.0.1:8700")
    now = events.utcnow()
    gate = Gate(bus, gate_settings, clock=lambda: now)
    team.on_action_proposed(gate)
    for start in range(0, len(alerts), CHUNK):
        team.consume(ListSource(alerts[start : start + CHUNK]))
        now += timedelta(seconds=open_s + 1)
        gate.tick(now)
    gate.close()
    return [e.event for e in bus.audit.entries()]


def _heap_sample(handled: int, *, started: bool) -> dict[str, float]:
    """The process's RSS and the traced Python heap (tracing starts at the first sample)."""
    if not started:
        tracemalloc.start()
    rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    sample = {
        "handled": handled,
        "rss_mb": round(rss, 1),
        "traced_mb": tracemalloc.get_traced_memory()[0] / 2**20,
    }
    print(
        f"  heap after {handled} deliveries: RSS {rss:.1f} MB, traced {sample['traced_mb']:.2f} MB",
        flush=True,
    )
    return sample


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alerts", type=int, default=2000)
    p.add_argument("--rate", type=float, default=15.0, help="the soak's alerts per second")
    p.add_argument("--open-s", type=int, default=120, help="how long an approval stays open")
    p.add_argument("--profile", action="store_true", help="run the drain under cProfile")
    p.add_argument("--top", type=int, default=30, help="profile rows printed")
    p.add_argument(
        "--heap",
        type=int,
        default=0,
        metavar="N",
        help="trace the Python heap from the N-th delivery on and print it with the RSS every 5,000 "
        "(is what the bot holds bounded?); set AISOC_MEMORY_MAX_CASES to the soak's window",
    )
    p.add_argument("--out", type=Path, default=ROOT / "build/bench/bot_feed.json")
    a = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="bot-feed-") as tmp:
        workdir = Path(tmp)
        t = time.perf_counter()
        made = soak_events(a.alerts, a.open_s, workdir)
        made_s = time.perf_counter() - t
        read = [e for e in made if e.STREAM in STREAMS]
        by_stream = Counter(e.STREAM for e in read)
        by_type = Counter(e.type for e in read)
        print(
            f"{len(made)} events for {a.alerts} alerts made in {made_s:.1f} s; the bot reads {len(read)} "
            f"({len(read) / a.alerts:.2f} per alert): " + ", ".join(f"{s} {by_stream[s]}" for s in STREAMS),
            flush=True,
        )
        redis = RedisServer(workdir / "redis").start()
        try:
            bus = Bus(redis.url)
            t = time.perf_counter()
            for e in made:
                bus.publish(e)
            publish_s = time.perf_counter() - t
            settings = BotSettings(
                bus=redis.url, state_dir=workdir / "state", store=f"sqlite:///{workdir / 'bot.db'}"
            )
            bot = Bot(
                settings, bus=bus, gate_settings=GateSettings(demo=True, base_url="http://127.0.0.1:8700")
            )
            profiler = cProfile.Profile() if a.profile else None
            rounds = 0
            t = time.perf_counter()
            cpu = time.process_time()
            if profiler is not None:
                profiler.enable()
            heap: list[dict[str, float]] = []
            next_heap = a.heap
            while bot.feed.run_once():
                rounds += 1
                if a.heap and bot.feed.handled >= next_heap:
                    heap.append(_heap_sample(bot.feed.handled, started=bool(heap)))
                    next_heap = bot.feed.handled + 5000
            bot.feed.flush_digest(force=True)
            if profiler is not None:
                profiler.disable()
            drain_s = time.perf_counter() - t
            cpu_s = time.process_time() - cpu
            stats = bus.stats()
            lag = {s.name: (g.lag, g.pending) for s in stats.streams for g in s.groups if g.name == GROUP}
            posts = bot.store.counts()
            bot.close()
            bus.close()
        finally:
            redis.stop()

    per_alert = len(read) / a.alerts
    soak_rate = per_alert * a.rate
    rate = bot.feed.handled / drain_s if drain_s else 0.0
    report: dict[str, Any] = {
        "alerts": a.alerts,
        "events_made": len(made),
        "events_read_by_bot": len(read),
        "events_per_alert": round(per_alert, 3),
        "by_stream": dict(by_stream),
        "by_type": dict(sorted(by_type.items())),
        "soak_rate_alerts_per_s": a.rate,
        "soak_events_per_s": round(soak_rate, 1),
        "publish_s": round(publish_s, 2),
        "handled": bot.feed.handled,
        "rounds": rounds,
        "drain_s": round(drain_s, 2),
        "drain_cpu_s": round(cpu_s, 2),
        "events_per_s": round(rate, 1),
        "multiple_of_soak": round(rate / soak_rate, 2) if soak_rate else None,
        "left": {k: {"lag": v[0], "pending": v[1]} for k, v in lag.items()},
        "posts": posts,
        "profiled": a.profile,
        "heap": heap,
        "load_average": os.getloadavg(),
    }
    print(
        f"drained {bot.feed.handled} deliveries in {drain_s:.1f} s ({cpu_s:.1f} CPU s, {rounds} rounds): "
        f"{rate:.0f} events/s; the soak makes {soak_rate:.0f}/s at {a.rate:g} alerts/s -> "
        f"x{report['multiple_of_soak']}; posts {posts}; left {report['left']}; "
        f"load {os.getloadavg()[0]:.1f}" + (" (under the profiler)" if a.profile else "")
    )
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(a.top)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(a.top)
        print(out.getvalue())
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
