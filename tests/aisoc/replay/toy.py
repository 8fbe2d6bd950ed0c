"""A toy replay whose every figure can be checked by hand: six tickets, two tenants, two rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aisoc.events import Alert, Disposition
from aisoc.replay import Selection, Ticket
from aisoc.sources import Truth

START = datetime(2024, 3, 4, tzinfo=UTC)
TP = Truth(escalated=True, label=Disposition.TRUE_POSITIVE, field="truth")
FP = Truth(escalated=False, label=Disposition.FALSE_POSITIVE, field="truth")

TOY = [
    # (hour, tenant, rule, truth)
    (0, "acme", "r1", TP),
    (1, "acme", "r1", FP),
    (2, "acme", "r1", TP),
    (3, "acme", "r2", FP),
    (4, "globex", "r1", FP),
    (5, "acme", "r1", FP),
]
"""The toy tickets, in replay order."""


def alert(n: int, hour: float, tenant: str | None, rule: str | None, **kw: object) -> Alert:
    """A toy alert ``toy:n`` created ``hour`` hours after :data:`START`."""
    fields: dict[str, object] = {
        "source": "toy",
        "source_id": str(n),
        "tenant": tenant,
        "title": f"toy alert {n}",
        "rule": rule,
        "severity": 2,
        "created_at": START + timedelta(hours=hour),
        **kw,
    }
    return Alert.model_validate(fields)


def toy_selection(rows: list[tuple[float, str | None, str | None, Truth | None]] | None = None) -> Selection:
    """The toy tickets (or ``rows``) as a replay selection."""
    return Selection(
        tickets=[
            Ticket(n, alert(n, h, tenant, rule), truth)
            for n, (h, tenant, rule, truth) in enumerate(rows or TOY)
        ]
    )
