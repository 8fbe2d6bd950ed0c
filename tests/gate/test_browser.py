"""End to end in a real browser: Playwright drives Debian's Chromium through the two-step pages.

Run with ``make test-browser`` (or ``pytest -m browser``); ``make screenshots`` copies the pictures
this writes to build/screenshots/ into docs/images/. Playwright never downloads a browser here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aisoc.bus import Bus
from aisoc.events import ActionDecided, ActionExecuted, Decision
from gate import Gate, State
from gate.app import create_app
from gate.links import approval_url
from gate.server import ServerThread
from tests.gate.factory import Case, Clock, gate_events, gate_settings, publish_case
from tests.support.browser import SHOTS
from tests.support.redis_server import free_port

pytestmark = pytest.mark.browser


@pytest.fixture
def served() -> Iterator[tuple[Gate, Case, str, Bus]]:
    """The gate with production settings served on a free port; one pending request; its card link."""
    port = free_port()
    settings = gate_settings(base_url=f"http://127.0.0.1:{port}")
    bus = Bus()
    gate = Gate(bus, settings, clock=Clock())
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    server = ServerThread(create_app(settings, gate=gate), "127.0.0.1", port).start()
    yield gate, case, approval_url(settings, req), bus
    server.stop()


def as_person(browser: Any, email: str) -> Any:
    """A browser context behind the 'SSO proxy': every request carries the identity header."""
    return browser.new_context(
        extra_http_headers={"X-Forwarded-Email": email}, viewport={"width": 1100, "height": 900}
    )


def test_open_review_confirm_and_record_done_in_chromium(
    browser: Any, served: tuple[Gate, Case, str, Bus]
) -> None:
    """Given the card link, when Alice confirms and Bob records it done, then both are on the bus."""
    gate, case, link, bus = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = as_person(browser, "alice@example.com")
    page = context.new_page()
    page.goto(link)
    assert page.locator("#target").inner_text() == "WS-042"
    assert page.locator("#risk").inner_text() == "high"
    assert "Approving executes nothing" in page.locator("#action").inner_text()
    assert "Mimikatz credential dumping on WS-042" in page.locator("#alert-title").inner_text()
    assert "Alice Ng" in page.locator("#deciders").inner_text()
    page.screenshot(path=str(SHOTS / "gate-step-one.png"), full_page=True)
    assert gate_events(bus, case.case_id, ActionDecided) == []  # reading step one changed nothing

    page.fill("#typed-target", "WS-042")
    page.fill("#reason", "Credential theft confirmed by Falcon; contain before lateral movement.")
    page.locator("#confirm").screenshot(path=str(SHOTS / "gate-step-two.png"))
    page.click("#approve")
    page.wait_for_url(f"**/r/{case.proposal.event_id}")
    assert page.locator("#state").inner_text() == "approved"
    assert "Approved by Alice Ng" in page.locator("#outcome").inner_text()
    page.screenshot(path=str(SHOTS / "gate-decided.png"), full_page=True)
    (decided,) = gate_events(bus, case.case_id, ActionDecided)
    assert (decided.decision, decided.decided_by, decided.identity_source) == (
        Decision.APPROVED,
        "alice@example.com",
        "sso-proxy",
    )

    page.goto(link)  # a later click on the card
    assert "Already decided: approved by Alice Ng" in page.locator("#outcome").inner_text()
    context.close()

    bob = as_person(browser, "bob@example.com").new_page()
    bob.goto(link.split("/a/")[0] + f"/r/{case.proposal.event_id}")
    bob.fill("#note", "Isolated in Falcon console, INC-4711")
    bob.click("#record-done")
    assert "Carried out by Bob Ray" in bob.locator("#executed").inner_text()
    (executed,) = gate_events(bus, case.case_id, ActionExecuted)
    assert (
        executed.executed_by == "bob@example.com" and gate.get(case.proposal.event_id).state == State.APPROVED
    )
    bob.context.close()


def test_refusals_are_clear_pages_in_chromium(browser: Any, served: tuple[Gate, Case, str, Bus]) -> None:
    """Given a stranger and a tampered link, when opened, then each sees why and nothing is decided."""
    gate, case, link, bus = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    mallory = as_person(browser, "mallory@example.com").new_page()
    mallory.goto(link)
    assert "You cannot decide this request" in mallory.locator("#why-not").inner_text()
    assert mallory.locator("#approve").count() == 0
    tampered = mallory.goto(link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB"))
    assert tampered is not None and tampered.status == 400
    assert "This link is not valid" in mallory.locator("#refused").inner_text()
    mallory.screenshot(path=str(SHOTS / "gate-refused.png"), full_page=True)
    mallory.context.close()
    assert gate_events(bus, case.case_id, ActionDecided) == [] and gate.get(case.proposal.event_id).is_pending
