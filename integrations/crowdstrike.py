"""CrowdStrike Falcon alerts (Alerts v2 through falconpy, or a recorded export) -> kernel ``Alert``.

Alert fields relied on (Falcon Alerts API entity, as documented in the alert FQL field reference,
https://developer.crowdstrike.com/api-reference/collections/alerts/ and
https://github.com/CrowdStrike/falcon-mcp/blob/main/falcon_mcp/resources/detections.py):
``composite_id``, ``cid``, ``name``, ``display_name``, ``description``, ``pattern_id``,
``severity`` (1-100; >=90 critical, >=70 high, >=50 medium, >=20 low), ``severity_name``,
``timestamp``, ``created_timestamp``, ``device.{device_id, hostname, local_ip, external_ip}``,
``user_name``, ``logon_domain``, ``cmdline``, ``filename``, ``filepath``, ``sha256``, ``sha1``,
``md5``, ``parent_details.{cmdline, filename, filepath, sha256, md5}``, ``grandparent_details.*``,
``tactic``, ``tactic_id``, ``technique``, ``technique_id``, ``ioc_context`` (objects with
``ioc_type``/``ioc_value``, or strings), ``ioc_values``, ``falcon_host_link``, ``status``,
``tags``, ``comments``, ``assigned_to_*``, ``seconds_to_*``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aisoc.events import Alert, Disposition, Indicator, IndicatorType, fitted
from aisoc.sources import Rejected, Truth
from integrations._files import NORMALIZE_ERRORS, ExportFileSource, TimeCursor, describe, record_id, reject
from integrations.errors import SourceError
from integrations.falcon import FalconClient, fql_quote
from integrations.indicators import extract_fields, indicator, merge, valid_techniques
from integrations.settings import (
    FalconSettings,
    HttpSettings,
    IntegrationsSettings,
    load_integrations_settings,
)

log = logging.getLogger(__name__)
T = IndicatorType

SOURCE = "crowdstrike"
OUTCOME_FIELDS = [
    "status",
    "tags",
    "comments",
    "resolution",
    "assigned_to_name",
    "assigned_to_uid",
    "assigned_to_uuid",
    "seconds_to_resolved",
    "seconds_to_triaged",
    "updated_timestamp",
    "charlotte",
    "email_sent",
    "show_in_ui",
    "alert_notes_present",
]
"""What an analyst (or Falcon's own triage) did with the alert: never shown to a model."""
IOC_TYPES = {
    "hash_sha256": T.SHA256,
    "sha256": T.SHA256,
    "hash_md5": T.MD5,
    "md5": T.MD5,
    "hash_sha1": T.SHA1,
    "sha1": T.SHA1,
    "domain": T.DOMAIN,
    "ipv4": T.IP,
    "ipv6": T.IP,
    "url": T.URL,
}
"""``ioc_context[].ioc_type`` -> indicator type."""
RESOLUTIONS = {
    "true_positive": Truth(escalated=True, label=Disposition.TRUE_POSITIVE, field="resolution"),
    "false_positive": Truth(escalated=False, label=Disposition.FALSE_POSITIVE, field="resolution"),
    "ignored": Truth(escalated=False, label=Disposition.BENIGN, field="resolution"),
    "benign": Truth(escalated=False, label=Disposition.BENIGN, field="resolution"),
}
"""Closing resolution (the ``resolution`` field, or a tag of the same name) -> the analyst's decision."""


def severity_of(value: Any) -> int:
    """Falcon severity 1-100 -> normalized 0-4 (Falcon's bands: 90, 70, 50, 20)."""
    score = int(float(value or 0))
    return 4 if score >= 90 else 3 if score >= 70 else 2 if score >= 50 else 1 if score >= 20 else 0


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if "." in text:  # Falcon sends nanoseconds
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _structured(alert: dict[str, Any]) -> list[Indicator]:
    found: list[Indicator | None] = []
    device = alert.get("device") or {}
    if device.get("device_id"):
        found.append(Indicator(type=T.DEVICE_ID, value=str(device["device_id"]), field="device.device_id"))
    for key in ("external_ip", "local_ip"):
        if device.get(key):
            found.append(indicator(T.IP, device[key], f"device.{key}"))
    for prefix in ("", "parent_details.", "grandparent_details."):
        node = alert if not prefix else alert.get(prefix[:-1]) or {}
        for key, kind in (("sha256", T.SHA256), ("sha1", T.SHA1), ("md5", T.MD5)):
            if node.get(key):
                found.append(indicator(kind, node[key], f"{prefix}{key}"))
        if node.get("filename"):
            found.append(
                fitted(Indicator, type=T.PROCESS, value=str(node["filename"]), field=f"{prefix}filename")
            )
    for item in alert.get("ioc_context") or []:
        if isinstance(item, dict) and str(item.get("ioc_type", "")).lower() in IOC_TYPES:
            found.append(
                indicator(IOC_TYPES[str(item["ioc_type"]).lower()], item.get("ioc_value"), "ioc_context")
            )
    return [i for i in found if i is not None]


def normalize(alert: dict[str, Any], settings: FalconSettings | None = None) -> Alert:
    """One Falcon alert entity as a kernel alert.

    Raises:
        KeyError, TypeError, ValueError, ValidationError: the entity cannot be read.
    """
    if not isinstance(alert, dict):
        raise TypeError(f"a Falcon alert is a JSON object, got {type(alert).__name__}")
    composite_id = record_id(alert["composite_id"], "composite_id")
    created = _time(alert.get("timestamp")) or _time(alert.get("created_timestamp"))
    if created is None:
        raise ValueError("alert has neither timestamp nor created_timestamp")
    device = alert.get("device") or {}
    user = alert.get("user_name")
    domain = alert.get("logon_domain")
    evidence = {
        k: alert.get(k)
        for k in ("cmdline", "filepath", "description", "parent_details", "grandparent_details", "ioc_values")
    }
    evidence["ioc_context"] = [i for i in alert.get("ioc_context") or [] if isinstance(i, str)]
    title = alert.get("display_name") or alert.get("name") or f"Falcon alert {composite_id}"
    score = alert.get("severity")
    return fitted(
        Alert,
        source=SOURCE,
        source_id=composite_id,
        tenant=str(alert["cid"]) if alert.get("cid") else None,
        title=str(title),
        description=str(alert["description"]) if alert.get("description") else None,
        rule=str(alert.get("name") or alert.get("pattern_id") or "") or None,
        severity=severity_of(score),
        severity_original=f"{score} ({alert.get('severity_name') or 'unnamed'})",
        created_at=created,
        hosts=[str(device["hostname"])] if device.get("hostname") else [],
        users=[f"{domain}\\{user}" if domain else str(user)] if user else [],
        indicators=merge(_structured(alert), extract_fields(evidence)),
        techniques=valid_techniques([str(alert.get("technique_id") or "")]),
        link=str(alert.get("falcon_host_link")) if alert.get("falcon_host_link") else None,
        raw=alert,
        raw_exclude=list(OUTCOME_FIELDS),
    )


def truth_of(alert: dict[str, Any]) -> Truth | None:
    """The closing resolution of a closed alert (``resolution``, else a resolution tag), or None."""
    if str(alert.get("status") or "").lower() != "closed":
        return None
    resolution = str(alert.get("resolution") or "").lower()
    if resolution in RESOLUTIONS:
        return RESOLUTIONS[resolution]
    for tag in alert.get("tags") or []:
        if str(tag).lower() in RESOLUTIONS:
            found = RESOLUTIONS[str(tag).lower()]
            return Truth(escalated=found.escalated, label=found.label, field="tags")
    return None


class CrowdstrikeFileSource(ExportFileSource):
    """Falcon alerts from a recorded export: the entities response, a JSON array, or JSON Lines."""

    def __init__(self, path: str) -> None:
        super().__init__(path, SOURCE, lambda a: (normalize(a), truth_of(a)), ("resources", "alerts"))


class CrowdstrikeApiSource:
    """New Falcon alerts (Alerts v2: query ids, then entities) since a persisted cursor.

    Args:
        client: a read-only Falcon client.
        settings: the Falcon table (extra FQL, page size, first lookback).
        now: the clock.
    """

    name = SOURCE
    max_pages = 50

    def __init__(self, client: FalconClient, settings: FalconSettings, *, now: Any = None) -> None:
        self.client = client
        self.settings = settings
        self.cursor: str | None = None
        self._now = now or (lambda: datetime.now(UTC))

    @property
    def cursor_key(self) -> str:
        """``crowdstrike:BASE_URL``."""
        return f"{self.name}:{self.settings.base_url}"

    def restore(self, cursor: str) -> None:
        """Query alerts from ``cursor`` (``ISO-TIME|ids read at that time``) on the next poll."""
        self.cursor = cursor

    def poll(self) -> Iterator[Alert | Rejected]:
        """Alerts created since the cursor, oldest first.

        Raises:
            IntegrationError: Falcon refused a request.
        """
        cursor = TimeCursor(self.cursor)
        since = cursor.time or (self._now() - timedelta(hours=self.settings.lookback_hours)).isoformat()
        since_z = datetime.fromisoformat(since).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        fql = f"created_timestamp:>={fql_quote(since_z)}"
        if self.settings.filter:
            fql += f"+{self.settings.filter}"
        size = self.settings.page_size
        for page in range(self.max_pages):
            ids = self.client.alert_ids(fql, limit=size, offset=page * size)
            for entity in self.client.alerts(ids) if ids else []:
                record_id = str(entity.get("composite_id", "?"))
                try:
                    created = _time(entity.get("created_timestamp"))
                except ValueError:
                    created = None
                if created is not None:
                    if cursor.seen(created, record_id):
                        continue
                    cursor.advance(created, record_id)
                    self.cursor = cursor.text  # before yielding: the consumer may stop here
                try:
                    yield normalize(entity, self.settings)
                except NORMALIZE_ERRORS as e:
                    yield reject(f"alert {record_id}: {describe(e)}", entity, SOURCE)
            if len(ids) < size:
                return
        log.info("crowdstrike: stopped after %d pages; the rest comes next poll", self.max_pages)

    def close(self) -> None:
        """Log out of Falcon."""
        self.client.close()


def open_source(path: str | None, **options: Any) -> CrowdstrikeFileSource | CrowdstrikeApiSource:
    """Entry point ``crowdstrike``: a recorded alert export, or (no path) Falcon's Alerts API.

    Options:
        settings: an :class:`IntegrationsSettings` (default: loaded from ``config``).
        config: the settings file.

    Raises:
        SourceError: the file is missing, or Falcon is not configured.
    """
    if path:
        return CrowdstrikeFileSource(path)
    settings = options.get("settings")
    if not isinstance(settings, IntegrationsSettings):
        settings = load_integrations_settings(options.get("config"))
    if not settings.falcon.configured():
        raise SourceError("crowdstrike: set [integrations.falcon] client_id and client_secret")
    http: HttpSettings = settings.http
    return CrowdstrikeApiSource(FalconClient(settings.falcon, http), settings.falcon, now=options.get("now"))
