"""What any other event says: an event type with no statements of its own (one an added role defines,
a report) is told from its fields, so nothing a role records goes unmentioned."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from aisoc.events import Event, Trace
from aisoc.memory.statements.model import Fact, Said, clip
from aisoc.memory.statements.trace import say_trace

ENVELOPE = frozenset(
    {"event_id", "type", "schema_version", "occurred_at", "case_id", "causation_id", "produced_by", "trace"}
)
"""Fields every event has: told by the statement itself, not as facts."""
DETAIL_FIELDS = ("summary", "reason", "rationale", "note", "description", "details")
"""Free-text fields, the first one present being the statement's ``detail``."""
FACTS_NAMED = 4
"""Facts named in the sentence (the statement's ``facts`` keep every simple field)."""
LIST_ITEMS = 20
"""Items of a list field kept as a fact."""


def _scalar(value: Any) -> str | int | float | bool | None:
    """A simple value as a fact; raises TypeError for anything else (models, mappings)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def facts_of(event: Event) -> dict[str, Fact]:
    """The simple fields of an event (scalars, enums, times, lists of those), by name."""
    out: dict[str, Fact] = {}
    for name in type(event).model_fields:
        if name in ENVELOPE:
            continue
        value = getattr(event, name)
        try:
            if isinstance(value, list | tuple):
                out[name] = tuple(str(_scalar(v)) for v in value[:LIST_ITEMS])
            else:
                out[name] = _scalar(value)
        except TypeError:
            continue  # nested models and mappings are the event's, not a fact's
    return out


def say_event(e: Event, said: Said) -> None:
    """The statements of an event type nobody registered: its fields, its free text, its trace."""
    facts = facts_of(e)
    detail = next((v for k in DETAIL_FIELDS if isinstance(v := facts.get(k), str) and v), None)
    named = [
        f"{k} {', '.join(v) if isinstance(v, tuple) else v}"
        for k, v in facts.items()
        if k not in DETAIL_FIELDS and v not in (None, "", ())
    ][:FACTS_NAMED]
    listed = f" ({clip('; '.join(named), 200)})" if named else ""
    action = facts.get("action_id")
    said.say(
        "event",
        "recorded",
        f"recorded {e.type}{listed}" + (f": {clip(detail, 300)}" if detail else ""),
        brief=f"{e.type}{listed}",
        detail=detail,
        facts=facts,
        action_id=action if isinstance(action, str) else None,
    )
    trace = getattr(e, "trace", None)
    if isinstance(trace, Trace):
        say_trace(said, trace)
