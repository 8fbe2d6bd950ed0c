"""The report feed over a log that lost its tail and grew again: it reads the log again, as memory does."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from aisoc import Bus
from aisoc.bus import AuditLog
from aisoc.events import Event
from aisoc.runtime.feed import AuditFeed
from tests.aisoc.memory import factory as f
from tests.support.torn_wal import torn_copy, with_wal_tail


def stories(n: int, start: int = 0) -> list[Event]:
    """``n`` contained cases (8 events each), numbered from ``start``."""
    out: list[Event] = []
    for i in range(start, start + n):
        out += f.contained(str(i), f"ws-{i}", minutes=i * 10)
    return out


def feed(audit: AuditLog, path: Path | None = None) -> AuditFeed:
    """A feed whose clock is the stories' time, so that nothing falls out of its window."""
    return AuditFeed(audit, clock=lambda: f.T0 + timedelta(hours=2), path=path)


def held(audit: AuditLog, path: Path | None = None) -> list[str]:
    """The event ids a feed holds after a refresh (a fresh one when ``path`` is None)."""
    reader = feed(audit, path)
    reader.refresh()
    ids = [e.event_id for e in reader.events()]
    reader.close()
    return ids


def test_a_sqlite_log_that_lost_its_tail_in_a_torn_wal_and_grew_again_is_read_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a SQLite bus whose newest commits are only in its WAL, copied at a crash with the WAL
    torn in half, and a saved report feed that read past them, when more events are published
    (their ids reuse the lost ones) and the feed refreshes, then it holds what a fresh feed of the
    log holds: no event of the lost tail, every new one; it says why it read the log again."""
    bus, lost = with_wal_tail(tmp_path, stories)
    path = tmp_path / "feed.sqlite"
    assert len(held(bus.audit, path)) == 40
    after = torn_copy(bus, tmp_path)
    assert 16 <= len(after.audit) < 40  # the checkpointed part survived, the torn tail did not
    gone = {e.event_id for e in lost} - {e.event_id for e in after.audit}
    new = stories(3, start=10)
    for e in new:
        after.publish(e)
    with caplog.at_level("WARNING", logger="aisoc.runtime.feed"):
        again = held(after.audit, path)
    assert again == held(after.audit)
    assert gone and {e.event_id for e in new} <= set(again) and not gone & set(again)
    assert any("holds another event" in r.getMessage() for r in caplog.records)
    after.close()


@pytest.mark.redis
def test_a_redis_log_that_lost_its_last_writes_and_grew_again_is_read_again(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    """Given a saved report feed and a Redis log whose newest entries are gone (a restart that lost
    its last writes: the older entries and the epoch are kept), when more events are published
    before the feed refreshes, then it holds what a fresh feed holds: the lost events are dropped
    and the new ones read."""
    import redis

    bus = Bus(redis_url, namespace=namespace)
    for e in stories(3):
        bus.publish(e)
    path = tmp_path / "feed.sqlite"
    assert len(held(bus.audit, path)) == 24
    client = redis.Redis.from_url(redis_url)
    gone = [i for i, _ in client.xrevrange(bus.key("audit"), count=8)]  # type: ignore[attr-defined]
    client.xdel(bus.key("audit"), *gone)  # type: ignore[attr-defined]
    client.close()
    new = stories(2, start=5)
    for e in new:
        bus.publish(e)
    again = held(bus.audit, path)
    assert again == held(bus.audit) and len(again) == 32
    assert {e.event_id for e in new} <= set(again)
    bus.close()


def test_a_feed_saved_before_it_kept_the_event_at_its_cursor_carries_on(tmp_path: Path) -> None:
    """Given a saved feed from before the event id at its cursor was kept, when it is opened on the
    same log, then it carries on from its cursor (reads only what is new), and keeps it from then."""
    import sqlite3

    bus = Bus(f"sqlite:///{tmp_path}/soc.db")
    for e in stories(2):
        bus.publish(e)
    path = tmp_path / "feed.sqlite"
    first = held(bus.audit, path)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM meta WHERE key = 'cursor_event'")
    db.commit()
    db.close()
    for e in stories(1, start=2):
        bus.publish(e)
    reader = feed(bus.audit, path)
    assert reader.refresh() == 8 and [e.event_id for e in reader.events()] == [*first, *reader_tail(bus)]
    reader.close()
    bus.close()


def reader_tail(bus: Bus) -> list[str]:
    """The event ids of the last story published (8 events)."""
    return [e.event_id for e in list(bus.audit)[-8:]]
