"""Process tuning every ``aisoc`` process applies at start (the CLI calls :func:`tune_gc`).

The role runtime allocates many short-lived container objects per event (LangGraph's per-invocation
state, pydantic models, messages). With CPython's default collector threshold (700 allocations) the
cyclic collector runs thousands of times per second and rescans the long-lived heap often; on the
pipeline benchmark that is about 8% of the time per alert. Freezing what start-up allocated and
raising the youngest generation's threshold keeps collection, only less often.
"""

from __future__ import annotations

import gc

GC_THRESHOLD0 = 10_000
"""Allocations (minus deallocations) before a young-generation collection; CPython's default is 700."""


_frozen = False


def tune_gc(threshold0: int = GC_THRESHOLD0) -> tuple[int, int, int]:
    """Freeze the start-up heap (once per process) and raise the young-generation threshold (never
    lowering it); return the thresholds it found."""
    global _frozen
    old = gc.get_threshold()
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True
    gc.set_threshold(max(old[0], threshold0), old[1], old[2])
    return old
