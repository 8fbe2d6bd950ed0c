"""One memory contract, run over every audit-log backend: incremental, persisted, rebuilt when wiped."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from aisoc import Bus
from aisoc.bus import AuditEntry, AuditLog
from aisoc.events import Event
from aisoc.memory import Memory
from tests.support.torn_wal import torn_copy, with_wal_tail

from . import factory as f


def stories(n: int, start: int = 0) -> list[Event]:
    out: list[Event] = []
    for i in range(start, start + n):
        out += f.contained(str(i), f"ws-{i}", minutes=i * 10, ind=[("ip", "203.0.113.9")])
    return out


class MemoryContract:
    """What memory must do over any bus backend's audit log."""

    @pytest.fixture
    def make_bus(self, tmp_path: Path) -> Iterator[object]:
        raise NotImplementedError

    def wipe(self, bus: Bus) -> Bus:
        """Lose the whole log (as a Redis restart with nothing on disk does) and return the new bus."""
        raise NotImplementedError

    def test_refresh_folds_only_new_entries(self, make_bus: object, tmp_path: Path) -> None:
        """Given a folded log, when more events arrive, then refresh folds exactly the new ones."""
        bus = make_bus()  # type: ignore[operator]
        for e in stories(2):
            bus.publish(e)
        mem = Memory(bus.audit, auto_refresh=False, batch_size=5)
        assert mem.refresh() == 16
        assert mem.refresh() == 0
        for e in stories(1, start=2):
            bus.publish(e)
        assert mem.refresh() == 8
        assert mem.cursor == bus.audit.last_id()
        assert len(mem) == 3

    def test_a_restart_resumes_from_the_snapshot(self, make_bus: object, tmp_path: Path) -> None:
        """Given a saved snapshot, when reopened, then it refolds nothing and has every case."""
        bus = make_bus()  # type: ignore[operator]
        for e in stories(3):
            bus.publish(e)
        snap = tmp_path / "mem.sqlite"
        first = Memory(bus.audit, snapshot_path=snap)
        first.refresh()
        before = first.dump()
        first.close()
        again = Memory(bus.audit, snapshot_path=snap, auto_refresh=False)
        assert again.refresh() == 0
        assert again.dump() == before
        assert [p.case_id for p in again.recall_similar("test:2", k=2)] == ["test:1", "test:0"]

    def test_a_wiped_log_makes_memory_rebuild(self, make_bus: object, tmp_path: Path) -> None:
        """Given a snapshot of a log since wiped, when memory refreshes, then it rebuilds from the new log."""
        bus = make_bus()  # type: ignore[operator]
        for e in stories(3):
            bus.publish(e)
        snap = tmp_path / "mem.sqlite"
        mem = Memory(bus.audit, snapshot_path=snap)
        mem.refresh()
        mem.close()
        bus = self.wipe(bus)
        for e in stories(1, start=7):
            bus.publish(e)
        after = Memory(bus.audit, snapshot_path=snap)
        after.refresh()
        assert [r.case_id for r in after.cases()] == ["test:7"]
        assert after.epoch == bus.audit.epoch

    def test_explain_reads_the_backend_log(self, make_bus: object, tmp_path: Path) -> None:
        """Given a contained host here, when explained, then each statement cites a logged event."""
        bus = make_bus()  # type: ignore[operator]
        story = stories(1)
        for e in story:
            bus.publish(e)
        expl = Memory(bus.audit).explain_host("ws-0")
        assert expl.event_ids <= {e.event_id for e in story}
        assert any(s.kind == "execution" for s in expl.answer)


class TestInMemory(MemoryContract):
    @pytest.fixture
    def make_bus(self, tmp_path: Path) -> Iterator[object]:
        yield Bus

    def wipe(self, bus: Bus) -> Bus:
        return Bus()


class TestSqlite(MemoryContract):
    @pytest.fixture
    def make_bus(self, tmp_path: Path) -> Iterator[object]:
        self.path = tmp_path / "soc.db"
        yield lambda: Bus(f"sqlite:///{self.path}")

    def wipe(self, bus: Bus) -> Bus:
        bus.close()
        for p in self.path.parent.glob(self.path.name + "*"):
            p.unlink()
        return Bus(f"sqlite:///{self.path}")


