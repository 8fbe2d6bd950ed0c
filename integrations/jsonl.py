"""JSON Lines of alerts (a file or stdin): kernel ``Alert`` records or generic alert objects.

A line is either a kernel ``Alert`` record (the fields of :class:`aisoc.events.Alert`) or any JSON
object a SIEM emits, read by :func:`normalize_generic` through common field names. Either may carry
an optional ``truth`` (the analyst's decision, never shown to a model): ``"escalated"``,
``"closed"``, ``"benign"``, ``"true_positive"``, ``"false_positive"``, a bool (escalated or not), or
``{"escalated": bool, "label": ..., "note": ...}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from aisoc.events import GENERIC_RAW_EXCLUDE, Alert, Disposition, Indicator, IndicatorType, fitted
from aisoc.sources import Truth
from integrations._files import LineFileSource
from integrations.indicators import (
    extract_fields,
    extract_text,
    indicator,
    merge,
    techniques_in,
    valid_techniques,
)

SOURCE = "jsonl"
ALERT_FIELDS = frozenset(Alert.model_fields)
ANALYST_FIELDS = (
    "truth",
    "close_reason",
    "close_notes",
    "closeReason",
    "closeNotes",
    "resolution",
    "outcome",
    "status",
    "comments",
    "notes",
)
"""Generic keys an analyst writes or that betray the outcome (kept in ``raw``, hidden from models)."""
TRUTH_WORDS: dict[str, tuple[bool, Disposition]] = {
    "escalated": (True, Disposition.TRUE_POSITIVE),
    "escalate": (True, Disposition.TRUE_POSITIVE),
    "tp": (True, Disposition.TRUE_POSITIVE),
    "true_positive": (True, Disposition.TRUE_POSITIVE),
    "truepositive": (True, Disposition.TRUE_POSITIVE),
    "malicious": (True, Disposition.TRUE_POSITIVE),
    "closed": (False, Disposition.FALSE_POSITIVE),
    "close": (False, Disposition.FALSE_POSITIVE),
    "fp": (False, Disposition.FALSE_POSITIVE),
    "false_positive": (False, Disposition.FALSE_POSITIVE),
    "falsepositive": (False, Disposition.FALSE_POSITIVE),
    "benign": (False, Disposition.BENIGN),
    "benign_positive": (False, Disposition.BENIGN),
    "benignpositive": (False, Disposition.BENIGN),
}
SEVERITY_WORDS = {
    "info": 0,
    "informational": 0,
    "unknown": 0,
    "low": 1,
    "medium": 2,
    "moderate": 2,
    "high": 3,
    "critical": 4,
    "crit": 4,
    "severe": 4,
}
_PICK = {
    "source_id": ("source_id", "id", "alert_id", "alertId", "event_id", "uuid", "_id"),
    "title": ("title", "name", "rule_name", "summary", "message", "description"),
    "description": ("description", "message", "details", "full_log"),
    "rule": ("rule", "rule_id", "detector", "detector_id", "signature", "rule_name"),
    "severity": ("severity", "level", "priority", "risk_score"),
    "created_at": ("created_at", "timestamp", "@timestamp", "time", "created", "date", "event_time"),
    "hosts": ("hosts", "host", "hostname", "device", "computer"),
    "users": ("users", "user", "username", "account"),
    "tenant": ("tenant", "org", "org_id", "customer"),
    "link": ("link", "permalink", "alert_url"),
    "techniques": ("techniques", "mitre", "technique", "technique_id", "mitre_techniques"),
}
"""Generic key names tried, in order, for each alert field."""


def parse_truth(value: Any) -> Truth | None:
    """The analyst's decision from a ``truth`` value (None when absent).

    Raises:
        ValueError: the value is not one of the accepted forms.
    """
    if value is None:
        return None
    note = None
    if isinstance(value, dict):
        note = str(value["note"])[:2000] if value.get("note") else None
        label = value.get("label")
        if "escalated" in value and isinstance(value["escalated"], bool):
            escalated = value["escalated"]
            word = str(label or ("escalated" if escalated else "closed")).lower()
            _, disposition = TRUTH_WORDS.get(word) or _unknown_truth(label)
            return Truth(escalated=escalated, label=disposition, field="truth", note=note)
        value = label
    if isinstance(value, bool):
        return Truth(escalated=value, label=TRUTH_WORDS["escalated" if value else "closed"][1], field="truth")
    escalated, disposition = TRUTH_WORDS.get(str(value).strip().lower()) or _unknown_truth(value)
    return Truth(escalated=escalated, label=disposition, field="truth", note=note)


def _unknown_truth(value: Any) -> tuple[bool, Disposition]:
    raise ValueError(f"unknown truth value {value!r}; expected one of {', '.join(sorted(TRUTH_WORDS))}")


def parse_time(value: Any) -> datetime:
    """A timestamp: ISO 8601 (``Z`` or offset; naive means UTC) or epoch seconds/milliseconds.

    Raises:
        ValueError: the value is not a timestamp.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    text = str(value).strip()
    if text.isdigit():
        return parse_time(int(text))
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_severity(value: Any) -> int:
    """A severity on the kernel's 0-4 scale from a name, a 0-4 number, a 0-10 or a 0-100 score.

    Raises:
        ValueError: the value is not a severity.
    """
    if isinstance(value, str) and value.strip().lower() in SEVERITY_WORDS:
        return SEVERITY_WORDS[value.strip().lower()]
    number = float(value)
    if number < 0:
        raise ValueError(f"negative severity {value!r}")
    if number <= 4:
        return int(number)
    if number <= 10:
        return 4 if number >= 9 else 3 if number >= 7 else 2 if number >= 4 else 1
    return 4 if number >= 90 else 3 if number >= 70 else 2 if number >= 40 else 1 if number >= 20 else 0


