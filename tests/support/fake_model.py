"""A scripted tool-calling chat model for role tests (the edges are faked, never the kernel)."""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

ROLE = re.compile(r"^ROLE: ([a-z0-9_]+)/", re.M)

Reply = AIMessage | str | dict[str, Any] | BaseException


def call(name: str, args: dict[str, Any] | None = None, n: int = 0) -> AIMessage:
    """An AI message asking for one tool call."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": args or {}, "id": f"call-{name}-{n}"}])


class ScriptedChatModel(BaseChatModel):
    """Answers each role from its own script, in order; the last entry repeats when it runs out.

    A script entry is an AIMessage, a string (the content), a dict (sent as JSON) or an exception
    (raised). Every call is recorded in ``calls`` as (role, messages).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    scripts: dict[str, list[Any]] = Field(default_factory=dict)  # Reply entries, not coerced
    calls: list[tuple[str, list[BaseMessage]]] = Field(default_factory=list)
    formats: list[tuple[str, Any]] = Field(default_factory=list)
    """(role, the call's ``response_format`` or None) per call, in order."""
    leg: str = "scripted"
    usage: dict[str, int] | None = None

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        role = next(
            (
                m.group(1)
                for msg in messages
                if isinstance(msg.content, str)
                for m in [ROLE.search(msg.content)]
                if m
            ),
            "",
        )
        n = sum(1 for r, _ in self.calls if r == role)
        self.calls.append((role, list(messages)))
        self.formats.append((role, kwargs.get("response_format")))
        script = self.scripts.get(role) or [{}]
        reply = script[min(n, len(script) - 1)]
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, dict):
            reply = json.dumps(reply)
        message = reply if isinstance(reply, AIMessage) else AIMessage(content=reply)
        message = message.model_copy(deep=True)
        message.response_metadata["aisoc_leg"] = self.leg
        if self.usage:
            message.usage_metadata = {**self.usage, "total_tokens": sum(self.usage.values())}  # type: ignore[typeddict-item]
        return ChatResult(generations=[ChatGeneration(message=message)])

    def calls_of(self, role: str) -> list[list[BaseMessage]]:
        return [m for r, m in self.calls if r == role]
