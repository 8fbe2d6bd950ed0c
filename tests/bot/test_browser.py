"""The local preview in a real browser: Playwright drives Debian's Chromium over the demo's own servers.

Run with ``make test-browser`` (or ``pytest -m browser``); ``make screenshots`` copies the pictures this
writes to build/screenshots/ into docs/images/. Playwright never downloads a browser here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aisoc.bus import Bus
from aisoc.cli._team import build_team
from aisoc.resolve import resolve
from aisoc.settings import KernelSettings
from aisoc.sources import ingest
from bot.demo import DemoServer
from tests.support.browser import SHOTS

pytestmark = pytest.mark.browser


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    """What `aisoc demo --serve` runs: the real demo alerts through the team, gate and bot on free ports."""
    settings = KernelSettings()
    bus = Bus()
    server = DemoServer(bus, port=0, gate_port=0)
    team = build_team(settings, bus, config=None, dry_run=True)
    team.on_action_proposed(gate=server.gate)
    ingest(resolve(settings.demo_source)(), bus, limit=6)
    team.subscribe()
    bus.drain()
    server.start_bot()
    yield server
    server.stop()
    bus.close()


def test_cards_render_and_a_card_action_reaches_the_bot(browser: Any, demo: DemoServer) -> None:
    """Given the demo's cards, when Explain is clicked and a command typed, then both are answered."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(demo.preview_url)
    cards = page.locator("article.msg[data-author=bot] .ac-adaptiveCard")
    cards.first.wait_for(timeout=20_000)
    page.wait_for_function("() => document.querySelectorAll('.ac-adaptiveCard').length >= 4", timeout=20_000)
    assert "TIER 2" in cards.first.inner_text()
    page.screenshot(path=str(SHOTS / "bot-preview.png"), full_page=False)

    root = page.locator("#feed > article.msg").first
    root.locator(".ac-adaptiveCard button", has_text="Explain").first.click()
    answer = root.locator(".replies article.msg", has_text="for the full record")
    answer.first.wait_for(timeout=20_000)
    text = answer.first.inner_text()
    assert "Tier 2: escalate" in text and "Sentinel" in text and "aisoc explain" not in text
    answer.first.screenshot(path=str(SHOTS / "bot-explain.png"))

    root.locator(".reply-link").first.click()
    page.fill("#say", "why did it contain that host?")
    page.click("#send")
    asked = root.locator(".replies article.msg", has_text="for the full record")
    # Wait for the second answer itself: the thread already holds the plan and intel cards and the
    # first answer, so a count of replies was reached before the question was answered.
    asked.nth(1).wait_for(timeout=20_000)
    assert asked.count() >= 2 and "Which case" not in asked.last.inner_text()

    page.fill("#say", "oncall")
    page.click("#send")
    page.locator("#feed > article.msg", has_text="On call now").first.wait_for(timeout=20_000)
    assert errors == []
    page.close()


def test_the_approve_button_opens_the_gates_step_one_page(browser: Any, demo: DemoServer) -> None:
    """Given a SEV plan card, when Approve is clicked, then the gate's page opens; nothing is decided."""
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.goto(demo.preview_url)
    plan = page.locator(".replies > article.msg", has_text="IR PLAN").first
    plan.wait_for(timeout=20_000)
    page.locator("#composer").evaluate(
        "e => { e.style.display = 'none'; }"
    )  # fixed bar: keep it off the shot
    plan.locator(".ac-adaptiveCard").first.screenshot(path=str(SHOTS / "bot-plan.png"))
    page.locator("#composer").evaluate("e => { e.style.display = ''; }")
    with page.expect_popup() as popup:
        plan.locator(".ac-adaptiveCard button", has_text="Approve").first.click()
    gate_page = popup.value
    gate_page.wait_for_load_state()
    assert gate_page.url.startswith(f"{demo.gate_url}/")
    assert "action.decided" not in [e.type for e in demo.bus.audit]
    page.close()


def test_acknowledge_edits_the_review_card_and_an_approval_hands_over_in_the_thread(
    browser: Any, demo: DemoServer
) -> None:
    """Given a review card and a pending approval, when Acknowledge is clicked and the on-call IR Lead
    approves in the gate, then the card says who acknowledged it and a handoff names who carries it out."""
    from aisoc.events import ActionProposed, ProducedBy, ReviewRequested, Role

    case_id = next(e.case_id for e in demo.bus.audit if e.case_id)
    demo.bus.publish(
        ReviewRequested(
            case_id=case_id,
            produced_by=ProducedBy(role="tier2"),
            role=Role.TIER2,
            reason="Signals conflict: signed binary, unusual parent.",
            duty=Role.TIER2,
        )
    )
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.goto(demo.preview_url)
    page.locator("#composer").evaluate("e => { e.style.display = 'none'; }")
    review = page.locator("article.msg", has_text="REVIEW NEEDED").last
    review.wait_for(timeout=20_000)
    review.locator(".ac-adaptiveCard button", has_text="Acknowledge").first.click()
    acked = page.locator("article.msg", has_text="Acknowledged by").last
    acked.wait_for(timeout=20_000)
    assert acked.locator(".ac-adaptiveCard button", has_text="Acknowledge").count() == 0
    acked.locator(".ac-adaptiveCard").first.screenshot(path=str(SHOTS / "bot-acknowledged.png"))

    proposal = next(e for e in demo.bus.audit if isinstance(e, ActionProposed))
    held = demo.gate.roster.on_call(proposal.approver_role)
    assert held is not None
    demo.gate.decide(
        proposal.event_id,
        person_id=held.person.id,
        decision="approved",
        reason="contain it",
        identity_source="demo",
    )
    handoff = page.locator(".replies article.msg", has_text="Approved")
    page.locator(".replies article.msg", has_text="done").last.wait_for(timeout=20_000)
    handoff.last.screenshot(path=str(SHOTS / "bot-handoff.png"))
    page.close()
