"""Webex OAuth login (authorization-code flow) against a local fake of the token and people endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, abort, jsonify, request

from aisoc.bus import Bus
from aisoc.events import ActionDecided
from gate import Gate
from gate.app import create_app
from gate.links import approval_url
from gate.server import ServerThread
from tests.gate.factory import Clock, csrf, gate_events, gate_settings, publish_case

CODES = {"good-code": "tok-alice", "stranger-code": "tok-zed"}
PEOPLE = {
    "tok-alice": {"id": "Y2lzY29-alice", "emails": ["alice@example.com"], "displayName": "Alice Ng"},
    "tok-zed": {"id": "Y2lzY29-zed", "emails": ["zed@elsewhere.org"], "displayName": "Zed"},
}


def fake_webex(redirect_uri: str) -> Flask:
    """The documented surface the gate uses: POST /v1/access_token and GET /v1/people/me."""
    app = Flask("fake-webex")
    app.config["seen"] = []

    @app.post("/v1/access_token")
    def token() -> Any:
        form = request.form
        app.config["seen"].append(dict(form))
        ok = (
            form.get("grant_type"),
            form.get("client_id"),
            form.get("client_secret"),
            form.get("redirect_uri"),
        )
        if (
            ok != ("authorization_code", "cid-123", "csecret-456", redirect_uri)
            or form.get("code") not in CODES
        ):
            return jsonify({"message": "invalid_grant"}), 400
        return jsonify({"access_token": CODES[form["code"]], "token_type": "Bearer", "expires_in": 3600})

    @app.get("/v1/people/me")
    def me() -> Any:
        auth = request.headers.get("Authorization", "")
        person = PEOPLE.get(auth.removeprefix("Bearer "))
        if person is None:
            abort(401)
        return jsonify(person)

    return app


@pytest.fixture
def webex() -> Iterator[tuple[str, Flask]]:
    """The fake Webex API on a free local port."""
    app = fake_webex("http://gate.test/auth/webex/callback")
    server = ServerThread(app).start()
    yield server.url, app
    server.stop()


@pytest.fixture
def oauth(webex: tuple[str, Flask], bus: Bus, clock: Clock) -> tuple[Any, Gate, str, Any]:
    """A gate that logs people in with Webex (fake endpoints), a pending request and its link."""
    base, _ = webex
    settings = gate_settings(
        auth=["webex"],
        webex_client_id="cid-123",
        webex_client_secret="csecret-456",
        webex_authorize_url="https://webexapis.invalid/v1/authorize",
        webex_token_url=f"{base}/v1/access_token",
        webex_people_url=f"{base}/v1/people/me",
    )
    gate = Gate(bus, settings, clock=clock)
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    link = approval_url(settings, req).removeprefix("http://gate.test")
    return create_app(settings, gate=gate).test_client(), gate, link, case


def start_login(client: Any, link: str) -> str:
    first = client.get(link)
    assert first.status_code == 303 and "/login" in first.headers["Location"]
    login = client.get(first.headers["Location"])
    assert "Log in with Webex" in login.get_data(as_text=True)
    go = client.get("/login/webex", query_string={"next": link})
    assert go.status_code == 302
    target = urlsplit(go.headers["Location"])
    q = parse_qs(target.query)
    assert (
        target.netloc == "webexapis.invalid"
        and q["client_id"] == ["cid-123"]
        and q["response_type"] == ["code"]
    )
    assert q["redirect_uri"] == ["http://gate.test/auth/webex/callback"] and q["scope"] == [
        "spark:people_read"
    ]
    return q["state"][0]


def test_webex_login_identifies_the_person_who_then_decides(
    oauth: tuple[Any, Gate, str, Any], bus: Bus, webex: tuple[str, Flask]
) -> None:
    """Given a Webex login, when the callback swaps the code, then Alice is in and her decision says so."""
    client, gate, link, case = oauth
    state = start_login(client, link)
    back = client.get("/auth/webex/callback", query_string={"code": "good-code", "state": state})
    assert back.status_code == 303 and back.headers["Location"] == link
    page = client.get(link)
    assert "Alice Ng <small>(webex-oauth)</small>" in page.get_data(as_text=True)
    data = {
        "csrf_token": csrf(page.get_data(as_text=True)),
        "target": "WS-042",
        "reason": "confirmed",
        "approve": "1",
    }
    assert client.post(link, data=data).status_code == 303
    (d,) = gate_events(bus, case.case_id, ActionDecided)
    assert d.identity_source == "webex-oauth" and d.decided_by == "alice@example.com"
    assert webex[1].config["seen"][0]["code"] == "good-code"


def test_webex_login_refuses_bad_state_strangers_and_failures(oauth: tuple[Any, Gate, str, Any]) -> None:
    """Given a forged state, a stranger's account and a bad code, when called back, then each is refused."""
    client, _, link, _ = oauth
    state = start_login(client, link)
    forged = client.get("/auth/webex/callback", query_string={"code": "good-code", "state": "forged"})
    assert forged.status_code == 400 and "did not match" in forged.get_data(as_text=True)
    replayed = client.get("/auth/webex/callback", query_string={"code": "good-code", "state": state})
    assert replayed.status_code == 400  # the state was consumed by the forged attempt
    state = start_login(client, link)
    stranger = client.get("/auth/webex/callback", query_string={"code": "stranger-code", "state": state})
    assert stranger.status_code == 403 and "zed@elsewhere.org, who is not in the on-call roster" in (
        stranger.get_data(as_text=True)
    )
    state = start_login(client, link)
    bad = client.get("/auth/webex/callback", query_string={"code": "nope", "state": state})
    assert bad.status_code == 502
    assert client.get(link).status_code == 303  # still not logged in
