"""One role invocation: a LangGraph tool-loop (model node <-> tool node) with the rules enforced.

The model's first answer is asked for directly; only an answer that calls tools enters the graph,
which then runs the tool node and the model again until the model answers without tools. Most
invocations (every canned answer, and a real model's whenever it looks nothing up) call no tool,
and LangGraph's per-invocation machinery (stream, tasks, channels) cost several times a canned
answer; the graph is the same loop either way, so transcript, records and trace are the same.

Enforced here: the tool whitelist (other calls, and calls whose arguments are no JSON object, are
refused, recorded and answered with why), the hard tool-call budget, a recursion limit and a
per-event deadline. The final answer is validated against the role's schema; invalid output, and an
answer cut at the token limit, gets exactly one repair attempt with the error; an answer the
provider's content filter withheld gets none (failover has asked the backup). Every step is
recorded for the trace, failed model legs included.
"""

from __future__ import annotations

import json
import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, TypedDict, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ValidationError

from aisoc.errors import Unavailable
from aisoc.events import (
    LegFailure,
    ModelCall,
    SharedPart,
    TokenUsage,
    ToolCallRecord,
    Trace,
    TraceMessage,
    truncate,
)
from aisoc.events.trace import LEG_FAILURES_KEPT, TOOL_RESULT_LIMIT
from aisoc.models import Capabilities
from aisoc.models.failover import CONTENT_FILTER, MAX_RETRY_AFTER_S, filtered, leg_failed, retry_after
from aisoc.redact import redact
from aisoc.runtime.constrained import grammar_schema, response_format
from aisoc.runtime.prompt import extract_json
from aisoc.tools import Tool, ToolError, result_text

BUDGET_EXHAUSTED = "budget exhausted"
TOOL_BUDGET_RAW_LIMITS = 4
"""Tool results an invocation shows the model, in all, as a multiple of the model's raw-record
limit (a small context window gets small results; each is also cut to ``TOOL_RESULT_LIMIT``)."""
TOOL_RESULT_FLOOR = 300
"""Characters of a tool result shown even when the budget is spent (enough for its gist or error)."""
TIMEOUT = "timeout"
ANSWER_LIMIT = 200_000
"""Characters of a final answer the loop reads at all: far above any answer a role's schema
validates (IR Lead's largest is about 30,000), so a longer one is refused unread (no quadratic
search for its JSON) and repaired."""
CUT = "the answer was cut at the token limit (max_tokens) before it ended"
"""Why an answer that stopped at ``max_tokens`` (``finish_reason`` ``length``) and does not validate
failed: the repair asks for a shorter one, and a review names the cut."""
FILTERED = (
    "the model's provider filtered the answer (finish_reason content_filter): its content filter "
    "withheld what the model wrote, so there is no answer to check"
)
"""Why there is no answer when the provider's content filter withheld it: not repaired (the same
filter would meet the same case), a person reviews it; failover has asked the backup first."""


class LoopState(TypedDict):
    messages: Annotated[list[AnyMessage], operator.add]


@dataclass
class Run:
    """Per-invocation record the graph nodes write into (the graph itself is shared)."""

    deadline: float
    model_calls: list[ModelCall] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    used: int = 0
    stop: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    repairs: int = 0
    tool_chars: int = 0
    """Characters of tool results shown to the model so far (bounded per invocation)."""
    model: Any = None
    """The model the graph's model node asks (None: the loop's own; set for a narrowed schema)."""


@dataclass(frozen=True)
class Outcome:
    """What one invocation of a role's loop produced: the validated answer or why there is none,
    the record of the run, and the transcript (for the trace)."""

    output: BaseModel | None
    failure: str | None
    run: Run
    transcript: list[BaseMessage]


class ModelUnavailable(Unavailable):
    """No leg of the model could serve the call (unreachable, timed out, overloaded, or answering
    with something that is no chat completion; ``aisoc.models.failover.leg_failed``): retry the
    event later, not before ``retry_after_s`` (the last leg's ``Retry-After``, capped as failover
    caps it)."""


def _openai_tool(t: Tool) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": t.name,
            "description": t.description,
            "parameters": t.args_schema.model_json_schema(),
        },
    }


