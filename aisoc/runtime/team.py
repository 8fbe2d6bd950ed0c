"""RoleTeam: the same model wearing every hat, over the bus.

team = RoleTeam(model=my_llm, tools=my_tools, bus=bus)
team.consume(alert_source)                  # Sentinel -> Tier 2 -> IR Lead -> Threat Intel
team.on_action_proposed(gate=my_hitl_gate)  # in-process; in production the gate is a process
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from aisoc.bus import Bus, Delivery
from aisoc.events import (
    ActionProposed,
    Alert,
    ControlPaused,
    Event,
    PrecedentRef,
    ReviewRequested,
    Role,
    SharedPart,
    system_message_of,
    utcnow,
)
from aisoc.events.trace import SYSTEM_MESSAGE
from aisoc.logcontext import bind
from aisoc.memory.stats import StatisticsHook
from aisoc.models import StubChatModel, capabilities
from aisoc.resolve import resolve
from aisoc.runtime.builtin_tools import case_lookup_tool, serving
from aisoc.runtime.control import Controls
from aisoc.runtime.guardrail import GuardrailPolicy, closes_case, judge, record
from aisoc.runtime.loop import ModelUnavailable, Outcome, Run, ToolLoop, build_trace
from aisoc.runtime.prompt import Brief, team_message, user_message
from aisoc.runtime.role import AgentRole, RoleContext, ScheduledRole, Settled
from aisoc.sources import AlertSource, IngestStats, ingest
from aisoc.tools import Tool, ToolSet

log = logging.getLogger(__name__)

DEFAULT_TEAM = "roles:STANDARD_TEAM"
"""Import string of the standard team (resolved at the edge, the way gunicorn loads apps)."""
MODEL_BACKOFF_MAX_S = 10.0
"""Longest wait of a worker between invocations while no leg of the model serves, unless the server
asked for longer (``Retry-After``): a recovered server is found as soon."""


class ContextHook(Protocol):
    """Precedent for a role's prompt: memory plugs in here; with nothing plugged in, nothing is added."""

    def __call__(self, role: str, alert: Alert, case_id: str) -> Sequence[PrecedentRef]: ...


@dataclass(frozen=True)
class Invocation:
    """What the team observed of one role invocation (for metrics and replay scoring)."""

    role: str
    event: Event
    results: tuple[Event, ...]
    duration_ms: float
    tool_calls: int
    input_tokens: int
    output_tokens: int
    failure: str | None
    leg: str | None
    cached_tokens: int = 0
    """Of ``input_tokens``, those the model server took from its prompt cache."""
    model_calls: int = 0


Observer = Callable[[Invocation], None]


