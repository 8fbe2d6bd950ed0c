"""The first decision wins: 100 concurrent confirmations give exactly one decision, on every store."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from aisoc.bus import Bus
from aisoc.events import ActionDecided
from gate import Gate, State
from gate.app import create_app
from gate.links import approval_url
from tests.gate.factory import Clock, csrf, gate_events, gate_settings, publish_case

N = 100


def race(bus: Bus, **settings: Any) -> None:
    """Open one request, let 100 people-sessions load step one, then confirm all at once."""
    s = gate_settings(**settings)
    gate = Gate(bus, s, clock=Clock())
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    app = create_app(s, gate=gate)
    link = approval_url(s, req).removeprefix("http://gate.test")
    clients = []
    for i in range(N):
        client = app.test_client()
        headers = {"X-Forwarded-Email": "alice@example.com" if i % 2 else "carol@example.com"}
        token = csrf(client.get(link, headers=headers).get_data(as_text=True))
        data = {"csrf_token": token, "target": "WS-042", "reason": f"go {i}", "approve": "Approve"}
        clients.append((client, headers, data))
    barrier = threading.Barrier(N)
    codes: list[int] = []
    lock = threading.Lock()

    def confirm(client: Any, headers: dict[str, str], data: dict[str, str]) -> None:
        barrier.wait()
        code = client.post(link, data=data, headers=headers).status_code
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=confirm, args=c) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [303] + [409] * (N - 1)
    (decided,) = gate_events(bus, case.case_id, ActionDecided)
    stored = gate.get(req.request_id)
    assert stored.state == State.APPROVED and decided.decided_by == stored.decided_by_email
    assert decided.reason == stored.reason and stored.version == 2
    second_look = app.test_client().get(link, headers={"X-Forwarded-Email": "alice@example.com"})
    assert f"Already decided: approved by {stored.decided_by_name}" in second_look.get_data(as_text=True)


def test_hundred_concurrent_confirmations_memory_bus() -> None:
    """Given 100 sessions on the in-memory store, when all confirm at once, then exactly one decides."""
    race(Bus())


def test_hundred_concurrent_confirmations_sqlite_file(tmp_path: Path) -> None:
    """Given 100 sessions on the SQLite bus and gate file, when all confirm at once, then one wins."""
    race(Bus(f"sqlite:///{tmp_path}/soc.db"))


@pytest.mark.redis
def test_hundred_concurrent_confirmations_redis(redis_url: str, namespace: str) -> None:
    """Given 100 sessions on the Redis store, when all confirm at once, then exactly one decision is made."""
    race(Bus(redis_url, namespace=namespace))
