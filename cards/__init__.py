"""Adaptive Card builders: pure functions from an event (plus explicit context) to a Webex card.

    from cards import CardContext, Approver, render
    card = render(event, CardContext(alert=alert, approvers={Role.IR_LEAD: Approver(Role.IR_LEAD, "Dana Ruiz",
                  "dana@example.com")}, gate_links={"act-1": signed_url}))
    webex.messages.create(roomId=room, **card.message())

Every card is Adaptive Cards 1.3 (what Webex renders), carries at most 5 actions, fits Webex's size
limits (cutting lists harder and saying so when it must), redacts secrets in everything it shows and
never lets event text become a link, a mention or an action.
"""

from __future__ import annotations

from aisoc.redact import redact
from cards.cases import closed_card, review_card, tier2_card, triage_card
from cards.intel import attribution_card, campaign_card, hunt_card
from cards.model import (
    CARD_SCHEMA,
    CARD_VERSION,
    CONTENT_TYPE,
    MAX_ACTIONS,
    MAX_CARD_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_TEXT_BYTES,
    Approver,
    Card,
    CardContext,
    CardError,
)
from cards.plan import decided_card, executed_card, plan_card, proposed_card
from cards.render import render, supported_types
from cards.reports import DIGEST_KIND, digest_card, shift_card, tuning_card

__all__ = [
    "CARD_SCHEMA",
    "CARD_VERSION",
    "CONTENT_TYPE",
    "DIGEST_KIND",
    "MAX_ACTIONS",
    "MAX_CARD_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_TEXT_BYTES",
    "Approver",
    "Card",
    "CardContext",
    "CardError",
    "attribution_card",
    "campaign_card",
    "closed_card",
    "decided_card",
    "digest_card",
    "executed_card",
    "hunt_card",
    "plan_card",
    "proposed_card",
    "redact",
    "render",
    "review_card",
    "shift_card",
    "supported_types",
    "tier2_card",
    "triage_card",
    "tuning_card",
]
