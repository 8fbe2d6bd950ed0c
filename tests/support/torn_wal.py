"""A SQLite bus as a crash leaves it: the newest commits only in the WAL, and the WAL torn in half."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from aisoc import Bus
from aisoc.events import Event


def with_wal_tail(tmp_path: Path, stories: Callable[..., list[Event]]) -> tuple[Bus, list[Event]]:
    """A SQLite bus in ``tmp_path/live`` holding ``stories(2)`` checkpointed into the database file and
    ``stories(3, start=2)`` in its WAL only (returned: what a torn WAL loses)."""
    live = tmp_path / "live"
    live.mkdir()
    bus = Bus(f"sqlite:///{live}/soc.db")
    for e in stories(2):
        bus.publish(e)
    bus._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[attr-defined]
    tail = stories(3, start=2)
    for e in tail:
        bus.publish(e)
    return bus, tail


def torn_copy(bus: Bus, tmp_path: Path) -> Bus:
    """``bus`` as copied at a crash into ``tmp_path/crashed``: its database file and the first half
    of its WAL. The live bus is closed; the copy is opened (it has lost the torn tail)."""
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    crashed.mkdir(exist_ok=True)
    shutil.copy(live / "soc.db", crashed / "soc.db")
    wal = (live / "soc.db-wal").read_bytes()
    (crashed / "soc.db-wal").write_bytes(wal[: len(wal) // 2])
    bus.close()
    return Bus(f"sqlite:///{crashed}/soc.db")
