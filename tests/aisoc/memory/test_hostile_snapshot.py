"""A worker's snapshot damaged while the worker runs: rows of its cold tier (read long after the
snapshot was opened) overwritten with what a broken disk or a bad actor leaves. Memory must log it,
answer without crashing, and rebuild from the log to the answers an unbounded fold gives."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from aisoc.memory import Memory

from . import factory as f
from .test_window import answers, history, published

DAMAGE = {
    "a cold record that is not JSON": "UPDATE cases SET data = '{bad' WHERE held = 0",
    "a cold record of another shape": "UPDATE cases SET data = '[1, 2]' WHERE held = 0",
    "a cold order number that is text": "UPDATE cases SET seq = 'first' WHERE held = 0",
    "a cold outcome code that is text": "UPDATE cold_rules SET code = 'benign'",
    "a cold key time that is text": "UPDATE cold_keys SET created = x'ff'",
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_cold_row_damaged_while_running_is_logged_and_memory_rebuilds(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a bounded memory whose snapshot's cold tier is damaged after it was opened, when it is
    queried (precedent, rule history, a cold case) and a late event about a cold case is folded,
    then nothing raises, the damage is logged, and after the next refresh every answer equals an
    unbounded fold of the log, with the damaged file kept beside the new one (before, recall raised
    a JSONDecodeError or ValueError on every call that met the row)."""
    bus = published(history(300))
    snap = tmp_path / "m.sqlite"
    mem = Memory(bus.audit, snapshot_path=snap, max_cases=40)
    mem.refresh()
    assert mem.cold > 200
    db = sqlite3.connect(snap)
    db.execute(DAMAGE[damage])
    db.commit()
    db.close()
    queries = [
        f.alert("q1", rule="R1", ind=[("ip", "198.51.100.7")], created=f.at(700)),
        f.alert("q3", rule="R3", ind=[("domain", "d3.example")], created=f.at(40)),
    ]
    with caplog.at_level(logging.WARNING):
        for q in queries:
            answers(mem, q)
        mem.case("test:2")
        bus.publish(f.closed("test:2", "benign", when=f.at(900)))
        mem.refresh()
    full = Memory(bus.audit)
    for q in queries:
        assert answers(mem, q) == answers(full, q)
    assert mem.case("test:2") == full.case("test:2")
    assert "does not decode" in caplog.text and (tmp_path / "m.sqlite.damaged-1").exists()
    mem.close()
