"""``aisoc card EVENT_JSON``: the card, its fallback and the Webex message of an event, and clear errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from aisoc.cli import main
from tests.cards.checks import schema_errors
from tests.cards.factories import CURL, GATE, alert, plan, triage


def write(tmp_path: Path, name: str, data: object) -> str:
    """Write JSON to a file and return its path."""
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_card_prints_a_valid_card(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Given an event file, when `aisoc card FILE` runs, then it prints a valid Adaptive Card 1.3."""
    event = write(tmp_path, "e.json", triage(alert(CURL)).to_dict())
    assert main(["card", event]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["version"] == "1.3" and schema_errors(card) == []


def test_card_with_context_names_the_approver_and_links_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a plan and a context file, when rendered by the CLI, then approver and gate buttons appear."""
    a = alert(CURL)
    p = plan(a, actions=1)
    ctx = {
        "alert": a.model_dump(mode="json"),
        "approvers": {"ir_lead": {"name": "Dana Ruiz", "email": "dana.ruiz@example.com"}},
        "gate_links": {"act-1": f"{GATE}/act-1?sig=x"},
        "case_url": "https://soc.example/cases/1",
        "review_sla_minutes": 30,
        "timezone": "Europe/Berlin",
    }
    args = ["card", write(tmp_path, "p.json", p.to_dict()), "--context", write(tmp_path, "c.json", ctx)]
    assert main(args) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["actions"][0] == {
        "type": "Action.OpenUrl",
        "title": "Approve isolate host Win11Client",
        "url": f"{GATE}/act-1?sig=x",
        "style": "positive",
    }
    assert "Action required from: IR Lead On-Call — Dana Ruiz" in json.dumps(card, ensure_ascii=False)
    assert main([*args, "--fallback"]) == 0
    text = capsys.readouterr().out
    assert "<@personEmail:dana.ruiz@example.com|Dana Ruiz>" in text and "10:12 CEST" in text


def test_card_reads_stdin_and_prints_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given an event on stdin, when `aisoc card - --message` runs, then it prints a Webex message body."""
    monkeypatch.setattr("sys.stdin", io.StringIO(triage(alert(CURL)).to_json()))
    assert main(["card", "-", "--message"]) == 0
    message = json.loads(capsys.readouterr().out)
    assert message["markdown"].startswith("**Sentinel · Malicious")
    assert message["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"type": "triage.verdict", "produced_by": {"role": "sentinel"}}, "field 'verdict'"),
        ({"type": "no.such.event"}, "unknown event type 'no.such.event'"),
        (
            {"type": "control.paused", "scope": "all", "by": "a", "produced_by": {"role": "human"}},
            "no card for",
        ),
        ([1, 2, 3], "event payload must be an object"),
    ],
)
def test_invalid_events_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: object, error: str
) -> None:
    """Given an invalid or unsupported event, when run through the CLI, then exit 2 with a clear message."""
    assert main(["card", write(tmp_path, "bad.json", payload)]) == 2
    captured = capsys.readouterr()
    assert error in captured.err and captured.out == ""
    assert "Traceback" not in captured.err


def test_unreadable_input_and_bad_context_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a missing file, broken JSON, a file that is not UTF-8 or a bad context, when run, then exit 2
    and say which."""
    assert main(["card", str(tmp_path / "missing.json")]) == 2
    assert "cannot read event" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert main(["card", str(broken)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    latin = tmp_path / "latin1.json"
    latin.write_bytes('{"summary": "caf\u00e9"}'.encode("latin-1"))
    assert main(["card", str(latin)]) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err
    event = write(tmp_path, "e.json", triage(alert(CURL)).to_dict())
    assert main(["card", event, "--context", write(tmp_path, "c.json", {"gate_link": {}})]) == 2
    assert "unknown field(s) ['gate_link']" in capsys.readouterr().err
    assert (
        main(["card", event, "--context", write(tmp_path, "c.json", {"gate_links": {"a": "ftp://x"}})]) == 2
    )
    assert "not an absolute http(s) URL" in capsys.readouterr().err
