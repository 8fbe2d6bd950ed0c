"""The model seam: one chat model serves every role.

    models.from_spec("stub")                                  # canned, deterministic (--dry-run)
    models.from_spec("stub?garbage=0.05")                     # ... answering 5% of prompts with garbage
    models.from_spec("local")                                 # the bundled small GGUF on the CPU
    models.from_spec("openai+http://127.0.0.1:8080/v1")       # any OpenAI-compatible server
    models.from_spec(primary, backup="openai+http://...")     # failover with a cooldown

Spec options go in the query string: ``?model=NAME`` (the served model id), ``?mode=tools|json``
(``json``: no tool calling, answers constrained to the role's JSON Schema, as llama.cpp's server
does), ``?timeout=SECONDS``, ``?max_tokens=N``, ``?raw_limit=CHARS`` (how much of an alert's raw
record prompts show; small context windows want less), ``?cache_prompt=1`` (ask a llama.cpp
server to keep each prompt's evaluated prefix: ``cache_prompt: true``), ``?slots=N`` (llama.cpp
server started with ``--parallel N``: pin each case to one slot, ``id_slot``, so its roles meet the
case's evaluated prefix there; implies ``cache_prompt``; two cases pinned to one slot take turns).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

from langchain_core.language_models import BaseChatModel

from aisoc.errors import ModelError
from aisoc.models.failover import DEFAULT_COOLDOWN_S, CooldownFailoverChatModel
from aisoc.models.stub import StubAnswer, StubChatModel

__all__ = [
    "Capabilities",
    "CooldownFailoverChatModel",
    "StubAnswer",
    "StubChatModel",
    "capabilities",
    "from_spec",
]


LOCAL_RAW_LIMIT = 400
"""Characters of an alert's raw record the bundled small model is shown (after what the normalized
fields already say, the GUIDs and the compliance control mappings are left out): its answers are no
better with more, and every token costs. On the real Wazuh alerts it shows 12.7 raw fields per alert
that are neither a control mapping nor a level, priority or severity (``alert_view/4``), against
12.5 at 450 characters in ``alert_view/3``, which spent about a fifth of the raw record on those."""


@dataclass(frozen=True)
class Capabilities:
    """What the runtime may ask of a model."""

    tools: bool
    """It can call tools (OpenAI-style function calling)."""
    json_schema: bool
    """Its answers can be constrained to a JSON Schema (``response_format``)."""
    leg: str
    """Name of the leg when the model does not tag its answers."""
    raw_limit: int = 6000
    """Characters of an alert's raw record shown in prompts (small context windows get less)."""
    cache_prompt: bool = False
    """Ask the server to keep evaluated prompt prefixes (llama.cpp's ``cache_prompt``)."""
    slots: int = 0
    """Server slots to pin roles to (llama.cpp's ``id_slot``); 0: the server chooses."""

    def request_options(self) -> dict[str, Any]:
        """Extra request fields of every call (``cache_prompt`` for servers that take it)."""
        return {"extra_body": {"cache_prompt": True}} if self.cache_prompt or self.slots else {}

    def pin(self, case: str) -> dict[str, Any]:
        """The request fields that pin a call about ``case`` to its slot (``id_slot``: a stable hash
        of the case id, modulo :attr:`slots`), so every role of the case meets the case's evaluated
        prefix; empty without slots."""
        if not self.slots:
            return {}
        return {"extra_body": {"cache_prompt": True, "id_slot": zlib.crc32(case.encode()) % self.slots}}


