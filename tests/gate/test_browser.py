"""End to end as deployed: Debian's Chromium, over real TLS, through a TLS-terminating SSO proxy, to the
gate's pages under the documented gunicorn command — approving, rejecting and recording "done".

Run with ``make test-browser`` (or ``pytest -m browser``); ``make screenshots`` copies the pictures this
writes to build/screenshots/ into docs/images/. Playwright never downloads a browser here. The proxy's
certificate comes from a throw-away CA made in the test; Chromium accepts exactly that certificate
(its public-key pin), nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aisoc.bus import Bus
from aisoc.events import ActionDecided, ActionExecuted, Decision, utcnow
from gate import Gate, State, load_gate_settings
from gate.links import approval_url, request_url
from tests.gate.factory import Case, gate_events, publish_case
from tests.gate.production import GateProcess, SsoProxy, write_config
from tests.support.browser import ARGS, CHROMIUM, SHOTS
from tests.support.redis_server import free_port

pytestmark = pytest.mark.browser


@dataclass
class Deployed:
    """The deployed gate: its bus, the case with two pending requests, and the proxy in front."""

    bus: Bus
    gate: Gate
    case: Case
    proxy: SsoProxy
    base: str

    def link(self, i: int) -> str:
        """The signed link on the card of proposal ``i`` (made as the bot makes it: link keys only)."""
        return approval_url(self.gate.settings, self.gate.get(self.case.proposals[i].event_id))

    def state(self, i: int) -> str:
        return request_url(self.gate.settings, self.case.proposals[i].event_id)


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[Deployed]:
    """gunicorn (documented command) behind the TLS SSO proxy, over a SQLite bus both processes share."""
    port = free_port()
    config = write_config(tmp_path, bus=f"sqlite:///{tmp_path}/soc.db", base_url=f"https://127.0.0.1:{port}")
    settings = load_gate_settings(config)  # what the bot reads: link keys, never the session keys
    assert settings.session_keys == [] and settings.link_keys
    bus = Bus(settings.bus)
    gate = Gate(bus, settings)
    case = publish_case(bus, at=utcnow(), expires_in=timedelta(hours=2), steps=2)
    for proposal in case.proposals:
        gate.submit(proposal)
    server = GateProcess(config).start()
    proxy = SsoProxy(server.port, port).start()
    yield Deployed(bus, gate, case, proxy, proxy.url)
    proxy.stop()
    server.stop()
    gate.close()


@pytest.fixture
def chromium(browser: Any, deployed: Deployed) -> Iterator[Any]:
    """Debian's Chromium that accepts the proxy's throw-away certificate (by its key pin) and no other,
    launched by the session's Playwright (one Playwright per process)."""
    pin = f"--ignore-certificate-errors-spki-list={deployed.proxy.spki()}"
    pinned = browser.browser_type.launch(executable_path=CHROMIUM, args=[*ARGS, pin], headless=True)
    yield pinned
    pinned.close()


def signed_in(chromium: Any, deployed: Deployed, email: str) -> Any:
    """A page whose browser logged in to the SSO proxy as ``email``."""
    page = chromium.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.goto(f"{deployed.base}/_sso/login?as={email}&rd=/healthz")
    assert page.url.startswith("https://") and "ok" in page.content()
    return page


