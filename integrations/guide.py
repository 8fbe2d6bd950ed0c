"""Microsoft GUIDE (Defender XDR incidents graded by SOC analysts) -> kernel ``Alert``.

Two shapes (see ``data/guide/SOURCE.md``):

- ``guide``: the raw evidence CSV (46 columns, one evidence entity per row). Rows are grouped into
  one incident per (``OrgId``, ``IncidentId``); incidents come out in the order of their first
  ``Timestamp``. Entity columns hold anonymised integers; each column's most frequent value is a
  placeholder for "no entity" and is ignored.
- ``guide-incidents``: the aggregated table (one row per incident, counts and one-hot columns).

``IncidentGrade`` is the analyst's label (TruePositive = escalated; BenignPositive and
FalsePositive = closed). ``ActionGrouped``/``ActionGranular``/``LastVerdict`` record what happened
after triage and ``Usage`` is Kaggle bookkeeping: none of them reaches a model.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aisoc.events import Alert, Disposition, Indicator, IndicatorType, fitted
from aisoc.sources import Rejected, Truth
from integrations._files import NORMALIZE_ERRORS, RecordedFile, describe, reject
from integrations.errors import SourceError
from integrations.indicators import merge, valid_techniques

T = IndicatorType
EVIDENCE_SOURCE = "guide"
INCIDENTS_SOURCE = "guide-incidents"
LABEL = "IncidentGrade"
LEAKING = ("ActionGrouped", "ActionGranular", "LastVerdict", "Usage")
"""Columns that record the outcome or bookkeeping (kept in ``raw``, never in ``model_view``)."""
EVIDENCE_RAW_EXCLUDE = [f"rows.{c}" for c in (LABEL, *LEAKING)]
PLACEHOLDERS: dict[str, str] = {
    "DeviceId": "98799",
    "Sha256": "138268",
    "IpAddress": "360606",
    "Url": "160396",
    "AccountSid": "441377",
    "AccountUpn": "673934",
    "AccountObjectId": "425863",
    "AccountName": "453297",
    "DeviceName": "153085",
    "NetworkMessageId": "529644",
    "EmailClusterId": "",
    "RegistryKey": "1631",
    "RegistryValueName": "635",
    "RegistryValueData": "860",
    "ApplicationId": "2251",
    "ApplicationName": "3421",
    "OAuthApplicationId": "881",
    "FileName": "289573",
    "FolderPath": "117668",
    "ResourceIdName": "3586",
}
"""Per entity column, the mode that stands for "no entity" (SOURCE.md, verified on 6,707 rows)."""
ENTITY_COLUMNS: dict[str, tuple[IndicatorType, str]] = {
    "DeviceId": (T.DEVICE_ID, ""),
    "Sha256": (T.SHA256, ""),
    "IpAddress": (T.IP, ""),
    "Url": (T.URL, ""),
    "AccountSid": (T.ACCOUNT_ID, "sid:"),
    "AccountObjectId": (T.ACCOUNT_ID, "oid:"),
    "RegistryKey": (T.REGISTRY_KEY, ""),
    "ApplicationId": (T.APP_ID, ""),
    "OAuthApplicationId": (T.APP_ID, "oauth:"),
    "FileName": (T.FILE, ""),
    "FolderPath": (T.FILE, "folder:"),
    "NetworkMessageId": (T.OTHER, "message:"),
    "EmailClusterId": (T.OTHER, "email-cluster:"),
    "ResourceIdName": (T.OTHER, "resource:"),
    "ThreatFamily": (T.OTHER, "threat-family:"),
}
"""Entity column -> (indicator type, value prefix). The anonymised integers of different columns
share one number space, so columns mapped to the same type carry a prefix to keep them apart."""
USER_COLUMNS = {"AccountUpn": "upn:", "AccountName": "name:"}
REQUIRED = ("OrgId", "IncidentId", "Timestamp", LABEL)
GRADES = {
    "TruePositive": Truth(escalated=True, label=Disposition.TRUE_POSITIVE, field=LABEL),
    "BenignPositive": Truth(escalated=False, label=Disposition.BENIGN, field=LABEL),
    "FalsePositive": Truth(escalated=False, label=Disposition.FALSE_POSITIVE, field=LABEL),
}
"""The analyst's grade -> what replay scores against."""
GUIDE_SEVERITY = 2
"""GUIDE records no severity: every incident is "medium" and says so in ``severity_original``."""


def _open_text(path: Path) -> io.TextIOBase:
    """The file as text; bytes that are not UTF-8 come through as surrogates (their row is refused,
    the rest of the file is read)."""
    with path.open("rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    raw = gzip.open(path, "rb") if gz else path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")


