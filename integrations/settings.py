"""Settings of the integrations: one ``[integrations]`` table with a nested table per vendor.

Example (``aisoc.toml``)::

    [integrations.falcon]
    client_id = "..."
    client_secret = "..."        # or AISOC_FALCON__CLIENT_SECRET

A vendor counts as configured when its credentials are all set; tools of unconfigured vendors are
never offered to a model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from aisoc.settings import SocSettings, load_settings


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HttpSettings(_Table):
    """How every vendor adapter talks HTTP."""

    timeout_s: float = Field(default=20.0, gt=0, le=600)
    """Connect and read timeout of one request."""
    retries: int = Field(default=3, ge=0, le=10)
    """Retries of a request answered 429 or 5xx (or that failed to connect)."""
    backoff_s: float = Field(default=0.5, ge=0, le=60)
    """First retry delay; it doubles each retry (a Retry-After header wins, capped at 30 s)."""
    max_result_chars: int = Field(default=4000, ge=256, le=100_000)
    """Tool results longer than this (as JSON) are truncated before a model sees them."""


class StoplistSettings(_Table):
    """Shared infrastructure that must never link cases (see :mod:`integrations.stoplist`)."""

    builtin: bool = True
    """Include the built-in list (public resolvers, big CDNs, empty-file hashes)."""
    domains: list[str] = []
    """Domains to skip, with their subdomains (the org's own domains, its CDNs)."""
    ips: list[str] = []
    """Addresses or CIDR networks to skip (the org's resolvers, proxies, scanners)."""
    hashes: list[str] = []
    """File hashes to skip (md5, sha1 or sha256)."""
    values: list[str] = []
    """Any other indicator as ``type:value`` (for example ``email:soc@example.com``)."""
    private: bool = False
    """Also skip indicators flagged private (RFC 1918 and reserved addresses)."""


class WebhookSender(_Table):
    """One more webhook sender: its own secret, and the only sources it may publish alerts for."""

    secret: SecretStr
    sources: list[str] = Field(min_length=1)
    tenants: list[str] = []
    """The only tenants it may publish alerts for (empty: any); the first is the tenant of alerts
    that name none."""


class WebhookSettings(_Table):
    """The inbound alert webhook."""

    secret: SecretStr | None = None
    """Shared secret of the HMAC-SHA256 signature over the raw request body."""
    max_body_bytes: int = Field(default=1_000_000, ge=1024, le=50_000_000)
    """Larger requests are refused with 413."""
    source: str = "webhook"
    """Source name of alerts that do not name their own."""
    sources: list[str] = []
    """Source names the holder of ``secret`` may publish alerts for (default: ``source`` alone). An alert
    naming any other source is refused (403): a webhook cannot pre-claim another source's case ids."""
    tenants: list[str] = []
    """The only tenants the holder of ``secret`` may publish alerts for (empty: any); the first is the
    tenant of alerts that name none. Bind each customer's forwarder to its tenant on a shared SOC."""
    senders: list[WebhookSender] = []
    """More senders, each with its own secret, source names and tenants."""


class XsoarSettings(_Table):
    """Cortex XSOAR over its REST API."""

    url: str | None = None
    """Base URL (XSOAR 8: ``https://api-TENANT/xsoar/public/v1``)."""
    api_key: SecretStr | None = None
    api_key_id: str | None = None
    """XSOAR 8 only: the key's id, sent as ``x-xdr-auth-id``."""
    verify_tls: bool = True
    query: str = ""
    """Extra Lucene query of the incident search (for example ``type:Phishing``)."""
    statuses: list[Literal["pending", "active", "done", "archive"]] = ["pending", "active"]
    """Incident statuses the live source ingests (replay reads closed incidents too)."""
    page_size: int = Field(default=100, ge=1, le=1000)
    lookback_hours: float = Field(default=24.0, gt=0)
    """How far back the first poll searches when no cursor is saved."""
    escalated_close_reasons: list[str] = ["Resolved", "True Positive", "Malicious"]
    """Close reasons that mean the analyst confirmed the incident (escalated)."""
    benign_close_reasons: list[str] = ["Other", "Benign", "Security Testing", "Benign True Positive"]
    """Close reasons that mean real but harmless activity (closed)."""
    false_positive_close_reasons: list[str] = ["False Positive"]
    escalation_field: str = "escalated"
    """CustomFields key that, when true, marks the incident escalated whatever the close reason."""
    exclude_fields: list[str] = []
    """Extra dotted paths of the incident a model must not see (analyst-written CustomFields)."""

    def configured(self) -> bool:
        """Whether the URL and API key are set."""
        return bool(self.url and self.api_key)


class FalconSettings(_Table):
    """CrowdStrike Falcon (crowdstrike-falconpy)."""

    client_id: str | None = None
    client_secret: SecretStr | None = None
    base_url: str = "https://api.crowdstrike.com"
    """API base URL of the tenant's cloud (``https://api.eu-1.crowdstrike.com``...)."""
    member_cid: str | None = None
    filter: str = ""
    """Extra FQL of the alert source (for example ``product:'epp'``)."""
    page_size: int = Field(default=100, ge=1, le=1000)
    lookback_hours: float = Field(default=24.0, gt=0)

    def configured(self) -> bool:
        """Whether the API client id and secret are set."""
        return bool(self.client_id and self.client_secret)


DEFAULT_TANIUM_SENSORS = [
    "Computer Name",
    "Logged In Users",
    "Running Processes",
    "Running Services",
    "Open Ports",
    "Established Connections",
    "IP Address",
    "Operating System",
    "Installed Applications",
    "Last Reboot",
]
"""Read sensors ``tanium_question`` may ask by default (sensors collect; they never change a host)."""


class TaniumSettings(_Table):
    """Tanium through its Gateway GraphQL API (httpx)."""

    url: str | None = None
    """Server URL; the gateway is ``/plugin/products/gateway/graphql`` under it."""
    token: SecretStr | None = None
    """API token, sent as the ``session`` header."""
    verify_tls: bool = True
    sensors: list[str] = Field(default_factory=lambda: list(DEFAULT_TANIUM_SENSORS))
    """Sensors the model may ask for; anything else is refused."""

    def configured(self) -> bool:
        """Whether the URL and token are set."""
        return bool(self.url and self.token)


class ZscalerSettings(_Table):
    """Zscaler Internet Access (zscaler-sdk-python, legacy ZIA API key authentication)."""

    cloud: str | None = None
    """ZIA cloud name (``zscaler``, ``zscalertwo``...)."""
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    override_url: str | None = None
    """Base URL instead of ``https://zsapi.CLOUD.net`` (a proxy, or a test fake)."""

    def configured(self) -> bool:
        """Whether cloud, username, password and API key are set."""
        return bool(self.cloud and self.username and self.password and self.api_key)


class IntegrationsSettings(SocSettings):
    """Settings of the vendor adapters: alert sources, read-only tools, webhook and stoplist."""

    TABLE: ClassVar[str] = "integrations"

    http: HttpSettings = HttpSettings()
    stoplist: StoplistSettings = StoplistSettings()
    webhook: WebhookSettings = WebhookSettings()
    xsoar: XsoarSettings = XsoarSettings()
    falcon: FalconSettings = FalconSettings()
    tanium: TaniumSettings = TaniumSettings()
    zscaler: ZscalerSettings = ZscalerSettings()
    ioc_feeds: list[Path] = []
    """Local reputation feeds for ``ioc_reputation``: CSV, MISP JSON or STIX 2 JSON files."""

    def secrets(self) -> list[str]:
        """Every configured secret value (redacted from logs, traces and errors)."""
        found = [
            s.get_secret_value()
            for s in (
                self.webhook.secret,
                self.xsoar.api_key,
                self.falcon.client_secret,
                self.tanium.token,
                self.zscaler.password,
                self.zscaler.api_key,
            )
            if s is not None
        ]
        found += [sender.secret.get_secret_value() for sender in self.webhook.senders]
        return [s for s in found if len(s) >= 4]


def load_integrations_settings(
    config: str | os.PathLike[str] | None = None, **overrides: object
) -> IntegrationsSettings:
    """Load :class:`IntegrationsSettings` from overrides, ``AISOC_*`` variables and ``[integrations]``.

    Raises:
        ConfigError: a setting is wrong; the message names it.
    """
    return load_settings(IntegrationsSettings, config, **overrides)