def test_approve_reject_and_record_done_over_https(chromium: Any, deployed: Deployed) -> None:
    """Given two pending requests behind the TLS SSO proxy, when Alice approves one and rejects the other
    in Chromium and Bob (an executor) records the first done, then the bus has each decision once, made
    over HTTPS with the gate's own Origin and a same-origin Referer."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    alice = signed_in(chromium, deployed, "alice@example.com")
    alice.goto(deployed.link(0))
    assert alice.locator("#target").inner_text() == "WS-042"
    assert "Alice Ng" in alice.locator("#deciders").inner_text()
    cookies = {c["name"]: c for c in alice.context.cookies()}
    assert cookies["__Host-aisoc_gate"]["secure"] and cookies["__Host-aisoc_gate"]["httpOnly"]
    alice.screenshot(path=str(SHOTS / "gate-step-one.png"), full_page=True)
    assert gate_events(deployed.bus, deployed.case.case_id, ActionDecided) == []  # reading changed nothing

    alice.fill("#typed-target", "WS-042")
    alice.fill("#reason", "Credential theft confirmed by Falcon; contain before lateral movement.")
    alice.locator("#confirm").screenshot(path=str(SHOTS / "gate-step-two.png"))
    alice.click("#approve")
    alice.wait_for_url(deployed.state(0))
    assert alice.locator("#state").inner_text() == "approved"
    alice.screenshot(path=str(SHOTS / "gate-decided.png"), full_page=True)

    alice.goto(deployed.link(1))
    alice.fill("#reason", "Second isolation not needed: the host is the same and already contained.")
    alice.click("#reject")
    alice.wait_for_url(deployed.state(1))
    assert alice.locator("#state").inner_text() == "rejected"
    alice.screenshot(path=str(SHOTS / "gate-rejected.png"), full_page=True)

    mallory = signed_in(chromium, deployed, "mallory@example.com")
    mallory.goto(deployed.state(0))
    assert "may not record this as done" in mallory.locator("#done-who").inner_text()
    assert mallory.locator("#record-done").count() == 0

    bob = signed_in(chromium, deployed, "bob@example.com")
    bob.goto(deployed.state(0))
    bob.fill("#note", "Isolated in Falcon console, INC-4711")
    bob.click("#record-done")
    assert "Carried out by Bob Ray" in bob.locator("#executed").inner_text()
    bob.screenshot(path=str(SHOTS / "gate-done.png"), full_page=True)

    decided = gate_events(deployed.bus, deployed.case.case_id, ActionDecided)
    assert [(d.action_id, d.decision, d.decided_by, d.identity_source) for d in decided] == [
        (deployed.case.proposals[0].action_id, Decision.APPROVED, "alice@example.com", "sso-proxy"),
        (deployed.case.proposals[1].action_id, Decision.REJECTED, "alice@example.com", "sso-proxy"),
    ]
    (executed,) = gate_events(deployed.bus, deployed.case.case_id, ActionExecuted)
    assert executed.executed_by == "bob@example.com"
    assert deployed.gate.get(deployed.case.proposals[0].event_id).state == State.APPROVED
    posts = [r for r in deployed.proxy.seen if r["method"] == "POST"]
    assert len(posts) == 3
    for post in posts:  # what made CSRF pass: the gate's origin, and a Referer that never left it
        assert post["Origin"] == deployed.base and (post["Referer"] or "").startswith(f"{deployed.base}/")
    for page in (alice, mallory, bob):
        page.context.close()


def test_refusals_are_clear_pages_over_https(chromium: Any, deployed: Deployed) -> None:
    """Given a stranger to the roster and a tampered link, when opened over HTTPS, then each sees why and
    nothing is decided."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    zed = signed_in(chromium, deployed, "zed@elsewhere.example")
    zed.goto(deployed.link(0))
    assert "not in the on-call roster" in zed.locator("main").inner_text()
    mallory = signed_in(chromium, deployed, "mallory@example.com")
    mallory.goto(deployed.link(0))
    assert "You cannot decide this request" in mallory.locator("#why-not").inner_text()
    assert mallory.locator("#approve").count() == 0
    link = deployed.link(0)
    tampered = mallory.goto(link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB"))
    assert tampered is not None and tampered.status == 400
    assert "This link is not valid" in mallory.locator("#refused").inner_text()
    mallory.screenshot(path=str(SHOTS / "gate-refused.png"), full_page=True)
    assert gate_events(deployed.bus, deployed.case.case_id, ActionDecided) == []
    zed.context.close()
    mallory.context.close()