def _openai(spec: str, timeout: float) -> BaseChatModel:
    from aisoc.models.server import ServerChatModel, bounded_client

    parts = urlsplit(spec.removeprefix("openai+"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelError(f"model spec {spec!r}: expected openai+http://HOST:PORT/v1")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    mode = query.get("mode", "tools")
    if mode not in ("tools", "json"):
        raise ModelError(f"model spec {spec!r}: mode must be 'tools' or 'json', got {mode!r}")
    try:
        slots = int(query.get("slots", 0))
        cache_prompt = query.get("cache_prompt", "0") not in ("0", "false", "no", "")
    except ValueError as e:
        raise ModelError(f"model spec {spec!r}: slots must be a whole number") from e
    if slots < 0:
        raise ModelError(f"model spec {spec!r}: slots must be 0 or more, got {slots}")
    try:
        seconds = float(query.get("timeout", timeout))
    except ValueError as e:
        raise ModelError(f"model spec {spec!r}: timeout must be a number of seconds") from e
    if not seconds > 0 or seconds == float("inf"):
        raise ModelError(f"model spec {spec!r}: timeout must be a positive number of seconds, got {seconds}")
    base_url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    model = ServerChatModel(
        base_url=base_url,
        api_key="not-needed",  # local servers ignore it
        model=query.get("model", "local"),
        temperature=0.0,
        timeout=seconds,
        http_client=bounded_client(seconds, base_url),  # each whole call ends within the timeout
        max_retries=0,  # failover decides what happens next, not the client
        max_tokens=int(query.get("max_tokens", 512)),
    )
    model.metadata = {
        "aisoc_mode": mode,
        "aisoc_leg": parts.netloc,
        "aisoc_raw_limit": int(query.get("raw_limit", 6000)),
        "aisoc_cache_prompt": cache_prompt,
        "aisoc_slots": slots,
    }
    return model


def _one(spec: str, timeout: float) -> BaseChatModel:
    if spec == "stub" or spec.startswith("stub?"):
        query = {k: v[-1] for k, v in parse_qs(spec.partition("?")[2]).items()}
        try:
            return StubChatModel(garbage=float(query.get("garbage", 0)))
        except ValueError as e:
            raise ModelError(f"model spec {spec!r}: garbage must be a share between 0 and 1") from e
    if spec == "local" or spec.startswith("local:"):
        from aisoc.models.local import LlamaCppChatModel, bundled_model_path

        path = spec.partition(":")[2] or str(bundled_model_path())
        model = LlamaCppChatModel(model_path=path)
        model.metadata = {"aisoc_mode": "json", "aisoc_leg": "local", "aisoc_raw_limit": LOCAL_RAW_LIMIT}
        return model
    if spec.startswith("openai+"):
        return _openai(spec, timeout)
    raise ModelError(f"model spec {spec!r}: expected 'stub', 'local' or 'openai+http://HOST:PORT/v1'")


def from_spec(
    spec: str,
    backup: str | None = None,
    *,
    timeout: float = 60.0,
    cooldown_s: float = DEFAULT_COOLDOWN_S,
) -> BaseChatModel:
    """Build the chat model a spec names; with ``backup``, wrap both in failover with a cooldown.

    Raises:
        ModelError: the spec is malformed or its extra is not installed.
    """
    primary = _one(spec, timeout)
    if backup is None:
        return primary
    model = CooldownFailoverChatModel(primary=primary, secondary=_one(backup, timeout), cooldown_s=cooldown_s)
    model.metadata = dict(primary.metadata or {})
    return model


def capabilities(model: Any) -> Capabilities:
    """Tell what the runtime may ask of ``model`` (any LangChain chat model works)."""
    if isinstance(model, StubChatModel):
        return Capabilities(tools=False, json_schema=False, leg="stub")
    meta = getattr(model, "metadata", None) or {}
    mode: Literal["tools", "json"] | None = meta.get("aisoc_mode")
    leg = str(meta.get("aisoc_leg") or getattr(model, "model_name", None) or type(model).__name__)
    raw_limit = int(meta.get("aisoc_raw_limit", 6000))
    if mode is not None:
        return Capabilities(
            tools=mode == "tools",
            json_schema=mode == "json",
            leg=leg,
            raw_limit=raw_limit,
            cache_prompt=bool(meta.get("aisoc_cache_prompt", False)),
            slots=int(meta.get("aisoc_slots", 0)),
        )
    try:
        model.bind_tools([])
        tools = True
    except (NotImplementedError, AttributeError):
        tools = False
    return Capabilities(tools=tools, json_schema=False, leg=leg, raw_limit=raw_limit)
