"""The SQLite bus against rows written around it (a bad actor with the file, a broken disk): text
where an integer belongs, bytes that are not UTF-8, rows that point at nothing. Each case must log
what it found, keep the group moving and lose no good event."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from aisoc import Bus
from tests.aisoc.bus_contract_events import alert_event


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "soc.db"


@pytest.fixture
def bus(path: Path) -> Iterator[Bus]:
    b = Bus(f"sqlite:///{path}", visibility_timeout_ms=60_000)
    yield b
    b.close()


def write(path: Path, sql: str, *args: object) -> None:
    """Run one statement through a connection of its own (what a bad actor with the file does)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(sql, args)
    db.close()


def test_a_target_that_is_not_utf8_is_dead_lettered_not_a_read_that_fails_for_ever(
    bus: Bus, path: Path
) -> None:
    """Given a work entry whose target column holds bytes that are not UTF-8 ahead of a good alert,
    when Sentinel consumes, then the good alert is delivered and the entry is a dead letter naming
    the target (before, every read of the group raised 'Could not decode to UTF-8' for ever)."""
    assert bus.consume("sentinel", "s", types=["alert.received"]) == []
    lost = alert_event(1)
    write(
        path,
        "INSERT INTO entries (stream, type, payload, target) VALUES ('alerts', ?, ?, CAST(? AS TEXT))",
        lost.type,
        lost.to_json(),
        b"\xffghost",
    )
    good = alert_event(2)
    bus.publish(good)
    (d,) = bus.consume("sentinel", "s", types=["alert.received"], count=10)
    assert d.event == good
    d.ack()
    (letter,) = bus.dead_letters()
    assert letter.reason == (
        "cannot deliver: the entry's 'g' field names no consumer group of alerts: '\\\\xffghost'"
    )
    assert letter.payload == lost.to_json()


