"""Real GUIDE evidence rows as memory input: one case per incident, indicators from the entity columns.

Read with the csv module only (the integrations package owns the production GUIDE source). Each
entity column's mode is a "no entity" placeholder (see ``data/guide/SOURCE.md``) and is skipped.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aisoc import events as ev

EVIDENCE = Path(__file__).resolve().parents[3] / "data" / "guide" / "evidence.csv"
"""The development split of the GUIDE evidence rows."""

COLUMNS = {
    "DeviceId": "device_id",
    "Sha256": "sha256",
    "IpAddress": "ip",
    "Url": "url",
    "AccountSid": "account_id",
    "AccountUpn": "user",
    "AccountObjectId": "account_id",
    "AccountName": "user",
    "DeviceName": "host",
    "NetworkMessageId": "other",
    "RegistryKey": "registry_key",
    "ApplicationId": "app_id",
    "OAuthApplicationId": "app_id",
    "FileName": "file",
    "FolderPath": "file",
}
"""GUIDE entity column -> indicator type."""

GRADES = {
    "TruePositive": ("true_positive", True),
    "BenignPositive": ("benign", False),
    "FalsePositive": ("false_positive", False),
}
"""IncidentGrade -> (label, escalated)."""


@dataclass
class Incident:
    """One GUIDE incident: the evidence of its alerts folded into one case."""

    org: str
    incident: str
    created: datetime
    detector: str
    title: str
    grade: str
    indicators: dict[tuple[str, str], None] = field(default_factory=dict)


def placeholders(rows: list[dict[str, str]]) -> dict[str, str]:
    """The mode of every entity column: the "no entity" value."""
    return {c: Counter(r[c] for r in rows).most_common(1)[0][0] for c in COLUMNS}


def incidents(path: Path = EVIDENCE) -> list[Incident]:
    """The incidents of the evidence file, oldest first (created = the earliest evidence timestamp)."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    empty = placeholders(rows)
    found: dict[tuple[str, str], Incident] = {}
    for r in sorted(rows, key=lambda r: r["Timestamp"]):
        key = (r["OrgId"], r["IncidentId"])
        inc = found.get(key)
        if inc is None:
            created = datetime.fromisoformat(r["Timestamp"].replace("Z", "+00:00"))
            inc = found[key] = Incident(
                r["OrgId"], r["IncidentId"], created, r["DetectorId"], r["AlertTitle"], r["IncidentGrade"]
            )
        for col, kind in COLUMNS.items():
            if r[col] and r[col] != empty[col]:
                inc.indicators[(kind, f"{col}-{r[col]}")] = None
    return sorted(found.values(), key=lambda i: (i.created, i.org, i.incident))


def alert_of(inc: Incident, *, suffix: str = "", created: datetime | None = None) -> ev.AlertReceived:
    """The ``alert.received`` of an incident (``suffix`` makes resampled copies distinct)."""
    a = ev.Alert(
        source="guide",
        source_id=f"{inc.org}-{inc.incident}{suffix}",
        tenant=f"org{inc.org}",
        title=f"GUIDE alert title {inc.title}",
        rule=f"detector-{inc.detector}",
        severity=2,
        created_at=created or inc.created,
        hosts=[v for t, v in inc.indicators if t == "host"],
        users=[v for t, v in inc.indicators if t == "user"],
        indicators=[ev.Indicator(type=t, value=v) for t, v in inc.indicators if t not in ("host", "user")],
    )
    return ev.AlertReceived(
        alert=a, case_id=a.case_id, produced_by=ev.ProducedBy(role="ingest"), occurred_at=a.created_at
    )


def label_of(inc: Incident, case_id: str, when: datetime) -> ev.TruthLabeled:
    """The analyst's grade of an incident as ``truth.labeled``."""
    label, escalated = GRADES[inc.grade]
    return ev.TruthLabeled(
        label=label,
        escalated=escalated,
        labeled_by="guide-analyst",
        source="guide",
        note="IncidentGrade",
        case_id=case_id,
        produced_by=ev.ProducedBy(role="human"),
        occurred_at=when,
    )
