"""Zscaler Internet Access through zscaler-sdk-python: URL category lookup and sandbox reports.

Uses the SDK's legacy ZIA client (API key + admin credentials, ``JSESSIONID`` cookie). Every
request the SDK makes for these tools goes through ``LegacyZIAClientHelper.send`` and its login
through ``authenticate``; both are overridden below to check the read allowlist first (origin, method,
path and query), so a write (URL category update, policy change, ``POST /status/activate``) is refused
before it is sent. The SDK calls ``requests`` module functions, which follow redirects by themselves: it
is handed a ``requests`` that never follows one (a ZIA API answer is never a redirect; a redirect to
another host would carry the login payload or the session cookie there).

Operations and fields relied on (ZIA API reference, https://help.zscaler.com/zia/url-categories#/
urlLookup-post and https://help.zscaler.com/zia/sandbox-report#/sandbox/report/{md5Hash}-get, and
the SDK's ``url_categories.lookup`` / ``sandbox.get_report``):

- ``POST /api/v1/authenticatedSession`` (login), ``GET`` (session check), ``DELETE`` (logout);
- ``POST /api/v1/urlLookup`` body ``["url", ...]`` (at most 100) -> ``[{"url",
  "urlClassifications", "urlClassificationsWithSecurityAlert"}]`` (the SDK snake-cases keys);
- ``GET /api/v1/sandbox/report/{md5Hash}?details=summary|full`` -> ``{"Summary": {"Summary":
  {"Status", "Category", "FileType", "StartTime", "Duration"}, "Classification": {"Type",
  "Category", "Score", "DetectedMalware"}, "FileProperties": {...}}}`` or ``{"Full Details": ...}``.
"""

from __future__ import annotations

import logging
from typing import Any, Literal
from urllib.parse import urlencode

import requests
import zscaler.zia.legacy
from pydantic import BaseModel, ConfigDict, Field
from zscaler.zia.legacy import LegacyZIAClientHelper

from aisoc.redact import Redactor
from aisoc.tools import ToolError
from integrations.errors import IntegrationError, ReadOnlyViolation
from integrations.indicators import indicator
from integrations.readonly import Allowlist, Operation
from integrations.settings import HttpSettings, ZscalerSettings
from integrations.tools._common import VendorTool

log = logging.getLogger(__name__)

ALLOWLIST_OPERATIONS = (
    Operation("POST", "/api/v1/authenticatedSession", "login"),
    Operation("GET", "/api/v1/authenticatedSession", "session check"),
    Operation("DELETE", "/api/v1/authenticatedSession", "logout of our own session"),
    Operation("POST", "/api/v1/urlLookup", "URL category lookup"),
    Operation("GET", "/api/v1/sandbox/report/{md5Hash}", "sandbox report", params=frozenset({"details"})),
)
"""The ZIA operations this adapter may perform."""


class _NoRedirects:
    """``requests`` as the SDK's legacy client calls it, except that no redirect is ever followed."""

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        return requests.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", url, **kwargs)


zscaler.zia.legacy.requests = _NoRedirects()


class GuardedZiaHelper(LegacyZIAClientHelper):  # type: ignore[misc]
    """The SDK's legacy ZIA client whose every request is checked against the read allowlist."""

    @property
    def allowlist(self) -> Allowlist:
        """The read operations, at this client's API origin (``override_url`` or the cloud's)."""
        return Allowlist("zscaler", ALLOWLIST_OPERATIONS, str(self.url))

    def _url(self, path: str, params: Any = None) -> str:
        query = f"?{urlencode(params, doseq=True)}" if params else ""
        return f"{self.url}/{path.lstrip('/')}{query}"

    def authenticate(self) -> None:
        """Log in (``POST /authenticatedSession``), after the allowlist check."""
        self.allowlist.check("POST", self._url("/api/v1/authenticatedSession"))
        super().authenticate()

    def validate_session_status(self) -> bool:
        """Check the session (``GET /authenticatedSession``), after the allowlist check."""
        self.allowlist.check("GET", self._url("/api/v1/authenticatedSession"))
        return bool(super().validate_session_status())

    def deauthenticate(self) -> Any:
        """Log out (``DELETE /authenticatedSession``), after the allowlist check."""
        self.allowlist.check("DELETE", self._url("/api/v1/authenticatedSession"))
        return super().deauthenticate()

    def send(self, method: str, path: str, json: Any = None, params: Any = None, **rest: Any) -> Any:
        """Send one API request, refused unless it is on the allowlist.

        Raises:
            ReadOnlyViolation: the operation is not an allowed read (nothing was sent).
        """
        self.allowlist.check(method, self._url(path, params), json if isinstance(json, dict) else None)
        return super().send(method, path, json=json, params=params, **rest)


