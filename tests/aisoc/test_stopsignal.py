"""The one way a process waits to be stopped: SIGINT or SIGTERM, handlers restored afterwards."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from aisoc.stopsignal import stop_signals, wait_for_stop


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_wait_for_stop_returns_on_either_signal_and_restores_the_handlers(sig: signal.Signals) -> None:
    """Given a process waiting to be stopped, when it gets SIGTERM or SIGINT, then the wait ends and
    the handlers in place before are back."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    threading.Timer(0.2, os.kill, (os.getpid(), sig)).start()
    wait_for_stop(30)
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_loop_hears_which_signal_stopped_it() -> None:
    """Given a loop under stop_signals, when SIGTERM arrives, then its handler gets the signal number."""
    heard: list[int] = []
    with stop_signals(heard.append):
        os.kill(os.getpid(), signal.SIGTERM)
    assert heard == [signal.SIGTERM]
    wait_for_stop(0.01)  # no signal: returns after the timeout
