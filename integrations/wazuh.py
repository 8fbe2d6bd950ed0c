"""Wazuh alerts (OpenSearch hits, as exported in ``data/wazuh/alerts.jsonl``) -> kernel ``Alert``.

Record keys relied on (Wazuh 4.x alert document, https://documentation.wazuh.com/current/
user-manual/ruleset/ruleset-xml-syntax/rules.html and the exported sample): ``id``,
``description``, ``label``, ``rule_level``, ``rule_priority`` and ``alert`` = the hit
(``_index``, ``_id``, ``_version``, ``_score``, ``sort``, ``fields``, ``_source``); in ``_source``:
``timestamp``, ``agent.name``/``agent.ip``, ``rule.id``/``level``/``description``/``mitre.id``,
``full_log``, ``data.srcip``/``srcuser``/``dstuser``, ``data.win.eventdata.*``.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from aisoc.events import Alert, Disposition, Indicator, IndicatorType, fitted
from aisoc.sources import Truth
from integrations._files import LineFileSource, record_id
from integrations.indicators import extract_fields, extract_text, indicator, merge, valid_techniques

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
NOT_EVIDENCE = ("rule", "decoder", "manager", "input", "timestamp", "id", "location", "agent")
"""``_source`` keys that describe the rule, the pipeline or the reporting host itself (not searched)."""


def severity_of(level: int) -> int:
    """Wazuh rule level 0-15 -> normalized 0-4 (Wazuh's own bands: 0-2, 3-6, 7-11, 12-14, 15)."""
    return 0 if level < 3 else 1 if level < 7 else 2 if level < 12 else 3 if level < 15 else 4


def _structured(data: dict[str, Any], win: dict[str, Any]) -> list[Indicator]:
    """Indicators from the fields whose meaning is known (source and destination IPs); the rest,
    Sysmon's ``hashes`` included, comes from the extractor."""
    found: list[Indicator | None] = []
    for field in ("srcip", "src_ip", "dstip", "dest_ip"):
        if data.get(field):
            found.append(indicator(IndicatorType.IP, data[field], f"alert._source.data.{field}"))
    for field in ("sourceIp", "destinationIp"):
        if win.get(field):
            found.append(indicator(IndicatorType.IP, win[field], f"alert._source.data.win.eventdata.{field}"))
    return [i for i in found if i is not None]


def normalize(record: dict[str, Any]) -> Alert:
    """Normalize one exported record.

    Raises:
        KeyError, TypeError, ValueError, ValidationError: the record is not a Wazuh alert.
    """
    hit = record["alert"]
    src = hit["_source"]
    rule = src.get("rule") or {}
    data = src.get("data") or {}
    win = (data.get("win") or {}).get("eventdata") or {}
    agent = src.get("agent") or {}
    level = int(record.get("rule_level") or rule.get("level") or 0)
    title = record.get("description") or rule.get("description") or f"Wazuh rule {rule.get('id')}"
    if title == "MISSING":
        title = rule.get("description") or f"Wazuh rule {rule.get('id')}"
    users = [
        u for u in (win.get("user"), win.get("targetUserName"), data.get("srcuser"), data.get("dstuser")) if u
    ]
    evidence = {k: v for k, v in src.items() if k not in NOT_EVIDENCE}
    indicators = merge(
        _structured(data, win),
        extract_fields(evidence, prefix="alert._source"),
        extract_text(str(title), "description"),
    )
    return fitted(
        Alert,
        source=SOURCE,
        source_id=_id_of(record, hit),
        title=str(title),
        description=src.get("full_log"),
        rule=str(rule.get("id")) if rule.get("id") is not None else None,
        category=_category(rule.get("groups")),
        severity=severity_of(level),
        severity_original=f"level {level} ({record.get('rule_priority', '?')})",
        created_at=datetime.fromisoformat(str(src["timestamp"]).replace("+0000", "+00:00")),
        hosts=[agent["name"]] if agent.get("name") else [],
        users=[re.sub(r"\\{2,}", r"\\", str(u)) for u in users],
        indicators=indicators,
        techniques=valid_techniques((rule.get("mitre") or {}).get("id") or []),
        raw=record,
        raw_exclude=RAW_EXCLUDE,
    )


def _id_of(record: dict[str, Any], hit: dict[str, Any]) -> str:
    """The record's id (``id``, else the hit's ``_id``).

    Raises:
        KeyError: the record has neither.
        ValueError: neither is a usable id (see :func:`integrations._files.record_id`).
    """
    if record.get("id") not in (None, ""):
        return record_id(record["id"], "id")
    return record_id(hit["_id"], "alert._id")


def _category(groups: Any) -> str | None:
    """The rule's most specific group (Wazuh lists them general first: ``sysmon, sysmon_eid1_detections``)."""
    named = [str(g).strip() for g in groups or [] if str(g).strip()] if isinstance(groups, list) else []
    return named[-1][:256] if named else None


def truth_of(record: dict[str, Any]) -> Truth | None:
    """The analyst's label: ``TP`` escalated (true positive), ``FP`` closed (false positive)."""
    label = record.get("label")
    if label == "TP":
        return Truth(escalated=True, label=Disposition.TRUE_POSITIVE, field="label")
    if label == "FP":
        return Truth(escalated=False, label=Disposition.FALSE_POSITIVE, field="label")
    return None


def _pair(record: Any) -> tuple[Alert, Truth | None]:
    if not isinstance(record, dict):
        raise TypeError(f"a Wazuh record is a JSON object, got {type(record).__name__}")
    return normalize(record), truth_of(record)


class WazuhFileSource(LineFileSource):
    """Wazuh alerts from a JSON Lines export (or stdin); each line is one record.

    Args:
        path: the export, or ``-`` for stdin.
        stdin: the stream read for ``-``.
    """

    def __init__(self, path: str | Path, *, stdin: BinaryIO | None = None) -> None:
        super().__init__(path, SOURCE, _pair, stdin=stdin)


def open_source(path: str | None, **options: Any) -> WazuhFileSource:
    """Entry point ``wazuh``: a JSON Lines export of Wazuh alerts (``-`` for stdin).

    Raises:
        SourceError: no file was given or it does not exist.
    """
    return WazuhFileSource(path or "", stdin=options.get("stdin"))