@pytest.mark.redis
class TestRedis(MemoryContract):
    @pytest.fixture
    def make_bus(self, redis_url: str, namespace: str) -> Iterator[object]:
        yield lambda: Bus(redis_url, namespace=namespace)

    def wipe(self, bus: Bus) -> Bus:
        import redis

        client = redis.Redis.from_url(bus.url)
        keys = list(client.scan_iter(match=f"{{{bus.namespace}}}:*", count=1000))
        if keys:
            client.delete(*keys)
        return Bus(bus.url, namespace=bus.namespace)

    def test_a_log_that_lost_its_last_writes_and_grew_again_is_refolded(
        self, make_bus: object, tmp_path: Path
    ) -> None:
        """Given a folded snapshot and a Redis log whose newest entries are gone (a restart that lost
        its last writes: the older entries and the epoch are kept), when more events are published
        before the worker refreshes, then memory equals a fresh fold: the lost cases are dropped and
        the new ones folded."""
        import redis

        bus = make_bus()  # type: ignore[operator]
        for e in stories(3):
            bus.publish(e)
        snap = tmp_path / "mem.sqlite"
        mem = Memory(bus.audit, snapshot_path=snap)
        mem.refresh()
        mem.close()
        client = redis.Redis.from_url(bus.url)
        lost = [i for i, _ in client.xrevrange(bus.key("audit"), count=8)]  # story 2
        client.xdel(bus.key("audit"), *lost)
        client.close()
        for e in stories(2, start=5):
            bus.publish(e)
        again = Memory(bus.audit, snapshot_path=snap)
        again.refresh()
        fresh = Memory(bus.audit)
        fresh.refresh()
        assert again.dump() == fresh.dump()
        assert [r.case_id for r in again.cases()] == ["test:0", "test:1", "test:5", "test:6"]
        again.close()


class _Trimmed(AuditLog):
    """The same log generation as ``inner`` without its entries up to ``through`` (retention)."""

    def __init__(self, inner: AuditLog, through: str) -> None:
        self.inner, self.through = inner, int(through)

    def entries(self, since: str | None = None, limit: int | None = None) -> Iterator[AuditEntry]:
        after = max(self.through, int(since or 0))
        return self.inner.entries(since=str(after), limit=limit)

    def for_case(self, case_id: str) -> list[Event]:
        return [e.event for e in self.entries() if e.event.case_id == case_id]

    def last_id(self) -> str | None:
        last = self.inner.last_id()
        return last if last is not None and int(last) > self.through else None

    def first_id(self) -> str | None:
        return next((e.id for e in self.entries(limit=1)), None)

    def __len__(self) -> int:
        return sum(1 for _ in self.entries())

    @property
    def epoch(self) -> str:
        return self.inner.epoch


def test_a_log_trimmed_by_retention_keeps_what_was_folded(tmp_path: Path) -> None:
    """Given a folded log whose entries were all trimmed, when more arrive, then memory keeps every case."""
    bus = Bus()
    for e in stories(2):
        bus.publish(e)
    snap = tmp_path / "mem.sqlite"
    mem = Memory(bus.audit, snapshot_path=snap)
    mem.refresh()
    mem.close()
    trimmed = _Trimmed(bus.audit, through=bus.audit.last_id() or "0")
    again = Memory(trimmed, snapshot_path=snap, auto_refresh=False)
    assert again.refresh() == 0 and len(again) == 2
    for e in stories(1, start=5):
        bus.publish(e)
    assert again.refresh() == 8
    assert [r.case_id for r in again.cases()] == ["test:0", "test:1", "test:5"]


class _Shorter(AuditLog):
    """The same log generation as ``inner`` but cut short (the cursor ends up past its end)."""

    def __init__(self, inner: AuditLog, keep: int) -> None:
        self.inner, self.keep = inner, keep

    def entries(self, since: str | None = None, limit: int | None = None) -> Iterator[AuditEntry]:
        kept = list(self.inner.entries(limit=self.keep))
        start = 0 if since is None else next((i + 1 for i, e in enumerate(kept) if e.id == since), len(kept))
        yield from kept[start : None if limit is None else start + limit]

    def for_case(self, case_id: str) -> list[Event]:
        return [e.event for e in self.entries() if e.event.case_id == case_id]

    def last_id(self) -> str | None:
        kept = list(self.inner.entries(limit=self.keep))
        return kept[-1].id if kept else None

    def first_id(self) -> str | None:
        return self.inner.first_id()

    def __len__(self) -> int:
        return min(self.keep, len(self.inner))

    @property
    def epoch(self) -> str:
        return self.inner.epoch


