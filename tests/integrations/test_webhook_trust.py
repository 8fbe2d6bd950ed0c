"""The webhook's trust boundary: a sender speaks only for its own sources, and the whole body is what is
limited and signed, whatever the transfer encoding."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from aisoc.bus import Bus
from aisoc.errors import ConfigError
from aisoc.events import AlertReceived
from integrations.webhook import SIGNATURE_HEADER, Sender, create_app, create_webhook_blueprint, sign
from tests.integrations.fakes import serve

SECRET = "a-long-webhook-secret-value"
XSOAR_SECRET = "the-xsoar-forwarders-own-secret"
LIMIT = 4096


def app_with(bus: Bus) -> Flask:
    app = Flask("t")
    app.config["MAX_CONTENT_LENGTH"] = LIMIT  # as create_app sets it: the app's limit must not cut bodies
    blueprint = create_webhook_blueprint(
        bus, SECRET, max_body_bytes=LIMIT, senders=[Sender.of(XSOAR_SECRET, ["xsoar"])]
    )
    app.register_blueprint(blueprint)
    return app


def post(app: Flask, body: bytes, secret: str = SECRET, **headers: str) -> tuple[int, dict]:
    sent = {SIGNATURE_HEADER: sign(secret, body), "Content-Type": "application/json", **headers}
    response = app.test_client().post("/alerts", data=body, headers=sent)
    return response.status_code, response.get_json()


@pytest.mark.parametrize(
    "claim",
    [
        {"source": "xsoar", "id": "4242", "title": "pre-claimed", "timestamp": "2025-03-01T10:00:00Z"},
        {
            "source": "xsoar",
            "source_id": "4242",
            "title": "t",
            "severity": 2,
            "created_at": "2025-03-01T10:00:00Z",
        },
        {"source": "XSOAR", "id": "4242", "message": "case of the name does not matter"},
        {"source": "xsoar", "id": "4242", "truth": "perhaps"},  # unreadable: not even dead-lettered
    ],
)
def test_a_webhook_cannot_speak_for_another_source(claim: dict) -> None:
    """Given the generic sender's secret, when a body (even one alert among good ones) names source
    xsoar, then 403 says which, nothing at all is published or dead-lettered; XSOAR's sender may."""
    bus = Bus()
    app = app_with(bus)
    body = json.dumps([{"id": "fine", "message": "m"}, claim]).encode()
    status, answer = post(app, body)
    assert status == 403 and "item 2 names source 'xsoar'" in answer["error"]
    assert list(bus.audit) == [] and bus.dead_letters() == []
    if "truth" not in claim:
        status, answer = post(app, json.dumps(claim).encode(), secret=XSOAR_SECRET)
        assert (status, answer["case_ids"]) == (202, ["xsoar:4242"])


def test_a_bound_sender_is_refused_the_default_source() -> None:
    """Given XSOAR's sender, when it posts a webhook-named alert, then 403: the binding works both ways, and
    alerts naming no source are filed under the sender's first source."""
    bus = Bus()
    app = app_with(bus)
    assert post(app, json.dumps({"source": "webhook", "id": "1"}).encode(), secret=XSOAR_SECRET)[0] == 403
    status, answer = post(app, json.dumps({"id": "77", "message": "m"}).encode(), secret=XSOAR_SECRET)
    assert (status, answer["case_ids"]) == (202, ["xsoar:77"])


def test_compressed_bodies_are_refused() -> None:
    """Given a gzip body (which could inflate far past the limit), when posted signed, then 415."""
    bus = Bus()
    body = gzip.compress(json.dumps({"id": "x"}).encode())
    status, answer = post(app_with(bus), body, **{"Content-Encoding": "gzip"})
    assert status == 415 and "uncompressed" in answer["error"] and list(bus.audit) == []


@pytest.fixture()
def server() -> Iterator[tuple[str, Bus]]:
    """The webhook on a real HTTP server (chunked requests are de-chunked by the server, as in production)."""
    bus = Bus()
    with serve(app_with(bus)) as url:
        yield url, bus


def chunked(url: str, body: bytes, signed_over: bytes) -> requests.Response:
    parts = iter([body[i : i + 1000] for i in range(0, len(body), 1000)])
    headers = {SIGNATURE_HEADER: sign(SECRET, signed_over), "Content-Type": "application/json"}
    return requests.post(f"{url}/alerts", data=parts, headers=headers, timeout=10)


def test_chunked_bodies_over_the_limit_are_refused_not_cut(server: tuple[str, Bus]) -> None:
    """Given a chunked body over the limit, signed over all of it or over its first LIMIT bytes, when posted,
    then both are refused with 413 and nothing is published; a chunked body under the limit is accepted."""
    url, bus = server
    alert = {"id": "big", "message": "m", "pad": "y" * (LIMIT * 2)}
    body = json.dumps(alert).encode()
    assert body.startswith(b'{"id": "big"')
    for signed_over in (body, body[:LIMIT]):
        response = chunked(url, body, signed_over)
        assert response.status_code == 413, response.text
    exact = json.dumps({"id": "edge", "pad": ""}).encode()
    exact = json.dumps({"id": "edge", "pad": "z" * (LIMIT - len(exact))}).encode()
    assert len(exact) == LIMIT
    response = chunked(url, exact, exact)
    assert response.status_code == 202 and response.json()["case_ids"] == ["webhook:edge"]
    assert [e.alert.source_id for e in bus.audit if isinstance(e, AlertReceived)] == ["edge"]


