"""Identities no one can borrow: a session is only as good as the login method that made it, the SSO
proxy's word counts only on the request that carries it, and a CSRF token belongs to one person."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aisoc.bus import Bus
from aisoc.events import ActionDecided
from gate import Gate, State
from gate.app import create_app
from gate.links import approval_url
from tests.gate.factory import SESSION_KEYS, Case, Clock, csrf, forge_session, gate_events, gate_settings
from tests.gate.factory import publish_case as publish

WEBEX = {
    "webex_client_id": "cid-123",
    "webex_client_secret": "csecret-456",
    "webex_token_url": "http://127.0.0.1:9/v1/access_token",
    "webex_people_url": "http://127.0.0.1:9/v1/people/me",
}
"""Webex login enabled (its endpoints are never reached: sessions are forged or refused first)."""


@dataclass
class Served:
    """A gate app over one store, a pending request and its step-one link (a path)."""

    app: Flask
    gate: Gate
    bus: Bus
    case: Case
    link: str

    def client(self, session: dict[str, Any] | None = None, key: str = SESSION_KEYS[0]) -> FlaskClient:
        """A browser; with ``session``, one that carries a session cookie signed with ``key``."""
        c = self.app.test_client()
        if session is not None:
            c.set_cookie(self.app.config["SESSION_COOKIE_NAME"], forge_session(key, session))
        return c

    def decided(self) -> list[ActionDecided]:
        return gate_events(self.bus, self.case.case_id, ActionDecided)


def serve(bus: Bus, **settings: Any) -> Served:
    s = gate_settings(**settings)
    gate = Gate(bus, s, clock=Clock())
    case = publish(bus)
    req = gate.submit(case.proposal)
    url = urlsplit(approval_url(s, req))
    return Served(create_app(s, gate=gate), gate, bus, case, f"{url.path}?{url.query}")


@pytest.fixture
def proxy_gate(store_bus: Bus) -> Iterator[Served]:
    """A production gate that identifies people by the SSO proxy's header only."""
    served = serve(store_bus)
    yield served
    served.gate.close()


@pytest.fixture
def mixed_gate(store_bus: Bus) -> Iterator[Served]:
    """A production gate that accepts the SSO proxy's header and Webex logins."""
    served = serve(store_bus, auth=["proxy", "webex"], **WEBEX)
    yield served
    served.gate.close()


def proxied(email: str, addr: str = "127.0.0.1") -> dict[str, Any]:
    """Request arguments of a request the SSO proxy at ``addr`` attributes to ``email``."""
    return {"headers": {"X-Forwarded-Email": email}, "environ_base": {"REMOTE_ADDR": addr}}


def approve_form(page: Any) -> dict[str, str]:
    token = csrf(page.get_data(as_text=True))
    return {"csrf_token": token, "target": "WS-042", "reason": "contain", "approve": "Approve"}


def test_a_session_claiming_the_sso_proxy_is_never_accepted(proxy_gate: Served) -> None:
    """Given a session cookie saying "Alice, via the SSO proxy" (the proxy never makes sessions), when it
    comes without the proxy's header, then nobody is logged in and nothing can be decided."""
    forged = proxy_gate.client({"pid": "alice", "src": "sso-proxy"})
    step = forged.get(proxy_gate.link)
    assert step.status_code == 303 and "/login" in step.headers["Location"]
    state = forged.get(f"/r/{proxy_gate.case.proposal.event_id}")
    assert state.status_code == 303
    assert forged.post(proxy_gate.link, data={"reason": "x", "approve": "1"}).status_code in (400, 401)
    assert proxy_gate.decided() == []