def test_a_cursor_past_the_logs_end_makes_memory_rebuild(tmp_path: Path) -> None:
    """Given a snapshot whose cursor is past the log's end, when memory refreshes, then it rebuilds."""
    bus = Bus()
    for e in stories(3):
        bus.publish(e)
    snap = tmp_path / "mem.sqlite"
    mem = Memory(bus.audit, snapshot_path=snap)
    mem.refresh()
    mem.close()
    short = Memory(_Shorter(bus.audit, keep=8), snapshot_path=snap)
    short.refresh()
    assert [r.case_id for r in short.cases()] == ["test:0"]
    assert short.cursor == "8"


def test_a_snapshot_of_another_format_is_rebuilt(tmp_path: Path) -> None:
    """Given a snapshot written by another format version, when opened, then memory rebuilds from the log."""
    bus = Bus()
    for e in stories(2):
        bus.publish(e)
    snap = tmp_path / "mem.sqlite"
    mem = Memory(bus.audit, snapshot_path=snap)
    mem.refresh()
    mem.close()
    db = sqlite3.connect(snap)
    db.execute("UPDATE meta SET value = 'aisoc-memory/0' WHERE key = 'format'")
    db.commit()
    db.close()
    again = Memory(bus.audit, snapshot_path=snap, auto_refresh=False)
    assert again.refresh() == 16
    assert len(again) == 2


@pytest.mark.parametrize(
    "damage",
    [
        "a row that is not JSON",
        "a row of another shape",
        "a cursor that is not an id",
        "truncated",
        "not SQLite",
    ],
)
def test_a_damaged_snapshot_is_moved_aside_and_memory_rebuilds_the_same_state(
    tmp_path: Path, damage: str
) -> None:
    """Given a saved snapshot damaged on disk (garbage in a row or the cursor, cut in half, overwritten),
    when a process opens memory on it, then memory starts, rebuilds from the log to the state a whole
    fold gives, and the damaged file is kept beside it."""
    bus = Bus()
    for e in stories(40):
        bus.publish(e)
    snap = tmp_path / "mem.sqlite"
    mem = Memory(bus.audit, snapshot_path=snap)
    mem.refresh()
    expected = mem.dump()
    mem.close()
    if damage in ("truncated", "not SQLite"):
        data = snap.read_bytes()
        snap.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"garbage" * 100)
    else:
        db = sqlite3.connect(snap)
        sql = {
            "a row that is not JSON": "UPDATE cases SET data = '{bad' WHERE seq = 3",
            "a row of another shape": "UPDATE cases SET data = '[1, 2]' WHERE seq = 3",
            "a cursor that is not an id": "UPDATE meta SET value = 'nope' WHERE key = 'cursor'",
        }[damage]
        db.execute(sql)
        db.commit()
        db.close()
    again = Memory(bus.audit, snapshot_path=snap)
    again.refresh()
    assert again.dump() == expected
    assert (tmp_path / "mem.sqlite.damaged-1").exists()
    again.close()
    assert Memory(bus.audit, snapshot_path=snap, auto_refresh=False).dump() == expected


def test_a_sqlite_log_that_lost_its_tail_in_a_torn_wal_and_grew_again_is_refolded(tmp_path: Path) -> None:
    """Given a SQLite bus whose newest commits are only in its WAL, copied at a crash with the WAL
    torn in half, and a worker's snapshot folded past them, when more events are published (their
    ids reuse the lost ones) and the worker refreshes, then memory equals a fresh fold of the log:
    no case of the lost tail is kept and no new event is missed."""
    bus, _ = with_wal_tail(tmp_path, stories)
    snap = tmp_path / "mem.sqlite"
    mem = Memory(bus.audit, snapshot_path=snap)
    mem.refresh()
    folded = mem.cursor
    mem.close()
    after = torn_copy(bus, tmp_path)
    survived = len(after.audit)
    assert 16 <= survived < 40  # the checkpointed part survived, the torn tail did not
    for e in stories(3, start=10):
        after.publish(e)
    assert int(after.audit.last_id() or 0) > int(folded or 0)
    again = Memory(after.audit, snapshot_path=snap)
    again.refresh()
    fresh = Memory(after.audit)
    fresh.refresh()
    assert again.dump() == fresh.dump()
    assert {"test:10", "test:11", "test:12"} <= {r.case_id for r in again.cases()}
    again.close()
    after.close()