class ToolLoop:
    """The compiled graph of one role, built once and invoked per event."""

    direct: ClassVar[bool] = True
    """Ask for the first answer outside the graph, and enter the graph only for tool calls (see the
    module docstring). False runs every invocation in the graph from its first step: the same
    loop, kept so that tests prove both give the same transcript, records and trace."""

    def __init__(
        self,
        *,
        role: str,
        model: BaseChatModel,
        caps: Capabilities,
        tools: list[Tool],
        budget: int,
        schema: type[BaseModel],
    ) -> None:
        self.role, self.caps, self.budget, self.schema = role, caps, budget, schema
        self.tools = {t.name: t for t in tools}
        self.grammar: dict[str, Any] = grammar_schema(schema.model_json_schema())
        """The answer schema a constrained decoder gets (the role's, with tighter bounds)."""
        options = caps.request_options()  # prompt-cache fields for servers that take them
        self._base, self._options = model, options
        answer: Any = model.bind(**options) if options else model
        if caps.json_schema:
            answer = self._constrained(self.grammar)
        self.answer_model = answer
        tool_specs = [_openai_tool(t) for t in tools]
        self.model = model.bind_tools(tool_specs, **options) if (caps.tools and tools) else answer
        self.tool_budget = TOOL_BUDGET_RAW_LIMITS * caps.raw_limit
        self.recursion_limit = 2 * budget + 6
        graph = StateGraph(LoopState)
        graph.add_node("model", self._model_node)
        graph.add_node("tools", self._tool_node)
        graph.add_conditional_edges(START, self._entry, ["model", "tools"])
        graph.add_conditional_edges("model", self._after_model, ["tools", END])
        graph.add_conditional_edges("tools", self._after_tools, ["model", END])
        self.graph = graph.compile()

    def _constrained(self, schema: dict[str, Any]) -> Any:
        return self._base.bind(response_format=response_format(schema), **self._options)

    # --- nodes ------------------------------------------------------------------------------------

    def _call(self, model: Any, messages: Sequence[BaseMessage], run: Run) -> AIMessage:
        t0 = time.perf_counter()
        try:
            ai = model.invoke(messages)
        except Exception as e:
            run.model_calls.append(
                ModelCall(
                    leg=self.caps.leg, duration_ms=_ms(t0), error=truncate(f"{type(e).__name__}: {e}", 1000)
                )
            )
            if leg_failed(e):
                asked = retry_after(e)
                raise ModelUnavailable(
                    f"{type(e).__name__}: {e}",
                    retry_after_s=None if asked is None else min(asked, MAX_RETRY_AFTER_S),
                ) from e
            raise
        usage = getattr(ai, "usage_metadata", None) or {}
        # A server's counts are bookkeeping: one it misreports is left out, never the answer lost.
        inputs, outputs = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
        cached = _count((usage.get("input_token_details") or {}).get("cache_read"))
        run.input_tokens += inputs or 0
        run.output_tokens += outputs or 0
        run.cached_tokens += cached or 0
        run.model_calls.append(
            ModelCall(
                leg=str(ai.response_metadata.get("aisoc_leg") or self.caps.leg),
                duration_ms=_ms(t0),
                input_tokens=inputs,
                output_tokens=outputs,
                cached_tokens=cached,
                failed_legs=_failed_legs(ai.response_metadata.get("aisoc_failed_legs")),
            )
        )
        return ai  # type: ignore[no-any-return]

    def _model_node(self, state: LoopState, config: RunnableConfig) -> dict[str, Any]:
        run: Run = config["configurable"]["run"]
        if time.monotonic() > run.deadline:
            run.stop = TIMEOUT
            return {}
        return {"messages": [self._call(run.model or self.model, state["messages"], run)]}

    def _entry(self, state: LoopState) -> str:
        """Where the graph starts: the tool node when the transcript ends with tool calls (the first
        answer was asked for directly), else the model node."""
        return "tools" if _calls(state["messages"][-1]) else "model"

    def _after_model(self, state: LoopState, config: RunnableConfig) -> str:
        run: Run = config["configurable"]["run"]
        return "tools" if run.stop is None and _calls(state["messages"][-1]) else END

    def _tool_node(self, state: LoopState, config: RunnableConfig) -> dict[str, Any]:
        run: Run = config["configurable"]["run"]
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        out: list[AnyMessage] = []
        # Calls whose arguments LangChain could not read (no JSON, or JSON but no object) count
        # against the budget like any call: refused, recorded, and the model told why.
        calls = [(c, False) for c in last.tool_calls] + [(c, True) for c in last.invalid_tool_calls]
        for call, unreadable in calls:
            if run.used >= self.budget:
                run.stop = BUDGET_EXHAUSTED
                break
            run.used += 1
            name, call_id = call.get("name") or "", call.get("id") or ""
            args: Any = call.get("args") or {}
            tool = self.tools.get(name)
            if tool is None or unreadable:
                if tool is None:
                    text, why = f"refused: {truncate(name, 200)!r} is not a tool this role may use", None
                else:
                    why = truncate(str(call.get("error") or "its arguments could not be read"), 1000)
                    text = f"refused: the call to {name!r} was not made: {truncate(why, 500)}"
                run.tool_calls.append(
                    ToolCallRecord(
                        name=truncate(name, 256), arguments=args, result=text, refused=True, error=why
                    )
                )
                out.append(ToolMessage(content=text, tool_call_id=call_id))
                continue
            t0 = time.perf_counter()
            error = None
            try:
                room = max(TOOL_RESULT_FLOOR, self.tool_budget - run.tool_chars)
                text = truncate(redact(result_text(tool.invoke(args))), min(TOOL_RESULT_LIMIT, room))
                run.tool_chars += len(text)
            except ToolError as e:
                text = error = redact(str(e))
            except Exception as e:  # a tool bug must not take the role down: the model is told
                text = error = redact(f"tool failed: {type(e).__name__}: {e}")
            run.tool_calls.append(
                ToolCallRecord(
                    name=name,
                    arguments=args,
                    result=text,
                    duration_ms=_ms(t0),
                    error=truncate(error, 1000) if error else None,
                )
            )
            out.append(ToolMessage(content=text, tool_call_id=call_id))
            if time.monotonic() > run.deadline:
                run.stop = TIMEOUT
                break
        return {"messages": out}

    def _after_tools(self, state: LoopState, config: RunnableConfig) -> str:
        return END if config["configurable"]["run"].stop else "model"

    # --- invocation -------------------------------------------------------------------------------

    def run(
        self,
        messages: list[BaseMessage],
        timeout_s: float,
        narrowed: dict[str, Any] | None = None,
        case: str | None = None,
    ) -> Outcome:
        """Run the loop: the validated output, or the reason there is none.

        Args:
            messages: the system and user messages.
            timeout_s: the invocation's time limit.
            narrowed: the answer schema for this invocation when the role narrows :attr:`grammar` to
                the case (:meth:`AgentRole.answer_schema`); used only where the model takes a schema.
            case: the case the invocation is about: with server slots, every call goes to the
                case's slot (:meth:`Capabilities.pin`).

        Raises:
            ModelUnavailable: no leg of the model could be reached.
        """
        run = Run(deadline=time.monotonic() + timeout_s)
        answer_model = self.answer_model
        if narrowed is not None and self.caps.json_schema:
            answer_model = self._constrained(narrowed)
            if self.model is self.answer_model:  # no tools bound: the first answer is constrained too
                run.model = answer_model
        pin = self.caps.pin(case) if case else {}
        if pin:
            answer_model = answer_model.bind(**pin)
            run.model = (run.model or self.model).bind(**pin)
        transcript: list[BaseMessage] = list(messages)
        if self.direct:  # the model node's first step, taken here (see the module docstring)
            if time.monotonic() > run.deadline:
                run.stop = TIMEOUT
            else:
                transcript.append(self._call(run.model or self.model, transcript, run))
        last = transcript[-1]
        if not self.direct or (run.stop is None and _calls(last)):
            state = self.graph.invoke(
                cast(LoopState, {"messages": transcript}),
                # One node runs per step, so no thread pool is needed (and sizing one costs a syscall).
                {
                    "configurable": {"run": run},
                    "recursion_limit": self.recursion_limit,
                    "max_concurrency": 1,
                },
            )
            transcript = state["messages"]
            last = transcript[-1]
        if run.stop is not None:
            return Outcome(None, run.stop, run, transcript)
        if not isinstance(last, AIMessage) or _calls(last):
            return Outcome(None, "the model ended without an answer", run, transcript)
        output, error = self._judge(last)
        if error == FILTERED:
            return Outcome(None, _filtered_reason(run), run, transcript)
        cut = error is not None and CUT in error
        if error is not None and time.monotonic() <= run.deadline:
            ask = "Reply with only the corrected JSON object."
            if cut:
                ask = (
                    "Reply with only the JSON object, shorter: keep every text brief so that it ends in time."
                )
            first = error
            repair = HumanMessage(content=f"Your answer was not valid: {error}\n{ask}")
            fixed = self._call(answer_model, [*transcript, repair], run)
            transcript = [*transcript, repair, fixed]
            output, error = self._judge(fixed)
            run.repairs = 1
            if error == FILTERED:
                return Outcome(None, f"{_filtered_reason(run)} (asked to repair: {first})", run, transcript)
        if error is not None:
            when = "after one repair" if run.repairs else "and no time left to repair it"
            if cut and CUT not in error:
                error += f" (the first answer: {CUT})"
            return Outcome(None, f"invalid output {when}: {error}", run, transcript)
        return Outcome(output, None, run, transcript)

    def _judge(self, answer: AIMessage) -> tuple[BaseModel | None, str | None]:
        """Validate a final answer; a refusal (OpenAI's ``refusal`` field) is named as such, and an
        answer the provider filtered is :data:`FILTERED`, whatever is left of it."""
        if filtered(answer):
            return None, FILTERED
        refusal = answer.additional_kwargs.get("refusal")
        if refusal and not answer_text(answer.content or "").strip():
            return None, f"the model refused to answer: {truncate(str(refusal), 500)}"
        output, error = self.validate(answer.content)
        if error is not None and answer.response_metadata.get("finish_reason") == "length":
            return None, f"{CUT}: {error}"  # a cut answer that still validates (chatter cut) stands
        return output, error

    def validate(self, content: Any) -> tuple[BaseModel | None, str | None]:
        """Parse and validate a final answer; the error text is what the repair prompt shows."""
        text = answer_text(content)
        if len(text) > ANSWER_LIMIT:
            return None, f"the answer is {len(text):,} characters long; answer with the JSON object only"
        try:
            return self.schema.model_validate(extract_json(text)), None
        except ValueError as e:
            if isinstance(e, ValidationError):
                parts = [f"{'.'.join(map(str, x['loc'])) or '(root)'}: {x['msg']}" for x in e.errors()[:5]]
                return None, "; ".join(parts)
            return None, str(e)


