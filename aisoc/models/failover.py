"""Failover between a primary and a backup chat model, with a cooldown.

langchain-failover retries the primary on every call; a dead primary would then cost one
connection timeout per call. Here a primary that failed is skipped for ``cooldown_s`` seconds
(shared by every ``bind_tools`` copy), or for as long as its ``Retry-After`` asks (up to
:data:`MAX_RETRY_AFTER_S`), then probed again, and served again as soon as it answers.
Each answer is tagged with the leg that served it (``response_metadata["aisoc_leg"]``) and with the
legs that failed the call first (``response_metadata["aisoc_failed_legs"]``: leg, error class, HTTP
status, milliseconds), so that the trace, not only the log, shows a failover.

A leg has failed (:func:`leg_failed`) when it could not be reached or timed out, when the server
answered that it cannot serve now (408, 429, 5xx: overloaded, loading a model, a broken GPU), or
when its response was no chat completion at all. A request the server refused on its merits (400:
malformed, context too long; 401, 404) is no leg failure: the other leg would refuse it too.

An answer the provider's content filter withheld (``finish_reason`` ``content_filter``: OpenAI,
Azure OpenAI, any server that filters) is no leg failure either: the leg is up and stays in use.
But another provider may not filter the same answer, so the backup is asked once for that call;
the primary's filtered answer is recorded among the failed legs (error ``content_filter``), and the
backup's answer stands, filtered or not. If the backup cannot answer, the primary's filtered answer
is returned (the backup's failure recorded beside it): the runtime asks a person, naming the filter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from langchain_failover import FailoverChatModel, is_connection_error
from pydantic import PrivateAttr

log = logging.getLogger(__name__)

DEFAULT_COOLDOWN_S = 30.0
"""How long a primary that failed is skipped before it is probed again."""
MAX_RETRY_AFTER_S = 600.0
"""Longest ``Retry-After`` a failed primary is taken at its word for (a longer one is cut to this)."""
UNAVAILABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
"""HTTP statuses by which a server says it cannot serve now (another leg, or later, may)."""
CONTENT_FILTER = "content_filter"
"""The ``finish_reason`` by which a provider says its content filter withheld (part of) the answer."""


def filtered(message: Any) -> bool:
    """Whether ``message`` is an answer the model's provider filtered (``finish_reason``
    :data:`CONTENT_FILTER` in its response metadata)."""
    meta = getattr(message, "response_metadata", None)
    return isinstance(meta, dict) and meta.get("finish_reason") == CONTENT_FILTER


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions of its cause chain, each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def leg_failed(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception in its cause chain) means the leg failed, not the request:
    unreachable, timed out, a status of :data:`UNAVAILABLE_STATUS`, or a response that is no chat
    completion (an error LangChain marks retryable)."""
    if is_connection_error(exc):
        return True
    return any(
        getattr(e, "status_code", None) in UNAVAILABLE_STATUS
        or getattr(type(e), "is_retryable", False) is True
        for e in _chain(exc)
    )


def failure(leg: str, exc: BaseException, duration_ms: float) -> dict[str, Any]:
    """What the trace keeps of a leg's failure (``aisoc.events.LegFailure``): the leg, the error's
    class, the HTTP status if the server answered one, and how long the attempt took. Never the
    error's message: a server's error text may echo the prompt."""
    status = next((s for e in _chain(exc) if isinstance(s := getattr(e, "status_code", None), int)), None)
    return {"leg": leg, "error": type(exc).__name__, "status": status, "duration_ms": round(duration_ms, 3)}


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked to be left alone (its ``Retry-After``, in seconds or as a date); for
    a call no leg could serve, the later of both legs' (``CooldownFailoverChatModel``)."""
    both = getattr(exc, "aisoc_retry_after_s", None)
    if isinstance(both, float):
        return both
    response = getattr(exc, "response", None)
    value = getattr(response, "headers", {}).get("retry-after") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class LegState:
    """Which leg is up; shared between a failover model and its tool-bound copies."""

    def __init__(self, cooldown_s: float) -> None:
        self.cooldown_s = cooldown_s
        self.down_until = 0.0
        self.asked_until = 0.0
        """Until when the primary asked to be left alone (its last ``Retry-After``; monotonic)."""
        self.active = "primary"
        self._lock = threading.Lock()

    def primary_due(self) -> bool:
        return time.monotonic() >= self.down_until

    def mark_up(self) -> None:
        with self._lock:
            if self.active != "primary":
                log.info("model failover: primary answers again, switching back")
            self.active, self.down_until = "primary", 0.0

    def mark_down(self, exc: BaseException) -> None:
        asked = retry_after(exc)
        down_for = max(self.cooldown_s, min(asked, MAX_RETRY_AFTER_S)) if asked else self.cooldown_s
        with self._lock:
            self.asked_until = time.monotonic() + min(asked, MAX_RETRY_AFTER_S) if asked else 0.0
            if self.active == "primary":
                log.warning(
                    "model failover: primary failed (%s: %s), serving from backup for %.0fs",
                    type(exc).__name__,
                    exc,
                    down_for,
                )
            self.active, self.down_until = "backup", time.monotonic() + down_for