class _Taken:
    """The lines of a text file, remembering those read since :meth:`record` was last called (the
    text of the row the CSV reader is on, to keep with a row it refuses), with lines given back by
    :meth:`give_back` read again first (the CSV reader re-synchronises on them)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._count = 0
        self._back: deque[tuple[int, str]] = deque()
        self._taken: list[tuple[int, str]] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._back:
            item = self._back.popleft()
        else:
            line = next(self._lines)
            self._count += 1
            item = (self._count, line)
        self._taken.append(item)
        return item[1]

    def record(self) -> list[tuple[int, str]]:
        """The lines read since the last call, with their numbers (one row, quoted line breaks
        included)."""
        taken, self._taken = self._taken, []
        return taken

    def give_back(self, lines: list[tuple[int, str]]) -> None:
        """Read ``lines`` again before the rest of the file."""
        self._back.extendleft(reversed(lines))


def _readable(text: str) -> str:
    """``text`` with bytes that were not UTF-8 written as ``\\xNN`` (kept, and what a dead letter can
    hold)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str] | Rejected]]:
    """``(line, row)`` of a CSV, or ``(line, Rejected)`` for a row that cannot be read: the wrong
    number of fields, bytes that are not UTF-8, a field over the csv module's limit. One bad row
    never ends the file.

    A GUIDE row is one line. A row the CSV reader made of several lines came from an unbalanced
    quote, which swallows the lines after it into one field: only its first line is rejected, and the
    reader starts again on the next line, so the rows that follow are read.

    Raises:
        SourceError: a required column is missing from the header.
    """
    with _open_text(path) as f:
        lines = _Taken(iter(f))
        reader = csv.reader(lines)
        header = next(reader, [])
        missing = [c for c in required if c not in header]
        if missing:
            raise SourceError(f"{path}: not a GUIDE file: missing column(s) {', '.join(missing)}")
        lines.record()
        while True:
            try:
                values: list[str] | None = next(reader)
                error = None
            except StopIteration:
                return
            except (EOFError, OSError, zlib.error) as e:  # a gzip cut short or damaged
                raise SourceError(
                    f"{path}: cannot be read past line {reader.line_num} ({e}); repair or replace the "
                    "file (the evidence source publishes nothing from it: an incident's rows may "
                    "continue past the break)"
                ) from e
            except csv.Error as e:
                values, error = None, str(e)
            taken = lines.record()
            if not taken:
                return
            line, text = taken[0][0], "".join(t for _, t in taken)
            if len(taken) > 1:
                lines.give_back(taken[1:])
                text = taken[0][1]
                swallowed = "a quoted field runs past the end of the line (an unbalanced quote?)"
                error = swallowed if error is None else f"{swallowed}: {error}"
            shown = _readable(text)
            if error is not None or values is None:
                yield line, reject(f"line {line}: {error}", shown.strip(), path.name)
                continue
            if not values:
                continue
            if len(values) != len(header):
                yield line, reject(f"line {line}: expected {len(header)} fields", shown.strip(), path.name)
                continue
            if shown != text:
                yield line, reject(f"line {line}: not UTF-8 text", shown.strip(), path.name)
                continue
            yield line, dict(zip(header, values, strict=True))


def _time(value: str) -> datetime:
    """A GUIDE timestamp in UTC (one without an offset is UTC, as the rest of the file)."""
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _truth(grade: str | None) -> Truth | None:
    return GRADES.get(grade or "")