def build_trace(
    *,
    role: str,
    prompt_version: str,
    run: Run,
    transcript: list[BaseMessage],
    precedent: list[Any],
    output: BaseModel | None,
    note: str | None = None,
    shared: Sequence[SharedPart] = (),
    settled: str | None = None,
) -> Trace:
    """Assemble the trace of one invocation (messages, calls, precedent, usage, outputs); the
    ``shared`` parts (the alert's view) are referenced by event id instead of copied."""
    raw = transcript[-1].content if transcript and isinstance(transcript[-1], AIMessage) else ""
    usage = (
        TokenUsage(
            input_tokens=run.input_tokens, output_tokens=run.output_tokens, cached_tokens=run.cached_tokens
        )
        if run.input_tokens or run.output_tokens
        else None
    )
    return Trace(
        role=role,
        prompt_version=prompt_version,
        model_calls=run.model_calls[-200:],
        messages=[TraceMessage.lean(m.type, _text(m), shared) for m in transcript[-200:]],
        tool_calls=run.tool_calls[-200:],
        precedent=precedent[:50],
        usage=usage,
        raw_output=raw if isinstance(raw, str) else json.dumps(raw),
        validated_output=output.model_dump_json() if output is not None else None,
        repairs=run.repairs,
        note=note,
        settled=settled,
    )