def pick(record: dict[str, Any], field: str) -> Any:
    """The value of the first generic key of ``field`` that ``record`` fills (None: none)."""
    for key in _PICK[field]:
        if record.get(key) not in (None, "", []):
            return record[key]
    return None


def _names(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("name") or item.get("hostname") or item.get("id")
        if item not in (None, ""):
            out.append(str(item)[:256])
    return out


def _technique_ids(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("id") or item.get("technique_id")
        ids.extend(str(item).replace(",", ";").split(";"))
    return valid_techniques(i for i in ids if i)


def _explicit_indicators(value: Any) -> list[Indicator]:
    found: list[Indicator | None] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and item.get("type") in IndicatorType._value2member_map_:
            found.append(indicator(item["type"], item.get("value"), "indicators"))
        elif isinstance(item, str):
            found.extend(extract_text(item, "indicators"))
    return [i for i in found if i is not None]


def stable_id(record: dict[str, Any]) -> str:
    """A deterministic id for a record that has none (the same record is the same case)."""
    canonical = json.dumps(record, sort_keys=True, default=str, separators=(",", ":"))
    return "sha256-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def normalize_generic(
    record: dict[str, Any],
    default_source: str = SOURCE,
    *,
    now: Callable[[], datetime] | None = None,
    exclude: Iterable[str] = (),
) -> tuple[Alert, Truth | None]:
    """A kernel Alert record or a generic alert object -> ``(alert, truth)``.

    Args:
        record: the decoded JSON object.
        default_source: source name when the record does not carry a valid one.
        now: when given, the time used for a record without a timestamp (the webhook's receipt
            time); otherwise such a record is refused.
        exclude: extra raw keys a model must not see.

    Raises:
        TypeError, ValueError, ValidationError: the record cannot be read as an alert.
    """
    if not isinstance(record, dict):
        raise TypeError(f"an alert is a JSON object, got {type(record).__name__}")
    truth = parse_truth(record.get("truth"))
    hidden = [*ANALYST_FIELDS, *exclude]
    if "source_id" in record and "created_at" in record and set(record) <= ALERT_FIELDS | {"truth"}:
        alert = Alert.model_validate({k: v for k, v in record.items() if k != "truth"})
        skip = {f"raw.{p}" for p in (*GENERIC_RAW_EXCLUDE, *alert.raw_exclude, *hidden)}
        found = extract_fields(
            {"title": alert.title, "description": alert.description, "raw": alert.raw}, skip=skip
        )
        return alert.model_copy(update={"indicators": merge(alert.indicators, found)[:500]}), truth
    when = pick(record, "created_at")
    if when is None:
        if now is None:
            raise ValueError("no timestamp: expected one of " + ", ".join(_PICK["created_at"]))
        created = now()
    else:
        created = parse_time(when)
    source = record.get("source")
    source = source.lower() if isinstance(source, str) and source.strip() else default_source
    rule = pick(record, "rule")
    if isinstance(rule, dict):
        rule = rule.get("id") or rule.get("name")
    severity = pick(record, "severity")
    title = str(pick(record, "title") or f"Alert from {source}")
    description = pick(record, "description")
    skip = {*GENERIC_RAW_EXCLUDE, *hidden, "indicators"}
    alert = fitted(
        Alert,
        source=source,
        source_id=str(pick(record, "source_id") or stable_id(record)),
        tenant=str(pick(record, "tenant")) if pick(record, "tenant") is not None else None,
        title=title,
        description=str(description) if description is not None else None,
        rule=str(rule) if rule is not None else None,
        severity=parse_severity(severity) if severity is not None else 2,
        severity_original=str(severity) if severity is not None else "not given",
        created_at=created,
        hosts=_names(pick(record, "hosts")),
        users=_names(pick(record, "users")),
        indicators=merge(_explicit_indicators(record.get("indicators")), extract_fields(record, skip=skip)),
        techniques=(_technique_ids(pick(record, "techniques")) or techniques_in(f"{title} {description}")),
        link=str(pick(record, "link")) if pick(record, "link") else None,
        raw=record,
        raw_exclude=[k for k in hidden if k in record],
    )
    return alert, truth


class JsonlSource(LineFileSource):
    """Alerts from a JSON Lines file or stdin (``-``), resuming at a byte offset.

    Args:
        path: the file, or ``-`` for stdin.
        source: name of alerts that do not carry their own ``source``.
        stdin: the stream read for ``-``.
    """

    def __init__(self, path: str | Path, *, source: str = SOURCE, stdin: BinaryIO | None = None) -> None:
        super().__init__(path, SOURCE, lambda record: normalize_generic(record, source), stdin=stdin)


def open_source(path: str | None, **options: Any) -> JsonlSource:
    """Entry point ``jsonl``: JSON Lines of alerts from a file, or ``-`` for stdin.

    Raises:
        SourceError: no path was given or the file does not exist.
    """
    return JsonlSource(path or "", source=str(options.get("source") or SOURCE), stdin=options.get("stdin"))
