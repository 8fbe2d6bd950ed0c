"""``aisoc gate ...`` admin commands against a durable SQLite bus and its gate file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from aisoc.bus import Bus
from aisoc.cli import main
from gate import Gate, load_gate_settings
from gate.links import link_signer
from tests.gate.factory import LINK_KEYS, SESSION_KEYS, publish_case
from tests.gate.test_roster import ROSTER_TOML


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "aisoc.toml"
    path.write_text(
        f'[aisoc]\nbus = "sqlite:///{tmp_path}/soc.db"\n\n'
        f"[gate]\nlink_keys = {json.dumps(LINK_KEYS)}\nsession_keys = {json.dumps(SESSION_KEYS)}\n"
        'base_url = "https://gate.example.com"\n' + ROSTER_TOML
    )
    return path


def test_gate_commands_list_show_link_and_tick(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a request past its deadline in the gate file, when admin commands run, then they
    list it as expired (before and after the tick), show, link and tick it."""
    settings = load_gate_settings(config)
    assert settings.bus == f"sqlite:///{tmp_path}/soc.db" and settings.roster.auditors == ["frank"]
    bus = Bus(settings.bus)
    case = publish_case(bus, expires_in=timedelta(days=-1))  # already past its deadline
    Gate(bus, settings).submit(case.proposal)
    rid = case.proposal.event_id
    cfg = ["--config", str(config)]
    assert main([*cfg, "gate", "requests"]) == 0  # past its deadline: not pending, before any tick
    assert capsys.readouterr().out.strip() == "0 request(s)"
    assert main([*cfg, "gate", "requests", "--state", "all"]) == 0
    out = capsys.readouterr().out
    assert rid in out and "isolate_host" in out and " expired " in out and "1 request(s)" in out
    assert main([*cfg, "gate", "show", rid]) == 0
    assert json.loads(capsys.readouterr().out)["target"] == "WS-042"
    assert main([*cfg, "gate", "link", rid]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith(f"https://gate.example.com/a/{rid}?t=")
    assert (
        link_signer(settings).verify(url.split("?t=")[1], request_id=rid).plan_digest == case.plan.plan_digest
    )
    assert main([*cfg, "gate", "tick"]) == 0
    assert "expired 1" in capsys.readouterr().out
    assert main([*cfg, "gate", "requests", "--state", "expired", "--json"]) == 0
    assert [r["state"] for r in json.loads(capsys.readouterr().out)] == ["expired"]
    assert main([*cfg, "gate", "show", "nope"]) == 1
    assert main([*cfg, "gate", "new-secret"]) == 0
    assert len(capsys.readouterr().out.strip()) >= 40


def test_commands_that_need_a_key_say_which(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Given [gate] without keys outside demo mode, when a link is asked for, then the refusal names
    link_keys; listing requests needs no key at all."""
    path = tmp_path / "aisoc.toml"
    path.write_text(
        f'[aisoc]\nbus = "sqlite:///{tmp_path}/soc.db"\n[gate]\nbase_url = "https://gate.example.com"\n'
    )
    assert main(["--config", str(path), "gate", "requests"]) == 0
    capsys.readouterr()
    assert main(["--config", str(path), "gate", "link", "nope"]) == 2
    assert "setting 'link_keys'" in capsys.readouterr().err


def test_wsgi_application_reads_the_settings_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given AISOC_CONFIG, when a WSGI server builds the app, then it serves with the file's settings."""
    from gate.wsgi import application

    monkeypatch.setenv("AISOC_CONFIG", str(config))
    app = application()
    resp = app.test_client().get("/healthz")
    assert resp.get_json() == {"status": "ok"} and "max-age" in resp.headers["Strict-Transport-Security"]