class GuideEvidenceSource(RecordedFile):
    """GUIDE evidence rows grouped into incidents, oldest first; the cursor is the last incident read.

    Args:
        path: the evidence CSV (plain or gzip).

    Raises:
        SourceError: the file is missing.
    """

    name = EVIDENCE_SOURCE

    def __init__(self, path: str | Path | None) -> None:
        super().__init__(path, EVIDENCE_SOURCE, "the evidence CSV")

    def restore(self, cursor: str) -> None:
        """Resume after the incident whose order key is ``cursor``."""
        self.cursor = cursor

    def poll(self) -> Iterator[Alert | Rejected]:
        """Incidents after the cursor, oldest first (rejected rows come first)."""
        for item, _, key in self._incidents():
            if key is not None and self.cursor is not None and key <= self.cursor:
                continue
            if key is not None:
                self.cursor = key
            yield item

    def records(self) -> Iterator[tuple[Alert | Rejected, Truth | None]]:
        """Every incident with the analyst's grade."""
        for item, truth, _ in self._incidents():
            yield item, truth

    def _incidents(self) -> Iterator[tuple[Alert | Rejected, Truth | None, str | None]]:
        groups: dict[tuple[str, str], list[dict[str, str]]] = {}
        for line, row in _rows(self.path, REQUIRED):
            if isinstance(row, Rejected):
                yield Rejected(row.reason, row.payload, EVIDENCE_SOURCE), None, None
                continue
            try:
                _time(row["Timestamp"])
                if not row["OrgId"] or not row["IncidentId"]:
                    raise ValueError("empty OrgId or IncidentId")
            except ValueError as e:
                yield reject(f"line {line}: {describe(e)}", row, EVIDENCE_SOURCE), None, None
                continue
            groups.setdefault((row["OrgId"], row["IncidentId"]), []).append(row)
        ordered = sorted(
            groups.items(), key=lambda kv: (min(_time(r["Timestamp"]) for r in kv[1]), int_or(kv[0]))
        )
        for (org, incident), rows in ordered:
            first = min(_time(r["Timestamp"]) for r in rows)
            key = f"{first.isoformat()}|{org:>12}|{incident:>12}"
            try:
                alert = normalize_incident(org, incident, rows)
            except NORMALIZE_ERRORS as e:
                raw = {"OrgId": org, "IncidentId": incident, "rows": rows}
                yield reject(f"incident {org}-{incident}: {describe(e)}", raw, EVIDENCE_SOURCE), None, key
                continue
            yield alert, _truth(rows[0].get(LABEL)), key


def int_or(key: tuple[str, str]) -> tuple[int | str, ...]:
    """Numeric order of (OrgId, IncidentId) when they are numbers."""
    return tuple(int(k) if k.isdigit() else k for k in key)


def normalize_incident(org: str, incident: str, rows: list[dict[str, str]]) -> Alert:
    """One GUIDE incident (its evidence rows) as an alert.

    Raises:
        KeyError, ValueError, ValidationError: a row lacks a column or holds a bad value.
    """
    by_time = sorted(rows, key=lambda r: _time(r["Timestamp"]))
    first = by_time[0]
    alerts: dict[str, dict[str, str]] = {}
    for r in by_time:
        alerts.setdefault(r.get("AlertId", ""), r)
    indicators: list[Indicator] = []
    hosts: list[str] = []
    users: list[str] = []
    for r in by_time:
        for column, (kind, prefix) in ENTITY_COLUMNS.items():
            value = (r.get(column) or "").strip()
            if value and value != PLACEHOLDERS.get(column):
                indicators.append(Indicator(type=kind, value=f"{prefix}{value}", field=f"rows.{column}"))
        if (r.get("DeviceName") or "") not in ("", PLACEHOLDERS["DeviceName"]):
            hosts.append(r["DeviceName"])
        for column, prefix in USER_COLUMNS.items():
            if (r.get(column) or "") not in ("", PLACEHOLDERS[column]):
                users.append(f"{prefix}{r[column]}")
    techniques = valid_techniques(
        t for r in by_time for t in (r.get("MitreTechniques") or "").split(";") if t
    )
    categories = list(dict.fromkeys(r.get("Category") or "Unknown" for r in by_time))
    more = f" and {len(alerts) - 1} more alert(s)" if len(alerts) > 1 else ""
    title = f"{first.get('Category') or 'Unknown'} alert (GUIDE title {first.get('AlertTitle')}){more}"
    entity_types = sorted({r.get("EntityType") or "?" for r in by_time})
    description = (
        f"{len(rows)} evidence row(s) on {len(alerts)} alert(s); categories: {', '.join(categories)}; "
        f"detectors: {', '.join(dict.fromkeys(a.get('DetectorId', '?') for a in alerts.values()))}; "
        f"entity types: {', '.join(entity_types)}"
    )
    return fitted(
        Alert,
        source=EVIDENCE_SOURCE,
        source_id=incident,
        tenant=org,
        title=title,
        description=description,
        rule=first.get("DetectorId") or None,
        category=first.get("Category") or None,
        severity=GUIDE_SEVERITY,
        severity_original="not recorded by GUIDE",
        created_at=_time(first["Timestamp"]),
        hosts=list(dict.fromkeys(hosts)),
        users=list(dict.fromkeys(users)),
        indicators=merge(indicators),
        techniques=techniques,
        raw={"OrgId": org, "IncidentId": incident, "Id": first.get("Id"), "rows": rows},
        raw_exclude=EVIDENCE_RAW_EXCLUDE,
    )


