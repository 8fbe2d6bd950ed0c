"""End-to-end pipeline: alerts through Sentinel -> Tier 2 -> IR Lead -> Threat Intel -> proposals.

    python bench/pipeline.py [--alerts 1000] [--redis URL] [--model stub|local] [--local-alerts 3]
                             [--tree PATH]

The alerts are real Wazuh alerts (``data/wazuh/alerts.jsonl``), each copy with its own source id.
The mix is chosen so that about three quarters go the whole way (the target's mix): the stub model
is deterministic, so each real alert's path is known from one run. Reported: ms/alert and alerts/s
in-process (target <= 3 ms/alert, with the GC tuning every aisoc process applies, and with CPython's
defaults), the same on Redis with one worker process per role, the floor
(one invocation of a compiled one-node LangGraph graph), and with ``--model local`` seconds and
tokens per alert. Tokens count prompts and answers: *sent* every prompt token, *evaluated* without
the prompt tokens taken from the prompt cache (``evaluated_tokens_per_alert``: the prompt tokens
the model computed plus its answer tokens, issue 18's measure; answers alone are
``answer_tokens_per_alert``).

``--tree PATH`` runs the team of another source tree (a checkout of an older commit) with this
venv, so a before and an after can be timed in one sitting; the yardstick call is this tree's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parents[1]


def _tree(argv: list[str]) -> Path:
    """The source tree whose team runs (``--tree PATH``; default: this one), read before imports."""
    for i, arg in enumerate(argv):
        if arg == "--tree" and i + 1 < len(argv):
            return Path(argv[i + 1]).resolve()
        if arg.startswith("--tree="):
            return Path(arg.partition("=")[2]).resolve()
    return ROOT


TREE = _tree(sys.argv)
sys.path.insert(0, str(TREE))

from aisoc import Bus, events, models  # noqa: E402
from aisoc.runtime import Invocation, RoleTeam  # noqa: E402
from aisoc.sources import ingest  # noqa: E402
from aisoc.tuning import tune_gc  # noqa: E402
from integrations.wazuh import WazuhFileSource  # noqa: E402


def real_alerts() -> list[events.Alert]:
    return [
        a for a in WazuhFileSource(TREE / "data/wazuh/alerts.jsonl").poll() if isinstance(a, events.Alert)
    ]


def whole_way(alerts: list[events.Alert]) -> set[str]:
    """Case ids the stub sends all the way to proposals."""
    bus = Bus()
    team = RoleTeam(model=models.from_spec("stub"), bus=bus)
    team.consume(_Source(alerts))
    return {e.case_id for e in bus.audit if e.type == "intel.attribution" and e.case_id}


class _Source:
    name = "bench"

    def __init__(self, alerts: list[events.Alert]) -> None:
        self.alerts = alerts

    def poll(self) -> Any:
        yield from self.alerts


def mix(n: int, full_share: float = 0.75) -> list[events.Alert]:
    base = real_alerts()
    full = whole_way(base)
    deep = [a for a in base if a.case_id in full]
    shallow = [a for a in base if a.case_id not in full]
    out = []
    for i in range(n):
        pool = deep if (i % 4) < round(full_share * 4) else shallow
        a = pool[i % len(pool)]
        out.append(a.model_copy(update={"source_id": f"{a.source_id}-{i}"}))
    return out


def floor_us(n: int = 2000) -> float:
    """One invocation of a compiled one-node graph: LangGraph's own cost."""
    from langgraph.graph import END, START, StateGraph

    class S(TypedDict):
        n: int

    g = StateGraph(S)
    g.add_node("a", lambda s: {"n": s["n"] + 1})
    g.add_edge(START, "a")
    g.add_edge("a", END)
    c = g.compile()
    for _ in range(200):
        c.invoke({"n": 0})
    t = time.perf_counter()
    for _ in range(n):
        c.invoke({"n": 0})
    return (time.perf_counter() - t) / n * 1e6


def in_process(alerts: list[events.Alert]) -> dict[str, Any]:
    bus = Bus()
    team = RoleTeam(model=models.from_spec("stub"), bus=bus)
    t = time.perf_counter()
    team.consume(_Source(alerts))
    elapsed = time.perf_counter() - t
    counts = Counter(e.type for e in bus.audit)
    return {
        "alerts": len(alerts),
        "seconds": elapsed,
        "ms_per_alert": elapsed / len(alerts) * 1000,
        "alerts_per_s": len(alerts) / elapsed,
        "whole_way_share": counts["intel.attribution"] / len(alerts),
        "events": dict(counts),
    }