class CooldownFailoverChatModel(FailoverChatModel):  # type: ignore[misc]  # untyped package
    """``FailoverChatModel`` that skips a dead primary for a cooldown and tags the serving leg."""

    cooldown_s: float = DEFAULT_COOLDOWN_S
    _state: LegState = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        self._state = LegState(self.cooldown_s)

    @property
    def _llm_type(self) -> str:
        return "aisoc-failover"

    @property
    def active(self) -> str:
        """The leg that served the latest call (``primary`` or ``backup``), across tool-bound copies."""
        return self._state.active

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        state = self._state
        failed: list[dict[str, Any]] = []
        if state.primary_due():
            t0 = time.perf_counter()
            try:
                result = self._delegate_generate(self.primary, messages, stop, **kwargs)
            except Exception as exc:
                if not leg_failed(exc):
                    raise
                state.mark_down(exc)
                failed.append(failure("primary", exc, (time.perf_counter() - t0) * 1000))
            else:
                state.mark_up()
                if not any(filtered(getattr(g, "message", None)) for g in result.generations):
                    return _tag(result, "primary", failed)
                failed.append(_filter_record("primary", t0))
                return self._after_filter(result, failed, messages, stop, **kwargs)
        try:
            return _tag(self._delegate_generate(self.secondary, messages, stop, **kwargs), "backup", failed)
        except Exception as exc:
            # No leg could serve: the call is retried after the later of both legs' Retry-After.
            primary_s = state.asked_until - time.monotonic()
            if leg_failed(exc) and primary_s > 0:
                exc.aisoc_retry_after_s = max(primary_s, retry_after(exc) or 0.0)  # type: ignore[attr-defined]
            raise

    def _after_filter(
        self,
        result: ChatResult,
        failed: list[dict[str, Any]],
        messages: list[BaseMessage],
        stop: list[str] | None,
        **kwargs: Any,
    ) -> ChatResult:
        """The backup's answer to a call whose answer the primary's provider filtered, once; the
        primary's filtered answer when the backup cannot answer (its failure recorded)."""
        t0 = time.perf_counter()
        try:
            backup = self._delegate_generate(self.secondary, messages, stop, **kwargs)
        except Exception as exc:
            log.warning(
                "model failover: the primary's answer was filtered and the backup failed (%s)",
                type(exc).__name__,
            )
            return _tag(result, "primary", [failure("backup", exc, (time.perf_counter() - t0) * 1000)])
        return _tag(backup, "backup", failed)

    def bind_tools(self, tools: Any, **kwargs: Any) -> CooldownFailoverChatModel:
        bound = CooldownFailoverChatModel(
            primary=self.primary.bind_tools(tools, **kwargs),
            secondary=self.secondary.bind_tools(tools, **kwargs),
            cooldown_s=self.cooldown_s,
        )
        bound._state = self._state
        return bound


def _filter_record(leg: str, t0: float) -> dict[str, Any]:
    """The failed-leg record of an answer ``leg``'s provider filtered (asked at ``t0``)."""
    return {
        "leg": leg,
        "error": CONTENT_FILTER,
        "status": None,
        "duration_ms": round((time.perf_counter() - t0) * 1000, 3),
    }


def _tag(result: ChatResult, leg: str, failed: list[dict[str, Any]]) -> ChatResult:
    for gen in result.generations:
        meta = getattr(gen, "message", None)
        if meta is not None:
            meta.response_metadata["aisoc_leg"] = leg
            meta.response_metadata["aisoc_failed_legs"] = failed
    return result
