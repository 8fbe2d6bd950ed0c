"""As deployed, without a browser: the documented gunicorn command behind the TLS-terminating SSO proxy,
driven over HTTPS by an HTTP client, with a damaged store and a case closed behind the gate's back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from aisoc.bus import Bus
from aisoc.events import ActionDecided, ActionExecuted, Decision, utcnow
from gate import Gate, load_gate_settings
from gate.links import approval_url
from gate.store_sqlite import SqliteRequestStore
from tests.gate.factory import Case, close_case, csrf, gate_events, publish_case
from tests.gate.production import SSO_COOKIE, GateProcess, SsoProxy, write_config
from tests.support.redis_server import free_port


@dataclass
class Deployed:
    """gunicorn behind the proxy over one SQLite bus and gate file; ``gate`` is the operator's view."""

    bus: Bus
    gate: Gate
    proxy: SsoProxy

    def case(self, n: int) -> Case:
        case = publish_case(self.bus, n, at=utcnow(), expires_in=timedelta(hours=2))
        self.gate.submit(case.proposal)
        return case

    def link(self, case: Case) -> str:
        return approval_url(self.gate.settings, self.gate.get(case.proposal.event_id)).removeprefix(
            self.proxy.url
        )

    def browser(self, email: str) -> httpx.Client:
        """An HTTPS client logged in to the SSO proxy as ``email``."""
        client = httpx.Client(base_url=self.proxy.url, verify=self.proxy.client_context(), timeout=30)
        client.cookies.set(SSO_COOKIE, email, domain="127.0.0.1")
        return client

    def confirm(self, client: httpx.Client, link: str, page: str) -> httpx.Response:
        """Step two as the page's form sends it (the gate's Origin and a same-origin Referer)."""
        data = {"csrf_token": csrf(page), "target": "WS-042", "reason": "contain", "approve": "Approve"}
        origin = self.proxy.url
        return client.post(link, data=data, headers={"Origin": origin, "Referer": origin + link})


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[Deployed]:
    port = free_port()
    config = write_config(tmp_path, bus=f"sqlite:///{tmp_path}/soc.db", base_url=f"https://127.0.0.1:{port}")
    settings = load_gate_settings(config)
    bus = Bus(settings.bus)
    gate = Gate(bus, settings)
    server = GateProcess(config).start()
    proxy = SsoProxy(server.port, port).start()
    yield Deployed(bus, gate, proxy)
    proxy.stop()
    server.stop()
    gate.close()
    bus.close()


def test_a_damaged_store_record_breaks_no_other_page_over_https(deployed: Deployed) -> None:
    """Given garbage rows written straight into the gate's SQLite file, when Alice lists requests,
    approves a good one (step one, step two, PRG) and Bob records it done, then every page answers,
    each event is published once, and the damaged record's page says plainly it cannot be read."""
    case = deployed.case(1)
    store = deployed.gate.store
    assert isinstance(store, SqliteRequestStore)
    with sqlite3.connect(store.path) as db:
        db.executemany(
            "INSERT INTO gate_requests VALUES (?, ?, 'pending', 1, 0, ?)",
            [("damaged-1", case.case_id, "not json"), ("damaged-2", None, '{"request_id": "damaged-2"}')],
        )
        db.execute("INSERT INTO gate_outbox (event_id, type, payload) VALUES ('bad', 'action.decided', 'x')")
    alice, link = deployed.browser("alice@example.com"), deployed.link(case)
    assert alice.get("/").status_code == 200
    page = alice.get(link)
    approved = deployed.confirm(alice, link, page.text)
    assert approved.status_code == 303, approved.text
    state = alice.get(approved.headers["Location"])
    assert "Approved." in state.text and "approved" in state.text
    assert deployed.confirm(alice, link, page.text).status_code == 409  # the same form, sent again
    bob = deployed.browser("bob@example.com")
    form = {"csrf_token": csrf(bob.get(approved.headers["Location"]).text), "note": "INC-1", "done": "1"}
    done = bob.post(f"{approved.headers['Location']}/done", data=form, headers={"Origin": deployed.proxy.url})
    assert done.status_code == 303
    damaged = alice.get("/r/damaged-1")
    assert damaged.status_code == 503 and "This request cannot be read" in damaged.text
    assert deployed.browser("frank@example.com").get("/audit").status_code == 200
    (decided,) = gate_events(deployed.bus, case.case_id, ActionDecided)
    (executed,) = gate_events(deployed.bus, case.case_id, ActionExecuted)
    assert decided.decided_by == "alice@example.com" and executed.executed_by == "bob@example.com"


def test_a_case_closed_before_the_gate_worker_saw_it_is_not_approved_over_https(deployed: Deployed) -> None:
    """Given step one open and the case closed on the bus (no gate worker consumed it), when Alice sends
    step two through the proxy, then the answer is a 409 page saying it was cancelled, and the only
    decision on the bus is the cancellation."""
    case = deployed.case(2)
    alice, link = deployed.browser("alice@example.com"), deployed.link(case)
    page = alice.get(link)
    close_case(deployed.bus, case.case_id)
    resp = deployed.confirm(alice, link, page.text)
    assert resp.status_code == 409 and "cancelled" in resp.text and "authorized pentest" in resp.text
    decisions = gate_events(deployed.bus, case.case_id, ActionDecided)
    assert [d.decision for d in decisions] == [Decision.CANCELLED]
