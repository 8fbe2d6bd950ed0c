"""The process's garbage-collector policy; only entry points (the CLI, bench scripts) apply it.

Library code never changes the process's GC state: every ``aisoc`` process calls :func:`tune_gc`
at start (the CLI does), hands :func:`gc_paused` to the memory it opens for bulk folds, and wraps a
replay in :func:`gc_quiet`.

The role runtime allocates many short-lived container objects per event (LangGraph's per-invocation
state, pydantic models, messages). With CPython's default collector threshold (700 allocations) the
cyclic collector runs thousands of times per second and rescans the long-lived heap often; on the
pipeline benchmark that is about 8% of the time per alert. Freezing what start-up allocated and
raising the youngest generation's threshold keeps collection, only less often.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

GC_THRESHOLD0 = 10_000
"""Allocations (minus deallocations) before a young-generation collection; CPython's default is 700."""
REPLAY_THRESHOLD0 = 50_000
"""The young-generation threshold while a replay runs (:func:`gc_quiet`)."""


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


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk load (entry points hand it to
    ``Memory(bulk=gc_paused)``).

    The memory projection allocates many small objects that never form cycles; the collector would
    re-walk the growing heap again and again (half the time of a large rebuild). Reference counting
    still frees everything, and the collector is switched back on afterwards.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def gc_quiet(threshold0: int = REPLAY_THRESHOLD0) -> Iterator[None]:
    """Freeze what is already allocated (a replay's loaded tickets) and collect less often inside.

    Each replayed ticket allocates many short-lived acyclic objects, and re-walking the tickets' heap
    on every young-generation overflow costs more than the collections find. The thresholds and the
    frozen set are restored afterwards.
    """
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], threshold0), thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