def _filtered_reason(run: Run) -> str:
    """:data:`FILTERED`, saying what became of the backup leg when failover asked it (it records the
    primary's filtered answer, or the backup's failure, among the call's failed legs)."""
    if not run.model_calls:
        return FILTERED
    last = run.model_calls[-1]
    for f in last.failed_legs:
        if f.error == CONTENT_FILTER:
            return f"{FILTERED}; the {last.leg} leg, asked after the {f.leg} leg, filtered it too"
    failed = ", ".join(f"the {f.leg} leg failed the call ({f.error})" for f in last.failed_legs)
    return f"{FILTERED}; {failed}" if failed else FILTERED


def _calls(m: BaseMessage) -> bool:
    """Whether ``m`` is an answer that calls tools (calls LangChain could not read included)."""
    return isinstance(m, AIMessage) and bool(m.tool_calls or m.invalid_tool_calls)


def _failed_legs(value: Any) -> list[LegFailure]:
    """The legs that failed a call first, as the failover model tagged them (bounded; a record it
    could not have written is left out, never the answer lost)."""
    if not isinstance(value, list):
        return []
    out = []
    for item in value[:LEG_FAILURES_KEPT]:
        try:
            out.append(LegFailure.model_validate(item))
        except ValidationError:
            continue
    return out


def _text(m: BaseMessage) -> str:
    if isinstance(m, AIMessage) and _calls(m):
        calls: list[dict[str, Any]] = [{"name": c["name"], "args": c.get("args")} for c in m.tool_calls]
        calls += [
            {"name": c.get("name"), "args": c.get("args"), "error": c.get("error")}
            for c in m.invalid_tool_calls
        ]
        return json.dumps({"content": m.content, "tool_calls": calls}, default=str)
    return m.content if isinstance(m.content, str) else json.dumps(m.content, default=str)


TOKEN_COUNT_LIMIT = 100_000_000
"""Most tokens one call may be counted with: a larger count is a server's error, not a context."""


def _count(value: Any) -> int | None:
    """A token count as reported, or None when it is no count (negative, a word, beyond any context)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= TOKEN_COUNT_LIMIT:
        return value
    return None


def answer_text(content: Any) -> str:
    """The text of an answer's content: a string, or the text of its parts (the Chat Completions API
    lets a server send ``[{"type": "text", "text": ...}, ...]``); anything else as JSON."""
    if isinstance(content, str):
        return content
    if (
        isinstance(content, list)
        and content
        and all(isinstance(p, str) or (isinstance(p, dict) and p.get("type") == "text") for p in content)
    ):
        return "".join(p if isinstance(p, str) else str(p.get("text") or "") for p in content)
    return json.dumps(content)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
