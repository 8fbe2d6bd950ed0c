"""The trace every role result carries: what the role was shown, what it called, what it said."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aisoc.events._base import Blob, CaseId, Event, Line, Short, Text
from aisoc.events.alert import Alert, Indicator, IndicatorType

TOOL_RESULT_LIMIT = 4096
"""Characters of a tool result kept in a trace ("a few KB")."""
MESSAGE_LIMIT = 16384
"""Characters of one prompt message kept in a trace."""


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, saying how much was dropped."""
    if len(text) <= limit:
        return text
    note = f"... [truncated {len(text) - limit} chars]"
    return text[: max(0, limit - len(note))] + note


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


ALERT_VIEW = "alert_view/4"
"""How prompts render an alert now (:func:`alert_view_text`); traces name it to rebuild the text."""
WEAKER_HASHES = (IndicatorType.MD5, IndicatorType.SHA1)
"""Hashes a file's SHA-256 says better: left out of a view that shows the same file's SHA-256."""
CONTROL_MAPPINGS = frozenset(
    {"pci_dss", "gdpr", "hipaa", "nist_800_53", "nist_800_171", "tsc", "gpg13"}
    | {"cis", "cis_csc", "cmmc", "iso_27001"}
)
"""Raw keys that map a detection rule to compliance frameworks' controls (Wazuh's ``pci_dss``,
``gdpr``, ``hipaa``, ``nist_800_53``, ``tsc``, ``gpg13``): the same for every alert of the rule and
never evidence about this one, so ``alert_view/4`` leaves them out (counted as elided)."""
SEVERITY_KEY = re.compile(r"level|priority|severity", re.IGNORECASE)
"""A raw key whose value may restate the alert's original severity (``rule_level``, ``rule_priority``)."""


def alert_view_text(alert: Alert, raw_limit: int) -> str:
    """The alert as a model is shown it, said once and said short (``alert_view/4``).

    Its model view as compact JSON without empty fields and without the case id (the prompt is about
    this case; the log keeps the id); the time to the second; each indicator as one ``type:value``
    string (`` (private)`` appended for a private address), a file's MD5 and SHA-1 left out when a
    raw field names them beside its SHA-256 (a Sysmon ``hashes`` field: one file, said once by its
    strongest hash); the raw record without the values the normalized fields already hold (a
    level, priority or severity field that restates ``severity_original`` included), without GUIDs
    and compliance control mappings (:data:`CONTROL_MAPPINGS`), cut field by field to about
    ``raw_limit`` characters (what is left out is counted; a ``raw_limit`` of 0, a role that reads
    no raw record, shows neither the record nor the count). Traces rebuild it from the log.
    """
    return _compact(alert, raw_limit, quiet=True)


def alert_view3_text(alert: Alert, raw_limit: int) -> str:
    """The alert as prompts showed it as ``alert_view/3`` (control mappings and restated levels
    kept); kept so traces recorded then still rebuild exactly."""
    return _compact(alert, raw_limit, quiet=False)


def _compact(alert: Alert, raw_limit: int, *, quiet: bool) -> str:
    model_view = alert.model_view()
    view = {
        k: v for k, v in model_view.items() if v not in (None, "", [], {}) and k not in ("source", "case_id")
    }
    view["created_at"] = alert.created_at.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    shown = _files_said_once(alert, model_view.get("raw"))
    if shown:
        view["indicators"] = [i.key + (" (private)" if i.private else "") for i in shown]
    return _with_raw(view, alert, raw_limit, guids=True, quiet=quiet)


def _with_raw(view: dict[str, Any], alert: Alert, raw_limit: int, *, guids: bool, quiet: bool = False) -> str:
    """``view`` as compact JSON, its raw record without what the other fields say (and, with
    ``guids``, without GUIDs; with ``quiet``, without control mappings and restated severities),
    cut to about ``raw_limit`` characters, the fields left out counted."""
    said = {str(v) for k, v in view.items() if k != "raw" and isinstance(v, str)}
    said |= {alert.source_id, *alert.hosts, *alert.users, *(i.value for i in alert.indicators)}
    dropped = [0] if guids else None
    levels = set(re.findall(r"[\w.]+", alert.severity_original or "")) if quiet else None
    unsaid = _Unsaid(said, tuple(alert.techniques), dropped, levels)
    raw, left = _bounded(unsaid(view.pop("raw", {})), raw_limit)
    left += dropped[0] if dropped else 0
    if raw:
        view["raw"] = raw
    if left and not (quiet and raw_limit == 0):  # a role shown no raw record is not told its size
        view["raw_elided_fields"] = left
    return json.dumps(view, separators=(",", ":"), default=str, ensure_ascii=False)


