"""Tanium through the Gateway GraphQL API (httpx): endpoint questions through read sensors only.

There is no usable Tanium SDK on PyPI. The Gateway is ``POST /plugin/products/gateway/graphql``
with the API token in the ``session`` header (https://docs.tanium.com/api_gateway/api_gateway/
overview.html). Shapes relied on: ``endpoints(first, filter: EndpointFieldFilter {path, op, value},
source: EndpointSource {ts: {expectedCount, stableWaitTime, maxAge}})`` -> ``edges[].node`` with
``id``, ``name``, ``ipAddress``, ``eidLastSeen``, ``os {name platform}`` and
``sensorReadings(sensors: [EndpointSensorRef {name}]) {columns {name values sensor {name}}}``;
errors come back as ``{"errors": [{"message"}]}``.

The only document this adapter can send is :data:`SENSOR_QUERY` (a query, never a mutation): the
HTTP layer refuses any other operation name or text, so actions, packages and deploys cannot leave.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from aisoc.redact import Redactor
from aisoc.tools import ToolError
from integrations.errors import IntegrationError
from integrations.indicators import indicator
from integrations.readonly import Allowlist, GuardedTransport, Operation, RetryPolicy
from integrations.settings import HttpSettings, TaniumSettings
from integrations.tools._common import VendorTool

log = logging.getLogger(__name__)

GATEWAY_PATH = "/plugin/products/gateway/graphql"
SENSOR_OPERATION = "AisocEndpointSensorReadings"
SENSOR_QUERY = """query AisocEndpointSensorReadings(
  $filter: EndpointFieldFilter!, $sensors: [EndpointSensorRef!]!, $source: EndpointSource
) {
  endpoints(first: 5, filter: $filter, source: $source) {
    edges {
      node {
        id
        name
        ipAddress
        eidLastSeen
        os { name platform }
        sensorReadings(sensors: $sensors) { columns { name values sensor { name } } }
      }
    }
  }
}"""
"""The one registered read-only document."""
LIVE_SOURCE = {"ts": {"expectedCount": 1, "stableWaitTime": 15, "maxAge": 300}}
"""Ask the endpoint now (a live question) instead of reading the last collected answers."""


class TaniumArgs(BaseModel):
    """Arguments of ``tanium_question``."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1, max_length=256, description="endpoint name or IP address")
    sensors: list[str] = Field(min_length=1, max_length=5, description="read sensors to ask, by name")
    live: bool = Field(default=False, description="ask the endpoint now instead of using collected data")


class TaniumClient:
    """Read-only Tanium Gateway access: sensor readings of an endpoint.

    Args:
        settings: the Tanium table (URL and token required).
        http: timeouts and retries.
        transport: the inner httpx transport (tests).

    Raises:
        IntegrationError: Tanium is not configured.
    """

    def __init__(
        self,
        settings: TaniumSettings,
        http: HttpSettings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not settings.configured() or settings.url is None or settings.token is None:
            raise IntegrationError("tanium: set [integrations.tanium] url and token")
        http = http or HttpSettings()
        base = settings.url.rstrip("/")
        allowlist = Allowlist(
            "tanium",
            [Operation("POST", GATEWAY_PATH, "gateway query", graphql={SENSOR_OPERATION: SENSOR_QUERY})],
            base_url=base,
        )
        inner = transport or httpx.HTTPTransport(verify=settings.verify_tls)
        self.transport = GuardedTransport(allowlist, RetryPolicy(http.retries, http.backoff_s), inner)
        token = settings.token.get_secret_value()
        self.client = httpx.Client(
            base_url=base, headers={"session": token}, timeout=http.timeout_s, transport=self.transport
        )
        self.redact = Redactor.standard([token])

    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send one GraphQL request (refused unless it is the registered read query).

        Raises:
            ReadOnlyViolation: the document is not the registered query.
            IntegrationError: the gateway failed or answered errors.
        """
        try:
            response = self.client.post(GATEWAY_PATH, json=body)
        except httpx.HTTPError as e:
            raise IntegrationError(self.redact.text(f"tanium: {type(e).__name__}: {e}")) from e
        if response.status_code != 200:
            raise IntegrationError(f"tanium: gateway answered {response.status_code}: {response.text[:300]}")
        data: dict[str, Any] = response.json()
        if data.get("errors"):
            messages = "; ".join(str(e.get("message", e))[:200] for e in data["errors"][:3])
            raise IntegrationError(f"tanium: {messages}")
        return data

    def sensor_readings(self, host: str, sensors: list[str], live: bool = False) -> list[dict[str, Any]]:
        """Readings of ``sensors`` on the endpoints named (or addressed) ``host``."""
        path = "ipAddress" if indicator("ip", host) is not None else "name"
        body = {
            "operationName": SENSOR_OPERATION,
            "query": SENSOR_QUERY,
            "variables": {
                "filter": {"path": path, "op": "EQ", "value": host},
                "sensors": [{"name": s} for s in sensors],
                "source": LIVE_SOURCE if live else None,
            },
        }
        edges = ((self.post(body).get("data") or {}).get("endpoints") or {}).get("edges") or []
        out = []
        for edge in edges:
            node = edge.get("node") or {}
            readings: dict[str, dict[str, Any]] = {}
            for column in (node.get("sensorReadings") or {}).get("columns") or []:
                sensor = (column.get("sensor") or {}).get("name") or sensors[0]
                readings.setdefault(sensor, {})[column.get("name", "?")] = column.get("values") or []
            out.append(
                {
                    "name": node.get("name"),
                    "ip_address": node.get("ipAddress"),
                    "last_seen": node.get("eidLastSeen"),
                    "os": node.get("os"),
                    "readings": readings,
                }
            )
        return out

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()


def tanium_tool(client: TaniumClient, settings: TaniumSettings, *, max_chars: int = 4000) -> VendorTool:
    """The ``tanium_question`` tool: read sensors of one endpoint (only the configured sensors)."""
    allowed = {s.lower(): s for s in settings.sensors}

    def tanium_question(host: str, sensors: list[str], live: bool = False) -> dict[str, Any]:
        unknown = [s for s in sensors if s.lower() not in allowed]
        if unknown:
            names = ", ".join(map(repr, unknown))
            raise ToolError(f"sensor(s) {names} are not allowed; ask one of: {', '.join(settings.sensors)}")
        endpoints = client.sensor_readings(host.strip(), [allowed[s.lower()] for s in sensors], live)
        if not endpoints:
            raise ToolError(f"no Tanium endpoint matches {host!r}")
        return {"host": host, "live": live, "endpoints": endpoints}

    return VendorTool(
        "tanium_question",
        "Tanium: ask an endpoint read-only sensors (for example 'Running Processes', 'Logged In Users', "
        f"'Open Ports'). Allowed sensors: {', '.join(settings.sensors)}.",
        TaniumArgs,
        tanium_question,
        client.redact,
        max_chars,
    )
