"""Capacity you can plan with: a model's prompt and generation speed, and alerts/day for a role mix.

    speed = measure(model)                     # prompt tokens/s (uncached), answer tokens/s
    mix = role_mix(bus.audit)                  # per role: invocations, evaluated and answer tokens per alert
    speed.alerts_per_day(mix, concurrency=1)

The role mix comes from the traces in the audit log (what the team really did with this model and
these alerts); :data:`DEFAULT_MIX` stands in when the log holds none. The measurement calls the
model itself, with prompts that share no prefix with anything a server may have cached.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from aisoc.errors import ModelError

FILLER = (  # about 118 tokens a line with the bundled model's tokenizer
    "Sysmon event 1 process create on host WS-{n}: image C:\\Windows\\System32\\cmd.exe, parent "
    "explorer.exe, user CORP\\user{n}, command line 'cmd.exe /c whoami /all', hashes SHA256 {h}. "
)
"""One line of log-like filler for the reference prompt (varied so it does not compress)."""
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"enum": ["malicious", "suspicious", "benign", "false_positive"]},
        "confidence": {"enum": [n / 10 for n in range(11)]},
        "summary": {"type": "string", "maxLength": 160},
    },
    "required": ["verdict", "confidence", "summary"],
}
"""A role-like answer: generation speed is measured on constrained, schema-valid JSON."""


@dataclass(frozen=True)
class Call:
    """One timed model call."""

    seconds: float
    prompt_tokens: int
    cached_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class RoleLoad:
    """What one role costs per alert: how often it calls the model, and tokens per call."""

    calls_per_alert: float
    evaluated_tokens: float
    """Prompt tokens the model evaluates per call (those taken from its prompt cache excluded)."""
    output_tokens: float


DEFAULT_MIX: dict[str, RoleLoad] = {
    "sentinel": RoleLoad(1.0, 466, 50),
    "tier2": RoleLoad(0.6, 62, 40),
    "ir_lead": RoleLoad(0.4, 164, 135),
    "threat_intel": RoleLoad(0.2, 510, 110),
}
"""Stand-in role mix when the audit log holds no traces; replace it with the log's as soon as there
is one. Calls per alert: a Wazuh-like mix. Evaluated tokens per call (2026-12-07, seventh pass: one
evaluated prefix per case, so Tier 2 and IR Lead evaluate only their own part): the prompts the
roles send for the pipeline bench's 40 real Wazuh alerts with the local model's kept contexts
(``bench/prompt_tokens.py --alerts 40 --per-role-cache``); answer tokens: the bundled model's with
jump-forward decoding (``bench/pipeline.py --model local --local-alerts 40``, sixth pass). Threat
Intel's from before it settled on models without tools and before the shared prefix (a model with
tools still calls it; its part of the prompt is now shorter)."""


@dataclass(frozen=True)
class Speed:
    """A model's measured speed."""

    prompt_tps: float
    """Prompt tokens evaluated per second (uncached)."""
    output_tps: float
    """Answer tokens generated per second (schema-constrained)."""
    reference: Call
    """The uncached call on a prompt of about 1,000 tokens (the yardstick for seconds per alert)."""

    def seconds_per_alert(self, mix: dict[str, RoleLoad]) -> float:
        """Model seconds one alert costs with this role mix, one call at a time."""
        return sum(
            r.calls_per_alert * (r.evaluated_tokens / self.prompt_tps + r.output_tokens / self.output_tps)
            for r in mix.values()
        )

    def alerts_per_day(self, mix: dict[str, RoleLoad], concurrency: int = 1) -> float:
        """Alerts a day at this speed; ``concurrency`` counts calls a server serves at once at full
        speed each (an optimistic bound: measure a batching server with ``bench/concurrency.py``)."""
        per_alert = self.seconds_per_alert(mix)
        return 86400 * concurrency / per_alert if per_alert > 0 else float("inf")