def test_senders_come_from_the_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given [integrations.webhook] with sources and a second sender, when the standalone app is built, then
    each secret publishes only for its own sources."""
    config = tmp_path / "aisoc.toml"
    config.write_text(
        '[integrations.webhook]\nsecret = "a-long-webhook-secret-value"\nsources = ["splunk"]\n'
        '[[integrations.webhook.senders]]\nsecret = "the-xsoar-forwarders-own-secret"\nsources = ["xsoar"]\n'
    )
    bus = Bus()
    app = create_app(str(config), bus=bus)
    client = app.test_client()

    def send(secret: str, item: dict) -> int:
        body = json.dumps(item).encode()
        headers = {SIGNATURE_HEADER: sign(secret, body), "Content-Type": "application/json"}
        return client.post("/webhook/alerts", data=body, headers=headers).status_code

    assert send(SECRET, {"source": "splunk", "id": "1"}) == 202
    assert send(SECRET, {"source": "xsoar", "id": "2"}) == 403
    assert send(XSOAR_SECRET, {"source": "xsoar", "id": "2"}) == 202
    assert send(XSOAR_SECRET, {"source": "splunk", "id": "3"}) == 403
    assert sorted(e.case_id for e in bus.audit) == ["splunk:1", "xsoar:2"]


ACME_SECRET = "acme-forwarders-own-secret-value"
GLOBEX_SECRET = "globex-forwarders-own-secret-val"


def test_a_sender_bound_to_a_tenant_cannot_file_alerts_for_another(tmp_path: Path) -> None:
    """Given an MSSP's settings with one forwarder per customer (each bound to its tenant), when acme's
    forwarder posts an alert that names globex (by any generic key: tenant, org, customer), then 403 and
    nothing of the body is published; an alert naming no tenant is filed under acme's, so both
    customers' alert 1 are two cases; an unbound sender may still name any tenant."""
    config = tmp_path / "aisoc.toml"
    config.write_text(
        '[integrations.webhook]\nsecret = "a-long-webhook-secret-value"\n'
        '[[integrations.webhook.senders]]\nsecret = "acme-forwarders-own-secret-value"\n'
        'sources = ["splunk"]\ntenants = [" acme "]\n'
        '[[integrations.webhook.senders]]\nsecret = "globex-forwarders-own-secret-val"\n'
        'sources = ["splunk"]\ntenants = ["globex"]\n'
    )
    bus = Bus()
    client = create_app(str(config), bus=bus).test_client()

    def send(secret: str, items: list[dict]) -> tuple[int, dict]:
        body = json.dumps(items).encode()
        headers = {SIGNATURE_HEADER: sign(secret, body), "Content-Type": "application/json"}
        response = client.post("/webhook/alerts", data=body, headers=headers)
        return response.status_code, response.get_json()

    for key in ("tenant", "org", "customer"):
        status, answer = send(ACME_SECRET, [{"id": "0", "message": "m"}, {"id": "1", key: "globex"}])
        assert status == 403 and "item 2 is for tenant 'globex'" in answer["error"], key
    assert list(bus.audit) == [] and bus.dead_letters() == []
    assert send(ACME_SECRET, [{"id": "3", "tenant": "ACME"}])[0] == 403  # tenants are case-sensitive
    assert send(ACME_SECRET, [{"id": "1", "message": "m"}])[1]["case_ids"] == ["acme/splunk:1"]
    status, acme = send(ACME_SECRET, [{"id": "2", "tenant": "acme", "message": "m"}])
    status_g, globex = send(GLOBEX_SECRET, [{"id": "1", "message": "m"}])
    assert (status, status_g) == (202, 202)
    assert acme["case_ids"] == ["acme/splunk:2"] and globex["case_ids"] == ["globex/splunk:1"]
    assert send(SECRET, [{"id": "9", "tenant": "globex", "message": "m"}])[0] == 202
    cases = sorted(e.case_id for e in bus.audit)
    assert cases == ["acme/splunk:1", "acme/splunk:2", "globex/splunk:1", "globex/webhook:9"]
    with pytest.raises(ConfigError, match="tenants must be non-empty"):
        Sender.of(ACME_SECRET, ["splunk"], [" "])


def test_the_main_secret_can_be_bound_to_tenants() -> None:
    """Given the main secret bound to tenant acme, when it posts for globex, then 403; for no tenant, the
    alert is acme's."""
    bus = Bus()
    app = Flask("t")
    app.register_blueprint(create_webhook_blueprint(bus, SECRET, tenants=["acme"]))
    assert post(app, json.dumps({"id": "1", "org_id": "globex"}).encode())[0] == 403
    status, answer = post(app, json.dumps({"id": "1", "message": "m"}).encode())
    assert (status, answer["case_ids"]) == (202, ["acme/webhook:1"])
