"""The gate repairs its store's indexes from the records: a request whose record alone is in Redis
(a crash between two writes, a hand edit, a partial restore) is found, put back, reminded and
expired; a pending SQLite row whose columns say otherwise than its record gets the record's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from aisoc.bus import Bus
from aisoc.events import ActionDecided, ActionReminded, Decision
from gate import Gate, State, service
from gate.store import ApprovalRequest
from gate.store_redis import RedisRequestStore
from gate.timers import TickReport
from tests.gate.factory import Clock, close_case, gate_events, gate_settings, publish_case
from tests.support.redis_server import RedisServer


def write_record_only(gate: Gate, req: ApprovalRequest) -> None:
    """Write ``req``'s record straight into Redis without any of its indexes: what a crash between
    writing a record and its indexes (or a restore of the ``req:*`` keys alone) leaves."""
    store = gate.store
    assert isinstance(store, RedisRequestStore)
    store._r.hset(
        store._key(f"gate:req:{req.request_id}"), mapping={"v": req.version, "d": req.model_dump_json()}
    )


@pytest.fixture
def redis_bus(redis_url: str, namespace: str) -> Iterator[Bus]:
    """A Redis bus in a namespace of its own."""
    b = Bus(redis_url, namespace=namespace)
    yield b
    b.close()


@pytest.mark.redis
def test_a_pending_request_whose_record_alone_is_in_redis_is_reminded_and_expired(
    redis_bus: Bus, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a gate on Redis past its first repair pass, and then a pending request whose record
    alone was written straight into Redis, when the worker ticks on a frozen clock, then the request
    is not seen until the next pass is due, is then put back and logged once, reminded in that very
    tick, expired at its deadline, and cancelled by nothing twice."""
    gate = Gate(redis_bus, gate_settings(), clock=clock)
    case = publish_case(redis_bus)
    assert gate.tick() == TickReport()  # the first pass: nothing to repair
    req = ApprovalRequest.from_proposal(case.proposal, created_at=clock.now, approver="alice")
    write_record_only(gate, req)
    with caplog.at_level("INFO"):
        clock.advance(seconds=gate.settings.remind_after_s + 60)
        assert service.REINDEX_EVERY > clock.now - req.created_at
        assert gate.tick().reminded == 0 and gate.store.pending() == []
        clock.now = req.created_at + service.REINDEX_EVERY
        assert gate.tick().reminded == 1
        assert [r.request_id for r in gate.store.pending()] == [req.request_id]
        assert [r.request_id for r in gate.store.for_case(case.case_id)] == [req.request_id]
        clock.now = req.expires_at + timedelta(minutes=1)
        assert gate.tick().expired == 1
        assert gate.tick().expired == 0
    (reminded,) = gate_events(redis_bus, case.case_id, ActionReminded)
    assert reminded.action_id == req.action_id and reminded.person == "alice@example.com"
    (decided,) = gate_events(redis_bus, case.case_id, ActionDecided)
    assert decided.decision == Decision.EXPIRED and gate.store.pending() == []
    repaired = [r for r in caplog.records if "was missing from" in r.getMessage()]
    assert len(repaired) == 1 and req.request_id in repaired[0].getMessage()
    assert repaired[0].levelname == "WARNING"
    gate.close()


