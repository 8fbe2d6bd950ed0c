"""Local reputation feeds for ``ioc_reputation``: CSV, MISP JSON (event export) and STIX 2 JSON bundles.

- CSV: a header with ``value`` (or ``indicator``/``ioc``), optional ``type``, ``reputation`` (or
  ``verdict``/``score``), ``source``, ``description``.
- MISP: an event export ``{"Event": {"info", "threat_level_id", "Attribute": [{"type", "value",
  "to_ids", "comment"}], "Object": [{"Attribute": [...]}], "Tag": [{"name"}]}}`` or a list of them
  (https://www.misp-project.org/openapi/#tag/Events, "Event" and "Attribute" objects).
- STIX 2.1: a bundle of ``indicator`` objects whose ``pattern`` compares observable values
  (``[ipv4-addr:value = '1.2.3.4']``), with ``indicator_types``/``labels`` and ``name`` (parsed by
  ``stix2`` and ``stix2-patterns``; https://docs.oasis-open.org/cti/stix/v2.1/os/stix-v2.1-os.html).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stix2
from stix2patterns.v21.pattern import Pattern

from aisoc.events import IndicatorType
from integrations.errors import IntegrationError
from integrations.indicators import indicator

log = logging.getLogger(__name__)
T = IndicatorType

REPUTATIONS = ("malicious", "suspicious", "unknown", "benign")
"""Ratings from worst to best (the Threat Intel role's scale)."""
MISP_TYPES = {
    "ip-src": T.IP,
    "ip-dst": T.IP,
    "domain": T.DOMAIN,
    "hostname": T.DOMAIN,
    "url": T.URL,
    "md5": T.MD5,
    "sha1": T.SHA1,
    "sha256": T.SHA256,
    "email-src": T.EMAIL,
    "email-dst": T.EMAIL,
    "vulnerability": T.CVE,
    "regkey": T.REGISTRY_KEY,
}
STIX_TYPES = {
    ("ipv4-addr", "value"): T.IP,
    ("ipv6-addr", "value"): T.IP,
    ("domain-name", "value"): T.DOMAIN,
    ("url", "value"): T.URL,
    ("email-addr", "value"): T.EMAIL,
    ("file", "hashes.MD5"): T.MD5,
    ("file", "hashes.SHA-1"): T.SHA1,
    ("file", "hashes.SHA-256"): T.SHA256,
    ("windows-registry-key", "key"): T.REGISTRY_KEY,
}


@dataclass(frozen=True)
class FeedEntry:
    """One indicator as a feed rates it."""

    type: str
    value: str
    reputation: str
    source: str
    description: str = ""


def _reputation(value: Any, default: str = "malicious") -> str:
    text = str(value or "").strip().lower()
    if text in REPUTATIONS:
        return text
    if text in (
        "bad",
        "block",
        "malware",
        "malicious-activity",
        "attribution",
        "compromised",
        "anomalous-activity",
    ):
        return "malicious" if text != "anomalous-activity" else "suspicious"
    if text in ("good", "allow", "clean", "benign"):
        return "benign"
    try:
        score = float(text)
    except ValueError:
        return default
    return "malicious" if score >= 70 else "suspicious" if score >= 30 else "unknown"


def _entry(
    kind: T | str | None, value: Any, reputation: str, source: str, description: str = ""
) -> FeedEntry | None:
    text = str(value or "").strip()
    if not text:
        return None
    if kind is None:
        for guess in (T.IP, T.SHA256, T.SHA1, T.MD5, T.CVE, T.EMAIL, T.URL, T.DOMAIN):
            ind = indicator(guess, text) if not (guess is T.URL and "/" not in text) else None
            if ind is not None:
                return FeedEntry(ind.type.value, ind.value, reputation, source, description)
        return FeedEntry(T.OTHER.value, text, reputation, source, description)
    ind = indicator(kind, text)
    return FeedEntry(ind.type.value, ind.value, reputation, source, description) if ind else None


def read_csv(path: Path) -> Iterator[FeedEntry]:
    """Entries of a CSV feed."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            value = row.get("value") or row.get("indicator") or row.get("ioc")
            kind = row.get("type") or None
            if kind and kind not in T._value2member_map_:
                kind = MISP_TYPES.get(kind)
            rep = _reputation(row.get("reputation") or row.get("verdict") or row.get("score"))
            entry = _entry(kind, value, rep, row.get("source") or path.name, row.get("description") or "")
            if entry:
                yield entry


def read_misp(doc: Any, name: str) -> Iterator[FeedEntry]:
    """Entries of a MISP event export (one event or a list of them)."""
    events = doc if isinstance(doc, list) else doc.get("response", [doc]) if isinstance(doc, dict) else []
    for wrapper in events:
        event = wrapper.get("Event", wrapper) if isinstance(wrapper, dict) else {}
        threat = {"1": "malicious", "2": "malicious", "3": "suspicious", "4": "unknown"}.get(
            str(event.get("threat_level_id", "")), "suspicious"
        )
        info = str(event.get("info") or "")
        attributes = list(event.get("Attribute") or [])
        for obj in event.get("Object") or []:
            attributes.extend(obj.get("Attribute") or [])
        for attr in attributes:
            kind = MISP_TYPES.get(str(attr.get("type")))
            if kind is None:
                continue
            rep = threat if attr.get("to_ids", True) else "suspicious"
            entry = _entry(
                kind, attr.get("value"), rep, f"MISP: {info or name}", str(attr.get("comment") or "")
            )
            if entry:
                yield entry


def read_stix(doc: Any, name: str) -> Iterator[FeedEntry]:
    """Entries of a STIX 2 bundle (indicator objects; their patterns' observable values)."""
    bundle = stix2.parse(doc, allow_custom=True)
    for obj in getattr(bundle, "objects", None) or [bundle]:
        if getattr(obj, "type", None) != "indicator":
            continue
        labels = [*(getattr(obj, "indicator_types", None) or []), *(getattr(obj, "labels", None) or [])]
        rep = next((_reputation(label) for label in labels if _reputation(label, "") != ""), "malicious")
        try:
            comparisons = Pattern(obj.pattern).inspect().comparisons
        except Exception as e:  # a malformed pattern in one indicator must not spoil the feed
            log.warning("%s: indicator %s: unreadable pattern: %s", name, obj.id, e)
            continue
        for object_type, items in comparisons.items():
            for path, op, literal in items:
                kind = STIX_TYPES.get((object_type, ".".join(str(p) for p in path)))
                if kind is None or op != "=":
                    continue
                source = f"STIX: {getattr(obj, 'name', '') or name}"
                note = str(getattr(obj, "description", "") or "")
                entry = _entry(kind, literal.strip("'"), rep, source, note)
                if entry:
                    yield entry


def load_feed(path: str | Path) -> list[FeedEntry]:
    """Every entry of one feed file (the format is recognised from its content).

    Raises:
        IntegrationError: the file is missing, is not UTF-8, or is none of CSV, MISP JSON or STIX JSON.
    """
    p = Path(path)
    if not p.is_file():
        raise IntegrationError(f"ioc feed {p} does not exist")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise IntegrationError(f"ioc feed {p}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    if not text.lstrip().startswith(("{", "[")):
        return list(read_csv(p))
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise IntegrationError(f"ioc feed {p}: not valid JSON: {e}") from e
    try:
        if isinstance(doc, dict) and doc.get("type") == "bundle":
            return list(read_stix(doc, p.name))
        return list(read_misp(doc, p.name))
    except (stix2.exceptions.STIXError, AttributeError, TypeError, ValueError) as e:
        raise IntegrationError(f"ioc feed {p}: unreadable: {e}") from e


class FeedIndex:
    """Indicators of all configured feeds, by normalized ``type:value``."""

    def __init__(self, paths: Iterable[str | Path] = ()) -> None:
        self.entries: dict[str, list[FeedEntry]] = {}
        self.paths = [Path(p) for p in paths]
        for path in self.paths:
            for entry in load_feed(path):
                self.entries.setdefault(f"{entry.type}:{entry.value.lower()}", []).append(entry)

    def lookup(self, kind: str, value: str) -> list[FeedEntry]:
        """Feed entries for this indicator."""
        return self.entries.get(f"{kind}:{value.lower()}", [])
