"""Failover between a primary and a backup chat model, with a cooldown.

langchain-failover retries the primary on every call; a dead primary would then cost one
connection timeout per call. Here a primary that failed is skipped for ``cooldown_s`` seconds
(shared by every ``bind_tools`` copy), then probed again, and served again as soon as it answers.
Each answer is tagged with the leg that served it (``response_metadata["aisoc_leg"]``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from langchain_failover import FailoverChatModel, is_connection_error
from pydantic import PrivateAttr

log = logging.getLogger(__name__)

DEFAULT_COOLDOWN_S = 30.0
"""How long a primary that failed with a connection error is skipped before it is probed again."""


class LegState:
    """Which leg is up; shared between a failover model and its tool-bound copies."""

    def __init__(self, cooldown_s: float) -> None:
        self.cooldown_s = cooldown_s
        self.down_until = 0.0
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
        with self._lock:
            if self.active == "primary":
                log.warning(
                    "model failover: primary unreachable (%s: %s), serving from backup for %.0fs",
                    type(exc).__name__,
                    exc,
                    self.cooldown_s,
                )
            self.active, self.down_until = "backup", time.monotonic() + self.cooldown_s


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
        if state.primary_due():
            try:
                result = self._delegate_generate(self.primary, messages, stop, **kwargs)
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                state.mark_down(exc)
            else:
                state.mark_up()
                return _tag(result, "primary")
        return _tag(self._delegate_generate(self.secondary, messages, stop, **kwargs), "backup")

    def bind_tools(self, tools: Any, **kwargs: Any) -> CooldownFailoverChatModel:
        bound = CooldownFailoverChatModel(
            primary=self.primary.bind_tools(tools, **kwargs),
            secondary=self.secondary.bind_tools(tools, **kwargs),
            cooldown_s=self.cooldown_s,
        )
        bound._state = self._state
        return bound


def _tag(result: ChatResult, leg: str) -> ChatResult:
    for gen in result.generations:
        meta = getattr(gen, "message", None)
        if meta is not None:
            meta.response_metadata["aisoc_leg"] = leg
    return result