class RoleTeam:
    """The agent roles over one bus, all served by one chat model.

    Args:
        model: any LangChain chat model (``aisoc.models.from_spec`` builds the usual ones).
        tools: read-only tools offered to roles by their whitelists (plus the built-in
            ``case_lookup``); a tool whose vendor is not configured should simply be absent.
        bus: the bus (in-memory when omitted).
        roles: role classes or instances, or an import string naming them.
        context: precedent hook (memory); None adds nothing to prompts.
        statistics: precedent statistics hook; None adds nothing to prompts.
        guardrail: the routing policy enforced on every close (default: :class:`GuardrailPolicy`'s).
        timeout_s: overrides every role's per-event time limit.
    """

    def __init__(
        self,
        model: BaseChatModel,
        tools: Iterable[Tool] = (),
        bus: Bus | None = None,
        *,
        roles: str | Iterable[Any] = DEFAULT_TEAM,
        context: ContextHook | None = None,
        statistics: StatisticsHook | None = None,
        guardrail: GuardrailPolicy | None = None,
        timeout_s: float | None = None,
        observer: Observer | None = None,
        paused: Iterable[str] = (),
    ) -> None:
        self.bus = bus if bus is not None else Bus()
        self.model = model
        self.caps = capabilities(model)
        self.context = context
        self.statistics = statistics
        self.guardrail = guardrail if guardrail is not None else GuardrailPolicy()
        self.timeout_s = timeout_s
        self.observers: list[Observer] = [observer] if observer else []
        self.tools = ToolSet(tools)
        if "case_lookup" not in self.tools:
            self.tools.add(case_lookup_tool(self.bus))
        listed = resolve(roles) if isinstance(roles, str) else roles
        instances = [r() if isinstance(r, type) else r for r in listed]
        self.agents: dict[str, AgentRole] = {r.name: r for r in instances if isinstance(r, AgentRole)}
        self.scheduled: dict[str, ScheduledRole] = {
            r.name: r for r in instances if isinstance(r, ScheduledRole)
        }
        if isinstance(model, StubChatModel):
            for role in self.agents.values():
                model.register(role.name, role.stub_answer)
        self.loops = {
            name: ToolLoop(
                role=name,
                model=model,
                caps=self.caps,
                tools=self.tools.allowed(r.tools),
                budget=r.budget,
                schema=r.schema,
            )
            for name, r in self.agents.items()
        }
        # Nothing in the system message changes: rendered once for the whole team, it is the stable
        # prefix of every prompt; each role's brief is in it, each prompt names the role.
        self.briefs = {
            name: Brief(
                name,
                r.prompt_version,
                r.system_prompt,
                r.schema,
                tuple(t.name for t in self.tools.allowed(r.tools)) if self.caps.tools else (),
                precedent=r.uses_precedent,
            )
            for name, r in self.agents.items()
        }
        self.system_message = team_message(list(self.briefs.values()), constrained=self.caps.json_schema)
        self.controls = Controls(self.bus, paused)
        self._views: _Lru = _Lru(2048)
        self.unserved = 0
        """Invocations in a row that found no leg of the model serving (0 once one is served)."""
        self.model_retry_after_s: float | None = None
        """How long the model asked to be left alone when it last could not serve (``Retry-After``)."""

    # --- wiring -----------------------------------------------------------------------------------

    def subscribe(self, roles: Iterable[str] | None = None) -> None:
        """Register the agent roles as in-process subscribers of the bus (for ``bus.drain()``)."""
        for name in roles or self.agents:
            role = self.agents[name]
            self.bus.subscribe(
                name,
                functools.partial(self.process, name),
                types=role.subscribes,
                consumer=f"{name}-local",
                count=50,
                active=functools.partial(self.active, name),
            )

    def consume(self, source: AlertSource, *, drain: bool = True) -> IngestStats:
        """Ingest one poll of ``source``; with ``drain`` run every role in-process until idle."""
        stats = ingest(source, self.bus)
        if drain:
            if not any(s.group in self.agents for s in self.bus.subscriptions):
                self.subscribe()
            self.bus.drain()
        return stats

    def on_action_proposed(self, gate: Any) -> None:
        """Hand every ``action.proposed`` (and the events that cancel requests) to an in-process gate.

        ``gate`` is an object with ``handle(event)`` or a plain callable.
        """
        handler = gate.handle if hasattr(gate, "handle") else gate

        def deliver(d: Delivery) -> None:
            handler(d.event)
            d.ack()

        self.bus.subscribe(
            "gate", deliver, types=["action.proposed", "case.closed", "ir.plan"], consumer="gate-local"
        )

    # --- one delivery -----------------------------------------------------------------------------

    def process(self, name: str, d: Delivery) -> None:
        """Handle one delivery for role ``name``: run it once, publish its events with the mark, ack.

        A redelivered event whose mark exists is acked without running again; a model that cannot
        be reached makes the delivery wait (``Delivery.retry_later``: retried after a growing delay,
        never dead-lettered for it, the later events of its case behind it).
        """
        with bind(role=name, event_id=d.event.event_id, case_id=d.event.case_id):
            self._process(name, d)

    def _process(self, name: str, d: Delivery) -> None:
        role, event = self.agents[name], d.event
        if not role.accepts(event):
            d.ack()
            return
        if self.bus.seen(name, event.event_id):
            log.info(
                "%s: %s already handled, acking redelivery",
                name,
                event.event_id,
                extra={"role": name, "event_id": event.event_id, "case_id": event.case_id},
            )
            d.ack()
            return
        if self.bus.past_mark_window(d):
            # Its mark may have expired: running it again could repeat its effects.
            d.dead_letter(
                f"redelivered after the idempotency mark window ({self.bus.mark_ttl_s} s, "
                "mark_retention_days): it cannot be told whether it already ran; replay it to run it again"
            )
            return
        if not self.active(name):
            d.release()
            return
        try:
            results = self.run_role(name, event)
        except ModelUnavailable as e:
            self.unserved, self.model_retry_after_s = self.unserved + 1, e.retry_after_s
            d.retry_later(f"model unreachable: {e}", e.retry_after_s)
            return
        self.unserved, self.model_retry_after_s = 0, None
        self.bus.publish_many(results, once=(name, event.event_id))
        d.ack()

    def model_backoff_s(self) -> float:
        """How long a worker should wait before its next invocation: 0 while the model serves; after
        ``n`` invocations in a row that found no leg serving, ``2 ** (n - 1)`` seconds, up to
        :data:`MODEL_BACKOFF_MAX_S`, and at least the server's last ``Retry-After``. The delivery
        that found no leg waits in the bus; this pause keeps the worker from trying every other
        delivery against a server that is down meanwhile."""
        if self.unserved == 0:
            return 0.0
        backoff = min(MODEL_BACKOFF_MAX_S, 2.0 ** min(self.unserved - 1, 30))
        return max(backoff, self.model_retry_after_s or 0.0)

    def active(self, name: str) -> bool:
        """Whether role ``name`` may take work now (the kill switch is not on for it)."""
        self.controls.refresh()
        return not self.controls.is_paused(name)

    def run_role(self, name: str, event: Event) -> list[Event]:
        """Run role ``name`` on ``event`` and return the events to publish (never raises on output).

        Raises:
            ModelUnavailable: no leg of the model answered; the caller retries later.
        """
        role = self.agents[name]
        t0 = time.perf_counter()
        ctx = self.context_for(role, event)
        settled = role.settle(ctx)
        with serving(event.case_id):  # the role's lookups stay within the case's tenant
            outcome = self._settle(role, settled) if settled is not None else self._ask(role, ctx)
        output, failure, run, transcript = outcome.output, outcome.failure, outcome.run, outcome.transcript
        ctx.model_leg = (
            None if settled is not None else (run.model_calls[-1].leg if run.model_calls else self.caps.leg)
        )
        trace = build_trace(
            role=name,
            prompt_version=role.prompt_version,
            run=run,
            transcript=transcript,
            precedent=list(ctx.precedent),
            output=output,
            shared=[*ctx.shared_parts(), *self._kept_system_message(ctx)],
            settled=settled.reason[:1024] if settled is not None else None,
        )
        results: list[Event]
        if output is not None:
            try:
                ctx.tool_calls = tuple(run.tool_calls)
                handled = role.handle(ctx, output)
                if ctx.notes:
                    trace = trace.model_copy(update={"note": "; ".join(ctx.notes)})
                results, trace = self._guard(role, ctx, output, handled, trace)
                results = [_with_trace(e, trace) for e in results]
            except Exception as e:  # a handler bug on valid output: a person looks, nothing is lost
                log.exception("%s: handler failed on %s", name, event.event_id)
                failure, output = f"handler error: {type(e).__name__}: {e}", None
        if output is None:
            results = [
                ctx.make(
                    ReviewRequested,
                    role=name,
                    reason=failure or "no answer",
                    details=_details(failure, run.tool_calls),
                    duty=role.review_duty,
                    trace=trace,
                )
            ]
        results = self._hold_proposals(ctx, results)
        self._observe(
            Invocation(
                name,
                event,
                tuple(results),
                (time.perf_counter() - t0) * 1000,
                len(run.tool_calls),
                run.input_tokens,
                run.output_tokens,
                failure if output is None else None,
                ctx.model_leg,
                run.cached_tokens,
                len(run.model_calls),
            )
        )
        return results

    def _ask(self, role: AgentRole, ctx: RoleContext) -> Outcome:
        """Run the role's tool loop on its prompt: (output, failure, the record, the transcript).

        Raises:
            ModelUnavailable: no leg of the model answered.
        """
        messages = self.prompt(role, ctx)
        loop = self.loops[role.name]
        narrowed = None
        if loop.caps.json_schema:
            try:
                narrowed = role.answer_schema(ctx, loop.grammar)
            except Exception:  # a narrowing is a help to the decoder: the role's own schema still holds
                log.exception("%s: could not narrow the answer schema on %s", role.name, ctx.event.event_id)
        try:
            return loop.run(messages, self.timeout_s or role.timeout_s, narrowed, case=ctx.case_id)
        except ModelUnavailable:
            raise
        except Exception as e:  # the model answered with an error (bad request, context overflow)
            log.exception("%s: model call failed on %s", role.name, ctx.event.event_id)
            return Outcome(None, f"model error: {type(e).__name__}: {e}", Run(deadline=0.0), messages)

    def prompt(self, role: AgentRole, ctx: RoleContext) -> list[BaseMessage]:
        """The messages ``role`` is sent on ``ctx``: the team's system message, then one user message
        with the case's block (the alert, tagged by the start of its event's id) and the role's part
        (tagged by the end of the trigger's id). A role's own ``alert`` data is the case's block's:
        it is not repeated."""
        data = {k: v for k, v in role.data(ctx).items() if k != "alert"}
        case_tag = (ctx.received or ctx.event).event_id[:8]
        text = user_message(
            self.briefs[role.name],
            ctx.alert_json(),
            case_tag,
            data,
            role.task(ctx),
            ctx.event.event_id[-8:],  # not the case's tag, even when the trigger is the alert
            list(ctx.precedent),
        )
        return [SystemMessage(content=self.system_message), HumanMessage(content=text)]

    def _kept_system_message(self, ctx: RoleContext) -> list[SharedPart]:
        """The team's system message as a part the trace references, when an earlier trace of the
        case keeps it whole (the case's first role keeps it; its later roles point there)."""
        for e in (ctx.event, *reversed(ctx.history)):
            if system_message_of(e) == self.system_message:
                return [SharedPart(self.system_message, e.event_id, 0, kind=SYSTEM_MESSAGE)]
        return []

    def _settle(self, role: AgentRole, settled: Settled) -> Outcome:
        """The role's own answer, validated like a model's; no model is called."""
        log.info("%s: decided without the model: %s", role.name, settled.reason)
        output, error = self.loops[role.name].validate(json.dumps(settled.answer))
        transcript: list[BaseMessage] = [AIMessage(content=json.dumps(settled.answer))]
        failure = f"the role's own answer is invalid: {error}" if error else None
        return Outcome(output, failure, Run(deadline=0.0), transcript)

    def _guard(
        self, role: AgentRole, ctx: RoleContext, output: Any, results: list[Event], trace: Any
    ) -> tuple[list[Event], Any]:
        """Enforce the guardrail on a role's close; record the policy and verdict in its trace."""
        confidence = getattr(output, "confidence", None)
        severity = ctx.alert.severity if ctx.alert is not None else None
        verdict = judge(self.guardrail, role.name, closes_case(results), confidence, ctx.statistics, severity)
        if verdict.overrules and verdict.reason is not None:
            log.info("%s: guardrail %s overruled a close on %s", role.name, verdict.rule, ctx.case_id)
            results = role.overruled(ctx, results, verdict.reason)
        return results, trace.model_copy(update={"guardrail": record(self.guardrail, verdict)})

    def _hold_proposals(self, ctx: RoleContext, results: list[Event]) -> list[Event]:
        """With proposals paused, no action reaches a person: a review asks for the plan instead."""
        held = [e for e in results if isinstance(e, ActionProposed)]
        pause = self.controls.proposals_paused() if held else None
        if not held or pause is None:
            return results
        who = f"by {pause.by}" if isinstance(pause, ControlPaused) else "by the settings"
        review = ctx.make(
            ReviewRequested,
            role=ctx.role,
            reason=f"proposals are paused ({who}): {len(held)} action(s) of this "
            "plan were not proposed; review the plan and act by hand",
            duty=Role.IR_LEAD,
            details="\n".join(f"{p.kind.value} {p.target}: {p.rationale}" for p in held),
        )
        return [e for e in results if not isinstance(e, ActionProposed)] + [review]

    def context_for(self, role: AgentRole, event: Event) -> RoleContext:
        """The case so far (from the audit log) and, when recall is plugged in, the precedent."""
        history = self.bus.audit.for_case(event.case_id) if event.case_id else []
        ctx = RoleContext(
            role=role.name,
            prompt_version=role.prompt_version,
            event=event,
            history=[e for e in history if e.event_id != event.event_id],
            views=self._views,
            raw_limit=self.caps.raw_limit,
            tools=self.caps.tools,
            now=utcnow(),
        )
        if role.uses_precedent and ctx.alert is not None and event.case_id:
            if self.context is not None:
                ctx.precedent = list(self.context(role.name, ctx.alert, event.case_id))
            if self.statistics is not None:
                ctx.statistics = list(self.statistics(role.name, ctx.alert, event.case_id))
        return ctx

    def _observe(self, inv: Invocation) -> None:
        for fn in self.observers:
            try:
                fn(inv)
            except Exception:  # observers are metrics; they never break the pipeline
                log.exception("observer failed")


class _Lru(OrderedDict[str, str]):
    """A small least-recently-used cache (rendered alert views), safe for concurrent invocations."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            if not super().__contains__(key):
                return default
            self.move_to_end(key)
            return super().__getitem__(key)

    def __setitem__(self, key: str, value: str) -> None:
        with self._lock:
            super().__setitem__(key, value)
            if len(self) > self.size:
                self.popitem(last=False)


def _with_trace(event: Event, trace: Any) -> Event:
    return event.model_copy(update={"trace": trace}) if "trace" in type(event).model_fields else event


def _details(failure: str | None, calls: Sequence[Any]) -> str | None:
    if not calls:
        return None
    names = ", ".join(c.name + (" (refused)" if c.refused else "") for c in calls[-10:])
    return f"{len(calls)} tool calls before it stopped: {names}"
