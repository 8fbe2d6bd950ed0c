"""Events the bus contract publishes: real shapes, small payloads."""

from __future__ import annotations

from datetime import UTC, datetime

from aisoc import events

HUMAN = events.ProducedBy(role="human")
SENTINEL = events.ProducedBy(role="sentinel", model_leg="stub", prompt_version="sentinel/1")


def alert_event(n: int, source: str = "jsonl") -> events.AlertReceived:
    alert = events.Alert(
        source=source,
        source_id=str(n),
        title=f"alert {n}",
        severity=2,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        hosts=[f"host-{n % 7}"],
        raw={"n": n, "label": "TP"},
    )
    return events.AlertReceived(
        alert=alert, case_id=alert.case_id, produced_by=events.ProducedBy(role="ingest")
    )


def verdict_for(cause: events.Event) -> events.TriageVerdict:
    return events.TriageVerdict(
        verdict="benign",
        confidence=0.9,
        priority=2,
        summary="routine",
        routed_to="closed",
        case_id=cause.case_id,
        causation_id=cause.event_id,
        produced_by=SENTINEL,
    )


def paused(scope: str = "sentinel") -> events.ControlPaused:
    return events.ControlPaused(scope=scope, by="alice", produced_by=HUMAN)
