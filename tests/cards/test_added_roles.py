"""Cards for a role a SOC added in one file: its reviews and closures, and its own event types."""

from __future__ import annotations

import pytest

from aisoc.events import ControlResumed, Event, Trace
from cards import CardError, render
from tests.cards.checks import all_actions, all_text, schema_errors
from tests.cards.factories import SHELLSHOCK, alert, at, by, closed, context, review


class LureReport(Event):
    """An event type an added role defines (the cards package knows nothing of it)."""

    TYPE = "test.lure_report"
    STREAM = "cases"

    verdict: str
    score: float
    lures: list[str] = []
    summary: str = ""
    trace: Trace | None = None


def test_a_review_raised_by_an_added_role_names_it() -> None:
    """Given a review from the role `second_opinion`, when drawn, then it says that role could not decide."""
    a = alert(SHELLSHOCK)
    card = render(review(a, role="second_opinion", produced_by=by("second_opinion")), context(a))
    text = all_text(card.content)
    assert schema_errors(card.content) == []
    assert "Second Opinion could not decide" in text and "Raised by" in text


def test_a_case_closed_by_an_added_role_names_it() -> None:
    """Given a closure by `second_opinion` for a person, when drawn, then both are named."""
    a = alert(SHELLSHOCK)
    event = closed(
        a, closed_by={"role": "second_opinion", "person": "dana"}, produced_by=by("second_opinion")
    )
    card = render(event, context(a))
    assert schema_errors(card.content) == [] and "dana (Second Opinion)" in all_text(card.content)


def test_an_added_roles_own_event_gets_the_generic_card() -> None:
    """Given an event type outside the catalogue, when drawn, then a valid card shows the role, the
    type, its fields and summary, cleaned like any card, with the Explain button."""
    a = alert(SHELLSHOCK)
    event = LureReport(
        verdict="phish",
        score=0.91,
        lures=["invoice", "http://evil.example/x"],
        summary="Spoofed CFO <@all> asks for a wire",
        case_id=a.case_id,
        occurred_at=at(3),
        produced_by=by("lure_desk"),
        trace=Trace(role="lure_desk", prompt_version="lure_desk/1"),
    )
    card = render(event, context(a))
    text = all_text(card.content)
    assert schema_errors(card.content) == []
    assert "LURE DESK · TEST.LURE_REPORT" in text and "Spoofed CFO" in text and "0.91" in text
    assert "http://evil.example" not in text and "<@all>" not in text
    assert [x["data"]["cmd"] for x in all_actions(card.content) if x["type"] == "Action.Submit"] == [
        "explain"
    ]
    assert card.kind == "test.lure_report" and card.fallback_text.startswith("**")


def test_catalogue_events_without_a_card_stay_a_clear_error() -> None:
    """Given the kill switch's event (no card on purpose), when drawn, then CardError says so."""
    with pytest.raises(CardError, match="control.resumed.*outside the catalogue"):
        render(ControlResumed(scope="all", by="alice", produced_by={"role": "human"}))
