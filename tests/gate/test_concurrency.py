"""The first decision wins: 100 concurrent confirmations give exactly one decision, on every store."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from aisoc.bus import Bus
from aisoc.events import ActionDecided, utcnow
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


def race_between_processes(tmp_path: Path, bus_url: str, namespace: str = "soc") -> None:
    """Two gate processes (the documented gunicorn command) over one store: 100 people-sessions load
    step one from either, then all confirm at once."""
    import httpx

    from gate import load_gate_settings
    from tests.gate.production import GateProcess, write_config

    config = write_config(tmp_path, bus=bus_url, namespace=namespace, base_url="http://gate.test")
    settings = load_gate_settings(config)
    bus = Bus(settings.bus, namespace=settings.namespace or "soc")
    gate = Gate(bus, settings)
    case = publish_case(bus, at=utcnow())
    req = gate.submit(case.proposal)
    link = approval_url(settings, req).removeprefix("http://gate.test")
    servers = [GateProcess(config).spawn(), GateProcess(config).spawn()]
    for server in servers:
        server.ready()
    barrier = threading.Barrier(N)
    codes: list[int] = []
    lock = threading.Lock()

    def person(i: int) -> None:
        # One connection per request (an idle keep-alive connection would be closed while waiting at
        # the barrier), and the __Host- cookie sent by hand: it is Secure, and this client talks to
        # gunicorn directly over http, as the TLS proxy does.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=servers[i % 2].url, timeout=60, limits=limits) as client:
            headers = {"X-Forwarded-Email": "alice@example.com" if i % 3 else "carol@example.com"}
            page = client.get(link, headers=headers)
            headers["Cookie"] = f"__Host-aisoc_gate={page.cookies['__Host-aisoc_gate']}"
            data = {"csrf_token": csrf(page.text), "target": "WS-042", "reason": f"go {i}", "approve": "1"}
            barrier.wait(timeout=120)
            code = client.post(link, data=data, headers=headers).status_code
        with lock:
            codes.append(code)

    try:
        threads = [threading.Thread(target=person, args=(i,)) for i in range(N)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for server in servers:
            server.stop()
    assert sorted(codes) == [303] + [409] * (N - 1)
    (decided,) = gate_events(bus, case.case_id, ActionDecided)
    stored = gate.get(req.request_id)
    assert stored.state == State.APPROVED and stored.version == 2
    assert decided.decided_by == stored.decided_by_email and decided.reason == stored.reason
    gate.close()


def test_hundred_confirmations_across_two_gate_processes_sqlite(tmp_path: Path) -> None:
    """Given two gunicorn gates sharing a SQLite bus and gate file, when 100 sessions spread over both
    confirm at once, then exactly one action.decided is published."""
    race_between_processes(tmp_path, f"sqlite:///{tmp_path}/soc.db")


@pytest.mark.redis
def test_hundred_confirmations_across_two_gate_processes_redis(
    tmp_path: Path, redis_url: str, namespace: str
) -> None:
    """Given two gunicorn gates sharing the Redis store, when 100 sessions spread over both confirm at
    once, then exactly one action.decided is published."""
    race_between_processes(tmp_path, redis_url, namespace)