class UrlArgs(BaseModel):
    """Arguments of ``zscaler_url_lookup``."""

    model_config = ConfigDict(extra="forbid")
    urls: list[str] = Field(min_length=1, max_length=10, description="URLs or domains to classify")


class SandboxArgs(BaseModel):
    """Arguments of ``zscaler_sandbox_report``."""

    model_config = ConfigDict(extra="forbid")
    md5: str = Field(min_length=32, max_length=32, description="MD5 of the file the sandbox analysed")
    details: Literal["summary", "full"] = Field(default="summary", description="summary or full report")


class ZiaClient:
    """Read-only ZIA access (logs in on first use).

    Args:
        settings: the Zscaler table (cloud, username, password, API key).
        http: the request timeout.

    Raises:
        IntegrationError: Zscaler is not configured.
    """

    def __init__(self, settings: ZscalerSettings, http: HttpSettings | None = None) -> None:
        if not settings.configured():
            raise IntegrationError(
                "zscaler: set [integrations.zscaler] cloud, username, password and api_key"
            )
        self.settings = settings
        self.http = http or HttpSettings()
        assert settings.password is not None and settings.api_key is not None
        self.redact = Redactor.standard(
            [settings.password.get_secret_value(), settings.api_key.get_secret_value()]
        )
        self._helper: GuardedZiaHelper | None = None

    @property
    def helper(self) -> GuardedZiaHelper:
        """The logged-in SDK client.

        Raises:
            IntegrationError: the login failed.
        """
        if self._helper is None:
            s = self.settings
            assert s.password is not None and s.api_key is not None
            try:
                self._helper = GuardedZiaHelper(
                    cloud=s.cloud,
                    username=s.username,
                    password=s.password.get_secret_value(),
                    api_key=s.api_key.get_secret_value(),
                    override_url=s.override_url,
                    timeout=int(self.http.timeout_s),
                )
            except ReadOnlyViolation:
                raise
            except Exception as e:
                raise IntegrationError(
                    self.redact.text(f"zscaler: login failed: {type(e).__name__}: {e}")
                ) from e
        return self._helper

    def _checked(self, what: str, result: Any, error: Any) -> Any:
        if isinstance(error, ReadOnlyViolation):
            raise error
        if error is not None:
            raise IntegrationError(self.redact.text(f"zscaler: {what}: {error}"))
        return result

    def url_lookup(self, urls: list[str]) -> list[dict[str, Any]]:
        """Categories of ``urls`` (``POST /urlLookup``)."""
        result, error = self.helper.url_categories.lookup(urls)
        rows = self._checked("URL lookup", result, error) or []
        out = []
        for row in rows:
            get = _getter(row)
            out.append(
                {
                    "url": get("url"),
                    "categories": get("url_classifications") or [],
                    "security_alerts": get("url_classifications_with_security_alert") or [],
                }
            )
        return out

    def sandbox_report(self, md5: str, details: str = "summary") -> dict[str, Any]:
        """The Cloud Sandbox report of a file (``GET /sandbox/report/{md5}``)."""
        result, _, error = self.helper.sandbox.get_report(md5, details)
        report = self._checked("sandbox report", result, error)
        return report if isinstance(report, dict) else {"report": report}


def _getter(row: Any) -> Any:
    """Read a field whether the SDK kept camelCase or snake_cased it."""
    data = row if isinstance(row, dict) else getattr(row, "as_dict", lambda: {})()

    def get(snake: str) -> Any:
        camel = snake.split("_")[0] + "".join(p.title() for p in snake.split("_")[1:])
        return data.get(snake, data.get(camel))

    return get


def zscaler_tools(client: ZiaClient, *, max_chars: int = 4000) -> list[VendorTool]:
    """``zscaler_url_lookup`` and ``zscaler_sandbox_report``."""

    def zscaler_url_lookup(urls: list[str]) -> dict[str, Any]:
        cleaned = [u.strip() for u in urls if u.strip()]
        return {"results": client.url_lookup(cleaned)}

    def zscaler_sandbox_report(md5: str, details: str = "summary") -> dict[str, Any]:
        if indicator("md5", md5) is None:
            raise ToolError(f"{md5!r} is not an MD5 hash (the ZIA sandbox indexes reports by MD5)")
        return {"md5": md5.lower(), "details": details, "report": client.sandbox_report(md5.lower(), details)}

    return [
        VendorTool(
            "zscaler_url_lookup",
            "Zscaler ZIA: URL categories and security classifications of up to 10 URLs or domains.",
            UrlArgs,
            zscaler_url_lookup,
            client.redact,
            max_chars,
        ),
        VendorTool(
            "zscaler_sandbox_report",
            "Zscaler Cloud Sandbox: the analysis report (classification, score, malware family) of a file "
            "by MD5.",
            SandboxArgs,
            zscaler_sandbox_report,
            client.redact,
            max_chars,
        ),
    ]
