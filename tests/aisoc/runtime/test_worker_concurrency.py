"""Keep a GPU server busy: a worker runs several invocations at once, each case's events in order,
every event's effects exactly once — on the in-memory bus and on Redis, with two workers competing and
deliveries taken over while they are still being handled."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from aisoc import Bus, events
from aisoc.errors import BusError
from aisoc.models import Capabilities
from aisoc.runtime import RoleTeam
from aisoc.runtime.worker import Worker
from roles import Sentinel
from tests.aisoc.runtime.test_loop import GOOD, real_alert
from tests.support.fake_model import ScriptedChatModel

CASES, PER_CASE = 6, 4


class Busy(ScriptedChatModel):
    """Answers after a short wait, counting how many calls were in flight at once."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _now: int = PrivateAttr(default=0)
    peak: int = 0

    def _generate(self, messages: list[BaseMessage], *a: Any, **kw: Any) -> ChatResult:
        with self._lock:
            self._now += 1
            self.peak = max(self.peak, self._now)
        time.sleep(0.05)
        with self._lock:
            self._now -= 1
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=_json(GOOD)))])


def _json(d: dict[str, Any]) -> str:
    import json

    return json.dumps(d)


def _published(bus: Bus) -> list[events.AlertReceived]:
    """``PER_CASE`` alert events for each of ``CASES`` real alerts (same case, new event ids), interleaved."""
    sent = []
    for n in range(PER_CASE):
        for c in range(CASES):
            e = real_alert(c + 1)
            sent.append(e.model_copy(update={"event_id": f"{e.event_id[:20]}-{n}"}))
    for e in sent:
        bus.publish(e)
    return sent


def _team(bus: Bus, model: Busy) -> RoleTeam:
    return RoleTeam(model=model, bus=bus, roles=[Sentinel])


def _check(bus: Bus, sent: list[events.AlertReceived], ordered: bool = True) -> None:
    """One verdict per alert event and (``ordered``) per case in the order the alerts were published."""
    verdicts = [e for e in bus.audit if isinstance(e, events.TriageVerdict)]
    assert Counter(v.causation_id for v in verdicts) == Counter(e.event_id for e in sent)
    if not ordered:
        return
    order: dict[str, list[str]] = defaultdict(list)
    for v in verdicts:
        order[v.case_id or ""].append(v.causation_id or "")
    for case, causes in order.items():
        assert causes == [e.event_id for e in sent if e.case_id == case]


def _run_until(workers: list[Worker], bus: Bus, want: int, timeout_s: float = 60) -> None:
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sum(1 for e in bus.audit if isinstance(e, events.TriageVerdict)) >= want:
            break
        time.sleep(0.05)
    time.sleep(0.3)  # room for a duplicate to show up, were there one
    for w in workers:
        w.stop.set()
    for t in threads:
        t.join(20)
        assert not t.is_alive()


def test_several_invocations_at_once_on_memory_keep_case_order_and_exactly_once() -> None:
    """Given 24 alert events over 6 cases and a worker with concurrency 4, when it drains them, then
    several invocations ran at once and each case's verdicts follow its alert order, one per event."""
    bus, model = Bus(), Busy()
    sent = _published(bus)
    worker = Worker(_team(bus, model), "sentinel", block_ms=50, concurrency=4)
    _run_until([worker], bus, len(sent))
    assert model.peak > 1 and model.peak <= 4
    assert worker.handled == len(sent)
    _check(bus, sent)


def test_one_concurrent_worker_on_redis_keeps_case_order_and_exactly_once(
    redis_url: str, namespace: str
) -> None:
    """Given a Sentinel worker with concurrency 4 on Redis, each case's verdicts follow its alert order,
    one per alert event."""
    bus, model = Bus(redis_url, namespace=namespace), Busy()
    sent = _published(bus)
    worker = Worker(_team(Bus(redis_url, namespace=namespace), model), "sentinel", block_ms=50, concurrency=4)
    _run_until([worker], bus, len(sent))
    assert model.peak > 1
    _check(bus, sent)


def test_two_concurrent_workers_on_redis_with_take_overs_publish_each_effect_once(
    redis_url: str, namespace: str
) -> None:
    """Given two Sentinel workers with concurrency 4 on Redis and a visibility timeout shorter than a
    call, so deliveries are taken over while still being handled, then each alert event still has
    exactly one verdict (two consumers of one group never promised a case's order to each other)."""
    bus = Bus(redis_url, namespace=namespace)
    sent = _published(bus)
    model = Busy()
    workers = [
        Worker(
            _team(Bus(redis_url, namespace=namespace, visibility_timeout_ms=40), model),
            "sentinel",
            instance=i,
            block_ms=50,
            concurrency=4,
        )
        for i in range(2)
    ]
    _run_until(workers, bus, len(sent))
    assert model.peak > 1
    _check(bus, sent, ordered=False)


def test_a_concurrency_below_one_is_refused() -> None:
    """``concurrency=0`` is a clear error, not a worker that never takes work."""
    with pytest.raises(BusError, match="concurrency"):
        Worker(_team(Bus(), Busy()), "sentinel", concurrency=0)


def test_capabilities_default_adds_no_request_fields() -> None:
    """A model without prompt-cache options sends nothing extra (servers reject unknown fields)."""
    caps = Capabilities(tools=False, json_schema=True, leg="x")
    assert caps.request_options() == {} and caps.pin("wazuh:abc") == {}
