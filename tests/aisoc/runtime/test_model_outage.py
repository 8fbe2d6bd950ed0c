"""A model that is down for minutes (a server restarting, both failover legs down): every alert
waits and is handled once the model is back, none is dead-lettered, a case's events keep their
order, and a single leg's ``Retry-After`` is honoured. The bus clock is frozen and moved by hand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from aisoc import Bus, events, models
from aisoc.health import status
from aisoc.metrics import registry_for
from aisoc.runtime import RoleTeam
from aisoc.runtime.worker import Worker
from roles import Sentinel
from tests.aisoc.bus_contract_waiting import Clock
from tests.aisoc.runtime.test_loop import GOOD, real_alert
from tests.aisoc.runtime.test_team import Refused
from tests.support.fake_model import ScriptedChatModel
from tests.support.fake_openai import Reply, fake_openai


def _again(e: events.AlertReceived) -> events.AlertReceived:
    """The same alert seen again: another event of the same case."""
    return events.AlertReceived(alert=e.alert, case_id=e.case_id, produced_by={"role": "ingest"})


def _until(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_model_down_for_twenty_minutes_loses_nothing_and_keeps_each_case_in_order() -> None:
    """Given max_deliveries=2 and a model refusing 8 calls over 20 minutes (the old back-off spent
    an alert's deliveries in ~15 s), when the model comes back, then every alert gets its verdict,
    nothing is dead-lettered, and the case's second event is handled after its first."""
    clock = Clock()
    model = ScriptedChatModel(scripts={"sentinel": [Refused("model restarting")] * 8 + [GOOD]})
    bus = Bus(max_deliveries=2, clock=clock)
    team = RoleTeam(model=model, bus=bus, roles=[Sentinel])
    team.subscribe()
    first, other = real_alert(1), real_alert(2)
    second = _again(first)
    for e in (first, other, second):
        bus.publish(e)
    bus.drain()
    assert len(model.calls) == 2  # the second event of the case was not tried: it waits behind
    (held,) = [r for r in bus.waiting("sentinel") if r.attempts == 0]
    assert held.case == first.case_id
    (line,) = [x for x in status(bus).lines() if x.startswith("sentinel:")]
    assert "3 waiting: since " in line and "1 tries: model unreachable: Refused: model restarting" in line
    registry, _ = registry_for(bus)
    assert registry.get_sample_value("aisoc_group_waiting", {"group": "sentinel"}) == 3
    for _ in range(5):
        clock.now += 300
        bus.drain()
    assert bus.dead_letters() == [] and bus.waiting("sentinel") == []
    verdicts = [e for e in bus.audit if e.type == "triage.verdict"]
    assert {v.causation_id for v in verdicts} == {first.event_id, other.event_id, second.event_id}
    of_case = [v.causation_id for v in verdicts if v.case_id == first.case_id]
    assert of_case == [first.event_id, second.event_id]


def test_retry_after_on_a_single_leg_sets_the_next_try() -> None:
    """Given the only leg answering 429 with Retry-After: 120, the alert waits 120 s (not 5), the
    server is not asked again before then, and the worker's pause is at least as long."""
    clock = Clock()
    with fake_openai() as server:
        server.script.append(
            Reply(status=429, headers={"Retry-After": "120"}, body=b'{"error": {"message": "busy"}}')
        )
        bus = Bus(clock=clock)
        spec = f"openai+{server.url}?mode=json&timeout=5"
        team = RoleTeam(model=models.from_spec(spec), bus=bus, roles=[Sentinel])
        team.subscribe()
        bus.publish(real_alert(1))
        bus.drain()
        (record,) = bus.waiting("sentinel")
        assert record.due == clock.now + 120 and "429" in record.reason
        assert team.model_backoff_s() == 120
        clock.now += 110
        bus.drain()
        assert len(server.requests) == 1
        clock.now += 10
        bus.drain()
        assert len(server.requests) == 2 and bus.waiting("sentinel") == []
        assert [e.type for e in bus.audit][-1] == "triage.verdict"


def test_with_both_legs_down_the_later_retry_after_sets_the_next_try() -> None:
    """Given a primary answering 429 with Retry-After: 300 and a backup answering 503 with
    Retry-After: 60, the alert waits for the later of the two (the primary's), not the backup's."""
    clock = Clock()
    busy = b'{"error": {"message": "busy"}}'
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.append(Reply(status=429, headers={"Retry-After": "300"}, body=busy))
        backup.script.append(Reply(status=503, headers={"Retry-After": "60"}, body=busy))
        bus = Bus(clock=clock)
        spec = "openai+{}?mode=json&timeout=5"
        model = models.from_spec(spec.format(primary.url), backup=spec.format(backup.url))
        team = RoleTeam(model=model, bus=bus, roles=[Sentinel])
        team.subscribe()
        bus.publish(real_alert(1))
        bus.drain()
        (record,) = bus.waiting("sentinel")
        assert len(primary.requests) == len(backup.requests) == 1
        assert 240 < record.due - clock.now <= 300  # the primary's 300 s, less the test's own time
        assert team.model_backoff_s() > 240


class _Waits(threading.Event):
    """A stop event that records how long the worker asked to wait, and does not wait."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.asked.append(timeout)
        return self.is_set()


def test_a_worker_whose_model_is_down_says_so_and_dead_letters_nothing() -> None:
    """Given a worker whose model refuses every call for 25 minutes, its alert waits (never a dead
    letter), the worker pauses longer after each unserved call, and its heartbeat says it waits on
    its model; once the model answers, the alert is handled."""
    clock = Clock()
    model = ScriptedChatModel(scripts={"sentinel": [Refused("down")] * 5 + [GOOD]})
    bus = Bus(max_deliveries=2, clock=clock)
    team = RoleTeam(model=model, bus=bus, roles=[Sentinel])
    stop = _Waits()
    worker = Worker(team, "sentinel", block_ms=10, stop=stop)
    bus.publish(real_alert(1))
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        for tries in range(1, 6):
            _until(lambda: sum(r.attempts for r in bus.waiting("sentinel")) >= tries)  # noqa: B023
            if tries == 1:
                _until(lambda: bus.heartbeats().get(worker.consumer, {}).get("waiting_on") == "model")
            clock.now += 300
        _until(lambda: worker.handled >= 6)
    finally:
        stop.set()
        thread.join(10)
    assert bus.dead_letters() == [] and bus.waiting("sentinel") == []
    assert [e.type for e in bus.audit] == ["alert.received", "triage.verdict"]
    assert [t for t in stop.asked if t and t >= 1][:4] == [1, 2, 4, 5]  # 8 s: two heartbeats apart
