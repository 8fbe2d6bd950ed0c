"""Forms over HTTPS: the gate's own pages post (same-origin Referer, Origin), nothing from another
site does, links never leak in a Referer, and no header value makes the gate fail with a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from aisoc.bus import Bus
from aisoc.events import ActionDecided
from gate import Gate
from gate.app import create_app
from gate.links import approval_url
from tests.gate.factory import Clock, csrf, gate_events, gate_settings, publish_case

BASE = "https://gate.example.com"
"""The gate's public address (what the TLS proxy serves and the links say)."""


class Browser:
    """A browser at ``BASE`` behind the SSO proxy: each request is attributed to one person."""

    def __init__(self, bus: Bus, *, base: str = BASE) -> None:
        self.settings = gate_settings(base_url=base)
        self.gate = Gate(bus, self.settings, clock=Clock())
        self.case = publish_case(bus)
        req = self.gate.submit(self.case.proposal)
        url = urlsplit(approval_url(self.settings, req))
        self.link = f"{url.path}?{url.query}"
        self.client = create_app(self.settings, gate=self.gate).test_client()
        self.base, self.bus = base, bus

    def get(self, path: str) -> Any:
        return self.client.get(path, base_url=self.base, headers={"X-Forwarded-Email": "alice@example.com"})

    def confirm(self, **headers: str) -> Any:
        """Load step one, then post the approval with the given request headers."""
        page = self.get(self.link)
        data = {"csrf_token": csrf(page.get_data(as_text=True)), "target": "WS-042", "reason": "contain"}
        data["approve"] = "Approve"
        sent = {
            "X-Forwarded-Email": "alice@example.com",
            **{k.replace("_", "-"): v for k, v in headers.items()},
        }
        return self.client.post(self.link, data=data, base_url=self.base, headers=sent)

    def decided(self) -> list[ActionDecided]:
        return gate_events(self.bus, self.case.case_id, ActionDecided)


@pytest.fixture
def https_gate(store_bus: Bus) -> Browser:
    """A production gate at ``BASE`` with one pending request, over each store."""
    return Browser(store_bus)


def test_pages_ask_for_same_origin_referrers_only(https_gate: Browser) -> None:
    """Given any page, when served, then Referrer-Policy (header and meta) is same-origin: the gate's
    own forms send a Referer, other sites never see a link's token."""
    for resp in (https_gate.get(https_gate.link), https_gate.get("/r/nope"), https_gate.get("/login")):
        assert resp.headers["Referrer-Policy"] == "same-origin"
        assert 'content="no-referrer"' not in resp.get_data(as_text=True)


def test_https_confirmation_passes_with_what_a_browser_sends(https_gate: Browser) -> None:
    """Given step two over HTTPS, when the POST carries the gate's Origin (and a same-origin Referer, as
    Chromium sends under same-origin), then the decision is made."""
    resp = https_gate.confirm(Origin=BASE, Referer=f"{BASE}{https_gate.link}")
    assert resp.status_code == 303, resp.get_data(as_text=True)
    assert len(https_gate.decided()) == 1


def test_https_confirmation_with_origin_only_passes(https_gate: Browser) -> None:
    """Given a browser that sends Origin but no Referer, when it posts over HTTPS, then Origin suffices."""
    assert https_gate.confirm(Origin=BASE).status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "https://evil.example", "Referer": f"{BASE}/a/x"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Referer": "http://gate.example.com/a/x"},  # downgraded scheme
        {"Origin": "https://gate.example.com.evil.example"},
        # a proxy that passes the client's Host on: the request's own origin is not the gate's
        {"Host": "evil.example", "Origin": "https://evil.example"},
        {"Host": "evil.example", "Referer": "https://evil.example/a/x"},
        {},  # HTTPS and neither header: refused, as Flask-WTF's strict mode does
    ],
)
def test_cross_site_posts_are_refused_even_with_a_valid_token(
    https_gate: Browser, headers: dict[str, str]
) -> None:
    """Given a valid token, when the POST comes from another origin (or an opaque one), then it is
    refused with the clear "form expired or forged" page and nothing is decided."""
    resp = https_gate.confirm(**headers)
    assert resp.status_code == 400 and "Form expired or forged" in resp.get_data(as_text=True)
    assert https_gate.decided() == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Referer": "https://gate.example.com:99999/a/x"},
        {"Referer": "https://[::1/a"},
        {"Origin": "https://[gate"},
        {"Origin": "https://gate.example.com:0x1bb"},
        {"Referer": "\x7f\x01garbage"},
    ],
)
def test_malformed_origin_or_referer_is_a_clear_refusal_not_a_500(
    https_gate: Browser, headers: dict[str, str]
) -> None:
    """Given a malformed Origin or Referer, when posting, then the answer is the 400 page, never a 500."""
    resp = https_gate.confirm(**headers)
    assert resp.status_code == 400 and https_gate.decided() == []


def test_plain_http_demo_posts_without_origin_headers(bus: Bus) -> None:
    """Given the gate over plain http (demo, test clients), when a POST has neither header, then the
    token alone decides (browsers always send Origin; this keeps scripted clients working)."""
    demo = Browser(bus, base="http://gate.test")
    assert demo.confirm().status_code == 303
