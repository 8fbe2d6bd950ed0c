"""Wazuh alerts (OpenSearch hits, as exported in ``data/wazuh/alerts.jsonl``) -> kernel ``Alert``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aisoc.events import Alert, Disposition, Indicator
from aisoc.sources import Rejected, Truth

SOURCE = "wazuh"
RAW_EXCLUDE = [
    "label",
    "alert._version",
    "alert._index",
    "alert._id",
    "alert._score",
    "alert.sort",
    "alert.fields",
]
"""The analyst's label and the Elasticsearch export envelope (``_version`` leaks the label)."""

_HASH = re.compile(r"\b(SHA256|SHA1|MD5)=([0-9A-Fa-f]{32,64})\b")


def severity_of(level: int) -> int:
    """Wazuh rule level 0-15 -> normalized 0-4 (Wazuh's own bands: 0-2, 3-6, 7-11, 12-14, 15)."""
    return 0 if level < 3 else 1 if level < 7 else 2 if level < 12 else 3 if level < 15 else 4


def normalize(record: dict[str, Any]) -> Alert:
    """Normalize one exported record; raises KeyError/ValueError/ValidationError when it can't."""
    hit = record["alert"]
    src = hit["_source"]
    rule = src.get("rule", {})
    data = src.get("data", {}) or {}
    win = (data.get("win") or {}).get("eventdata") or {}
    agent = src.get("agent", {})
    level = int(record.get("rule_level") or rule.get("level") or 0)
    title = record.get("description") or rule.get("description") or f"Wazuh rule {rule.get('id')}"
    if title == "MISSING":
        title = rule.get("description") or f"Wazuh rule {rule.get('id')}"
    users = [
        u
        for u in (
            win.get("user"),
            win.get("targetUserName"),
            data.get("srcuser"),
            data.get("dstuser"),
        )
        if u
    ]
    indicators: list[Indicator] = []
    for field in ("hashes", "hash"):
        for kind, value in _HASH.findall(str(win.get(field, ""))):
            indicators.append(
                Indicator(type=kind.lower(), value=value.lower(), field=f"data.win.eventdata.{field}")
            )
    for field in ("srcip", "src_ip", "dest_ip"):
        if data.get(field):
            indicators.append(Indicator(type="ip", value=str(data[field]), field=f"data.{field}"))
    return Alert(
        source=SOURCE,
        source_id=str(record.get("id") or hit["_id"]),
        title=str(title)[:512],
        description=src.get("full_log"),
        rule=str(rule.get("id")) if rule.get("id") is not None else None,
        severity=severity_of(level),
        severity_original=f"level {level} ({record.get('rule_priority', '?')})",
        created_at=datetime.fromisoformat(src["timestamp"].replace("+0000", "+00:00")),
        hosts=[agent["name"]] if agent.get("name") else [],
        users=users,
        indicators=indicators,
        techniques=list((rule.get("mitre") or {}).get("id") or []),
        raw=record,
        raw_exclude=RAW_EXCLUDE,
    )


class WazuhFileSource:
    """Wazuh alerts from a JSON Lines export; each line is one record."""

    name = SOURCE

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def poll(self) -> Iterator[Alert | Rejected]:
        for item, _ in self.records():
            yield item

    def records(self) -> Iterator[tuple[Alert | Rejected, Truth | None]]:
        """Each record with the analyst's label (``TP`` = escalated, ``FP`` = closed)."""
        with self.path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    yield normalize(record), truth_of(record)
                except (KeyError, TypeError, ValueError, ValidationError) as e:
                    reason = f"line {n}: {type(e).__name__}: {e}"[:1000]
                    yield Rejected(reason, line.strip(), SOURCE), None


def truth_of(record: dict[str, Any]) -> Truth | None:
    """The analyst's label: ``TP`` escalated (true positive), ``FP`` closed (false positive)."""
    label = record.get("label")
    if label == "TP":
        return Truth(escalated=True, label=Disposition.TRUE_POSITIVE, field="label")
    if label == "FP":
        return Truth(escalated=False, label=Disposition.FALSE_POSITIVE, field="label")
    return None


def open_source(path: str | None, **options: Any) -> WazuhFileSource:
    """Entry point ``wazuh``: a JSON Lines export of Wazuh alerts."""
    if not path:
        raise ValueError("the wazuh source needs a file: aisoc ingest wazuh PATH")
    return WazuhFileSource(path)
