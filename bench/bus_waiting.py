"""What a batch costs while many events wait (``Delivery.retry_later``): records read and time.

    python bench/bus_waiting.py [--waiting 5000] [--batches 50] [--code DIR]

For each backend (in-memory, SQLite in a temp file, Redis on a private redis-server), ``--waiting``
alerts of as many cases are given back with ``retry_later`` (the model is down), then ``--batches``
times a new alert of another case is published, the bus clock moved past the due-scan interval (so
every batch also looks for due work; none is due) and one batch consumed and acked. Reported per
batch: the waiting records the bus read from its backend (what its waiting primitives returned) and
the median time of consume + ack. ``--code DIR`` imports ``aisoc`` from DIR (an export of an older
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
        finally:
            server.stop()


if __name__ == "__main__":
    main()