def on_redis(url: str, alerts: list[events.Alert], timeout_s: float = 600) -> dict[str, Any]:
    ns = f"bench{uuid.uuid4().hex[:6]}"
    # Recall off as in-process: the canned model leans on precedent, so with recall on the copies of
    # the same real alerts would take other paths and the expected event count would not hold.
    env = {
        **os.environ,
        "AISOC_BUS": url,
        "AISOC_NAMESPACE": ns,
        "AISOC_LOG_LEVEL": "WARNING",
        "AISOC_RECALL": "off",
    }
    procs = [
        subprocess.Popen([sys.executable, "-m", "aisoc", "worker", role, "--dry-run"], env=env, cwd=TREE)
        for role in ("sentinel", "tier2", "ir_lead", "threat_intel")
    ]
    bus = Bus(url, namespace=ns)
    try:
        time.sleep(2)  # workers connect and create their groups
        expected = in_process(alerts)["events"]
        t = time.perf_counter()
        ingest(_Source(alerts), bus)
        done = 0
        while time.perf_counter() - t < timeout_s:
            stats = {s.name: s.length for s in bus.stats().streams}
            done = stats["audit"]
            if done >= sum(expected.values()):
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - t
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(30)
        keys = list(bus.client.scan_iter(match=f"{{{ns}}}:*"))
        if keys:
            bus.client.delete(*keys)
    return {
        "alerts": len(alerts),
        "seconds": elapsed,
        "ms_per_alert": elapsed / len(alerts) * 1000,
        "alerts_per_s": len(alerts) / elapsed,
        "complete": done >= sum(expected.values()),
        "events": done,
        "expected_events": sum(expected.values()),
        "worker_exit_codes": [p.returncode for p in procs],
    }


def local_model(
    alerts: list[events.Alert], grammar: str | None = None, jump_forward: bool | None = None
) -> dict[str, Any]:
    """The alerts through the bundled model in-process, with one uncached 1,000-token call before
    and after as the yardstick (a shared machine's speed drifts: the ratio is what compares);
    ``grammar`` sets the model's grammar check (``lazy``, ``full``, ``check``; trees since model18b),
    ``jump_forward`` whether the decoder writes what the schema forces (trees since this pass).
    A first, thrown-away call warms the process up (until 2026-12-08 the first yardstick was the
    process's first call, which flattered the multiple)."""
    uncached_call = _yardstick()  # decodes token by token: it measures the machine, not the decoder
    seen: list[Invocation] = []
    bus = Bus()
    model = models.from_spec("local")
    if grammar is not None:
        if not hasattr(model, "grammar"):
            raise SystemExit(f"--grammar: the local model of {TREE} has no grammar setting")
        model.grammar = grammar
    if jump_forward is not None:
        if not hasattr(model, "jump_forward"):
            raise SystemExit(f"--no-jump-forward: the local model of {TREE} has no such setting")
        model.jump_forward = jump_forward
    team = RoleTeam(model=model, bus=bus, observer=seen.append)
    # A process's first call also pays one-time costs (weights paged in, compute buffers sized): it is
    # made and thrown away, so that it inflates neither the yardstick nor the team's first alert.
    warm_up = uncached_call(model)
    before = uncached_call(model)
    stats = getattr(model, "grammar_stats", None)
    counts = dict(vars(stats)) if stats is not None else {}
    t = time.perf_counter()
    team.consume(_Source(alerts))
    elapsed = time.perf_counter() - t
    run = {k: v - counts.get(k, 0) for k, v in vars(stats).items()} if stats is not None else {}
    after = uncached_call(model)
    reference = (before.seconds + after.seconds) / 2
    sent = sum(i.input_tokens + i.output_tokens for i in seen)
    answered = sum(i.output_tokens for i in seen)
    cached = sum(getattr(i, "cached_tokens", 0) for i in seen)  # older trees: no prompt cache
    reviews = [e for e in bus.audit if e.type == "case.review_requested"]
    return {
        "alerts": len(alerts),
        "seconds_per_alert": elapsed / len(alerts),
        "reference_call_s": [before.seconds, after.seconds],
        "warm_up_call_s": warm_up.seconds,
        "reference_prompt_tokens": before.prompt_tokens,
        "alert_in_reference_calls": elapsed / len(alerts) / reference,
        "tokens_per_alert": sent / len(alerts),
        "evaluated_tokens_per_alert": (sent - cached) / len(alerts),
        "cached_tokens_per_alert": cached / len(alerts),
        "answer_tokens_per_alert": answered / len(alerts),
        "answer_tokens_by_role": _by_role(seen, "output_tokens"),  # over the run
        "grammar": getattr(model, "grammar", "full"),
        "jump_forward": getattr(model, "jump_forward", False),
        # the team's run alone (the yardstick calls left out): tokens the model picked, one pass each,
        # and tokens the jump-forward decoder wrote and the model evaluated in batches
        "picked_tokens_per_alert": run["picks"] / len(alerts) if "picks" in run else None,
        "forced_tokens_per_alert": run.get("forced", 0) / len(alerts) if run else None,
        "loops_cut": run.get("loops_cut", 0),
        "grammar_stats": dict(vars(model.grammar_stats)) if hasattr(model, "grammar_stats") else None,
        "invocations": len(seen),
        "model_calls": sum(_calls(i) for i in seen),
        "settled": sum(1 for i in seen if _calls(i) == 0 and not i.failure),
        "repairs": sum(getattr(e.trace, "repairs", 0) for e in bus.audit if getattr(e, "trace", None)),
        "review_requests": len(reviews),
        "events": dict(Counter(e.type for e in bus.audit)),
    }


