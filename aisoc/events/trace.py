"""The trace every role result carries: what the role was shown, what it called, what it said."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aisoc.events._base import Blob, Line, Short, Text

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


class TraceMessage(_Frozen):
    """One message sent to (or received from) the model."""

    role: Short
    content: Blob

    @field_validator("content", mode="before")
    @classmethod
    def _cut(cls, value: Any) -> Any:
        return truncate(value, MESSAGE_LIMIT) if isinstance(value, str) else value


class ModelCall(_Frozen):
    """One call to the chat model: which leg served it, how long, how many tokens."""

    leg: Short
    duration_ms: float = Field(ge=0)
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    error: Line | None = None


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

    case_id: Short
    verdict: Short | None = None
    decided_by: Short | None = None
    shared: list[Short] = Field(default_factory=list, max_length=50)
    same_rule: bool = False
    score: float = 0.0
    summary: Line | None = None


class TokenUsage(_Frozen):
    """Token counts over every model call of one role invocation (when the server reports them)."""

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)


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

    @field_validator("raw_output", mode="before")
    @classmethod
    def _cut(cls, value: Any) -> Any:
        return truncate(value, 65536) if isinstance(value, str) else value

    @property
    def legs(self) -> list[str]:
        """The model legs that served this invocation, in call order, without repeats."""
        return list(dict.fromkeys(c.leg for c in self.model_calls))
