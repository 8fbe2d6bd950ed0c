"""What a builder takes (``CardContext``) and gives (``Card``), and the limits every card keeps."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aisoc.errors import AisocError
from aisoc.events import ActionProposed, Alert, ContractError, Role, duty_title, from_dict

CARD_VERSION = "1.3"
"""The Adaptive Cards version Webex renders."""
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
"""The ``$schema`` every card names."""
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
"""The ``contentType`` of a card attachment in a Webex message."""
MAX_ACTIONS = 5
"""Webex: "Cards may include up to five buttons (actions)"."""
MAX_TEXT_BYTES = 7439
"""Webex: the maximum message length (``text``/``markdown``) is 7,439 bytes."""
MAX_MESSAGE_BYTES = 28_000
"""The whole message (text + card attachment) stays under ~28 KB, the card payload limit of Microsoft's
bot hosts; Webex documents none for cards, so the stricter known one is kept."""
MAX_CARD_BYTES = 20_000
"""Budget of one card's JSON (``json.dumps`` defaults, ASCII-escaped): with a full 7,439-byte text the
message still fits ``MAX_MESSAGE_BYTES``."""


class CardError(AisocError, ValueError):
    """Raised when no card exists for an event type, the context is malformed, or a card cannot fit."""


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise CardError(f"{what}: {url!r} is not an absolute http(s) URL")
    return url


@dataclass(frozen=True)
class Approver:
    """The person resolved for an on-call duty (from the gate's roster), e.g. IR Lead On-Call: Dana Ruiz."""

    duty: Role
    name: str
    email: str | None = None
    title: str | None = None
    """The duty's display name when the roster has its own (default: ``duty_title(duty)``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "duty", Role(self.duty))

    @property
    def duty_title(self) -> str:
        """``"IR Lead On-Call"``."""
        return self.title or duty_title(self.duty)

    @property
    def label(self) -> str:
        """``"IR Lead On-Call: Dana Ruiz"``."""
        return f"{self.duty_title}: {self.name}"


@dataclass(frozen=True)
class CardContext:
    """Everything a card needs that its event does not carry; plain data, built by the bot.

    Attributes:
        alert: the case's alert (title, hosts, users, severity) for events that lack it.
        approvers: the person resolved per required duty (``Role`` -> ``Approver``).
        gate_links: the gate's signed step-one URL per ``action_id`` (approval buttons open these).
        case_url: a link to the case (its thread or page), shown on every case card.
        review_sla_minutes: how soon a review must be picked up (review cards show the deadline).
        proposals: ``action.proposed`` events by ``action_id``, so decision and execution cards can
            say what the action was, and plan cards who must approve each step.
        timezone: IANA name of the zone times are shown in.
        acknowledged: who acknowledged a review and when (its card then says so and drops the button).
        decided: the decision of each decided action (``action_id`` -> ``approved`` ...): a plan card
            asks for no link of an action already decided.
    """

    alert: Alert | None = None
    approvers: Mapping[Role, Approver] = field(default_factory=dict)
    gate_links: Mapping[str, str] = field(default_factory=dict)
    case_url: str | None = None
    review_sla_minutes: int | None = None
    proposals: Mapping[str, ActionProposed] = field(default_factory=dict)
    timezone: str = "UTC"
    acknowledged: tuple[str, datetime] | None = None
    decided: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        approvers: dict[Role, Approver] = {}
        for duty, who in self.approvers.items():
            approvers[Role(duty)] = who
        for action_id, url in self.gate_links.items():
            _check_url(url, f"gate link of action {action_id!r}")
        if self.case_url is not None:
            _check_url(self.case_url, "case_url")
        if self.review_sla_minutes is not None and self.review_sla_minutes <= 0:
            raise CardError(f"review_sla_minutes must be positive, got {self.review_sla_minutes}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise CardError(f"timezone: unknown zone {self.timezone!r}") from e
        object.__setattr__(self, "approvers", MappingProxyType(approvers))
        object.__setattr__(self, "gate_links", MappingProxyType(dict(self.gate_links)))
        object.__setattr__(self, "proposals", MappingProxyType(dict(self.proposals)))
        object.__setattr__(self, "decided", MappingProxyType(dict(self.decided)))

    @property
    def tz(self) -> ZoneInfo:
        """The display zone."""
        return ZoneInfo(self.timezone)

    def approver(self, duty: Role) -> Approver | None:
        """The person resolved for ``duty``, if the bot found one."""
        return self.approvers.get(duty)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CardContext:
        """Build a context from JSON-style data (what ``aisoc card --context FILE`` reads).

        ``approvers`` maps a duty slug to ``{"name": ..., "email": ..., "title": ...}``; ``proposals`` is
        a list of ``action.proposed`` events; ``alert`` is an ``Alert`` as JSON.

        Raises:
            CardError: an unknown key, duty or zone, a bad URL, or an invalid alert or proposal.
        """
        if not isinstance(data, Mapping):
            raise CardError(f"context must be an object, got {type(data).__name__}")
        known = {
            "alert",
            "approvers",
            "gate_links",
            "case_url",
            "review_sla_minutes",
            "proposals",
            "timezone",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise CardError(f"context: unknown field(s) {unknown}; expected some of {sorted(known)}")
        try:
            alert = Alert.model_validate(data["alert"]) if data.get("alert") is not None else None
            approvers = {
                Role(duty): Approver(Role(duty), str(who["name"]), who.get("email"), who.get("title"))
                for duty, who in (data.get("approvers") or {}).items()
            }
            proposals: dict[str, ActionProposed] = {}
            for item in data.get("proposals") or []:
                event = from_dict(item)
                if not isinstance(event, ActionProposed):
                    raise CardError(f"context field 'proposals': {event.type} is not action.proposed")
                proposals[event.action_id] = event
        except (
            ContractError,
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
        ) as e:  # pydantic's is a ValueError
            if isinstance(e, CardError):
                raise
            raise CardError(f"context: {type(e).__name__}: {e}") from e
        return cls(
            alert=alert,
            approvers=approvers,
            gate_links=dict(data.get("gate_links") or {}),
            case_url=data.get("case_url"),
            review_sla_minutes=data.get("review_sla_minutes"),
            proposals=proposals,
            timezone=data.get("timezone") or "UTC",
        )


@dataclass(frozen=True)
class Card:
    """One rendered card: the Adaptive Card and the markdown the bot sends with it.

    Attributes:
        kind: the event type it renders (``"sentinel.digest"`` for the closure digest).
        content: the AdaptiveCard dict (``$schema``, ``type``, ``version`` 1.3, ``body``, ``actions``).
        fallback_text: markdown for clients that show no cards; the bot sends it as the message
            ``markdown``. It carries ``<@personEmail:...>`` mentions of required approvers (card
            text notifies nobody; message markdown does).
        trimmed: lists and text were cut harder than usual to fit Webex's size limits.
    """

    kind: str
    content: dict[str, Any]
    fallback_text: str
    trimmed: bool = False

    def attachment(self) -> dict[str, Any]:
        """The card as a Webex message attachment."""
        return {"contentType": CONTENT_TYPE, "content": self.content}

    def message(self) -> dict[str, Any]:
        """A Webex ``POST /messages`` body without the room (the bot adds ``roomId``/``parentId``)."""
        return {"markdown": self.fallback_text, "attachments": [self.attachment()]}

    @property
    def card_bytes(self) -> int:
        """Size of the card JSON as measured against ``MAX_CARD_BYTES``."""
        return card_size(self.content)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (what the CLI prints and snapshots store)."""
        return {
            "kind": self.kind,
            "trimmed": self.trimmed,
            "fallback_text": self.fallback_text,
            "content": self.content,
        }


def card_size(content: Mapping[str, Any]) -> int:
    """Bytes of a card's JSON with ``json.dumps`` defaults (ASCII-escaped: the largest likely encoding)."""
    return len(json.dumps(content).encode("utf-8"))


def text_size(text: str) -> int:
    """Bytes of message text as Webex counts them (UTF-8)."""
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class Budget:
    """How much of each list and text a card shows; tightened step by step when a card is too big."""

    items: int
    """List entries shown before "and N more"."""
    text: int
    """Characters of one paragraph (a summary, a rationale)."""
    short: int
    """Characters of one value (a title, a host, a list entry)."""
    trimmed: bool = False
    """This budget is tighter than usual: the card says it was trimmed."""


LADDER: tuple[Budget, ...] = (
    Budget(items=8, text=1200, short=200),
    Budget(items=5, text=500, short=140, trimmed=True),
    Budget(items=3, text=240, short=100, trimmed=True),
    Budget(items=1, text=100, short=60, trimmed=True),
)
"""Budgets tried in order until a card and its fallback text fit."""
