"""CrowdStrike Falcon read-only tools: host details, a host's recent alerts, IOC lookups.

Device fields returned (Falcon Hosts ``PostDeviceDetailsV2`` entity, https://www.falconpy.io/
Service-Collections/Hosts.html): ``device_id``, ``hostname``, ``platform_name``, ``os_version``,
``local_ip``, ``external_ip``, ``mac_address``, ``first_seen``, ``last_seen``, ``status``
(``normal``/``contained``...), ``agent_version``, ``machine_domain``, ``ou``, ``site_name``,
``product_type_desc``, ``tags``. Custom IOC fields (``indicator_combined_v1``): ``type``, ``value``,
``action``, ``severity``, ``description``, ``source``, ``tags``, ``created_on``, ``expiration``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aisoc.events import IndicatorType
from aisoc.redact import Redactor
from aisoc.tools import ToolError
from integrations.crowdstrike import OUTCOME_FIELDS
from integrations.falcon import FalconClient, fql_quote
from integrations.tools._common import VendorTool
from integrations.tools.local import classify

T = IndicatorType
DEVICE_FIELDS = (
    "device_id",
    "hostname",
    "platform_name",
    "os_version",
    "local_ip",
    "external_ip",
    "mac_address",
    "first_seen",
    "last_seen",
    "status",
    "agent_version",
    "machine_domain",
    "ou",
    "site_name",
    "product_type_desc",
    "tags",
)
ALERT_FIELDS = (
    "composite_id",
    "created_timestamp",
    "display_name",
    "severity",
    "severity_name",
    "tactic",
    "technique_id",
    "technique",
    "filename",
    "cmdline",
    "sha256",
    "user_name",
)
IOC_FIELDS = (
    "type",
    "value",
    "action",
    "severity",
    "description",
    "source",
    "tags",
    "created_on",
    "expiration",
)
FALCON_IOC_TYPES = {T.SHA256: "sha256", T.MD5: "md5", T.DOMAIN: "domain", T.IP: "ipv4"}
_DEVICE_ID = re.compile(r"^[0-9a-f]{32}$")


class HostArgs(BaseModel):
    """Arguments of ``falcon_host_details``."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1, max_length=256, description="hostname or Falcon device id")


class HostAlertsArgs(HostArgs):
    """Arguments of ``falcon_host_alerts``."""

    days: int = Field(default=7, ge=1, le=90, description="how many days back")
    limit: int = Field(default=20, ge=1, le=100, description="at most this many alerts, newest first")


class IocLookupArgs(BaseModel):
    """Arguments of ``falcon_ioc_lookup``."""

    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1, max_length=2048, description="sha256, md5, domain or IP address")
    type: IndicatorType | None = Field(default=None, description="its type, when known")


def _device_ids(client: FalconClient, host: str) -> list[str]:
    host = host.strip()
    if _DEVICE_ID.match(host.lower()):
        return [host.lower()]
    ids = client.device_ids(f"hostname:{fql_quote(host)}", limit=5)
    if not ids:
        raise ToolError(f"no Falcon host named {host!r}")
    return ids


def falcon_tools(
    client: FalconClient | Callable[[], FalconClient],
    *,
    max_chars: int = 4000,
    redact: Redactor | None = None,
) -> list[VendorTool]:
    """``falcon_host_details``, ``falcon_host_alerts`` and ``falcon_ioc_lookup`` over a read-only client.

    Args:
        client: the client, or a factory called on first use (no login until a tool is called).
        max_chars: result size limit.
        redact: secret scrubber for results and errors.
    """
    holder: list[FalconClient] = []

    def get() -> FalconClient:
        if not holder:
            holder.append(client if isinstance(client, FalconClient) else client())
        return holder[0]

    def falcon_host_details(host: str) -> dict[str, Any]:
        c = get()
        devices = c.devices(_device_ids(c, host))
        return {"hosts": [{k: d.get(k) for k in DEVICE_FIELDS if k in d} for d in devices]}

    def falcon_host_alerts(host: str, days: int = 7, limit: int = 20) -> dict[str, Any]:
        c = get()
        ids = _device_ids(c, host)
        since = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        devices = ",".join(fql_quote(i) for i in ids)
        fql = f"device.device_id:[{devices}]+created_timestamp:>={fql_quote(since)}"
        alert_ids = c.alert_ids(fql, sort="created_timestamp.desc", limit=limit)
        alerts = c.alerts(alert_ids) if alert_ids else []
        brief = [{k: a.get(k) for k in ALERT_FIELDS if k in a and k not in OUTCOME_FIELDS} for a in alerts]
        return {"host": host, "days": days, "count": len(brief), "alerts": brief}

    def falcon_ioc_lookup(value: str, type: IndicatorType | None = None) -> dict[str, Any]:
        c = get()
        ind = classify(value.strip(), type)
        kind = FALCON_IOC_TYPES.get(ind.type)
        if kind is None:
            raise ToolError(f"Falcon looks up sha256, md5, domain and IP indicators, not {ind.type.value}")
        if ind.type is T.IP and ":" in ind.value:
            kind = "ipv6"
        custom = c.custom_iocs(kind, ind.value)
        device_ids, total = c.devices_ran_on(kind, ind.value)
        return {
            "type": kind,
            "value": ind.value,
            "custom_iocs": [{k: i.get(k) for k in IOC_FIELDS if k in i} for i in custom],
            "hosts_observed": total,
            "device_ids": device_ids[:20],
        }

    redact = redact or Redactor.standard()
    return [
        VendorTool(
            "falcon_host_details",
            "CrowdStrike Falcon: a host's details (OS, IPs, last seen, containment status, tags) by hostname "
            "or device id.",
            HostArgs,
            falcon_host_details,
            redact,
            max_chars,
        ),
        VendorTool(
            "falcon_host_alerts",
            "CrowdStrike Falcon: a host's recent alerts (time, name, severity, tactic/technique, process).",
            HostAlertsArgs,
            falcon_host_alerts,
            redact,
            max_chars,
        ),
        VendorTool(
            "falcon_ioc_lookup",
            "CrowdStrike Falcon: whether a hash, domain or IP is a custom IOC of the tenant and how many "
            "hosts observed it.",
            IocLookupArgs,
            falcon_ioc_lookup,
            redact,
            max_chars,
        ),
    ]
