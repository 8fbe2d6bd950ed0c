"""Guards on the whole request: scheme, host, port, method, path and query are checked against the
allowlist on every hop, so a redirect cannot carry a credential to another host."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from flask import Flask, redirect, request

from aisoc.tools import ToolError
from integrations.errors import ReadOnlyViolation
from integrations.falcon import ALLOWLIST_OPERATIONS, FalconClient
from integrations.readonly import Allowlist, GuardedTransport, Operation
from integrations.tools.tanium import GATEWAY_PATH, SENSOR_OPERATION, SENSOR_QUERY, TaniumClient
from integrations.tools.zscaler import ZiaClient
from tests.integrations.fakes import Seen, _recorder, falcon_app, serve, tanium_app, zia_app
from tests.integrations.test_tools import ENDPOINTS, all_vendors

API = "https://api.example.com:8443/base"
GUARD = Allowlist(
    "vendor",
    [
        Operation("GET", "/items/{id}", params=frozenset({"fields"})),
        Operation("POST", "/search"),
    ],
    API,
)


@pytest.mark.parametrize(
    ("method", "url", "refusal"),
    [
        ("GET", "http://api.example.com:8443/base/items/1", "is not the configured API"),  # scheme
        ("GET", "https://evil.example.com:8443/base/items/1", "is not the configured API"),  # host
        ("GET", "https://api.example.com/base/items/1", "is not the configured API"),  # port
        ("GET", "/base/items/1", "is not the configured API"),  # no origin at all
        ("DELETE", "https://api.example.com:8443/base/items/1", "not on the read-only allowlist"),  # method
        ("GET", "https://api.example.com:8443/base/items/1/delete", "not on the read-only allowlist"),  # path
        (
            "GET",
            "https://api.example.com:8443/base/items/1?fields=a&action=wipe",
            "query parameter(s) action",
        ),
        ("POST", "https://api.example.com:8443/base/search?dry_run=false", "query parameter(s) dry_run"),
        ("POST", "https://api.example.com:8443/base/search?x", "query parameter(s) x"),
    ],
)
def test_each_part_of_the_request_is_checked(method: str, url: str, refusal: str) -> None:
    """Given an allowlist at one origin, when any one part of a request differs, then it is refused and
    the refusal names the part."""
    with pytest.raises(ReadOnlyViolation, match=re.escape(refusal)):
        GUARD.check(method, url)


def test_the_allowed_request_passes_with_default_ports_made_explicit() -> None:
    """Given the allowed operations, when requested at the configured origin, then they pass (443 is
    https's port whether written or not)."""
    assert GUARD.check("GET", "https://API.example.com:8443/base/items/7?fields=a&fields=b").method == "GET"
    plain = Allowlist("vendor", [Operation("POST", "/search")], "https://api.example.com")
    assert plain.check("POST", "https://api.example.com:443/search").path == "/search"


def elsewhere(seen: Seen) -> Flask:
    """Another host that would receive whatever a redirect carried."""
    app = Flask("elsewhere")
    _recorder(app, seen)

    @app.route("/<path:anything>", methods=["GET", "POST", "DELETE"])
    def anything(anything: str) -> Any:
        return {"access_token": "stolen", "expires_in": 1799}, 201

    return app


def test_falcon_token_redirect_to_another_host_is_refused() -> None:
    """Given a Falcon API whose /oauth2/token answers 307 to another host, when a tool logs in, then the
    client secret never reaches that host and the tool fails with a refusal."""
    stolen = Seen()
    with serve(elsewhere(stolen)) as other:
        app = falcon_app([], [], Seen())
        app.view_functions["token"] = lambda: redirect(f"{other}/oauth2/token", code=307)
        with serve(app) as url:
            settings = all_vendors(url)
            client = FalconClient(settings.falcon, settings.http)
            with pytest.raises(Exception, match="not the configured API"):
                client.device_ids("hostname:'WS-1'")
    assert stolen.requests == []
    assert ALLOWLIST_OPERATIONS[0].path == "/oauth2/token"


def test_tanium_post_with_a_query_string_is_refused() -> None:
    """Given the registered read query, when posted with a query string appended, then it is refused before
    the gateway sees anything."""
    seen = Seen()
    with serve(tanium_app(ENDPOINTS, seen)) as url:
        settings = all_vendors(url)
        client = TaniumClient(settings.tanium, settings.http)
        body = {"operationName": SENSOR_OPERATION, "query": SENSOR_QUERY, "variables": {}}
        with pytest.raises(ReadOnlyViolation, match="query parameter"):
            client.client.post(f"{GATEWAY_PATH}?action=deploy", json=body)
    assert seen.requests == []


def test_a_guarded_httpx_client_refuses_another_host_even_when_told_to_follow() -> None:
    """Given an httpx client on the guarded transport that follows redirects, when the API redirects to
    another host, then that hop is refused."""
    hops: list[str] = []

    def vendor(req: httpx.Request) -> httpx.Response:
        hops.append(str(req.url))
        return httpx.Response(307, headers={"Location": "https://evil.example.net/search"})

    guard = Allowlist("vendor", [Operation("POST", "/search")], "https://api.example.com")
    transport = GuardedTransport(guard, inner=httpx.MockTransport(vendor))
    client = httpx.Client(base_url="https://api.example.com", transport=transport, follow_redirects=True)
    with pytest.raises(ReadOnlyViolation, match="evil.example.net"):
        client.post("/search", json={"secret": "x"})
    assert hops == ["https://api.example.com/search"]


def test_zscaler_login_redirect_is_not_followed() -> None:
    """Given a ZIA whose login answers 302 to another host, when a tool logs in, then the SDK does not
    follow it: the login payload (password, API key) never reaches the other host."""
    stolen = Seen()
    with serve(elsewhere(stolen)) as other:
        app = zia_app(Seen(), {})

        @app.before_request
        def away() -> Any:
            if request.path == "/api/v1/authenticatedSession":
                return redirect(f"{other}/api/v1/authenticatedSession", code=307)
            return None

        with serve(app) as url:
            settings = all_vendors(url)
            with pytest.raises((ToolError, Exception)):
                ZiaClient(settings.zscaler, settings.http).url_lookup(["example.com"])
    assert stolen.requests == []