INCIDENT_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
"""A Monday. The aggregated table keeps only ``day_of_week`` (0 = Monday) and ``hour_of_day``, so
``created_at`` is placed in this week: the weekday and hour are real, the date is not."""


ONE_HOT_GROUPS = ("Category", "MitreTechniques", "ThreatFamily", "EntityType")
"""The aggregated table's column groups read as ``GROUP_name`` counts (the rest is kept raw)."""
NONE_COUNTED = frozenset({"", "0", "0.0"})
"""Cells that count nothing (nine in ten of the table's cells)."""


def normalize_aggregated(row: dict[str, str]) -> Alert:
    """One row of the aggregated incidents table as an alert.

    Raises:
        KeyError, ValueError, ValidationError: the row lacks a column or holds a bad value.
    """
    incident = row["IncidentId"]
    day, hour = int(float(row.get("day_of_week") or 0)), int(float(row.get("hour_of_day") or 0))
    if not (0 <= day <= 6 and 0 <= hour <= 23):
        raise ValueError(f"day_of_week {day} / hour_of_day {hour} out of range")

    # One pass over the row's 170 columns for the four one-hot groups (not one pass per group).
    groups: dict[str, list[tuple[str, float]]] = {g: [] for g in ONE_HOT_GROUPS}
    for k, v in row.items():
        if v in NONE_COUNTED:  # most cells: skip them before parsing the column name or the number
            continue
        head, _, name = k.partition("_")
        if head in groups and (x := float(v)) > 0:
            groups[head].append((name, x))

    def active(group: str) -> list[tuple[str, float]]:
        return sorted(groups[group], key=lambda kv: -kv[1])

    categories = [c for c, _ in active("Category")]
    techniques = valid_techniques(t for combo, _ in active("MitreTechniques") for t in combo.split(";"))
    families = [f for f, _ in active("ThreatFamily") if f != "Other"]
    indicators = [
        Indicator(type=T.OTHER, value=f"threat-family:{f}", field="ThreatFamily_*") for f in families
    ]
    entities = ", ".join(f"{k} {int(v)}" for k, v in active("EntityType")[:8])
    description = (
        f"{row.get('evidence_count', '?')} evidence row(s) on {row.get('AlertId_nunique', '?')} alert(s) "
        f"over {row.get('duration_seconds', '?')} s; categories: {', '.join(categories) or 'none'}; "
        f"entity types: {entities or 'none'}"
    )
    return fitted(
        Alert,
        source=INCIDENTS_SOURCE,
        source_id=incident,
        title=f"GUIDE incident {incident}: {', '.join(categories[:3]) or 'uncategorised'}",
        description=description,
        category=categories[0] if categories else None,
        severity=GUIDE_SEVERITY,
        severity_original="not recorded by GUIDE",
        created_at=INCIDENT_EPOCH + timedelta(days=day, hours=hour),
        indicators=indicators,
        techniques=techniques,
        raw=dict(row),
        raw_exclude=[LABEL],
    )


class GuideIncidentsSource(RecordedFile):
    """The aggregated GUIDE incidents table (plain or gzip CSV), in file order; cursor = rows read.

    Args:
        path: the CSV file.

    Raises:
        SourceError: the file is missing.
    """

    name = INCIDENTS_SOURCE

    def __init__(self, path: str | Path | None) -> None:
        super().__init__(path, INCIDENTS_SOURCE, "the incidents CSV")

    def records(self) -> Iterator[tuple[Alert | Rejected, Truth | None]]:
        """Every incident with the analyst's grade."""
        for line, row in _rows(self.path, ("IncidentId", LABEL)):
            if isinstance(row, Rejected):
                yield Rejected(row.reason, row.payload, INCIDENTS_SOURCE), None
                continue
            try:
                yield normalize_aggregated(row), _truth(row.get(LABEL))
            except NORMALIZE_ERRORS as e:
                yield reject(f"line {line}: {describe(e)}", row, INCIDENTS_SOURCE), None


def open_evidence_source(path: str | None, **options: Any) -> GuideEvidenceSource:
    """Entry point ``guide``: the GUIDE evidence CSV, one incident per (OrgId, IncidentId).

    Raises:
        SourceError: no file was given or it does not exist.
    """
    return GuideEvidenceSource(path)


def open_incidents_source(path: str | None, **options: Any) -> GuideIncidentsSource:
    """Entry point ``guide-incidents``: the aggregated GUIDE incidents table.

    Raises:
        SourceError: no file was given or it does not exist.
    """
    return GuideIncidentsSource(path)
