"""The statement: one recorded fact, neutral of any medium, and the registry of event -> statements.

A statement says who did what, when, with the facts as structured fields and two plain renderings
(a full sentence for the record, a brief one for a one-line path), and cites the event it comes
from. Media only style statements: ``Statement.render`` (plain text), the CLI (rich), the bot
(Webex markdown) and the gate (HTML) never look inside the events again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from aisoc.events import ROLE_TITLES, ActionProposed, Event, Role, role_title

Fact = str | int | float | bool | None | tuple[str, ...]
"""A structured value a statement carries (JSON-compatible; times as ISO-8601 text)."""

Approver = Callable[[ActionProposed], "str | None"]
"""Who was asked to decide a proposal (the in-process gate knows), or None."""

_NO_FACTS: Mapping[str, Fact] = MappingProxyType({})
_TITLES: dict[str, str] = {r.value: t for r, t in ROLE_TITLES.items()}
"""Display names by slug, the standard roles' first; others are added as they are met."""


class Statement(NamedTuple):
    """One recorded fact: who (``actor``) did what (``verb``), when, citing the event it comes from.

    Immutable (a named tuple: explain builds thousands, and a frozen dataclass costs twice as much).

    Attributes:
        event_id: the event the statement comes from (its citation).
        at: when the event occurred.
        case_id: the event's case.
        actor: who acted, as people read it ("Sentinel", "Human alice@example.com").
        kind: what sort of fact: ``alert``, ``verdict``, ``finding``, ``evidence``, ``plan``, ``step``,
            ``notification``, ``intel``, ``rating``, ``review``, ``details``, ``proposal``, ``reminder``,
            ``escalation``, ``decision``, ``execution``, ``closure``, ``label``, the trace's
            ``model``, ``tool`` and ``precedent``, and ``event`` for any event type without statements
            of its own.
        text: the full sentence, plain text (untrusted parts included: style it safely).
        action_id: the action it is about, if any.
        type: the event's type.
        role: who acted, as a slug: a role (``sentinel``, an added role's own), a component
            (``gate``), or ``human`` for a person.
        person: the person who acted (or was asked), when one is named.
        verb: what was done, one word or two ("judged", "proposed", "approved", "called").
        facts: the statement's content as structured fields (see each kind's registry function).
        brief: the short form for a one-line path (the sentence without its reasons).
        detail: the free text behind it, whole (a summary, reason, rationale or note), or None.
        lead: whether this is its event's main statement (one per event; the rest support it).
        cites: other events the statement refers to (a proposal's plan, a decision's proposal).
    """

    event_id: str
    at: datetime
    case_id: str | None
    actor: str
    kind: str
    text: str
    action_id: str | None = None
    type: str = ""
    role: str = ""
    person: str | None = None
    verb: str = ""
    facts: Mapping[str, Fact] = _NO_FACTS
    brief: str = ""
    detail: str | None = None
    lead: bool = False
    cites: tuple[str, ...] = ()

    def render(self) -> str:
        """``2024-06-04 22:56:27Z IR Lead: ... [ev:ID]``."""
        return f"{self.at:%Y-%m-%d %H:%M:%S}Z {self.actor}: {self.text} [ev:{self.event_id}]"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible form (``aisoc explain --json``)."""
        return {
            "event_id": self.event_id,
            "at": self.at.isoformat(),
            "case_id": self.case_id,
            "actor": self.actor,
            "kind": self.kind,
            "text": self.text,
            "action_id": self.action_id,
            "type": self.type,
            "role": self.role,
            "person": self.person,
            "verb": self.verb,
            "facts": {k: list(v) if isinstance(v, tuple) else v for k, v in self.facts.items()},
            "brief": self.brief,
            "detail": self.detail,
            "lead": self.lead,
            "cites": list(self.cites),
        }


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def title(role: Role | str) -> str:
    """A role's display name ("IR Lead"; an added role's slug title-cased), without an enum lookup."""
    slug = str(role)
    found = _TITLES.get(slug)
    if found is None:
        found = _TITLES[slug] = role_title(slug)
    return found


def producer(event: Event) -> str:
    """The display name of the role or component that produced ``event``."""
    return title(event.produced_by.role)


def person_actor(name: str | None, fallback: str = "someone") -> str:
    """How a person is named as an actor: ``Human alice`` (``Human (channel)`` when unnamed)."""
    return f"Human {name}" if name else f"Human ({fallback})"


@dataclass
class Reading:
    """What statements of one case share while its events are read in order."""

    approver: Approver | None = None
    actions: dict[str, str] = field(default_factory=dict)
    """``action_id`` -> "kind on target", filled by proposals, used by later decisions."""


class Said:
    """Collects one event's statements: the lead first, then what supports it."""

    def __init__(self, event: Event, reading: Reading) -> None:
        self.event = event
        self.reading = reading
        self.actor = producer(event)
        self.role = str(event.produced_by.role)
        self.person: str | None = None
        self.out: list[Statement] = []

    def by_person(self, name: str | None, fallback: str = "someone") -> None:
        """The statements that follow are a person's (``role`` ``human``)."""
        self.actor, self.role, self.person = person_actor(name, fallback), Role.HUMAN.value, name

    def by_role(self, role: Role | str) -> None:
        """The statements that follow are ``role``'s (a role raising a review, closing a case)."""
        self.actor, self.role = title(role), str(role)

    def say(
        self,
        kind: str,
        verb: str,
        text: str,
        *,
        brief: str | None = None,
        detail: str | None = None,
        facts: Mapping[str, Fact] | None = None,
        action_id: str | None = None,
        cites: Iterable[str | None] = (),
        lead: bool | None = None,
    ) -> None:
        """Add one statement (the event's first is its lead unless ``lead`` says otherwise).

        ``facts`` is kept as given (not copied): pass a mapping of the statement's own.
        """
        e = self.event
        self.out.append(
            Statement(
                e.event_id,
                e.occurred_at,
                e.case_id,
                self.actor,
                kind,
                text,
                action_id,
                e.type,
                self.role,
                self.person,
                verb,
                facts or _NO_FACTS,
                text if brief is None else brief,
                detail or None,
                not self.out if lead is None else lead,
                tuple(c for c in cites if c) if cites else (),
            )
        )


Saying = Callable[[Any, Said], None]
"""``saying(event, said)``: adds the statements of one event type."""

SAYINGS: dict[str, Saying] = {}
"""The registry: event type -> the function that says what such an event records."""


def says(*types: type[Event]) -> Callable[[Saying], Saying]:
    """Register the decorated function as what events of ``types`` say (an added role may register
    its own event types the same way)."""

    def register(fn: Saying) -> Saying:
        for cls in types:
            SAYINGS[cls.TYPE] = fn
        return fn

    return register
