"""Proof under faults, short form: real processes, SIGKILLs, a Redis restart, bad input, garbage.

Marked ``chaos`` (``make test-chaos``, its own CI step). The long form is ``bench/chaos.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.chaos import Drill

pytestmark = pytest.mark.chaos


def test_nothing_lost_nothing_twice_under_kills_a_redis_restart_and_bad_input(tmp_path: Path) -> None:
    """Given ~100 real alerts fed through the ingest process while role processes are SIGKILLed at
    seeded random moments, Redis is restarted once, and malformed alerts and model garbage arrive:
    every good alert reaches exactly one terminal outcome, no verdict, plan or proposal is produced
    twice, every bad line is dead-lettered with its reason, and approvals pending stay pending."""
    drill = Drill(tmp_path, alerts=100, seed=7, kills=8)
    try:
        drill.setup()
        report = drill.run()
        problems = drill.check()
    finally:
        drill.close()
    assert report["kills"] == 8 and report["redis_restarts"] == 1
    assert not problems, "\n".join(problems[:20])
