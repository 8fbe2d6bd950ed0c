"""The canned model: deterministic JSON per role, derived from the alert's own fields.


Roles register an answer function per role slug; the runtime marks each prompt with the role
(``ROLE: slug/version``) and wraps the data the role is shown in delimited JSON blocks (the case's
alert, then the role's own data), which is all the stub reads. It never calls tools. ``--dry-run``
anywhere means this model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

from aisoc.models.layout import DATA_BLOCK, ROLE_LINE

StubAnswer = Callable[[dict[str, Any]], dict[str, Any]]
"""A role's canned answer: the data block the role was shown -> its output as a dict."""


class StubChatModel(BaseChatModel):
    """A chat model that answers every role from its registered :data:`StubAnswer`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    answers: dict[str, StubAnswer] = Field(default_factory=dict)
    garbage: float = Field(default=0.0, ge=0, le=1)
    """Share of prompts answered with garbage instead (deterministic per prompt): fault injection."""

    @property
    def _llm_type(self) -> str:
        return "aisoc-stub"

    def register(self, role: str, answer: StubAnswer) -> None:
        """Answer prompts of ``role`` with ``answer``."""
        self.answers[role] = answer

    def bind_tools(self, tools: Any, **kwargs: Any) -> StubChatModel:
        """Tools are accepted and never called."""
        return self

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> AIMessage:
        """Answer directly: the canned model has nothing to trace, so LangChain's callback
        machinery (most of a call's cost) is skipped."""
        messages = input if isinstance(input, list) else self._convert_input(input).to_messages()
        return self.answer(messages)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.answer(messages))])

    def answer(self, messages: list[BaseMessage]) -> AIMessage:
        """Return the canned answer for ``messages`` (``{}`` when the role has none).

        The role is the last ``ROLE: slug/version`` line; what it was shown is every data block of
        the prompt (the case's, then the role's) merged into one object."""
        role = None
        blocks: list[str] = []
        for m in messages:
            text = m.content if isinstance(m.content, str) else ""
            for found in ROLE_LINE.finditer(text):
                role = found.group(1)
            blocks += [b.group(2) for b in DATA_BLOCK.finditer(text)]
        data = "\n".join(blocks) if blocks else None
        if self.garbage and data is not None and _share(f"{role}:{data}") < self.garbage:
            return AIMessage(
                content='{"verdict": "evil", "confidence": "high"', response_metadata={"aisoc_leg": "stub"}
            )
        fn = self.answers.get(role or "")
        body: dict[str, Any] = {}
        if fn is not None and blocks:
            shown: dict[str, Any] = {}
            for b in blocks:
                shown.update(json.loads(b))
            body = fn(shown)
        return AIMessage(content=json.dumps(body), response_metadata={"aisoc_leg": "stub"})


def _share(text: str) -> float:
    """A stable number in [0, 1) for ``text`` (the same prompt always gets the same fate)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64
