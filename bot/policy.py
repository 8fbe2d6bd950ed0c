"""The noise policy: whether an event gets its own card, a thread reply, a line in the digest, or nothing."""

from __future__ import annotations

from typing import Literal

from aisoc.events import ActionDecided, CaseClosed, Event, ReviewRequested, Tier2Decided, TriageVerdict
from bot.settings import NoiseSettings

Level = Literal["card", "reply", "digest", "off"]
"""``card``: its own card (opening the case thread); ``reply``: only into an existing case thread;
``digest``: rolled into the periodic digest; ``off``: not posted."""

REPORT_TYPES = frozenset({"shift.summary", "detection.tuning", "hunt.proposal", "campaign.detected"})
"""Reports go to the SOC space, never into a case thread."""


def variant(event: Event) -> str | None:
    """The part of an event a selector may name after the colon (``tier2.decision:close``)."""
    if isinstance(event, TriageVerdict):
        return event.routed_to
    if isinstance(event, Tier2Decided):
        return event.decision.value
    if isinstance(event, CaseClosed):
        return str(event.closed_by.role)
    if isinstance(event, ActionDecided):
        return event.decision.value
    if isinstance(event, ReviewRequested):
        return str(event.role)
    return None


def classify(event: Event, noise: NoiseSettings) -> Level:
    """Return how ``event`` is posted under ``noise`` (the most specific selector wins)."""
    v = variant(event)
    selectors = ([f"{event.type}:{v}"] if v else []) + [event.type]
    for selector in selectors:
        if selector in noise.card:
            return "card"
        if selector in noise.digest:
            return "digest"
        if selector in noise.reply:
            return "reply"
    return "off"