def reference_prompt(tokens: int = 1000) -> str:
    """About ``tokens`` tokens of log-like text, unique per call (no server can have it cached)."""
    lines = [FILLER.format(n=n, h=uuid.uuid4().hex * 2) for n in range(max(1, tokens // 118))]
    return f"run {uuid.uuid4().hex}\n" + "".join(lines)


def timed_call(model: Any, prompt: str, *, max_tokens: int | None = None, schema: Any = None) -> Call:
    """Call ``model`` once on ``prompt`` (a unique system message first) and time it.

    Raises:
        ModelError: the model answered without token usage (nothing to measure).
    """
    kwargs: dict[str, Any] = {}
    if schema is not None:
        kwargs["response_format"] = {"type": "json_object", "schema": schema}
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    bound = model.bind(**kwargs) if kwargs else model
    messages = [SystemMessage(content=f"reference {uuid.uuid4().hex}"), HumanMessage(content=prompt)]
    t0 = time.perf_counter()
    ai = bound.invoke(messages)
    seconds = time.perf_counter() - t0
    usage = getattr(ai, "usage_metadata", None) or {}
    if not usage.get("input_tokens"):
        raise ModelError("the model reported no token usage: its speed cannot be measured")
    cached = (usage.get("input_token_details") or {}).get("cache_read") or 0
    return Call(seconds, int(usage["input_tokens"]), int(cached), int(usage.get("output_tokens") or 0))


def uncached_call(model: Any, tokens: int = 1000) -> Call:
    """One uncached call on about ``tokens`` prompt tokens, answered with a short role-like JSON,
    decoded token by token (:func:`token_by_token`)."""
    with token_by_token(model):
        return timed_call(model, reference_prompt(tokens), schema=ANSWER_SCHEMA)


@contextmanager
def token_by_token(model: Any) -> Iterator[Any]:
    """``model`` with the local model's jump-forward decoding off for the duration (other models are
    left as they are). The yardstick measures the machine, not the decoder, so that figures of every
    pass compare; and an answer the decoder writes mostly by itself is too quick to time the model's
    own generation by."""
    jump = getattr(model, "jump_forward", None)
    if jump is not None:
        model.jump_forward = False
    try:
        yield model
    finally:
        if jump is not None:
            model.jump_forward = jump


def measure(model: Any, tokens: int = 1000) -> Speed:
    """Prompt speed from a one-token answer, answer speed from a constrained JSON answer.

    Raises:
        ModelError: the model reports no token usage.
    """
    prompt = timed_call(model, reference_prompt(tokens), max_tokens=1)
    reference = uncached_call(model, tokens)
    prompt_tps = (prompt.prompt_tokens - prompt.cached_tokens) / prompt.seconds
    decode_s = reference.seconds - (reference.prompt_tokens - reference.cached_tokens) / prompt_tps
    output_tps = reference.output_tokens / decode_s if decode_s > 0 and reference.output_tokens else 0.0
    if output_tps <= 0:
        raise ModelError("the model's answer was too short or too fast to time its generation")
    return Speed(prompt_tps=prompt_tps, output_tps=output_tps, reference=reference)


def role_mix(events: Iterable[Any]) -> dict[str, RoleLoad]:
    """Per role, model calls and tokens per alert, from the traces of the events given (the audit log).

    Settled answers (no model call) count as invocations without calls. Empty when no alert or no
    trace with token usage is in the log.
    """
    alerts = 0
    calls: Counter[str] = Counter()
    evaluated: Counter[str] = Counter()
    output: Counter[str] = Counter()
    traced: set[tuple[str, str]] = set()
    for e in events:
        if e.type == "alert.received":
            alerts += 1
        trace = getattr(e, "trace", None)
        if trace is None or trace.usage is None or (trace.role, e.causation_id or "") in traced:
            continue
        traced.add((trace.role, e.causation_id or ""))  # one trace per invocation, however many events
        calls[trace.role] += len(trace.model_calls)
        evaluated[trace.role] += trace.usage.input_tokens - trace.usage.cached_tokens
        output[trace.role] += trace.usage.output_tokens
    if not alerts:
        return {}
    return {
        role: RoleLoad(n / alerts, evaluated[role] / n, output[role] / n) for role, n in calls.items() if n
    }


def report(speed: Speed, mix: dict[str, RoleLoad], concurrency: int = 1) -> str:
    """The figures in words, one per line."""
    ref = speed.reference
    lines = [
        f"prompt: {speed.prompt_tps:.0f} tokens/s uncached; answers: {speed.output_tps:.1f} tokens/s "
        "(schema-constrained)",
        f"one uncached call, {ref.prompt_tokens} prompt tokens + {ref.output_tokens} answer tokens: "
        f"{ref.seconds:.2f} s",
    ]
    for role, r in sorted(mix.items()):
        lines.append(
            f"  {role}: {r.calls_per_alert:.2f} calls/alert, {r.evaluated_tokens:.0f} evaluated + "
            f"{r.output_tokens:.0f} answer tokens per call"
        )
    per_alert = speed.seconds_per_alert(mix)
    lines.append(
        f"model time per alert: {per_alert:.2f} s = {per_alert / ref.seconds:.2f} x one uncached call; "
        f"{speed.alerts_per_day(mix, concurrency):,.0f} alerts/day at concurrency {concurrency}"
    )
    return "\n".join(lines)


def as_json(speed: Speed, mix: dict[str, RoleLoad], concurrency: int = 1) -> str:
    """The figures as JSON (for dashboards and ``bench/RESULTS.md``)."""
    return json.dumps(
        {
            "prompt_tokens_per_s": speed.prompt_tps,
            "output_tokens_per_s": speed.output_tps,
            "reference_call": speed.reference.__dict__,
            "mix": {k: v.__dict__ for k, v in mix.items()},
            "seconds_per_alert": speed.seconds_per_alert(mix),
            "alerts_per_day": speed.alerts_per_day(mix, concurrency),
            "concurrency": concurrency,
        },
        indent=2,
    )
