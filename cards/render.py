"""``render(event, ctx)``: the one entry point the bot calls for a single event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aisoc.events import (
    ActionDecided,
    ActionEscalated,
    ActionExecuted,
    ActionProposed,
    ActionReminded,
    AlertReceived,
    CampaignDetected,
    CaseClosed,
    ControlPaused,
    ControlResumed,
    DetectionTuning,
    Event,
    HuntProposal,
    IntelAttribution,
    IrPlan,
    ReviewRequested,
    ShiftSummary,
    Tier2Decided,
    TriageVerdict,
    TruthLabeled,
)
from cards.cases import closed_card, review_card, tier2_card, triage_card
from cards.generic import event_card
from cards.intel import attribution_card, campaign_card, hunt_card
from cards.model import MAX_CARD_BYTES, Card, CardContext, CardError
from cards.plan import decided_card, executed_card, plan_card, proposed_card
from cards.reports import shift_card, tuning_card

Builder = Callable[..., Card]
"""``builder(event, ctx, *, max_bytes) -> Card``."""

BUILDERS: dict[type[Event], Builder] = {
    TriageVerdict: triage_card,
    Tier2Decided: tier2_card,
    IrPlan: plan_card,
    ActionProposed: proposed_card,
    ActionDecided: decided_card,
    ActionExecuted: executed_card,
    IntelAttribution: attribution_card,
    ReviewRequested: review_card,
    CaseClosed: closed_card,
    ShiftSummary: shift_card,
    DetectionTuning: tuning_card,
    HuntProposal: hunt_card,
    CampaignDetected: campaign_card,
}
"""The builder of each event class that has a card."""
CARDLESS: frozenset[type[Event]] = frozenset(
    {AlertReceived, TruthLabeled, ActionReminded, ActionEscalated, ControlPaused, ControlResumed}
)
"""Catalogue events that have no card on purpose: an alert shows through its verdict, a label and the
kill switch through their answers, a reminder or escalation as a line mentioning the person asked.
Any other event without a builder (an added role's own type) gets the generic :func:`event_card`."""


def supported_types() -> list[str]:
    """The event types ``render`` draws, sorted."""
    return sorted(cls.TYPE for cls in BUILDERS)


def render(event: Event, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES) -> Card:
    """Draw the card of one event.

    Args:
        event: a decoded event (``aisoc.events.from_dict``): a catalogue type with a card, or a type
            an added role defines (drawn by the generic card).
        ctx: what the event does not carry (the case's alert, approvers, gate links, case URL, SLA).
        max_bytes: the card's JSON size budget (lists and text are cut harder until it fits).

    Returns:
        The card: ``content`` (Adaptive Card 1.3, at most 5 actions) and ``fallback_text`` (markdown).

    Raises:
        CardError: the event type has no card on purpose (``CARDLESS``), or the context contradicts
            the event.
    """
    builder: Any = BUILDERS.get(type(event))
    if builder is None and type(event) in CARDLESS:
        raise CardError(
            f"no card for event type {event.type!r}; cards exist for: {', '.join(supported_types())} "
            "and for event types outside the catalogue"
        )
    if builder is None:
        builder = event_card
    card: Card = builder(event, ctx, max_bytes=max_bytes)
    return card
