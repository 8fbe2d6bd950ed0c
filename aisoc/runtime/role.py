"""What a role is: metadata as class attributes, a prompt, and a handler that returns events."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from aisoc.events import (
    Alert,
    AlertReceived,
    CaseClosed,
    Event,
    PrecedentRef,
    ProducedBy,
    ReviewRequested,
    Role,
    SharedPart,
    ToolCallRecord,
    alert_view_text,
    fit,
)
from aisoc.memory import Stat
from aisoc.runtime.prompt import RAW_LIMIT, RawJson

E = TypeVar("E", bound=Event)


@dataclass
class RoleContext:
    """Everything one role invocation may use: the trigger, the case so far, the precedent shown."""

    role: str
    prompt_version: str
    event: Event
    history: Sequence[Event] = ()
    precedent: Sequence[PrecedentRef] = ()
    statistics: Sequence[Stat] = ()
    """How analysts decided earlier alerts of the same rule, category and indicators (recall on)."""
    now: datetime | None = None
    model_leg: str | None = None
    tools: bool = True
    """Whether the team's model can call tools (without them a role can look nothing up)."""
    raw_limit: int = RAW_LIMIT
    """Characters of the alert's raw record this model is shown (the same for every role: the case's
    block is one prefix of all its prompts)."""
    views: MutableMapping[str, str] | None = None
    """Cache of rendered alert views shared by the team's roles (keyed by alert event id and raw limit)."""
    tool_calls: Sequence[ToolCallRecord] = ()
    """The tool calls of this invocation (set before ``handle``: what the role looked up)."""
    notes: list[str] = field(default_factory=list)
    """What ``handle`` dropped or changed of the answer, and why (goes into the trace's note)."""

    @property
    def case_id(self) -> str | None:
        return self.event.case_id

    @property
    def alert(self) -> Alert | None:
        """The case's alert (the trigger itself for Sentinel)."""
        received = self.received
        return received.alert if received else None

    @property
    def received(self) -> AlertReceived | None:
        """The event that opened the case (the trigger itself for Sentinel)."""
        return self.event if isinstance(self.event, AlertReceived) else self.latest(AlertReceived)

    def alert_json(self) -> RawJson:
        """The alert's model view (raw record bounded) as JSON text, rendered once per alert."""
        received = self.received
        if received is None:
            return RawJson("null")
        key = f"{received.event_id}:{self.raw_limit}"
        cached = self.views.get(key) if self.views is not None else None
        if cached is not None:
            return RawJson(cached)
        text = alert_view_text(received.alert, self.raw_limit)
        if self.views is not None:
            self.views[key] = text
        return RawJson(text)

    def shared_parts(self) -> list[SharedPart]:
        """What the trace may leave out because the log holds it: the alert's view, by event id."""
        received = self.received
        if received is None:
            return []
        return [SharedPart(str(self.alert_json()), received.event_id, self.raw_limit)]

    def latest(self, cls: type[E]) -> E | None:
        """The newest event of ``cls`` in the case so far (the trigger included)."""
        if isinstance(self.event, cls):
            return self.event
        for e in reversed(self.history):
            if isinstance(e, cls):
                return e
        return None

    def make(self, cls: type[E], **fields: Any) -> E:
        """Build a result event with the envelope filled: case, cause, producer; text and lists
        longer than their fields allow are cut to the contract's bounds (``aisoc.events.fit``)."""
        return cls.model_validate(
            {
                "case_id": self.case_id,
                "causation_id": self.event.event_id,
                "produced_by": ProducedBy(
                    role=self.role, model_leg=self.model_leg, prompt_version=self.prompt_version
                ),
                **fit(cls, **fields),
            }
        )


