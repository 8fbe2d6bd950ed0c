"""Turn recorded events into statements, each citing the event it came from: the one statement model.

Only what was recorded is said: the role outputs and their traces (model leg, prompt version, tool
calls and results, the precedent shown) and the human decision events. Nothing is inferred. Every
event type says something — those without a function of their own are told from their fields — so
an event an added role emits is never left out.

    from aisoc.memory.statements import statements
    for s in statements(bus.audit.for_case("wazuh:1714")):
        print(s.render())          # or style s.actor, s.brief, s.detail, s.facts for a medium
"""

from __future__ import annotations

from collections.abc import Iterable

from aisoc.events import Event
from aisoc.memory.statements import actions as _actions
from aisoc.memory.statements import cases as _cases
from aisoc.memory.statements.generic import say_event
from aisoc.memory.statements.model import (
    SAYINGS,
    Approver,
    Fact,
    Reading,
    Said,
    Saying,
    Statement,
    clip,
    says,
)
from aisoc.memory.statements.trace import TRACE_KINDS

_ = (_actions, _cases)  # imported for their registrations

WITH_REASON = frozenset({"verdict", "review", "decision", "escalation", "closure", "event"})
"""Kinds whose ``detail`` (the reason) belongs beside their brief on a one-line path; a plan's
summary or a proposal's rationale would repeat what its steps say."""


def say(event: Event, reading: Reading | None = None) -> list[Statement]:
    """The statements of one event: its lead first, then what supports it."""
    said = Said(event, reading or Reading())
    SAYINGS.get(event.type, say_event)(event, said)
    return said.out


def statements(events: Iterable[Event], *, approver: Approver | None = None) -> list[Statement]:
    """The statements of a case's events, in log order.

    Args:
        events: the events (one case's, in log order: a decision names the action proposed before it).
        approver: who was asked to decide each proposal (the in-process gate knows), or None.
    """
    reading = Reading(approver=approver)
    out: list[Statement] = []
    for e in events:
        out += say(e, reading)
    return out


def leads(said: Iterable[Statement]) -> list[Statement]:
    """Each event's main statement (a one-line-per-event path)."""
    return [s for s in said if s.lead]


__all__ = [
    "SAYINGS",
    "TRACE_KINDS",
    "WITH_REASON",
    "Approver",
    "Fact",
    "Reading",
    "Said",
    "Saying",
    "Statement",
    "clip",
    "leads",
    "say",
    "says",
    "statements",
]
