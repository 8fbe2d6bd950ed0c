"""Waiting records written by the release before the indexes (SQLite: the JSON column alone; Redis:
the hash alone) still hold their cases and are retried when due after an upgrade."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from aisoc import Bus
from tests.aisoc.bus_contract_events import alert_event, verdict_for
from tests.aisoc.bus_contract_waiting import TYPES, Clock


def _upgraded(open_bus: Callable[[Clock], Bus], make_old: Callable[[Bus], None]) -> None:
    """Given an alert waiting and its verdict held behind it, stored as the older release stored
    them, a bus of this release holds a new verdict of the case behind them, and retries the alert
    when it is due, then the verdicts in order."""
    clock = Clock()
    bus = open_bus(clock)
    a = alert_event(1)
    v1 = verdict_for(a)
    bus.publish(a)
    bus.publish(v1)
    first, second = bus.consume("g", "c1", types=TYPES)
    first.retry_later("model unreachable")
    assert second.hold_back()
    make_old(bus)
    bus.close()
    bus = open_bus(clock)
    try:
        v2 = verdict_for(a)
        bus.publish(v2)
        assert bus.consume("g", "c2", types=TYPES) == []  # held behind the alert
        clock.now += 5
        got = []
        for _ in range(3):
            (d,) = bus.consume("g", "c2", types=TYPES)
            got.append(d.event.event_id)
            d.ack()
            clock.now += 1
        assert got == [a.event_id, v1.event_id, v2.event_id]
        assert bus.waiting("g") == []
    finally:
        bus.close()


def test_sqlite_records_of_the_release_before_the_indexes_are_indexed_on_open(tmp_path: Path) -> None:
    """The ``waiting`` table of an older file (grp, key, record) gets its columns and heads."""
    path = tmp_path / "soc.db"

    def make_old(bus: Bus) -> None:
        db = sqlite3.connect(path, isolation_level=None)
        rows = db.execute("SELECT grp, key, record FROM waiting").fetchall()
        db.execute("DROP TABLE waiting")
        db.execute(
            "CREATE TABLE waiting (grp TEXT NOT NULL, key TEXT NOT NULL, record TEXT NOT NULL, "
            "PRIMARY KEY (grp, key)) WITHOUT ROWID"
        )
        db.executemany("INSERT INTO waiting VALUES (?, ?, ?)", rows)
        db.close()

    _upgraded(lambda clock: Bus(f"sqlite:///{path}", clock=clock, visibility_timeout_ms=60_000), make_old)


@pytest.mark.redis
def test_redis_records_of_the_release_before_the_indexes_are_indexed_when_met(
    redis_url: str, namespace: str
) -> None:
    """A group's hash without its age and due indexes is indexed by the first process that meets it."""

    def make_old(bus: Bus) -> None:
        client = bus.client  # type: ignore[attr-defined]
        client.delete(bus.key("waiting-age:g"), bus.key("waiting-due:g"))  # type: ignore[attr-defined]
        assert client.hlen(bus.key("waiting:g")) == 2  # type: ignore[attr-defined]

    _upgraded(
        lambda clock: Bus(redis_url, namespace=namespace, clock=clock, visibility_timeout_ms=60_000),
        make_old,
    )
