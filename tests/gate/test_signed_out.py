"""A person whose SSO session ended is told to sign in again, not that their form was forged."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from aisoc.bus import Bus
from aisoc.events import ActionDecided, ActionExecuted
from gate import Gate, create_app
from gate.links import approval_url
from tests.gate.conftest import As
from tests.gate.factory import csrf, gate_events, gate_settings, publish_case


def text(resp: Any) -> str:
    return " ".join(resp.get_data(as_text=True).split())


@pytest.fixture
def pending(bus: Bus, gate: Gate) -> tuple[str, str]:
    """A pending request to isolate WS-042: its step-one link (as a path) and its id."""
    case = publish_case(bus)
    gate.submit(case.proposal)
    url = approval_url(gate.settings, gate.get(case.proposal.event_id))
    return url.removeprefix(gate.settings.base_url), case.proposal.event_id


@pytest.mark.parametrize("header", [None, "", "   "], ids=["no-header", "empty", "blank"])
def test_a_confirmation_after_the_sso_session_ended_says_to_sign_in(
    app: Flask, bus: Bus, pending: tuple[str, str], header: str | None
) -> None:
    """Given Alice's step-one page (CSRF token in her browser's cookie), when her SSO session ends and
    the proxy forwards her confirmation with no identity header (or an empty one), then the gate
    answers 401 with a WWW-Authenticate challenge naming the SSO proxy and a page saying to sign in
    again, not "Form expired or forged"; nothing is decided."""
    link, rid = pending
    alice = As(app, "alice@example.com")
    form = {"csrf_token": csrf(alice.get(link).get_data(as_text=True)), "target": "WS-042"}
    alice.headers = {} if header is None else {"X-Forwarded-Email": header}
    resp = alice.post(link, {**form, "reason": "contain", "approve": "Approve"})
    assert resp.status_code == 401, text(resp)
    assert resp.headers["WWW-Authenticate"] == 'SSO-Proxy realm="aisoc-gate"'
    assert "Sign in again" in text(resp) and "Form expired or forged" not in text(resp)
    assert "single sign-on" in text(resp) and "Nothing was decided" in text(resp)
    done = alice.post(f"/r/{rid}/done", {"csrf_token": form["csrf_token"], "note": "x"})
    assert done.status_code == 401 and "Sign in again" in text(done)
    assert "WWW-Authenticate" in done.headers
    assert gate_events(bus, "jsonl:case-1", ActionDecided) == []
    assert gate_events(bus, "jsonl:case-1", ActionExecuted) == []


def test_real_csrf_failures_still_say_form_expired_or_forged(
    app: Flask, bus: Bus, pending: tuple[str, str]
) -> None:
    """Given Alice signed in through the proxy, when she posts with no token, a wrong one or one made
    for Carol, then it is still "Form expired or forged" (400); a stranger or an untrusted address
    posting is refused for who they are (403), before any CSRF check."""
    link, _ = pending
    alice = As(app, "alice@example.com")
    form = {"target": "WS-042", "reason": "contain", "approve": "Approve"}
    for token in (None, "forged"):
        data = form if token is None else {**form, "csrf_token": token}
        resp = alice.post(link, data)
        assert resp.status_code == 400 and "Form expired or forged" in text(resp)
    carol = As(app, "carol@example.com")
    carols = csrf(carol.get(link).get_data(as_text=True))
    resp = alice.post(link, {**form, "csrf_token": carols})
    assert resp.status_code == 400 and "Form expired or forged" in text(resp)
    stranger = As(app, "zed@example.com").post(link, form)
    assert stranger.status_code == 403 and "zed@example.com, who is not in the on-call roster" in text(
        stranger
    )
    spoofed = As(app, "alice@example.com", remote_addr="10.9.8.7").post(link, form)
    assert spoofed.status_code == 403 and "not a trusted proxy" in text(spoofed)
    assert gate_events(bus, "jsonl:case-1", ActionDecided) == []


def test_every_401_carries_a_challenge_for_each_enabled_login_method(bus: Bus, gate: Gate) -> None:
    """Given gates allowing the proxy and Webex, or only the demo's dev login, when an anonymous
    browser posts a "done" form, then the 401 names each enabled method as an auth scheme."""
    both = create_app(
        gate_settings(auth=["proxy", "webex"], webex_client_id="id", webex_client_secret="s" * 40),
        gate=gate,
    )
    resp = both.test_client().post("/r/x/done", data={"note": "x"})
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'SSO-Proxy realm="aisoc-gate", Webex-OAuth realm="aisoc-gate"'
    demo = create_app(
        gate_settings(demo=True, auth=["dev"], base_url="http://127.0.0.1:8700", secure_cookies=False),
        gate=gate,
    )
    resp = demo.test_client().post("/r/x/done", data={"note": "x"})
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == 'Dev-Login realm="aisoc-gate"'
    assert "Log in again" in text(resp) or "Sign in again" in text(resp)
