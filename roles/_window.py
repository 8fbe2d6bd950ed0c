"""Folding a window of the audit log into per-case facts the report roles share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from aisoc.events import (
    ActionDecided,
    ActionProposed,
    AlertReceived,
    CaseClosed,
    Event,
    IrPlan,
    Tier2Decided,
    TriageVerdict,
)


@dataclass
class CaseFacts:
    """What happened to one case, up to the end of the window."""

    case_id: str
    received: AlertReceived | None = None
    verdict: TriageVerdict | None = None
    tier2: Tier2Decided | None = None
    plan: IrPlan | None = None
    closed: CaseClosed | None = None
    proposals: dict[str, ActionProposed] = field(default_factory=dict)
    decided: set[str] = field(default_factory=set)


def fold(events: Iterable[Event], end: datetime) -> dict[str, CaseFacts]:
    """Per-case facts from every event that occurred before ``end``."""
    cases: dict[str, CaseFacts] = {}
    for e in events:
        if e.occurred_at >= end or e.case_id is None:
            continue
        c = cases.setdefault(e.case_id, CaseFacts(e.case_id))
        if isinstance(e, AlertReceived) and c.received is None:
            c.received = e
        elif isinstance(e, TriageVerdict) and c.verdict is None:
            c.verdict = e
        elif isinstance(e, Tier2Decided):
            c.tier2 = e
        elif isinstance(e, IrPlan):
            c.plan = e
        elif isinstance(e, CaseClosed):
            c.closed = e
        elif isinstance(e, ActionProposed):
            c.proposals[e.action_id] = e
        elif isinstance(e, ActionDecided):
            c.decided.add(e.action_id)
    return cases


def within(e: Event | None, start: datetime, end: datetime) -> bool:
    """Whether ``e`` happened in ``[start, end)``."""
    return e is not None and start <= e.occurred_at < end


def title_of(c: CaseFacts) -> str:
    return c.received.alert.title if c.received else c.case_id
