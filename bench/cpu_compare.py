"""Memory and pipeline hot paths in CPU seconds, for before/after comparisons on a busy machine.

    python bench/cpu_compare.py [--tree PATH] [--events 100000] [--alerts 1000]

Wall clock on a shared machine swings by half between identical runs; ``time.process_time`` counts
only this process's CPU, and the best of several rounds drops the rest of the noise. Run it for the
tree before and after a change, interleaved (``--tree`` imports ``aisoc`` and the benches from
another checkout, such as a worktree of the starting commit). It reuses ``bench/memory.py``'s
GUIDE-derived log and ``bench/pipeline.py``'s in-process run; JSON goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def best(fn: Callable[[], Any], rounds: int) -> float:
    """The least CPU seconds ``fn`` took over ``rounds`` calls."""
    times = []
    for _ in range(rounds):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def memory_figures(events: int) -> dict[str, float]:
    import memory as mb

    from aisoc.memory import Memory

    try:  # the entry point's GC policy for bulk folds (trees before it lived in aisoc.memory itself)
        from aisoc.tuning import gc_paused

        policy: dict[str, Any] = {"bulk": gc_paused}
    except ImportError:
        policy = {}
    bus, _, _ = mb.build_log(events, 7)
    holder: dict[str, Memory] = {}

    def fold() -> None:
        holder["mem"] = Memory(bus.audit, auto_refresh=False, **policy)
        holder["mem"].refresh()

    out = {"fold_s": best(fold, 3)}
    mem = holder["mem"]
    picked = random.Random(1).sample([c.case_id for c in mem.cases()], 1000)
    acted = [(next(iter(c.actions.values())).target, c.tenant) for c in mem.cases() if c.actions][:200]
    out["explain_ms"] = best(lambda: [mem.explain(c) for c in picked], 7) / len(picked) * 1000
    out["explain_host_ms"] = (
        best(lambda: [mem.explain_host(h, tenant=t) for h, t in acted], 5) / len(acted) * 1000
    )
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "memory.sqlite"

        def save() -> None:
            snap.unlink(missing_ok=True)
            m = Memory(bus.audit, snapshot_path=snap, auto_refresh=False, **policy)
            m.refresh()
            m.close()

        out["fold_and_save_s"] = best(save, 3)
        out["load_s"] = best(
            lambda: Memory(bus.audit, snapshot_path=snap, auto_refresh=False, **policy).close(), 3
        )
    return out


def pipeline_figure(alerts: int) -> float:
    import pipeline as pb

    from aisoc.tuning import tune_gc

    tune_gc()
    batch = pb.mix(alerts)
    pb.in_process(pb.mix(100))
    return best(lambda: pb.in_process(batch), 3) / alerts * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tree", default=str(ROOT), help="the checkout whose aisoc and benches are measured")
    p.add_argument("--events", type=int, default=100_000, help="events in the memory log")
    p.add_argument("--alerts", type=int, default=1000, help="alerts through the in-process pipeline")
    a = p.parse_args()
    tree = Path(a.tree).resolve()
    sys.path[:0] = [str(tree), str(tree / "bench")]
    figures: dict[str, Any] = {"tree": str(tree), **memory_figures(a.events)}
    figures["pipeline_ms_per_alert"] = pipeline_figure(a.alerts)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
