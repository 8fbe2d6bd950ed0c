"""The lazy grammar check against llama-cpp-python's whole-vocabulary check, on real answers.

    python bench/grammar_check.py [--alerts 3] [--threads N] [--out FILE] [--against FILE]

Records the prompts the team sends for ``--alerts`` alerts of the pipeline bench's mix (the canned
model routes them; prompts as the ``local`` model gets them), then answers every prompt with the
bundled model, each pass on a freshly loaded model:

1. ``check``: the whole-vocabulary chain picks every token, and at every step the lazy pick is
   computed from the same logits; disagreements are counted (the claim: 0).
2. ``full`` and 3. ``lazy``: answer tokens per second of each chain, and whether their answers are
   identical (they must be, when the model's logits are the same run to run).
4. ``lazy`` again in the same process on the same model (the prompts now meet kept prefixes and
   llama.cpp's reuse of the previous prompt): whether a prompt's answer repeats within a process.

``--against FILE`` answers the very prompts of another process's ``--out`` (a prompt holds its
event's random id as the data block's tag, so prompts recorded anew differ) and compares the
answers (across processes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def prompts(n: int) -> list[tuple[str, list[Any], dict[str, Any]]]:
    """``(role, messages, response_format)`` of every model call for ``n`` alerts of the mix."""
    from pipeline import _Source, mix

    import aisoc.runtime.team as team_module
    from aisoc import Bus, models
    from aisoc.models import LOCAL_RAW_LIMIT, StubChatModel
    from aisoc.runtime import RoleTeam
    from aisoc.runtime.constrained import grammar_schema

    sent: list[tuple[str, list[Any]]] = []
    answer = StubChatModel.answer

    def recording(self: Any, messages: Any) -> Any:
        text = str(messages[0].content)
        sent.append((text[6 : text.find("/")], list(messages)))
        return answer(self, messages)

    alerts = mix(n)
    StubChatModel.answer = recording  # type: ignore[method-assign]
    team_module.capabilities = lambda model: models.Capabilities(  # type: ignore[attr-defined]
        tools=False, json_schema=True, leg="local", raw_limit=LOCAL_RAW_LIMIT
    )
    try:
        team = RoleTeam(model=models.from_spec("stub"), bus=Bus())
        team.consume(_Source(alerts))
    finally:
        StubChatModel.answer = answer  # type: ignore[method-assign]
    fmt = {
        name: {"type": "json_object", "schema": grammar_schema(r.schema.model_json_schema())}
        for name, r in team.agents.items()
    }
    return [(role, messages, fmt[role]) for role, messages in sent]


def answer_all(model: Any, calls: list[tuple[str, list[Any], dict[str, Any]]]) -> dict[str, Any]:
    """Every call's answer text, with answer tokens, seconds in all and llama.cpp's prompt seconds."""
    from llama_cpp import llama_cpp as lib

    texts, tokens, seconds = [], 0, 0.0
    prompt_ms = 0.0
    for _, messages, fmt in calls:
        llm = model._llm
        if llm is not None:
            lib.llama_perf_context_reset(llm._ctx.ctx)
        t = time.perf_counter()
        out = model.bind(response_format=fmt).invoke(messages)
        seconds += time.perf_counter() - t
        if llm is not None:  # the first call's prompt time includes loading: left out of both
            prompt_ms += lib.llama_perf_context(model._llm._ctx.ctx).t_p_eval_ms
        else:
            seconds = 0.0
            tokens -= int(out.usage_metadata["output_tokens"])
        tokens += int(out.usage_metadata["output_tokens"])
        texts.append(str(out.content))
    return {"answers": texts, "answer_tokens": tokens, "seconds": seconds, "prompt_seconds": prompt_ms / 1000}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--alerts", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=str(ROOT / "build/bench/grammar_check.json"))
    p.add_argument("--against", default=None, help="another run's --out: compare answers across processes")
    p.add_argument("--passes", default="check,full,lazy,lazy-again")
    a = p.parse_args()
    from aisoc import models

    calls = prompts(a.alerts)
    if a.against:  # the other run's exact prompts
        from langchain_core.messages import HumanMessage, SystemMessage

        recorded = json.loads(Path(a.against).read_text())["prompts"]
        kinds = {"system": SystemMessage, "human": HumanMessage}
        calls = [
            (role, [kinds[t](content=c) for t, c in messages], fmt)
            for (role, _, fmt), messages in zip(calls, recorded, strict=True)
        ]
    roles = [role for role, _, _ in calls]
    print(f"{len(calls)} model calls: {', '.join(roles)}")

    def fresh(mode: str) -> Any:
        model = models.from_spec("local")
        model.grammar = mode  # type: ignore[attr-defined]
        if a.threads:
            model.n_threads = a.threads  # type: ignore[attr-defined]
        return model

    out: dict[str, Any] = {
        "alerts": a.alerts,
        "roles": roles,
        "threads": a.threads,
        "prompts": [[(m.type, str(m.content)) for m in messages] for _, messages, _ in calls],
    }
    model = None
    for name in a.passes.split(","):
        mode = name.removesuffix("-again")
        if not name.endswith("-again") or model is None:
            model = fresh(mode)
        before = dict(vars(model.grammar_stats))  # type: ignore[attr-defined]
        r = answer_all(model, calls)
        stats = {k: v - before[k] for k, v in vars(model.grammar_stats).items()}  # type: ignore[attr-defined]
        r["grammar_stats"] = stats
        r["answer_tokens_per_s"] = r["answer_tokens"] / (r["seconds"] - r["prompt_seconds"])
        out[name] = r
        print(
            f"{name}: {r['answer_tokens']} answer tokens in {r['seconds'] - r['prompt_seconds']:.1f} s "
            f"= {r['answer_tokens_per_s']:.1f} tokens/s (the first call, which loads the model, left "
            f"out; prompts {r['prompt_seconds']:.1f} s); grammar {stats}"
        )
    names = [n for n in a.passes.split(",") if n in out]
    same = {
        f"{x} = {y}": sum(1 for s, t in zip(out[x]["answers"], out[y]["answers"], strict=True) if s == t)
        for i, x in enumerate(names)
        for y in names[i + 1 :]
    }
    out["identical_answers"] = same
    print(f"identical answers of {len(calls)}: {same}")
    if a.against:
        other = json.loads(Path(a.against).read_text())
        across = {
            n: sum(1 for s, t in zip(out[n]["answers"], other[n]["answers"], strict=True) if s == t)
            for n in names
            if n in other
        }
        out["identical_across_processes"] = across
        print(f"identical to {a.against}'s answers: {across}")
    path = Path(a.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