def test_a_session_from_a_login_method_that_is_not_enabled_is_refused(store_bus: Bus) -> None:
    """Given a Webex session for Alice, when the gate accepts only the SSO proxy, then it counts for
    nothing; when the gate accepts Webex logins, the same cookie is Alice (the forgery itself works)."""
    proxy_only = serve(store_bus)
    cookie = {"pid": "alice", "src": "webex-oauth"}
    assert proxy_only.client(cookie).get(proxy_only.link).status_code == 303
    webex = serve(store_bus, auth=["webex"], **WEBEX)
    page = webex.client(cookie).get(webex.link)
    assert page.status_code == 200 and "Alice Ng" in page.get_data(as_text=True)


def test_the_proxy_header_decides_and_never_falls_back_to_a_stored_session(mixed_gate: Served) -> None:
    """Given Alice's Webex session in a browser, when requests carry the proxy's header for a stranger,
    for Carol, or come from an untrusted address, then the header decides: nobody inherits Alice."""
    alice_session = {"pid": "alice", "src": "webex-oauth"}
    browser = mixed_gate.client(alice_session)
    assert "Alice Ng" in browser.get(mixed_gate.link).get_data(as_text=True)  # Alice herself
    stranger = browser.get(mixed_gate.link, **proxied("zed@elsewhere.org"))
    assert stranger.status_code == 403 and "zed@elsewhere.org" in stranger.get_data(as_text=True)
    assert "Alice Ng" not in stranger.get_data(as_text=True)
    spoofed = browser.get(mixed_gate.link, **proxied("carol@example.com", "10.9.8.7"))
    assert spoofed.status_code == 403 and "not a trusted proxy" in spoofed.get_data(as_text=True)
    carol = browser.get(mixed_gate.link, **proxied("carol@example.com"))
    assert carol.status_code == 200
    who = carol.get_data(as_text=True).split('id="who">')[1].split("<")[0]
    assert who.strip() == "Carol Diaz"
    assert mixed_gate.decided() == []


def test_a_csrf_token_is_bound_to_the_person_it_was_made_for(proxy_gate: Served) -> None:
    """Given Mallory's own cookie and CSRF token (planted in Alice's browser, e.g. from a sibling
    domain), when the proxy attributes the POST to Alice, then the form is refused and nothing decided."""
    mallory = proxy_gate.client()
    form = approve_form(mallory.get(proxy_gate.link, **proxied("mallory@example.com")))
    planted = mallory.post(proxy_gate.link, data=form, **proxied("alice@example.com"))
    assert planted.status_code == 400 and "Form expired or forged" in planted.get_data(as_text=True)
    assert proxy_gate.decided() == []
    alice = proxy_gate.client()
    mine = approve_form(alice.get(proxy_gate.link, **proxied("alice@example.com")))
    to_carol = alice.post(proxy_gate.link, data=mine, **proxied("carol@example.com"))
    assert to_carol.status_code == 400 and proxy_gate.decided() == []
    again = approve_form(alice.get(proxy_gate.link, **proxied("alice@example.com")))
    assert alice.post(proxy_gate.link, data=again, **proxied("alice@example.com")).status_code == 303
    (decided,) = proxy_gate.decided()
    assert decided.decided_by == "alice@example.com"
    assert proxy_gate.gate.get(proxy_gate.case.proposal.event_id).state == State.APPROVED


def test_the_session_cookie_has_the_host_prefix_outside_demo_mode(bus: Bus) -> None:
    """Given a production gate, when it sets its cookie, then it is ``__Host-`` prefixed, Secure, Path=/
    and has no Domain; the demo over http keeps a plain name (browsers drop __Host- without TLS)."""
    prod = serve(bus)
    cookie = prod.client().get(prod.link, **proxied("alice@example.com")).headers["Set-Cookie"]
    assert cookie.startswith("__Host-aisoc_gate=") and "Secure" in cookie and "Path=/;" in cookie + ";"
    assert "Domain" not in cookie
    demo = serve(bus, demo=True, auth=["dev"], base_url="http://127.0.0.1:8700")
    login = demo.client().get("/login")
    assert login.headers["Set-Cookie"].startswith("aisoc_gate=")
    assert "Secure" not in login.headers["Set-Cookie"]
