"""What a role's trace says: the prompt and model leg, every tool call, the precedent it was shown.

This is the one summary of a trace: explain tells it line by line, the gate's step one folds the
same statements into its "Reasoning trace" box.
"""

from __future__ import annotations

from aisoc.events import Trace
from aisoc.memory.statements.model import Fact, Said, clip

ARG_CHARS = 200
"""Characters of a tool call's arguments quoted in a statement."""
RESULT_CHARS = 300
"""Characters of a tool result quoted in a statement."""
BRIEF_ARG_CHARS = 120
"""Characters of a tool call's arguments in its brief form."""
SHARED_SHOWN = 8
"""Shared indicators named per precedent case."""
TRACE_KINDS = frozenset({"model", "tool", "precedent"})
"""Statement kinds that come from a trace."""


def say_trace(said: Said, trace: Trace | None) -> None:
    """Add the statements of ``trace`` (or that none was recorded) to ``said``.

    The first ``model`` statement carries the trace's facts: ``recorded``, ``role``,
    ``prompt_version``, ``legs``, ``calls``, ``failed``, ``repairs``, ``input_tokens`` and
    ``output_tokens``.
    """
    e = said.event
    if trace is None:
        pv = e.produced_by.prompt_version or "unknown"
        leg = e.produced_by.model_leg or "unknown"
        said.say(
            "model",
            "ran",
            f"no trace was recorded (prompt version {pv}, model leg {leg})",
            facts={"recorded": False, "prompt_version": pv, "legs": (leg,)},
            lead=False,
        )
        return
    served = tuple(trace.legs)
    legs = ", ".join(served) or "none recorded"
    errors = sum(1 for c in trace.model_calls if c.error)
    extra = f", {errors} failed" if errors else ""
    said.say(
        "model",
        "ran",
        f"ran prompt {trace.prompt_version} on model leg {legs} "
        f"({len(trace.model_calls)} model call(s){extra})",
        brief=f"{trace.prompt_version} on {legs}",
        facts={
            "recorded": True,
            "role": trace.role,
            "prompt_version": trace.prompt_version,
            "legs": served,
            "calls": len(trace.model_calls),
            "failed": errors,
            "repairs": trace.repairs,
            "input_tokens": trace.usage.input_tokens if trace.usage else None,
            "output_tokens": trace.usage.output_tokens if trace.usage else None,
        },
        lead=False,
    )
    for call in trace.model_calls:
        for f in call.failed_legs:
            how = f.error + (f", HTTP {f.status}" if f.status is not None else "")
            said.say(
                "model",
                "failed over",
                f"model leg {f.leg} failed a call ({how}, after {f.duration_ms:.0f} ms); "
                f"leg {call.leg} answered it",
                brief=f"{f.leg} failed ({how}); {call.leg} answered",
                facts={"leg": f.leg, "error": f.error, "status": f.status, "answered_by": call.leg},
                lead=False,
            )
    for c in trace.tool_calls:
        args = clip(c.arguments, ARG_CHARS)
        short = c.arguments
        if len(short) > BRIEF_ARG_CHARS:
            short = short[: BRIEF_ARG_CHARS - 1] + "…"
        facts: dict[str, Fact] = {
            "name": c.name,
            "arguments": c.arguments,
            "refused": c.refused,
            "error": c.error,
        }
        if c.refused:
            why = f"refused: {clip(c.error, RESULT_CHARS)}" if c.error else "refused (not on its whitelist)"
            text = f"asked for tool {c.name}({args}); {why}"
            brief = f"{c.name}({short}) — refused"
        elif c.error:
            text = f"called {c.name}({args}); it failed: {clip(c.error, RESULT_CHARS)}"
            brief = f"{c.name}({short}) — error: {c.error}"
        else:
            text = f"called {c.name}({args}) and got: {clip(c.result, RESULT_CHARS)}"
            brief = f"{c.name}({short})"
            facts["result"] = c.result
        said.say("tool", "called", text, brief=brief, facts=facts, lead=False)
    if not trace.precedent:
        said.say("precedent", "was shown", "was shown no precedent", facts={"case_id": None}, lead=False)
    for p in trace.precedent:
        shared = ", ".join(p.shared[:SHARED_SHOWN]) or "no indicators"
        rule = "; same rule" if p.same_rule else ""
        ended = f"{p.verdict} by {p.decided_by}" if p.verdict else "undecided"
        said.say(
            "precedent",
            "was shown",
            f"was shown precedent case {p.case_id} ({ended}; shared {shared}{rule})",
            brief=p.case_id
            + (f" ({p.verdict})" if p.verdict else "")
            + (f": shares {', '.join(p.shared)}" if p.shared else ""),
            facts={
                "case_id": p.case_id,
                "verdict": p.verdict,
                "decided_by": p.decided_by,
                "shared": tuple(p.shared),
                "same_rule": p.same_rule,
            },
            lead=False,
        )
    if trace.repairs:
        said.say(
            "model",
            "repaired",
            f"its answer needed {trace.repairs} repair(s) to match the schema",
            facts={"repairs": trace.repairs},
            lead=False,
        )
    if trace.note:
        said.say("model", "noted", f"note: {clip(trace.note, RESULT_CHARS)}", detail=trace.note, lead=False)
