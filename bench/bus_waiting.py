"""What a batch and a take-over cost while many events wait (``Delivery.retry_later``).

    python bench/bus_waiting.py [--waiting 5000] [--batches 50] [--code DIR]

For each backend (in-memory, SQLite in a temp file, Redis on a private redis-server), ``--waiting``
alerts of as many cases are given back with ``retry_later`` (the model is down), then ``--batches``
times a new alert of another case is published, the bus clock moved past the due-scan interval (so
every batch also looks for due work; none is due) and one batch consumed and acked. Reported per
batch: the waiting records the bus read from its backend (what its waiting primitives returned) and
the median time of consume + ack.

Then the take-over: with as many alerts waiting an hour and one newer alert read by a consumer that
dies, once the visibility timeout (5 s here) has passed, take-over scans (each a consume of 10, as
one runs every quarter timeout) run until the dead consumer's alert comes back. Reported: the scans
that took, the waiting entries taken over and given back meanwhile, and for Redis the commands the
server ran (``INFO commandstats``). ``--code DIR`` imports ``aisoc`` from DIR (an export of an older
commit, to compare).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def count_reads(bus: Any) -> list[int]:
    """Wrap the bus's waiting primitives; the list's one item counts the records they return."""
    counter = [0]
    for name in ("_waiting", "_waiting_for", "_claim_waiting"):
        primitive = getattr(bus, name, None)
        if primitive is None:
            continue

        def counted(*args: Any, _p: Any = primitive) -> Any:
            result = _p(*args)
            parts = result if isinstance(result, tuple) else (result,)
            counter[0] += sum(len(part) for part in parts)
            return result

        setattr(bus, name, counted)
    return counter


def run(url: str, waiting: int, batches: int, **options: Any) -> tuple[float, float]:
    from aisoc import Bus
    from tests.aisoc.bus_contract_events import alert_event

    clock = Clock()
    # Waits of an hour: nothing falls due while the batches run (each looks for due work all the same).
    bus = Bus(
        url, clock=clock, visibility_timeout_ms=3_600_000, retry_base_s=3600, retry_max_s=3600, **options
    )
    try:
        for start in range(0, waiting, 500):
            bus.publish_many([alert_event(i) for i in range(start, min(waiting, start + 500))])
        parked = 0
        while parked < waiting:
            batch = bus.consume("g", "c", types=["alert.received"], count=500)
            for d in batch:
                d.retry_later("model unreachable")
            parked += len(batch)
        reads = count_reads(bus)
        times = []
        for i in range(batches):
            bus.publish(alert_event(waiting + 1 + i))
            clock.now += 1.1
            t0 = time.perf_counter()
            (d,) = bus.consume("g", "c", types=["alert.received"], count=10)
            d.ack()
            times.append(time.perf_counter() - t0)
        return reads[0] / batches, statistics.median(times) * 1000
    finally:
        bus.close()


def counted(bus: Any, name: str, size: Any) -> list[int]:
    """Wrap ``bus.<name>``; the list's one item adds up ``size(result)`` over its calls."""
    counter, primitive = [0], getattr(bus, name)

    def wrapped(*args: Any) -> Any:
        result = primitive(*args)
        counter[0] += size(result)
        return result

    setattr(bus, name, wrapped)
    return counter


def server_calls(bus: Any) -> int:
    """Commands the Redis server has run (those of scripts included), 0 for the embedded buses."""
    if bus.scheme != "redis":
        return 0
    stats = bus.client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


def take_over(url: str, waiting: int, **options: Any) -> tuple[int, int, int, list[int]]:
    """Scans until a dead consumer's entry is taken over, the waiting entries taken over and given
    back meanwhile, the Redis commands run, and those of a consume that looks for waiting entries
    the group no longer reads (at a reader's first read, and a minute later)."""
    from aisoc import Bus
    from tests.aisoc.bus_contract_events import alert_event

    types, timeout_ms = ["alert.received"], 5000
    bus = Bus(
        url, clock=Clock(), visibility_timeout_ms=timeout_ms, retry_base_s=3600, retry_max_s=3600, **options
    )
    try:
        for start in range(0, waiting, 500):
            bus.publish_many([alert_event(i) for i in range(start, min(waiting, start + 500))])
        parked = 0
        while parked < waiting:
            batch = bus.consume("g", "c", types=types, count=500)
            for d in batch:
                d.retry_later("model unreachable")
            parked += len(batch)
        bus.publish(alert_event(waiting + 1))
        (lost,) = bus.consume("g", "died", types=types, count=1)
        time.sleep(timeout_ms / 1000 + 0.5)
        taken = counted(bus, "_take_over", len)
        given_back = counted(bus, "_park", lambda _: 1)
        calls, scans = server_calls(bus), 0
        while scans < 2 * waiting:
            bus._take_over_at.clear()  # one scan per consume, as one runs per quarter timeout
            scans += 1
            batch = bus.consume("g", "c", types=types, count=10)
            bus.ack_many(d for d in batch if d.entry_id == lost.entry_id)
            if any(d.entry_id == lost.entry_id for d in batch):
                break
        assert taken[0] == given_back[0] + 1  # every other entry taken over was waiting
        calls = server_calls(bus) - calls
        # What a reader's looks for waiting entries it no longer reads cost (none is found): the
        # first (by stream and type), then one a minute later (by stream alone).
        looks = []
        for _ in range(2):
            before = server_calls(bus)
            bus.consume("g", "c", types=types, streams=["alerts", "cases"])
            looks.append(server_calls(bus) - before)
            bus.clock.now += 60
        return scans, given_back[0], calls, looks
    finally:
        bus.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waiting", type=int, default=5000)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--code", type=Path, default=ROOT)
    args = parser.parse_args()
    sys.path[:0] = [str(args.code), str(ROOT)]
    logging.disable(logging.WARNING)  # one warning per waiting delivery
    from tests.support.redis_server import RedisServer

    print(f"{args.waiting} waiting records of other cases; {args.batches} batches; code: {args.code}")
    print(f"{'backend':<10} {'records read / batch':>22} {'ms / batch (median)':>21}")
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        try:
            for name, url, options in (
                ("memory", None, {}),
                ("sqlite", f"sqlite:///{tmp}/soc.db", {}),
                ("redis", server.url, {"namespace": "bench"}),
            ):
                read, ms = run(url, args.waiting, args.batches, **options)  # type: ignore[arg-type]
                print(f"{name:<10} {read:>22,.0f} {ms:>21.2f}")
            print()
            print(f"take-over, {args.waiting} waiting an hour, one dead consumer's entry:")
            print(
                f"{'backend':<10} {'scans':>7} {'waiting entries taken over':>28} {'Redis commands':>16}"
                f" {'first look':>11} {'next look':>10}"
            )
            for name, url, options in (
                ("memory", None, {}),
                ("sqlite", f"sqlite:///{tmp}/soc-take-over.db", {}),
                ("redis", server.url, {"namespace": "bench-take-over"}),
            ):
                scans, touched, calls, looks = take_over(url, args.waiting, **options)  # type: ignore[arg-type]
                redis = name == "redis"
                print(
                    f"{name:<10} {scans:>7} {touched:>28,} {calls if redis else '-':>16}"
                    f" {looks[0] if redis else '-':>11} {looks[1] if redis else '-':>10}"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
