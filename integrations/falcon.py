"""A read-only CrowdStrike Falcon client over crowdstrike-falconpy (shared by the source and the tools).

Only read methods exist here, and the requests session handed to falconpy refuses every operation
that is not on :data:`ALLOWLIST_OPERATIONS` before it is sent: host containment
(``POST /devices/entities/devices-actions/v2``), alert updates (``PATCH /alerts/entities/alerts/v3``),
IOC creation and the rest cannot leave the process.

Operations and fields relied on (falconpy service classes and the Falcon API reference,
https://www.falconpy.io/Service-Collections/Alerts.html, Hosts.html, IOC.html;
https://developer.crowdstrike.com/api-reference/collections/alerts/):

- ``POST /oauth2/token`` (client credentials) -> ``access_token``;
- Alerts v2: ``GET /alerts/queries/alerts/v2`` (``filter`` FQL, ``sort``, ``limit``, ``offset``) ->
  ``resources`` = composite ids; ``POST /alerts/entities/alerts/v2`` body ``{"composite_ids": [...]}``
  -> ``resources`` = alerts (the Detects API is decommissioned and not used);
- Hosts: ``GET /devices/queries/devices/v1`` (``filter`` ``hostname:'X'``) -> device ids;
  ``POST /devices/entities/devices/v2`` body ``{"ids": [...]}`` -> device records;
- IOC: ``GET /iocs/combined/indicator/v1`` (``filter`` ``type:'sha256'+value:'...'``) -> custom IOCs;
  ``GET /iocs/queries/indicators/devices/v1`` (``type``, ``value``) -> ids of hosts that saw it.

Every reply is ``{"status_code", "headers", "body": {"meta", "resources", "errors"}}``.
"""

from __future__ import annotations

import logging
from typing import Any

from falconpy import IOC, Alerts, Hosts, OAuth2, confirm_base_url

from aisoc.redact import Redactor
from integrations.errors import IntegrationError, ReadOnlyViolation
from integrations.readonly import Allowlist, GuardedSession, Operation, RetryPolicy
from integrations.settings import FalconSettings, HttpSettings

log = logging.getLogger(__name__)

_PAGED = frozenset({"filter", "limit", "offset", "sort", "after"})
_IOC_DEVICES = frozenset({"type", "value", "limit", "offset"})
ALLOWLIST_OPERATIONS = (
    Operation("POST", "/oauth2/token", "authenticate"),
    Operation("POST", "/oauth2/revoke", "revoke our own token"),
    Operation(
        "GET", "/alerts/queries/alerts/v2", "GetQueriesAlertsV2", params=_PAGED | {"q", "include_hidden"}
    ),
    Operation(
        "POST", "/alerts/entities/alerts/v2", "PostEntitiesAlertsV2", params=frozenset({"include_hidden"})
    ),
    Operation("GET", "/devices/queries/devices/v1", "QueryDevicesByFilter", params=_PAGED),
    Operation("POST", "/devices/entities/devices/v2", "PostDeviceDetailsV2"),
    Operation("GET", "/devices/entities/devices/v2", "GetDeviceDetailsV2", params=frozenset({"ids"})),
    Operation("GET", "/iocs/combined/indicator/v1", "indicator_combined_v1", params=_PAGED | {"from_parent"}),
    Operation(
        "GET", "/iocs/queries/indicators/devices/v1", "indicator_get_devices_ran_on_v1", params=_IOC_DEVICES
    ),
)
"""The Falcon read operations this adapter may perform; nothing else leaves the process."""
MAX_IDS = 1000
"""Entities fetched per request (the API's documented maximum for alerts)."""


