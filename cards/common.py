"""Pieces every builder shares: fitting a card into Webex's limits, the alert's facts, the case link."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from aisoc.events import Alert, Event
from cards.draft import Draft
from cards.model import (
    LADDER,
    MAX_CARD_BYTES,
    MAX_TEXT_BYTES,
    Budget,
    Card,
    CardContext,
    CardError,
    card_size,
    text_size,
)
from cards.text import Markup, clean, link_text, utf8_clip, when

Compose = Callable[[Budget], Draft]
"""A builder's body: given a budget, draw the card."""


def fit(compose: Compose, *, max_bytes: int = MAX_CARD_BYTES, max_text_bytes: int = MAX_TEXT_BYTES) -> Card:
    """Draw the card with ever tighter budgets until it and its fallback text fit Webex's limits.

    The last resort keeps only the header, the banners (who must act) and the buttons, and says the
    card was trimmed; the fallback text is then cut on a character boundary if it must be.

    Raises:
        CardError: not even the essentials fit ``max_bytes``.
    """
    for budget in LADDER:
        card = compose(budget).finish()
        if card_size(card.content) <= max_bytes and text_size(card.fallback_text) <= max_text_bytes:
            return card
    card = compose(LADDER[-1]).finish(essentials_only=True)
    if card_size(card.content) > max_bytes:
        raise CardError(
            f"{card.kind}: even the essentials take {card_size(card.content)} > {max_bytes} bytes"
        )
    return replace(card, fallback_text=utf8_clip(card.fallback_text, max_text_bytes))


def case_alert(event: Event, ctx: CardContext) -> Alert | None:
    """The context's alert, after checking it belongs to the event's case.

    Raises:
        CardError: the alert is of another case (a card must never show another case's hosts).
    """
    alert = ctx.alert
    if alert is not None and event.case_id is not None and alert.case_id != event.case_id:
        raise CardError(f"context alert is for case {alert.case_id!r}, the event for {event.case_id!r}")
    return alert


def case_title(event: Event, ctx: CardContext) -> str:
    """What a case card is titled: the alert's title, else the case id."""
    alert = case_alert(event, ctx)
    if alert is not None and alert.title:
        return alert.title
    return event.case_id or event.type


def case_link(d: Draft, event: Event, ctx: CardContext) -> Markup | str | None:
    """The case id, as a markdown link when the context has the case's URL."""
    if not event.case_id:
        return None
    case_id = clean(event.case_id, d.budget.short, oneline=True)
    if ctx.case_url:
        return Markup(f"[{link_text(case_id)}]({ctx.case_url})")
    return case_id


def alert_facts(d: Draft, alert: Alert | None, ctx: CardContext) -> list[tuple[str, object]]:
    """Facts about the alert a person needs first: severity, hosts, users, rule, source, time, ATT&CK."""
    if alert is None:
        return []
    severity = alert.severity_name + (f" ({alert.severity_original})" if alert.severity_original else "")
    source = alert.source + (f" · tenant {alert.tenant}" if alert.tenant else "")
    return [
        ("Alert severity", severity),
        ("Hosts", d.values(alert.hosts)),
        ("Users", d.values(alert.users)),
        ("Rule", alert.rule),
        ("Source", source),
        ("Alert time", when(alert.created_at, ctx.tz)),
        ("ATT&CK", d.values(alert.techniques)),
    ]


def open_case(d: Draft, ctx: CardContext) -> None:
    """The "Open case" button, when there is a case URL and room for it."""
    if ctx.case_url and d.room:
        d.open_url("Open case", ctx.case_url)
