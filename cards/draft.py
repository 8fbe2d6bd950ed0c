"""``Draft``: builds a card body and its markdown fallback side by side, so the two never disagree.

Every text a builder hands to a ``Draft`` method is cleaned (redacted, neutralized, clipped to the
budget) unless it is ``Markup``. Actions only come from ``open_url`` (trusted URLs from the context,
checked again here) and ``submit`` (data the builder writes); nothing in an event can add one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from cards.model import CARD_SCHEMA, CARD_VERSION, MAX_ACTIONS, Approver, Budget, Card, CardError
from cards.text import Markup, cap, clean, join_capped, more

TRIMMED_NOTICE = (
    "Trimmed to fit Webex's size limits: long text and lists are cut. `explain` shows everything."
)
"""Said on every card whose lists or text were cut harder than usual."""
T = TypeVar("T")
_EMAIL = re.compile(r"^[^\s<>|@]{1,64}@[^\s<>|@]{1,255}$")


def mention(who: Approver) -> str:
    """A Webex markdown mention of ``who`` (only message markdown notifies; card text does not)."""
    name = " ".join(who.name.replace("|", " ").replace(">", " ").replace("<", " ").split())
    if who.email and _EMAIL.match(who.email):
        return f"<@personEmail:{who.email}|{name}>"
    return name


def text_block(text: str, **props: Any) -> dict[str, Any]:
    """A wrapping ``TextBlock`` (Adaptive Cards property names passed through as keyword arguments)."""
    return {"type": "TextBlock", "text": text, "wrap": True, **props}


class Draft:
    """A card under construction: body elements, actions and fallback lines, in step.

    Args:
        kind: the event type rendered (becomes ``Card.kind``).
        budget: how much of each list and text to show.
        case_id: the case, for the Explain button.
    """

    def __init__(self, kind: str, budget: Budget, case_id: str | None = None) -> None:
        self.kind = kind
        self.budget = budget
        self.case_id = case_id
        self.headline = ""
        self._body: list[tuple[dict[str, Any], bool]] = []
        self._lines: list[tuple[str, bool]] = []
        self._actions: list[dict[str, Any]] = []

    # --- text ---------------------------------------------------------------------------------

    def short(self, value: object) -> str:
        """Clean a one-line value to the budget's short length."""
        return clean(value, self.budget.short, oneline=True)

    def para(self, value: object) -> str:
        """Clean a paragraph to the budget's text length."""
        return clean(value, self.budget.text)

    def values(self, values: Sequence[object], limit: int | None = None) -> Markup:
        """Clean each value and join them, capped with "and N more"."""
        cleaned = [self.short(v) for v in values if v not in (None, "")]
        return Markup(join_capped(cleaned, self.budget.items if limit is None else limit))

    def shown(self, items: Sequence[T]) -> tuple[list[T], int]:
        """The items a list shows under this budget and how many it leaves out (pass that as ``hidden``)."""
        return cap(items, self.budget.items)

    def _add(self, element: dict[str, Any], line: str | None, essential: bool = False) -> None:
        self._body.append((element, essential))
        if line is not None:
            self._lines.append((line, essential))

    # --- elements -----------------------------------------------------------------------------

    def header(self, title: object, *, tag: str, style: str = "emphasis", subtitle: object = None) -> None:
        """The coloured top of the card: a small tag ("SEV-2 · IR PLAN"), the title, a subtitle."""
        title_text, sub = self.short(title), self.short(subtitle) if subtitle else ""
        items = [
            text_block(tag.upper(), size="Small", weight="Bolder", isSubtle=True),
            text_block(title_text or "(untitled)", size="Large", weight="Bolder", spacing="None"),
        ]
        if sub:
            items.append(text_block(sub, isSubtle=True, spacing="Small"))
        self.headline = f"{tag}: {title_text}"
        self._add({"type": "Container", "style": style, "bleed": True, "items": items}, None, True)
        self._lines.append((f"**{self.headline}**", True))
        if sub:
            self._lines.append((sub, True))

    def banner(self, text: str, *, style: str = "attention", who: Approver | None = None) -> None:
        """A highlighted line that asks a person for something; the fallback mentions ``who``."""
        card_text = f"{text}: {who.duty_title} — {self.short(who.name)}" if who else text
        line = f"**{text}: {who.duty_title}** — {mention(who)}" if who else f"**{text}**"
        self._add(
            {"type": "Container", "style": style, "items": [text_block(card_text, weight="Bolder")]},
            line,
            True,
        )

    def facts(self, pairs: Sequence[tuple[str, object]]) -> None:
        """A ``FactSet`` of the pairs whose value is not empty."""
        shown = [(k, self.short(v)) for k, v in pairs if v not in (None, "")]
        shown = [(k, v) for k, v in shown if v]
        if not shown:
            return
        self._add(
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in shown]},
            "\n".join(f"- {k}: {v}" for k, v in shown),
        )

    def heading(self, text: str, *, separator: bool = True) -> None:
        """A section heading."""
        self._add(
            text_block(text, weight="Bolder", spacing="Medium", separator=separator),
            f"**{text}**",
        )

    def paragraph(self, value: object, *, heading: str | None = None, subtle: bool = False) -> None:
        """A paragraph of untrusted text (cleaned and clipped), with an optional heading."""
        text = self.para(value)
        if not text:
            return
        if heading:
            self.heading(heading)
        props: dict[str, Any] = {"isSubtle": True} if subtle else {}
        self._add(text_block(text, **props), text)

    def bullets(
        self,
        items: Sequence[object],
        *,
        heading: str | None = None,
        limit: int | None = None,
        overflow: str | None = None,
        hidden: int = 0,
    ) -> None:
        """A bulleted list capped at the budget ("and N more" says how many were left out).

        Args:
            items: entries (untrusted unless ``Markup``).
            heading: a section heading above the list.
            limit: show at most this many (default: the budget's ``items``).
            overflow: what to add after "and N more" (e.g. "— open the case").
            hidden: entries the caller already left out of ``items`` (see ``shown``).
        """
        present = [i for i in items if i not in (None, "")]
        if not present and not hidden:
            return
        n = self.budget.items if limit is None else limit
        shown = [e for e in (self.short(i) for i in present[:n]) if e]
        rest = len(present) - min(n, len(present)) + hidden
        if heading:
            self.heading(heading)
        lines = [f"- {e}" for e in shown]
        if rest:
            lines.append(f"- {more(rest)}{f' {overflow}' if overflow else ''}")
        text = "\n".join(lines)
        self._add(text_block(text, spacing="Small"), text)

    def note(self, text: str, *, color: str | None = None) -> None:
        """A small, subtle line the cards package writes itself (not cleaned: never pass data here)."""
        props: dict[str, Any] = {"size": "Small", "isSubtle": True}
        if color:
            props["color"] = color
        self._add(text_block(text, **props), f"_{text}_")

    # --- actions ------------------------------------------------------------------------------

    def _action(self, action: dict[str, Any]) -> None:
        if len(self._actions) >= MAX_ACTIONS:
            raise CardError(f"{self.kind}: more than {MAX_ACTIONS} actions")
        self._actions.append(action)

    @property
    def room(self) -> int:
        """How many more actions the card may carry."""
        return MAX_ACTIONS - len(self._actions)

    def open_url(self, title: str, url: str, *, style: str | None = None) -> None:
        """A button that opens ``url`` (a trusted link from the context, e.g. the gate's step one)."""
        if not url.startswith(("https://", "http://")):
            raise CardError(f"{self.kind}: refusing a non-http(s) link {url!r}")
        action: dict[str, Any] = {"type": "Action.OpenUrl", "title": title, "url": url}
        if style:
            action["style"] = style
        self._action(action)

    def submit(self, title: str, data: Mapping[str, Any]) -> None:
        """A button that posts ``data`` back to the bot (explain, acknowledge: no second step)."""
        self._action({"type": "Action.Submit", "title": title, "data": dict(data)})

    def explain(self) -> None:
        """The Explain button (``{"cmd": "explain", "case_id": ...}``) when the card belongs to a case."""
        if self.case_id and self.room:
            self.submit("Explain", {"cmd": "explain", "case_id": self.case_id})

    # --- result -------------------------------------------------------------------------------

    def finish(self, *, essentials_only: bool = False) -> Card:
        """Return the card; ``essentials_only`` keeps just the header, banners and actions."""
        trimmed = self.budget.trimmed or essentials_only
        body = [e for e, essential in self._body if essential or not essentials_only]
        lines = [line for line, essential in self._lines if essential or not essentials_only]
        if trimmed:
            body.append(text_block(TRIMMED_NOTICE, size="Small", color="Warning", isSubtle=True))
            lines.append(f"_{TRIMMED_NOTICE}_")
        content: dict[str, Any] = {
            "$schema": CARD_SCHEMA,
            "type": "AdaptiveCard",
            "version": CARD_VERSION,
            "fallbackText": self.headline or self.kind,
            "body": body,
        }
        if self._actions:
            content["actions"] = list(self._actions)
        return Card(kind=self.kind, content=content, fallback_text="\n".join(lines), trimmed=trimmed)
