"""Cortex XSOAR incidents over its REST API (httpx) or from a recorded export, as kernel alerts.

demisto-py cannot share an environment with langchain-core (it pins ``certifi<2025``), so the REST
API is spoken directly. Shapes relied on, from demisto-py's generated models and API docs
(https://github.com/demisto/demisto-py/blob/master/docs/Incident.md, IncidentFilter.md,
IncidentSearchResponseWrapper.md, README "search_incidents"):

- request ``POST /incidents/search`` with ``{"filter": {"query", "status": [0-3], "fromDate",
  "sort": [{"field", "asc"}], "page", "size"}}``; header ``Authorization: <API key>`` (XSOAR 8 adds
  ``x-xdr-auth-id: <key id>`` and serves the API under ``/xsoar/public/v1``);
- response ``{"total": int, "data": [incident, ...]}``;
- incident keys: ``id``, ``name``, ``type``, ``details``, ``severity`` (0 unknown, 0.5 info, 1 low,
  2 medium, 3 high, 4 critical), ``status`` (0 pending, 1 active, 2 done, 3 archive), ``labels``
  (``[{type, value}]``), ``CustomFields``, ``created``, ``occurred``, ``modified``, ``owner``,
  ``sourceBrand``, ``rawJSON``, ``account``, ``closeReason``, ``closeNotes``, ``closed``,
  ``closingUserId``, ``phase``, ``version``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from aisoc.events import Alert, Disposition, Indicator, fitted
from aisoc.redact import Redactor
from aisoc.sources import Rejected, Truth
from integrations._files import NORMALIZE_ERRORS, ExportFileSource, TimeCursor, describe, record_id, reject
from integrations.errors import IntegrationError, SourceError
from integrations.indicators import extract_fields, merge, techniques_in, valid_techniques
from integrations.readonly import Allowlist, GuardedTransport, Operation, RetryPolicy
from integrations.settings import (
    HttpSettings,
    IntegrationsSettings,
    XsoarSettings,
    load_integrations_settings,
)

log = logging.getLogger(__name__)

SOURCE = "xsoar"
ALLOWLIST_OPERATIONS = (Operation("POST", "/incidents/search", "search incidents"),)
"""The only XSOAR operation this adapter performs (a read, though it is a POST)."""
SEVERITIES = {
    0.0: (2, "unknown"),
    0.5: (0, "info"),
    1.0: (1, "low"),
    2.0: (2, "medium"),
    3.0: (3, "high"),
    4.0: (4, "critical"),
}
"""XSOAR severity -> (normalized 0-4, name). Unknown is treated as medium: unknown is not benign."""
STATUSES = {"pending": 0, "active": 1, "done": 2, "archive": 3}
STATUS_NAMES = {v: k for k, v in STATUSES.items()}
OUTCOME_FIELDS = [
    "closeReason",
    "closeNotes",
    "rawCloseReason",
    "closed",
    "closingUserId",
    "reason",
    "status",
    "phase",
    "rawPhase",
    "openDuration",
    "runStatus",
    "version",
    "modified",
    "sortValues",
    "CustomFields.verdict",
    "CustomFields.disposition",
    "CustomFields.closereason",
    "CustomFields.closenotes",
]
"""What the analyst wrote or what betrays the outcome (``version``/``modified`` move when an analyst
works the incident, like the Wazuh export's ``_version``)."""
_NO_DATE = "0001-01-01"


def _time(value: Any) -> datetime | None:
    if not value or str(value).startswith(_NO_DATE):
        return None
    text = str(value).replace("Z", "+00:00")
    if "." in text:  # XSOAR sends nanoseconds; Python parses at most microseconds
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def severity_of(value: Any) -> tuple[int, str]:
    """XSOAR severity -> (normalized 0-4, original as text).

    Raises:
        ValueError: not an XSOAR severity.
    """
    number = float(value if value is not None else 0)
    if number not in SEVERITIES:
        raise ValueError(f"severity {value!r} is not an XSOAR severity (0, 0.5, 1-4)")
    normalized, name = SEVERITIES[number]
    return normalized, f"{name} ({value})"


def _values(incident: dict[str, Any], *needles: str) -> list[str]:
    """Values of labels and CustomFields whose key contains one of ``needles``."""
    out: list[str] = []
    for label in incident.get("labels") or []:
        if isinstance(label, dict) and any(n in str(label.get("type", "")).lower() for n in needles):
            out.append(str(label.get("value")))
    for key, value in (incident.get("CustomFields") or {}).items():
        if any(n in key.lower() for n in needles) and value not in (None, "", []):
            out.extend(str(v) for v in (value if isinstance(value, list) else [value]))
    return [v[:256] for v in dict.fromkeys(out) if v and v != "None"]


def normalize(incident: dict[str, Any], settings: XsoarSettings | None = None) -> Alert:
    """One XSOAR incident as an alert.

    Raises:
        KeyError, TypeError, ValueError, ValidationError: the incident cannot be read.
    """
    settings = settings or XsoarSettings()
    if not isinstance(incident, dict):
        raise TypeError(f"an XSOAR incident is a JSON object, got {type(incident).__name__}")
    incident_id = record_id(incident["id"], "id")
    severity, original = severity_of(incident.get("severity"))
    created = _time(incident.get("occurred")) or _time(incident.get("created"))
    if created is None:
        raise ValueError("incident has neither occurred nor created")
    exclude = [*OUTCOME_FIELDS, f"CustomFields.{settings.escalation_field}", *settings.exclude_fields]
    evidence: dict[str, Any] = {k: incident.get(k) for k in ("name", "details", "labels", "CustomFields")}
    raw_json = incident.get("rawJSON")
    if isinstance(raw_json, str) and raw_json.strip().startswith(("{", "[")):
        try:
            evidence["rawJSON"] = json.loads(raw_json)
        except ValueError:
            evidence["rawJSON"] = raw_json
    indicators: list[Indicator] = extract_fields(evidence, skip=exclude)
    text = " ".join(str(incident.get(k) or "") for k in ("name", "details"))
    techniques = valid_techniques(_values(incident, "mitre", "technique")) or techniques_in(text)
    base = (settings.url or "").rstrip("/")
    return fitted(
        Alert,
        source=SOURCE,
        source_id=incident_id,
        tenant=str(incident["account"]) if incident.get("account") else None,
        title=str(incident.get("name") or f"XSOAR incident {incident_id}"),
        description=str(incident["details"]) if incident.get("details") else None,
        rule=str(incident.get("type") or incident.get("rawType") or "") or None,
        severity=severity,
        severity_original=original,
        created_at=created,
        hosts=_values(incident, "host", "device", "computer"),
        users=_values(incident, "username", "user", "account"),
        indicators=merge(indicators),
        techniques=techniques,
        link=f"{base}/#/Details/{incident_id}" if base and "/xsoar/" not in base else None,
        raw=incident,
        raw_exclude=exclude,
    )


def truth_of(incident: dict[str, Any], settings: XsoarSettings | None = None) -> Truth | None:
    """The analyst's disposition of a closed incident (None while open or when it says nothing).

    The escalation CustomField wins; otherwise ``closeReason`` is looked up in the configured lists
    (``Duplicate`` and unknown reasons give no truth). ``closeNotes`` becomes the note.
    """
    settings = settings or XsoarSettings()
    reason = str(incident.get("closeReason") or "").strip()
    closed = incident.get("status") == STATUSES["done"] or bool(reason)
    note = str(incident["closeNotes"])[:2000] if incident.get("closeNotes") else None
    flag = (incident.get("CustomFields") or {}).get(settings.escalation_field)
    if flag is True or str(flag).lower() in ("true", "yes", "1"):
        field = f"CustomFields.{settings.escalation_field}"
        return Truth(escalated=True, label=Disposition.TRUE_POSITIVE, field=field, note=note)
    if not closed:
        return None
    lowered = reason.lower()
    for reasons, escalated, label in (
        (settings.escalated_close_reasons, True, Disposition.TRUE_POSITIVE),
        (settings.false_positive_close_reasons, False, Disposition.FALSE_POSITIVE),
        (settings.benign_close_reasons, False, Disposition.BENIGN),
    ):
        if lowered in (r.lower() for r in reasons):
            return Truth(escalated=escalated, label=label, field="closeReason", note=note)
    return None


class XsoarFileSource(ExportFileSource):
    """XSOAR incidents from a recorded export: the search response, a JSON array, or JSON Lines."""

    def __init__(self, path: str, settings: XsoarSettings | None = None) -> None:
        self.settings = settings or XsoarSettings()
        s = self.settings
        super().__init__(
            path, SOURCE, lambda inc: (normalize(inc, s), truth_of(inc, s)), ("data", "incidents")
        )


class XsoarApiSource:
    """New XSOAR incidents, searched since a persisted cursor (the newest ``created`` seen).

    Args:
        settings: the XSOAR table (URL and API key required).
        http: timeouts and retries.
        transport: the inner httpx transport (tests pass a fake's).
        now: the clock (the first poll looks back ``lookback_hours``).

    Raises:
        SourceError: XSOAR is not configured.
    """

    name = SOURCE
    max_pages = 50
    """Pages read per poll at most (the rest waits for the next poll)."""

    def __init__(
        self,
        settings: XsoarSettings,
        http: HttpSettings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        now: Any = None,
    ) -> None:
        if not settings.configured():
            raise SourceError("xsoar: set [integrations.xsoar] url and api_key (or AISOC_XSOAR__API_KEY)")
        http = http or HttpSettings()
        self.settings = settings
        assert settings.url and settings.api_key
        base = settings.url.rstrip("/")
        guard = Allowlist("xsoar", ALLOWLIST_OPERATIONS, base_url=base)
        inner = transport or httpx.HTTPTransport(verify=settings.verify_tls)
        self.transport = GuardedTransport(guard, RetryPolicy(http.retries, http.backoff_s), inner)
        headers = {"Authorization": settings.api_key.get_secret_value(), "Accept": "application/json"}
        if settings.api_key_id:
            headers["x-xdr-auth-id"] = settings.api_key_id
        self.client = httpx.Client(
            base_url=base, headers=headers, timeout=http.timeout_s, transport=self.transport
        )
        self.redact = Redactor.standard([settings.api_key.get_secret_value()])
        self.cursor: str | None = None
        self._now = now or (lambda: datetime.now(UTC))

    @property
    def cursor_key(self) -> str:
        """``xsoar:BASE_URL``."""
        return f"{self.name}:{self.settings.url}"

    def restore(self, cursor: str) -> None:
        """Search from ``cursor`` (``ISO-TIME|ids read at that time``) on the next poll."""
        self.cursor = cursor

    def search(self, page: int, since: str) -> dict[str, Any]:
        """One page of ``POST /incidents/search``.

        Raises:
            IntegrationError: XSOAR refused the request or answered something else than JSON.
        """
        body = {
            "filter": {
                "query": self.settings.query,
                "status": [STATUSES[s] for s in self.settings.statuses],
                "fromDate": since,
                "sort": [{"field": "created", "asc": True}],
                "page": page,
                "size": self.settings.page_size,
            }
        }
        try:
            response = self.client.post("/incidents/search", json=body)
        except httpx.HTTPError as e:
            raise IntegrationError(self.redact.text(f"xsoar: {type(e).__name__}: {e}")) from e
        if response.status_code != 200:
            raise IntegrationError(
                self.redact.text(
                    f"xsoar: POST /incidents/search answered {response.status_code}: {response.text[:300]}"
                )
            )
        try:
            data: dict[str, Any] = response.json()
        except ValueError as e:
            raise IntegrationError("xsoar: /incidents/search did not answer JSON") from e
        return data

    def poll(self) -> Iterator[Alert | Rejected]:
        """Incidents created since the cursor, oldest first (the cursor advances as they are read).

        Raises:
            IntegrationError: the search failed.
        """
        cursor = TimeCursor(self.cursor)
        since = cursor.time or (self._now() - timedelta(hours=self.settings.lookback_hours)).isoformat()
        for page in range(self.max_pages):
            data = self.search(page, since)
            incidents = data.get("data") or []
            for incident in incidents:
                record_id = str(incident.get("id")) if isinstance(incident, dict) else "?"
                try:
                    created = _time(incident.get("created")) if isinstance(incident, dict) else None
                except ValueError:
                    created = None
                if created is not None:
                    if cursor.seen(created, record_id):
                        continue
                    cursor.advance(created, record_id)
                    self.cursor = cursor.text  # before yielding: the consumer may stop here
                try:
                    yield normalize(incident, self.settings)
                except NORMALIZE_ERRORS as e:
                    yield reject(f"incident {record_id}: {describe(e)}", incident, SOURCE)
            if len(incidents) < self.settings.page_size:
                return
        log.info("xsoar: stopped after %d pages; the rest comes next poll", self.max_pages)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()


def open_source(path: str | None, **options: Any) -> XsoarFileSource | XsoarApiSource:
    """Entry point ``xsoar``: a recorded export file, or (no path) the live REST API from settings.

    Options:
        settings: an :class:`IntegrationsSettings` (default: loaded from ``config``).
        config: the settings file.
        transport: an httpx transport for the API (tests).

    Raises:
        SourceError: the file is missing, or XSOAR is not configured.
    """
    settings = options.get("settings")
    if not isinstance(settings, IntegrationsSettings):
        settings = load_integrations_settings(options.get("config"))
    if path:
        return XsoarFileSource(path, settings.xsoar)
    return XsoarApiSource(
        settings.xsoar, settings.http, transport=options.get("transport"), now=options.get("now")
    )