def _files_said_once(alert: Alert, raw: Any) -> list[Indicator]:
    """The alert's indicators without each MD5 or SHA-1 that a raw string names beside a SHA-256 of
    the alert (case aside): those are hashes of one file, and its SHA-256 is shown."""
    strong = [i.value.lower() for i in alert.indicators if i.type == IndicatorType.SHA256]
    weaker = {i.value.lower() for i in alert.indicators if i.type in WEAKER_HASHES}
    if not strong or not weaker:
        return list(alert.indicators)
    paired: set[str] = set()
    for leaf in _strings(raw):
        text = leaf.lower()
        if any(h in text for h in strong):
            paired |= {h for h in weaker if h in text}
    return [i for i in alert.indicators if i.value.lower() not in paired]


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) and len(value) >= 64 else []


def alert_view2_text(alert: Alert, raw_limit: int) -> str:
    """The alert as prompts showed it as ``alert_view/2`` (the case id, the time to the microsecond,
    indicators as objects, every hash); kept so traces recorded then still rebuild exactly."""
    view = {k: v for k, v in alert.model_view().items() if v not in (None, "", [], {}) and k != "source"}
    return _with_raw(view, alert, raw_limit, guids=False)


GUID = re.compile(r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?")
"""A GUID: an object's id inside the source (a process, a logon session), which says nothing to a
model reading one alert (``alert_view/3`` and later leave such raw values out and count them as elided)."""


class _Unsaid:
    """A raw record without the leaves (and technique lists) the normalized fields already say.

    With ``elided`` (a one-item counter of what is left out), GUID leaves are left out too and
    counted there (``None``: GUIDs are kept, as ``alert_view/2`` did); with ``levels`` (the words of
    ``severity_original``), so are control mappings (counted) and the leaves of a level, priority
    or severity key that are one of those words (said already, not counted).
    """

    def __init__(
        self,
        said: set[str],
        techniques: tuple[str, ...],
        elided: list[int] | None = None,
        levels: set[str] | None = None,
    ) -> None:
        self.said, self.techniques, self.elided, self.levels = said, techniques, elided, levels

    def __call__(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if self.levels is not None and k in CONTROL_MAPPINGS:
                    self._count(v)
                    continue
                kept = self(v, k)
                if kept is not None:
                    out[k] = kept
            return out or None
        if isinstance(value, list):
            if self.techniques and tuple(map(str, value)) == self.techniques:
                return None
            items = [v for v in (self(v, key) for v in value) if v is not None]
            return items or None
        if value is None or value == "" or (isinstance(value, str) and value in self.said):
            return None
        restated = self.levels and SEVERITY_KEY.search(key) and not isinstance(value, bool)
        if restated and str(value) in (self.levels or ()):
            return None
        if self.elided is not None and isinstance(value, str) and GUID.fullmatch(value):
            self.elided[0] += 1
            return None
        return value

    def _count(self, value: Any) -> None:
        """Count the non-empty leaves of ``value`` as left out."""
        if self.elided is None:
            return
        if isinstance(value, dict):
            for v in value.values():
                self._count(v)
        elif isinstance(value, list):
            for v in value:
                self._count(v)
        elif value not in (None, ""):
            self.elided[0] += 1


def _bounded(value: Any, limit: int) -> tuple[Any, int]:
    """``value`` cut leaf by leaf, in order, to about ``limit`` characters of JSON; and how many
    leaves were left out. A long string is cut with a note of its length."""
    budget = [limit]
    left = [0]

    def walk(v: Any, key: str = "") -> Any:
        if isinstance(v, dict):
            out = {k: w for k, w in ((k, walk(x, k)) for k, x in v.items()) if w is not None}
            return out or None
        if isinstance(v, list):
            items = [w for w in (walk(x) for x in v) if w is not None]
            return items or None
        if budget[0] <= 0:  # counted, never rendered: a wide record's tail costs no encoding
            left[0] += 1
            return None
        text = json.dumps(v, default=str, ensure_ascii=False)
        if isinstance(v, str) and len(text) > max(80, budget[0]):
            keep = max(40, budget[0] - 40)
            v = v[:keep] + f"... [{len(v) - keep} more chars]"
            text = json.dumps(v, ensure_ascii=False)
        budget[0] -= len(text) + len(key) + 4  # the key and punctuation
        return v

    return walk(value), left[0]


def legacy_alert_view_text(alert: Alert, raw_limit: int) -> str:
    """The alert as prompts showed it before ``alert_view/2`` (full view, raw cut as a JSON string);
    kept so traces recorded then still rebuild exactly."""
    view = alert.model_view()
    raw = json.dumps(view.get("raw"), separators=(",", ":"), default=str, ensure_ascii=False)
    if len(raw) > raw_limit:
        view = {**view, "raw": raw[:raw_limit] + f"... [{len(raw) - raw_limit} more characters elided]"}
    return json.dumps(view, separators=(",", ":"), default=str, ensure_ascii=False)


RENDERERS: dict[str, Callable[[Alert, int], str]] = {
    "alert_view": legacy_alert_view_text,
    "alert_view/2": alert_view2_text,
    "alert_view/3": alert_view3_text,
    ALERT_VIEW: alert_view_text,
}
"""The renderer of each view layout a trace may name."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


SYSTEM_MESSAGE = "system_message"
"""A :class:`TracePart` that is the team's system message, kept whole in an earlier trace of the case."""


class TracePart(_Frozen):
    """A part of a message the log already holds, left out of the trace and rebuilt from its event.

    The text was cut at ``at`` (a character offset in the stored content); ``sha256`` (the first 32
    hex digits) proves the rebuilt text is exactly what was sent.
    """

    kind: Literal["alert_view", "alert_view/2", "alert_view/3", "alert_view/4", "system_message"] = (
        "alert_view"
    )
    """How the view was rendered: ``alert_view`` (before prompts said each value once),
    ``alert_view/2``, ``alert_view/3`` or ``alert_view/4`` (:data:`RENDERERS`); or
    ``system_message``: the team's system message, which the trace of the event ``event_id`` (an
    earlier role result of the same case) holds whole as its first message."""
    event_id: Short
    at: int = Field(ge=0)
    raw_limit: int = Field(ge=0)
    sha256: Short


class SharedPart:
    """A text spliced into prompts that the log can rebuild: an alert's view, from its event id, or
    the team's system message, from an earlier trace of the case (``kind``)."""

    __slots__ = ("event_id", "kind", "raw_limit", "text")

    def __init__(self, text: str, event_id: str, raw_limit: int, kind: str = ALERT_VIEW) -> None:
        self.text, self.event_id, self.raw_limit, self.kind = text, event_id, raw_limit, kind


class TraceMessage(_Frozen):
    """One message sent to (or received from) the model; ``parts`` lists what was left out."""

    role: Short
    content: Blob
    parts: list[TracePart] = Field(default_factory=list, max_length=20)

    @classmethod
    def lean(cls, role: str, content: str, shared: Sequence[SharedPart] = ()) -> TraceMessage:
        """The message with each shared part's first occurrence cut out and referenced."""
        parts: list[TracePart] = []
        for part in shared:
            at = content.find(part.text) if part.text else -1
            if at < 0:
                continue
            content = content[:at] + content[at + len(part.text) :]
            # Offsets of parts cut earlier, further on in the text, move left with this cut.
            parts = [p.model_copy(update={"at": p.at - len(part.text)}) if p.at > at else p for p in parts]
            parts.append(
                TracePart(
                    kind=part.kind,
                    event_id=part.event_id,
                    at=at,
                    raw_limit=part.raw_limit,
                    sha256=_digest(part.text),
                )
            )
        return cls(role=role, content=content, parts=parts)

    def rebuilt(self, lookup: Callable[[str], Event | None]) -> tuple[str, bool]:
        """The content as it was sent, with every part put back from the event ``lookup`` finds.

        Returns:
            The text and whether it is exact (False when an event is gone from the log or renders
            differently now: the place is then marked ``[alert view of <event id> not available]``).
        """
        text, exact = self.content, True
        for part in sorted(self.parts, key=lambda p: p.at, reverse=True):
            event = lookup(part.event_id)
            view = system_message_of(event) if part.kind == SYSTEM_MESSAGE else None
            alert = getattr(event, "alert", None)
            if part.kind != SYSTEM_MESSAGE and isinstance(alert, Alert):
                view = RENDERERS[part.kind](alert, part.raw_limit)
            if view is None or _digest(view) != part.sha256:
                what = "system message" if part.kind == SYSTEM_MESSAGE else "alert view"
                view, exact = f"[{what} of {part.event_id} not available]", False
            text = text[: part.at] + view + text[part.at :]
        return text, exact

    @field_validator("content", mode="before")
    @classmethod
    def _cut(cls, value: Any) -> Any:
        return truncate(value, MESSAGE_LIMIT) if isinstance(value, str) else value


LEG_FAILURES_KEPT = 4
"""Failed legs kept per model call (a call tries each leg at most once: two legs, one failure)."""


class LegFailure(_Frozen):
    """A leg that failed a call before another leg served it (failover): which, how, how long.

    Only the error's class and HTTP status are kept, never its message: a server's error text may
    echo the prompt or carry credentials of the endpoint.
    """

    leg: Short
    error: Short
    """How the leg failed: the exception's class name (``OpenAITimeoutError``,
    ``OpenAIConnectionError``, ``OpenAIRateLimitError``, ``OpenAIAPIError``, ``BadResponse``...),
    or ``content_filter`` when the leg answered but its provider's content filter withheld the answer
    (``finish_reason`` ``content_filter``; no ``status``), see docs/models.md."""
    status: int | None = Field(default=None, ge=100, le=599)
    """The HTTP status the leg answered, when it answered one."""
    duration_ms: float = Field(ge=0)


def system_message_of(event: Event | None) -> str | None:
    """The whole first message of ``event``'s trace (where a case's first trace keeps the team's
    system message), or None."""
    trace = getattr(event, "trace", None)
    messages = getattr(trace, "messages", None) or []
    first = messages[0] if messages else None
    return first.content if isinstance(first, TraceMessage) and not first.parts else None


class ModelCall(_Frozen):
    """One call to the chat model: which leg served it, how long, how many tokens, and the legs
    that failed it first (added after the trace's first version: absent in older traces, empty)."""

    leg: Short
    duration_ms: float = Field(ge=0)
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    cached_tokens: int | None = Field(default=None, ge=0)
    """Prompt tokens the server took from its prompt cache instead of evaluating (when reported)."""
    error: Line | None = None
    failed_legs: list[LegFailure] = Field(default_factory=list, max_length=LEG_FAILURES_KEPT)
    """Legs that failed this call before ``leg`` served it, in the order they were tried."""


class ToolCallRecord(_Frozen):
    """One tool call the model asked for: refused ones are recorded too."""

    name: Short
    arguments: Blob = "{}"
    result: Blob = ""
    duration_ms: float = Field(default=0.0, ge=0)
    error: Line | None = None
    refused: bool = False

    @field_validator("result", mode="before")
    @classmethod
    def _cut(cls, value: Any) -> Any:
        return truncate(value, TOOL_RESULT_LIMIT) if isinstance(value, str) else value

    @field_validator("arguments", mode="before")
    @classmethod
    def _encode(cls, value: Any) -> Any:
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True, default=str)
        return truncate(value, TOOL_RESULT_LIMIT) if isinstance(value, str) else value


class PrecedentRef(_Frozen):
    """A prior case the role was shown, and why it was picked."""

    case_id: CaseId
    verdict: Short | None = None
    decided_by: Short | None = None
    shared: list[Short] = Field(default_factory=list, max_length=50)
    same_rule: bool = False
    score: float = 0.0
    summary: Line | None = None


class GuardrailCheck(_Frozen):
    """The runtime's guardrail on one role answer: the policy in force and what it decided."""

    policy: Line
    closes: bool = False
    """Whether the role's answer closed the case (only closes are checked)."""
    overruled: Short | None = None
    """The rule that refused the close (``true_positive_precedent``, ``severe_alert``, ``low_confidence``),
    if any."""
    reason: Line | None = None


class TokenUsage(_Frozen):
    """Token counts over every model call of one role invocation (when the server reports them)."""

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cached_tokens: int = Field(default=0, ge=0)
    """Of ``input_tokens``, those taken from the server's prompt cache instead of evaluated."""


class Trace(_Frozen):
    """Everything needed to answer "why did it do that?" later, without asking the model again."""

    role: Short
    prompt_version: Short
    model_calls: list[ModelCall] = Field(default_factory=list, max_length=200)
    messages: list[TraceMessage] = Field(default_factory=list, max_length=200)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list, max_length=200)
    precedent: list[PrecedentRef] = Field(default_factory=list, max_length=50)
    usage: TokenUsage | None = None
    raw_output: Blob = ""
    validated_output: Blob | None = None
    repairs: int = Field(default=0, ge=0)
    note: Text | None = None
    guardrail: GuardrailCheck | None = None
    settled: Line | None = None
    """Set when no model was called: the role's rule decided, and why (nothing to judge)."""

    @field_validator("raw_output", mode="before")
    @classmethod
    def _cut(cls, value: Any) -> Any:
        return truncate(value, 65536) if isinstance(value, str) else value

    def rebuilt_messages(self, lookup: Callable[[str], Event | None]) -> list[tuple[str, str, bool]]:
        """Every message as it was sent: (role, text, exact), parts put back from the log."""
        return [(m.role, *m.rebuilt(lookup)) for m in self.messages]

    @property
    def legs(self) -> list[str]:
        """The model legs that served this invocation, in call order, without repeats."""
        return list(dict.fromkeys(c.leg for c in self.model_calls))