class AgentRole:
    """Base of the model-driven roles (Sentinel, Tier 2, IR Lead, Threat Intel).

    Subclasses set the class attributes and implement ``data``, ``handle`` and ``stub_answer``.
    """

    name: ClassVar[str]
    """Role slug: consumer group, worker name, metrics key."""
    subscribes: ClassVar[tuple[str, ...]]
    """Event types that trigger the role (it reads their whole streams)."""
    emits: ClassVar[tuple[str, ...]]
    """Event types the handler may return."""
    budget: ClassVar[int]
    """Hard limit of tool calls per invocation."""
    tools: ClassVar[tuple[str, ...]] = ()
    """Tool whitelist: only these are offered; a call to any other is refused and recorded."""
    schema: ClassVar[type[BaseModel]]
    """The final answer is validated against this model."""
    prompt_version: ClassVar[str]
    system_prompt: ClassVar[str]
    uses_precedent: ClassVar[bool] = False
    """Whether memory's precedent is injected into the prompt (when recall is on)."""
    review_duty: ClassVar[Role] = Role.TIER2
    """Who is asked to look when the role cannot decide."""
    timeout_s: ClassVar[float] = 300.0
    """Per-event time limit."""

    def accepts(self, event: Event) -> bool:
        """Whether this trigger needs the role at all (e.g. Tier 2 only for routed verdicts)."""
        return True

    def data(self, ctx: RoleContext) -> dict[str, Any]:
        """What the role is shown besides the alert, as data (never as instructions). The alert's
        view is in the case's block of every prompt (an ``alert`` key here is not repeated)."""
        raise NotImplementedError

    def task(self, ctx: RoleContext) -> str:
        """The instruction that follows the data."""
        return "Decide and answer with the JSON object."

    def answer_schema(self, ctx: RoleContext, schema: dict[str, Any]) -> dict[str, Any] | None:
        """The answer schema a constrained decoder gets for this invocation, narrowed to the case (IR
        Lead: a step's target among the case's entities); None: ``schema``, the role's own as the
        decoder gets it. Whatever fits the narrowed schema must fit the role's own schema, which
        still validates the answer."""
        return None

    def settle(self, ctx: RoleContext) -> Settled | None:
        """The answer when the role's inputs leave nothing to judge, with the reason; None: ask the model.

        A settled answer is validated against ``schema`` and handled, guarded and traced like a
        model's (the trace's ``settled`` says why no model was called).
        """
        return None

    def handle(self, ctx: RoleContext, output: Any) -> list[Event]:
        """Turn the validated answer into events (the runtime adds the trace and publishes)."""
        raise NotImplementedError

    def stub_answer(self, data: dict[str, Any]) -> dict[str, Any]:
        """The canned model's deterministic answer, derived from the data the role is shown."""
        raise NotImplementedError

    def overruled(self, ctx: RoleContext, results: list[Event], reason: str) -> list[Event]:
        """The events to publish instead of ``results`` when the guardrail refuses the role's close.

        By default the close is dropped and a person is asked to look, with the guardrail's reason;
        a role with a next tier (Sentinel) routes there instead.
        """
        kept = [e for e in results if not isinstance(e, CaseClosed)]
        return [*kept, ctx.make(ReviewRequested, role=self.name, reason=reason, duty=self.review_duty)]


class ScheduledRole:
    """Base of the periodic roles (SOC Manager, Detection Engineer, Threat Hunter).

    ``schedule`` holds cron expressions in the configured time zone; ``report`` reads the window
    ``[start, end)`` of the audit log and returns events. Reports are computed, not generated.
    """

    name: ClassVar[str]
    schedule: ClassVar[tuple[str, ...]]
    emits: ClassVar[tuple[str, ...]]
    prompt_version: ClassVar[str] = "report/1"

    def report(
        self, events: Iterable[Event], start: datetime, end: datetime, tz: str, memory: Any = None
    ) -> list[Event]:
        raise NotImplementedError

    def producer(self) -> ProducedBy:
        """Who produced the report: this role's slug (a standard one, or one a SOC added)."""
        return ProducedBy(role=self.name, prompt_version=self.prompt_version)


@dataclass(frozen=True)
class Settled:
    """A role's answer decided by its own rule instead of the model."""

    answer: dict[str, Any]
    reason: str
    """Why there was nothing for the model to decide (goes into the trace)."""
