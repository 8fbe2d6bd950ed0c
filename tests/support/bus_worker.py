"""A bus consumer in its own process, for failure tests: ``python -m tests.support.bus_worker``.

It turns each ``alert.received`` into one ``triage.verdict`` with the exactly-once mark, like a role.
With ``--die-after N`` it SIGKILLs itself after publishing the N-th effect and before acking it:
the worst moment for a crash.
"""

from __future__ import annotations

import argparse
import os
import signal
import time

from aisoc import Bus
from tests.aisoc.bus_contract import verdict_for


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("namespace")
    p.add_argument("consumer")
    p.add_argument("--die-after", type=int, default=0)
    p.add_argument("--idle-exit", type=float, default=2.0)
    p.add_argument("--visibility-ms", type=int, default=500)
    a = p.parse_args()
    bus = Bus(a.url, namespace=a.namespace, visibility_timeout_ms=a.visibility_ms)
    handled, idle_since = 0, time.monotonic()
    while time.monotonic() - idle_since < a.idle_exit:
        batch = bus.consume("sentinel", a.consumer, types=["alert.received"], count=20, block_ms=200)
        if batch:
            idle_since = time.monotonic()
        for d in batch:
            # A slow batch can outlive the visibility timeout: another worker may have taken the
            # event over meanwhile, so count only the effects this worker really published.
            if not bus.seen("sentinel", d.event.event_id) and bus.publish_many(
                [verdict_for(d.event)], once=("sentinel", d.event.event_id)
            ):
                handled += 1
                if a.die_after and handled >= a.die_after:
                    os.kill(os.getpid(), signal.SIGKILL)
            d.ack()
    print(handled, flush=True)


if __name__ == "__main__":
    main()
