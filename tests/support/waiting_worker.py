"""A consumer whose model is down, in its own process: ``python -m tests.support.waiting_worker``.

It reads group ``g`` (alerts and verdicts), gives every delivery back with ``retry_later`` (the
later events of a case are held behind the first), prints how many entries wait, and then sleeps
until it is killed: a crash while events wait.
"""

from __future__ import annotations

import argparse
import time

from aisoc import Bus

TYPES = ["alert.received", "triage.verdict"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("namespace")
    p.add_argument("expected", type=int)
    a = p.parse_args()
    bus = Bus(a.url, namespace=a.namespace)
    deadline = time.monotonic() + 60
    while len(bus.waiting("g")) < a.expected and time.monotonic() < deadline:
        for d in bus.consume("g", "down", types=TYPES, count=50, block_ms=200):
            if not d.hold_back():
                d.retry_later("model unreachable: ConnectError")
    print(len(bus.waiting("g")), flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main()
