"""The card of an event type the cards package does not specialise (one an added role defines).

It styles memory's neutral statements of the event: who recorded what, the simple fields as facts,
the free text, the supporting statements, the trace in one line. Every value is untrusted and
cleaned like any other card's.
"""

from __future__ import annotations

from aisoc.events import Event
from aisoc.memory.statements import TRACE_KINDS, say
from cards.cases import provenance
from cards.common import alert_facts, case_alert, case_link, case_title, fit, open_case
from cards.draft import Draft
from cards.model import MAX_CARD_BYTES, Budget, Card, CardContext
from cards.text import label

FACTS_SHOWN = 12
"""Simple fields of the event shown as facts (the statement keeps every one)."""


def _fact(value: object) -> object:
    return ", ".join(value) if isinstance(value, tuple) else value


def event_card(event: Event, ctx: CardContext | None = None, *, max_bytes: int = MAX_CARD_BYTES) -> Card:
    """Any event: its recording role and type, its simple fields, its free text, what supports it."""
    ctx = ctx or CardContext()
    alert = case_alert(event, ctx)
    lead, *rest = say(event)
    facts = [(label(k), _fact(v)) for k, v in lead.facts.items() if v != lead.detail][:FACTS_SHOWN]
    supporting = [s.text for s in rest if s.kind not in TRACE_KINDS]
    model = next((s for s in rest if s.kind == "model"), None)

    def compose(b: Budget) -> Draft:
        d = Draft(event.type, b, event.case_id)
        d.header(
            case_title(event, ctx), tag=f"{d.short(lead.actor)} · {d.short(event.type)}", subtitle=lead.brief
        )
        d.facts([*facts, ("Case", case_link(d, event, ctx)), *alert_facts(d, alert, ctx)])
        d.paragraph(lead.detail, heading="Summary")
        d.bullets(supporting, heading="Details")
        d.paragraph(model.text if model else None, subtle=True)
        d.note(provenance(event, ctx))
        d.explain()
        open_case(d, ctx)
        return d

    return fit(compose, max_bytes=max_bytes)
