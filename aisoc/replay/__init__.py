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

from aisoc.replay.baselines import BASELINES, Baselines
from aisoc.replay.engine import ARMS, Progress, RecallMode, Replay, ReplayResult, ResumeMismatch
from aisoc.replay.isolation import Attempt, EgressBlocked, EgressGuard, model_endpoints
from aisoc.replay.journal import RoleCall, RunFiles, TicketResult, read_results
from aisoc.replay.labels import DEFAULT_LABEL_DELAY, LabelClock, format_duration, parse_duration
from aisoc.replay.metrics import (
    SCHEMA_VERSION,
    baselines,
    build_metrics,
    cell_of,
    guardrail,
    lift,
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
    "BASELINES",
    "DEFAULT_LABEL_DELAY",
    "SCHEMA_VERSION",
    "Attempt",
    "Baselines",
    "EgressBlocked",
    "EgressGuard",
    "LabelClock",
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
    "baselines",
    "build_metrics",
    "cell_of",
    "format_duration",
    "guardrail",
    "lift",
    "metrics_schema",
    "model_endpoints",
    "parse_duration",
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
