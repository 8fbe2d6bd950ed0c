"""Replay and proof: recorded tickets through the team, side effects neutered, scored against the human.

    from aisoc import models
    from aisoc.replay import Replay, read_records, select
    from aisoc.sources import open_source

    selection = select(read_records(open_source("guide", "data/guide/evidence.csv")))
    result = Replay(models.from_spec("stub"), selection, source="guide", model_spec="stub",
                    recall="ab", out="build/replay/guide.json").run()
    result.metrics["recall_ab"]["delta"]      # {"precision": ..., "recall": ..., "f1": ...}

The metrics file's layout is documented in docs/replay.md (its JSON Schema: :func:`metrics_schema`);
the per-ticket outcomes beside it recompute every figure (:func:`recompute`).
"""

from __future__ import annotations

from aisoc.replay.engine import ARMS, Progress, RecallMode, Replay, ReplayResult, ResumeMismatch
from aisoc.replay.isolation import Attempt, EgressBlocked, EgressGuard, model_endpoints
from aisoc.replay.journal import RoleCall, RunFiles, TicketResult, read_results
from aisoc.replay.metrics import (
    SCHEMA_VERSION,
    build_metrics,
    cell_of,
    metrics_schema,
    per_role,
    percentile,
    recall_ab,
    recompute,
    scores,
    split_arms,
)
from aisoc.replay.tickets import Selection, Ticket, Unreadable, read_records, select

__all__ = [
    "ARMS",
    "SCHEMA_VERSION",
    "Attempt",
    "EgressBlocked",
    "EgressGuard",
    "Progress",
    "RecallMode",
    "Replay",
    "ReplayResult",
    "ResumeMismatch",
    "RoleCall",
    "RunFiles",
    "Selection",
    "Ticket",
    "TicketResult",
    "Unreadable",
    "build_metrics",
    "cell_of",
    "metrics_schema",
    "model_endpoints",
    "per_role",
    "percentile",
    "read_records",
    "read_results",
    "recall_ab",
    "recompute",
    "scores",
    "select",
    "split_arms",
]
