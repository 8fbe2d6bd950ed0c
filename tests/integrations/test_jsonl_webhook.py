"""JSON Lines alerts and the signed webhook: both forms read, truth hidden, bad input dead-lettered."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask

from aisoc.bus import Bus
from aisoc.errors import ConfigError
from aisoc.events import Alert, AlertReceived, Disposition
from aisoc.sources import Rejected, open_source
from integrations.jsonl import normalize_generic, parse_severity, parse_truth
from integrations.webhook import SIGNATURE_HEADER, create_webhook_blueprint, sign

SECRET = "a-long-webhook-secret-value"
GENERIC = {
    "id": "evt-1",
    "title": "Beacon to hxxp://evil[.]com/gate",
    "severity": "high",
    "@timestamp": "2025-03-01T10:00:00Z",
    "host": {"name": "WS-7"},
    "user": "bob",
    "techniques": ["T1071.001", "T9999"],
    "close_notes": "C2 confirmed at 203.0.113.9",
    "truth": {"escalated": True, "label": "true_positive", "note": "contained"},
}
KERNEL = {
    "source": "siem",
    "source_id": "k-1",
    "title": "kernel record",
    "severity": 1,
    "created_at": "2025-03-01T10:00:00Z",
    "raw": {"msg": "login from 45.83.64.1", "label": "FP 198.51.100.7"},
    "truth": "closed",
}


def test_generic_alert_fields_are_found_and_truth_hidden() -> None:
    """Given a generic SIEM object with a truth and an analyst note, when normalized, then the fields map, the
    indicators come from evidence only, and neither truth nor note reach the model."""
    alert, truth = normalize_generic(dict(GENERIC))
    assert (alert.case_id, alert.severity, alert.hosts, alert.users) == ("jsonl:evt-1", 3, ["WS-7"], ["bob"])
    assert alert.techniques == ["T1071.001"]
    assert {i.value for i in alert.indicators} == {"http://evil.com/gate", "evil.com"}
    assert truth is not None and truth.escalated and truth.note == "contained"
    view = json.dumps(alert.model_view())
    assert "203.0.113.9" not in view and "contained" not in view and alert.raw["close_notes"]


def test_kernel_alert_records_are_read_as_is() -> None:
    """Given a kernel Alert record with a truth, when normalized, then it keeps its fields, gains the
    indicators of its raw evidence (not of its label), and the truth maps to closed."""
    alert, truth = normalize_generic(dict(KERNEL))
    assert (alert.case_id, alert.severity) == ("siem:k-1", 1)
    assert [i.value for i in alert.indicators] == ["45.83.64.1"]
    assert truth is not None and (truth.escalated, truth.label) == (False, Disposition.FALSE_POSITIVE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("escalated", (True, Disposition.TRUE_POSITIVE)),
        ("FP", (False, Disposition.FALSE_POSITIVE)),
        ("benign", (False, Disposition.BENIGN)),
        (True, (True, Disposition.TRUE_POSITIVE)),
        ({"escalated": False, "label": "benign"}, (False, Disposition.BENIGN)),
    ],
)
def test_truth_forms(value: object, expected: tuple[bool, Disposition]) -> None:
    """Given each accepted truth form, when parsed, then it means what it says."""
    truth = parse_truth(value)
    assert truth is not None and (truth.escalated, truth.label) == expected


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (4, 4), ("critical", 4), (7.5, 3), (35, 1), (95, 4)])
def test_severity_scales(value: object, expected: int) -> None:
    """Given severities as names, 0-4, 0-10 and 0-100 numbers, when parsed, then they land on 0-4."""
    assert parse_severity(value) == expected


def test_jsonl_file_rejects_bad_lines_and_keeps_them(tmp_path: Path) -> None:
    """Given JSON Lines with good records, garbage, no timestamp and an unknown truth, when read, then the bad
    lines are Rejected with a reason and their exact text."""
    lines = [
        json.dumps(GENERIC),
        "garbage",
        json.dumps({"title": "no time"}),
        json.dumps({**KERNEL, "truth": "maybe"}),
    ]
    path = tmp_path / "alerts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items = [a for a, _ in open_source("jsonl", str(path)).records()]
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [r.payload for r in rejected] == lines[1:]
    assert "no timestamp" in rejected[1].reason and "unknown truth value 'maybe'" in rejected[2].reason


def test_jsonl_reads_stdin_and_ids_records_without_one() -> None:
    """Given a record without an id twice on stdin, when read, then both get the same stable id."""
    record = json.dumps({"timestamp": "2025-01-01T00:00:00Z", "message": "port scan from 198.51.100.23"})
    source = open_source("jsonl", "-", stdin=io.BytesIO(f"{record}\n{record}\n".encode()))
    alerts = [a for a in source.poll() if isinstance(a, Alert)]
    assert len(alerts) == 2 and alerts[0].source_id == alerts[1].source_id
    assert alerts[0].source_id.startswith("sha256-")


@pytest.fixture()
def webhook() -> tuple[Flask, Bus]:
    bus = Bus()
    app = Flask("t")
    now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    app.register_blueprint(create_webhook_blueprint(bus, SECRET, max_body_bytes=4096, now=lambda: now))
    return app, bus


def post(
    app: Flask, body: bytes, signature: str | None = None, mimetype: str = "application/json"
) -> tuple[int, dict]:
    headers = {SIGNATURE_HEADER: signature if signature is not None else sign(SECRET, body)}
    response = app.test_client().post("/alerts", data=body, headers=headers, content_type=mimetype)
    return response.status_code, response.get_json()


def test_webhook_publishes_signed_alerts_once(webhook: tuple[Flask, Bus]) -> None:
    """Given a signed array of two alerts, when posted twice, then two cases are published once each."""
    app, bus = webhook
    body = json.dumps([GENERIC, {"id": "evt-2", "message": "no timestamp: receipt time used"}]).encode()
    status, answer = post(app, body)
    assert (status, answer["published"], answer["case_ids"]) == (202, 2, ["webhook:evt-1", "webhook:evt-2"])
    assert post(app, body)[1]["duplicates"] == 2
    published = [e for e in bus.audit if isinstance(e, AlertReceived)]
    assert len(published) == 2 and published[1].alert.created_at == datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def test_webhook_accepts_json_lines(webhook: tuple[Flask, Bus]) -> None:
    """Given a signed ndjson body, when posted, then each line is an alert."""
    app, _ = webhook
    body = (
        json.dumps({"id": "a", "time": 1700000000}) + "\n" + json.dumps({"id": "b", "time": 1700000001})
    ).encode()
    assert post(app, body, mimetype="application/x-ndjson")[1]["published"] == 2


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        ("", "missing X-Aisoc-Signature"),
        ("md5=abc", "must look like sha256="),
        ("sha256=" + "0" * 64, "does not match"),
    ],
)
def test_webhook_refuses_unsigned_or_badly_signed_bodies(
    webhook: tuple[Flask, Bus], signature: str, message: str
) -> None:
    """Given a missing, malformed or wrong signature, when posted, then 401 says why; nothing is published."""
    app, bus = webhook
    status, answer = post(app, json.dumps(GENERIC).encode(), signature=signature)
    assert status == 401 and message in answer["error"]
    assert not list(bus.audit)


def test_webhook_bad_bodies_are_clear_errors(webhook: tuple[Flask, Bus]) -> None:
    """Given a body that is not JSON, not objects, or too large, when posted signed, then 400/413 say why."""
    app, _ = webhook
    assert post(app, b"{oops")[0] == 400
    status, answer = post(app, b"[1, 2]")
    assert status == 400 and "not JSON objects" in answer["error"]
    assert post(app, b"[]")[1]["error"] == "no alert in the body"
    status, answer = post(app, json.dumps({"id": "x", "pad": "y" * 5000}).encode())
    assert status == 413 and "exceeds" in answer["error"]


def test_webhook_unreadable_alerts_are_dead_lettered(webhook: tuple[Flask, Bus]) -> None:
    """Given a signed alert whose truth is unreadable, when posted, then 422 gives the reason and the payload
    waits in the dead-letter stream."""
    app, bus = webhook
    status, answer = post(app, json.dumps({**GENERIC, "truth": "perhaps"}).encode())
    assert status == 422 and "unknown truth value" in answer["errors"][0]
    letters = bus.dead_letters()
    assert len(letters) == 1 and json.loads(letters[0].payload)["id"] == "evt-1"


def test_webhook_needs_a_real_secret() -> None:
    """Given a short secret, when the blueprint is built, then a ConfigError says how long it must be."""
    with pytest.raises(ConfigError, match="16"):
        create_webhook_blueprint(Bus(), "short")


def test_webhook_json_nested_past_the_parser_is_a_clear_400(webhook: tuple[Flask, Bus]) -> None:
    """Given a signed body (and a JSON Lines body) nested 1,500 deep, past the parser, when posted,
    then 400 says so (not a 500 the sender would retry forever) and nothing is published."""
    app, bus = webhook
    deep = b"[" * 1500 + b"]" * 1500
    status, answer = post(app, deep)
    assert status == 400 and "nested too deep" in answer["error"]
    status, answer = post(app, json.dumps(GENERIC).encode() + b"\n" + deep, mimetype="application/x-ndjson")
    assert status == 400 and answer["error"] == "line 2: JSON nested too deep to read"
    assert not list(bus.audit)
