"""How a process is asked to stop: SIGINT (Ctrl-C) or SIGTERM (systemd, a Procfile runner, Kubernetes).

wait_for_stop()                          # a server's main thread: block until asked to stop
with stop_signals(lambda signum: stop.set()):
    run_until(stop)                      # a loop that finishes its current item first
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""The signals that ask a process to stop."""


def on_stop(handler: Callable[[int], None]) -> dict[int, Any]:
    """Call ``handler(signum)`` on SIGINT and SIGTERM from now on; return the handlers it replaced."""

    def handle(signum: int, frame: FrameType | None) -> None:
        handler(signum)

    return {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}


@contextmanager
def stop_signals(handler: Callable[[int], None]) -> Iterator[None]:
    """``on_stop(handler)`` for the block; the previous handlers are back afterwards."""
    previous = on_stop(handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def wait_for_stop(seconds: float | None = None) -> None:
    """Block until SIGINT or SIGTERM arrives (or ``seconds`` pass)."""
    done = threading.Event()
    with stop_signals(lambda signum: done.set()):
        done.wait(seconds)