def test_a_delivery_count_that_is_text_is_read_as_unknown_not_a_crash(
    bus: Bus, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a pending entry whose delivery count is text, when the group takes it over, then it is
    delivered again (its count read as 0 before this try, with a warning naming the entry) instead
    of every take-over of the group raising a TypeError."""
    bus.publish(alert_event(1))
    (d,) = bus.consume("sentinel", "s", types=["alert.received"])
    d.fail("boom")
    write(path, "UPDATE pending SET count = 'many'")
    with caplog.at_level(logging.WARNING):
        (again,) = bus.consume("sentinel", "s", types=["alert.received"])
    assert again.event == d.event and again.delivery_count == 1
    assert f"alerts#{d.entry_id}" in caplog.text and "'many'" in caplog.text
    again.ack()
    assert bus.stats().streams[0].groups[0].pending == 0


def test_a_group_position_that_is_text_reads_again_from_the_start_of_the_stream(
    bus: Bus, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a group whose last-read id was overwritten with text, when it consumes and the bus
    trims, then the trim does not fail, the group reads the stream again from its start (an event
    published after the damage is delivered; what it had handled comes again, which its idempotency
    marks keep to one effect) and the log says what was reset (before, the group read nothing ever
    again: every id compared below the text)."""
    first = alert_event(1)
    bus.publish(first)
    (d,) = bus.consume("sentinel", "s", types=["alert.received"])
    d.ack()
    write(path, "UPDATE groups SET last_id = 'oops' WHERE grp = 'sentinel'")
    assert bus.trim() == 0
    later = alert_event(2)
    bus.publish(later)
    with caplog.at_level(logging.WARNING):
        got = bus.consume("sentinel", "s", types=["alert.received"], count=10)
    assert [x.event for x in got] == [first, later]
    assert "group sentinel of alerts" in caplog.text and "'oops'" in caplog.text
    bus.ack_many(got)
    assert bus.consume("sentinel", "s", types=["alert.received"], count=10) == []
    assert bus.trim() == 2


def test_an_entry_time_that_is_text_is_unknown_not_an_error(bus: Bus, path: Path) -> None:
    """Given a work entry whose added_ms column is text, when the runtime asks whether its redelivery
    is past the mark window, then the answer is False (time unknown) instead of a ValueError."""
    bus.publish(alert_event(1))
    (d,) = bus.consume("sentinel", "s", types=["alert.received"])
    d.fail("boom")
    write(path, "UPDATE entries SET added_ms = 'yesterday'")
    (again,) = bus.consume("sentinel", "s", types=["alert.received"])
    assert again.delivery_count == 2 and bus.past_mark_window(again) is False


def test_a_lock_or_hold_whose_expiry_is_text_does_not_hold_for_ever(
    bus: Bus, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a lock and a hold row whose expiry is text (SQLite keeps text in a REAL column), when
    taken, then each is taken with a warning (as Redis takes a lock key without expiry) instead of
    being held for good: text compares above every number, so the scheduler's maintenance lock
    would never be free again."""
    write(path, "INSERT INTO keys VALUES ('maintenance', 'never')")
    write(path, "INSERT INTO holds VALUES ('leader', 'never', 'someone-else')")
    with caplog.at_level(logging.WARNING):
        assert bus.lock("maintenance", 10) is True
        assert bus.hold("leader", 10, "me") is True
    assert bus.holder_of("leader") == "me" and bus.lock("maintenance", 10) is False
    assert "lock maintenance" in caplog.text and "hold leader" in caplog.text


def test_a_pending_row_of_an_entry_that_is_gone_does_not_hold_back_trimming(
    bus: Bus, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a pending row whose entry was deleted around the bus, when the bus trims, then the row
    goes with a warning naming it and the acked entries behind it are trimmed (before, the missing
    entry was the trim floor for ever and the group counted it pending)."""
    for n in range(3):
        bus.publish(alert_event(n))
    got = bus.consume("sentinel", "s", types=["alert.received"], count=10)
    bus.ack_many(got[1:])
    write(path, "DELETE FROM entries WHERE id = ?", int(got[0].entry_id))
    with caplog.at_level(logging.WARNING):
        assert bus.trim() == 2
    assert f"alerts#{got[0].entry_id}" in caplog.text
    (stream,) = [s for s in bus.stats().streams if s.name == "alerts"]
    assert stream.length == 0 and stream.groups[0].pending == 0


@pytest.mark.parametrize(
    "record",
    [
        '{"stream": "alerts", "entry_id": 1, "case": "c", "due": 0, "attempts": 1, "reason": "r",'
        ' "since": 0}',
        '{"stream": "alerts", "entry_id": "1", "case": "c", "due": "soon", "attempts": 1, "reason": "r",'
        ' "since": 0}',
        "[1, 2, 3]",
    ],
)
def test_a_waiting_record_of_another_shape_does_not_stop_the_group(bus: Bus, path: Path, record: str) -> None:
    """Given a waiting row whose record is JSON of another shape (an id that is a number, a due time
    that is text, a list) for the entry of a case, when the group consumes, then the entry is
    delivered (the record is ignored as not one) and nothing raises."""
    alert = alert_event(1)
    bus.publish(alert)
    write(
        path,
        "INSERT INTO waiting (grp, key, record, case_id, age, stream, head_due) "
        "VALUES ('sentinel', 'alerts 1', ?, ?, '0', 'alerts', 0)",
        record,
        alert.case_id,
    )
    (d,) = bus.consume("sentinel", "s", types=["alert.received"])
    assert d.event == alert
    d.ack()
    assert bus.consume("sentinel", "s", types=["alert.received"]) == []


def test_a_waiting_entry_whose_record_vanished_is_taken_over(path: Path) -> None:
    """Given an entry waiting for its model (held by the waiting consumer) whose waiting row was
    deleted around the bus, when another consumer looks for stale work, then it takes the entry over
    and it is delivered (before, the take-over passed the waiting consumer by and nothing ever
    claimed the entry again: lost for its group)."""
    bus = Bus(f"sqlite:///{path}", visibility_timeout_ms=60_000)
    alert = alert_event(1)
    bus.publish(alert)
    (d,) = bus.consume("sentinel", "s", types=["alert.received"])
    d.retry_later("model down", 300)
    assert len(bus.waiting("sentinel")) == 1
    write(path, "DELETE FROM waiting")
    other = Bus(f"sqlite:///{path}", visibility_timeout_ms=0)
    (again,) = other.consume("sentinel", "s2", types=["alert.received"])
    assert again.event == alert
    again.ack()
    assert other.consume("sentinel", "s2", types=["alert.received"]) == []
    bus.close()
    other.close()