@pytest.mark.redis
def test_a_large_store_is_repaired_in_bounded_steps_over_several_ticks(
    redis_server: RedisServer, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given 40 pending requests whose records alone are in a Redis of their own and a repair step
    of a few keys, when the gate ticks on a frozen clock, then each tick walks one bounded step, the
    pass goes on tick after tick (without waiting for the next pass to be due) until every request
    is back, and every one of them is reminded once it is."""
    monkeypatch.setattr("gate.store_redis.SCAN_COUNT", 4)
    monkeypatch.setattr(service, "REINDEX_BATCH", 4)
    bus = Bus(redis_server.url, namespace="reindex")
    gate = Gate(bus, gate_settings(), clock=clock)
    case = publish_case(bus)
    reqs = [
        ApprovalRequest.from_proposal(
            case.proposal.model_copy(update={"event_id": f"{case.proposal.event_id}-{n}"}),
            created_at=clock.now,
            approver="alice",
        )
        for n in range(40)
    ]
    for req in reqs:
        write_record_only(gate, req)
    clock.advance(seconds=gate.settings.remind_after_s + 60)
    seen: list[ApprovalRequest] = []
    ticks = 0
    while len(seen) < len(reqs) and ticks < 200:
        ticks += 1
        gate.tick()
        seen = gate.store.pending()
    assert ticks > 1 and sorted(r.request_id for r in seen) == sorted(r.request_id for r in reqs)
    assert all(r.reminders == 1 for r in gate.store.pending())
    gate.close()
    bus.close()


def test_a_pending_request_whose_sqlite_case_column_says_otherwise_is_cancelled_with_its_case(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a pending request whose SQLite ``case_id`` and ``created_at`` columns were written
    straight into the store as something else (so its case does not list it), when the worker ticks
    again and again and then the case closes, then the case lists it again, closing the case cancels
    it, and the disagreement is logged once, as a warning naming the request and both columns."""
    bus = Bus(f"sqlite:///{tmp_path}/soc.db")
    gate = Gate(bus, gate_settings(), clock=clock)
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    with gate.store._tx() as db:  # type: ignore[attr-defined]
        db.execute(
            "UPDATE gate_requests SET case_id = 'other:1', created_at = 9e12 WHERE request_id = ?",
            (req.request_id,),
        )
    assert gate.store.for_case(case.case_id) == []
    with caplog.at_level("INFO"):
        for _ in range(3):
            gate.tick()
    assert [r.request_id for r in gate.store.for_case(case.case_id)] == [req.request_id]
    gate.handle(close_case(bus, case.case_id))
    assert gate.get(req.request_id).state == State.CANCELLED
    named = [r for r in caplog.records if req.request_id in r.getMessage() and r.name == "gate.store"]
    assert [r.levelname for r in named] == ["WARNING"], [r.getMessage() for r in named]
    assert "case_id 'other:1', created_at 9000000000000.0" in named[0].getMessage()
    gate.close()
    bus.close()


@pytest.mark.redis
@pytest.mark.parametrize("index", ["gate:pending", "gate:all", "gate:case:{case}"])
def test_an_index_key_of_another_type_is_moved_aside_and_rebuilt_and_the_tick_goes_on(
    redis_bus: Bus, clock: Clock, caplog: pytest.LogCaptureFixture, index: str
) -> None:
    """Given a gate on Redis past its first repair pass with a pending request, and then garbage (a
    string) written straight into Redis where the gate keeps an index (a sorted set), when the worker
    ticks on a frozen clock, then no tick fails: the key is moved aside under a ``.aside-`` name
    holding the garbage as it was, one warning names it, the index is rebuilt from the records (at
    once when the tick meets it, by the next tick when a listing does), and the request is reminded
    in that very tick, listed, expired at its deadline and then pruned."""
    gate = Gate(redis_bus, gate_settings(), clock=clock)
    case = publish_case(redis_bus)
    req = gate.submit(case.proposal)
    assert gate.tick() == TickReport()  # the first repair pass: nothing to repair
    store = gate.store
    assert isinstance(store, RedisRequestStore)
    key = store._key(index.format(case=case.case_id))
    store._r.delete(key)
    store._r.set(key, "garbage written around the gate")
    with caplog.at_level("INFO"):
        clock.advance(seconds=gate.settings.remind_after_s + 60)
        assert service.REINDEX_EVERY > clock.now - req.created_at  # no repair pass is due
        assert gate.tick().reminded == 1
        assert [r.request_id for r in gate.store.pending()] == [req.request_id]
        gate.store.for_case(case.case_id)  # the tick never reads a case's index: a listing meets it
        assert gate.tick() == TickReport()  # ... and the next tick has rebuilt it
        assert [r.request_id for r in gate.store.for_case(case.case_id)] == [req.request_id]
        assert [r.request_id for r in gate.store.recent()] == [req.request_id]
        clock.now = req.expires_at + timedelta(minutes=1)
        assert gate.tick().expired == 1
        clock.now = req.expires_at + gate.retention + timedelta(minutes=2)
        assert gate.tick().pruned == 1 and gate.store.recent() == []
    assert store._r.type(key) in ("zset", "none")
    (aside,) = store._r.keys(key.replace("{", "[{]").replace("}", "[}]") + ".aside-*")
    assert re.fullmatch(re.escape(key) + r"\.aside-\d{8}T\d{6}Z", aside)
    assert store._r.get(aside) == "garbage written around the gate"
    named = [r for r in caplog.records if key in r.getMessage() and r.name.startswith("gate")]
    assert [r.levelname for r in named] == ["WARNING"], [r.getMessage() for r in named]
    assert aside in named[0].getMessage() and "moved aside" in named[0].getMessage()
    gate.close()