def _by_role(seen: list[Invocation], attr: str) -> dict[str, int]:
    out: Counter[str] = Counter()
    for i in seen:
        out[i.role] += int(getattr(i, attr, 0) or 0)
    return dict(out)


def _calls(inv: Invocation) -> int:
    """Model calls of one invocation (older trees do not count them: one per invocation then)."""
    return int(getattr(inv, "model_calls", 1))


def _yardstick() -> Any:
    """``uncached_call`` of this tree's ``aisoc.models.reference`` (also when ``--tree`` is older)."""
    import importlib.util

    if TREE == ROOT:
        from aisoc.models.reference import uncached_call

        return uncached_call
    name = "_bench_reference"
    spec = importlib.util.spec_from_file_location(name, ROOT / "aisoc/models/reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module.uncached_call


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--alerts", type=int, default=1000)
    p.add_argument("--redis", default="redis://127.0.0.1:6379/15", help="'' to skip the Redis run")
    p.add_argument("--model", default="stub", choices=["stub", "local"])
    p.add_argument("--local-alerts", type=int, default=3)
    p.add_argument(
        "--grammar", default=None, choices=["lazy", "full", "check"], help="the local model's grammar check"
    )
    p.add_argument(
        "--no-jump-forward",
        dest="jump_forward",
        action="store_false",
        default=None,
        help="the model picks every answer token (default: the decoder writes what the schema forces)",
    )
    p.add_argument("--tree", default=str(ROOT), help="source tree whose team runs (default: this one)")
    p.add_argument("--out", default=str(ROOT / "build/bench/pipeline.json"))
    a = p.parse_args()
    out: dict[str, Any] = {"tree": str(TREE), "floor_one_node_graph_us": floor_us()}
    print(f"floor: one compiled one-node LangGraph invocation = {out['floor_one_node_graph_us']:.0f} µs")
    if a.model == "local":
        out["local"] = r = local_model(mix(a.local_alerts), a.grammar, a.jump_forward)
        print(
            f"local model: {r['seconds_per_alert']:.1f} s/alert = {r['alert_in_reference_calls']:.2f} x one "
            f"uncached {r['reference_prompt_tokens']}-token call ({r['reference_call_s'][0]:.1f} / "
            f"{r['reference_call_s'][1]:.1f} s before / after); {r['tokens_per_alert']:.0f} tokens/alert "
            f"sent, {r['evaluated_tokens_per_alert']:.0f} evaluated, answers included "
            f"({r['cached_tokens_per_alert']:.0f} from the prompt cache) over {r['alerts']} alerts: "
            f"{r['invocations']} role invocations, "
            f"{r['model_calls']} model calls ({r['settled']} settled by rule), {r['repairs']} repairs, "
            f"{r['review_requests']} review requests; {r['answer_tokens_per_alert']:.0f} answer tokens/alert "
            f"{r['answer_tokens_by_role']} ({r['picked_tokens_per_alert'] or 0:.0f} picked by the model, "
            f"{r['forced_tokens_per_alert'] or 0:.0f} written by the decoder, {r['loops_cut']} loops cut), "
            f"grammar {r['grammar']} {r['grammar_stats']}, "
            f"jump-forward {'on' if r['jump_forward'] else 'off'}"
        )
    else:
        alerts = mix(a.alerts)
        in_process(alerts[:100])  # warm-up: imports, compiled graphs, caches
        out["in_process_cpython_gc_defaults"] = r = in_process(alerts)
        print(f"in-process with CPython's default GC thresholds: {r['ms_per_alert']:.2f} ms/alert")
        tune_gc()  # what every aisoc process does at start (aisoc.tuning)
        out["in_process"] = r = in_process(alerts)
        print(
            f"in-process (memory bus, stub, aisoc's GC tuning): {r['ms_per_alert']:.2f} ms/alert, "
            f"{r['alerts_per_s']:.0f} alerts/s, "
            f"{r['whole_way_share']:.0%} went the whole way (target <= 3 ms/alert"
            f"{' OK' if r['ms_per_alert'] <= 3 else ' BELOW'})"
        )
        if a.redis:
            out["redis"] = r = on_redis(a.redis, alerts)
            print(
                f"redis, one worker process per role: {r['ms_per_alert']:.2f} ms/alert, "
                f"{r['alerts_per_s']:.0f} alerts/s, complete={r['complete']}"
            )
    path = Path(a.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    tempfile.tempdir = None
    main()