def fql_quote(value: str) -> str:
    """``value`` as an FQL string literal (single quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class FalconClient:
    """Read-only Falcon access: alerts, hosts and IOC lookups, nothing else.

    Args:
        settings: the Falcon table (client id and secret required).
        http: timeouts and retries.
        session: the guarded requests session (tests may pass their own policy's).

    Raises:
        IntegrationError: Falcon is not configured.
    """

    def __init__(
        self, settings: FalconSettings, http: HttpSettings | None = None, *, session: Any = None
    ) -> None:
        if not settings.configured():
            raise IntegrationError("falcon: set [integrations.falcon] client_id and client_secret")
        http = http or HttpSettings()
        assert settings.client_secret is not None
        self.session = session or GuardedSession(
            Allowlist("falcon", ALLOWLIST_OPERATIONS, confirm_base_url(settings.base_url)),
            RetryPolicy(http.retries, http.backoff_s),
        )
        self.redact = Redactor.standard([settings.client_secret.get_secret_value()])
        self.auth = OAuth2(
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
            base_url=settings.base_url,
            member_cid=settings.member_cid,
            timeout=http.timeout_s,
            session=self.session,
            sanitize_log=True,
        )
        self._alerts = Alerts(auth_object=self.auth)
        self._hosts = Hosts(auth_object=self.auth)
        self._ioc = IOC(auth_object=self.auth)

    def _call(self, what: str, fn: Any, **kwargs: Any) -> dict[str, Any]:
        """Run one falconpy call and return its body, turning refusals and errors into exceptions."""
        refused_before = len(self.session.refused)
        try:
            reply = fn(**kwargs)
        except ReadOnlyViolation:
            raise
        except Exception as e:  # falconpy wraps transport errors in its own types
            if len(self.session.refused) > refused_before:
                raise self.session.refused[-1] from e
            raise IntegrationError(self.redact.text(f"falcon: {what}: {type(e).__name__}: {e}")) from e
        if len(self.session.refused) > refused_before:
            raise self.session.refused[-1]
        status = reply.get("status_code") if isinstance(reply, dict) else None
        body = reply.get("body") if isinstance(reply, dict) else None
        if status != 200 or not isinstance(body, dict):
            errors = body.get("errors") if isinstance(body, dict) else body
            raise IntegrationError(self.redact.text(f"falcon: {what} answered {status}: {str(errors)[:300]}"))
        return body

    def alert_ids(
        self, fql: str, *, sort: str = "created_timestamp.asc", limit: int = 100, offset: int = 0
    ) -> list[str]:
        """Composite ids of the alerts matching ``fql`` (Alerts v2 query)."""
        body = self._call(
            "query alerts", self._alerts.query_alerts_v2, filter=fql, sort=sort, limit=limit, offset=offset
        )
        return [str(i) for i in body.get("resources") or []]

    def alerts(self, ids: list[str]) -> list[dict[str, Any]]:
        """The alert entities of ``ids``, in the order of ``ids`` (the API does not promise one)."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(ids), MAX_IDS):
            chunk = ids[start : start + MAX_IDS]
            body = self._call("get alerts", self._alerts.get_alerts_v2, composite_ids=chunk)
            out.extend(r for r in body.get("resources") or [] if isinstance(r, dict))
        order = {composite_id: n for n, composite_id in enumerate(ids)}
        return sorted(out, key=lambda a: order.get(str(a.get("composite_id")), len(order)))

    def device_ids(self, fql: str, limit: int = 10) -> list[str]:
        """Ids of the hosts matching ``fql`` (for example ``hostname:'WS-1'``)."""
        body = self._call("query devices", self._hosts.query_devices_by_filter, filter=fql, limit=limit)
        return [str(i) for i in body.get("resources") or []]

    def devices(self, ids: list[str]) -> list[dict[str, Any]]:
        """The host records of ``ids``."""
        if not ids:
            return []
        body = self._call("get devices", self._hosts.get_device_details, ids=ids[:MAX_IDS])
        return [r for r in body.get("resources") or [] if isinstance(r, dict)]

    def custom_iocs(self, ioc_type: str, value: str, limit: int = 20) -> list[dict[str, Any]]:
        """The tenant's custom IOCs with this type and value."""
        fql = f"type:{fql_quote(ioc_type)}+value:{fql_quote(value)}"
        body = self._call("search custom IOCs", self._ioc.indicator_combined, filter=fql, limit=limit)
        return [r for r in body.get("resources") or [] if isinstance(r, dict)]

    def devices_ran_on(self, ioc_type: str, value: str, limit: int = 100) -> tuple[list[str], int]:
        """Ids of hosts that observed the indicator, and the total count the API reports."""
        body = self._call("devices ran on", self._ioc.devices_ran_on, type=ioc_type, value=value, limit=limit)
        ids = [str(i) for i in body.get("resources") or []]
        total = ((body.get("meta") or {}).get("pagination") or {}).get("total")
        return ids, int(total) if isinstance(total, int) else len(ids)

    def close(self) -> None:
        """Revoke the token and close the session."""
        try:
            self.auth.logout()
        except Exception as e:  # best effort on shutdown
            log.debug("falcon: logout failed: %s", self.redact.text(str(e)))
        self.session.close()
