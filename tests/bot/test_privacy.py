"""Privacy in every process: what people type into the gate and the bot, and what an audit import brings,
is redacted by the configured patterns before it is stored (every process opens its bus with
``aisoc.bus.open_bus``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aisoc.bus import Bus
from aisoc.cli import main
from aisoc.events import ActionDecided, CaseClosed, TruthLabeled
from bot.service import Bot
from gate.app import create_app
from gate.service import Gate
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, bot_settings
from tests.bot.test_commands import ask
from tests.gate.factory import Clock, gate_settings, publish_case

SECRET = "hunter2-Zq81x"
"""What a person types that the "secrets" preset must never let reach the log."""


@pytest.fixture
def bus_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A SQLite bus named only by the settings every process reads, with the secrets preset on."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    monkeypatch.setenv("AISOC_BUS", url)
    monkeypatch.setenv("AISOC_REDACT_PRESETS", '["secrets"]')
    monkeypatch.setenv("AISOC_REDACT_PATTERNS", '["WS-SECRET-\\\\d+"]')
    yield url


def stored_text(url: str) -> str:
    """Everything the audit log holds, as text."""
    return "\n".join(e.model_dump_json() for e in Bus(url).audit)


def test_reasons_typed_into_the_gate_are_redacted_in_the_audit_log(bus_url: str) -> None:
    """Given the gate app built from settings alone, when a person rejects with a password in the reason,
    then the decision is stored with the password redacted."""
    app = create_app(gate_settings(bus=None, namespace=None))
    gate: Gate = app.extensions["aisoc_gate"].gate
    gate.clock = Clock()
    case = publish_case(gate.bus)
    req = gate.submit(case.proposal)
    gate.decide(
        req.request_id,
        person_id="alice",
        decision="rejected",
        reason=f"no: the box password={SECRET} and WS-SECRET-77 is the CEO's",
        identity_source="sso-proxy",
    )
    (decided,) = [e for e in Bus(bus_url).audit if isinstance(e, ActionDecided)]
    assert "[REDACTED]" in decided.reason and "password=" in decided.reason
    assert SECRET not in stored_text(bus_url) and "WS-SECRET-77" not in stored_text(bus_url)
    gate.close()


def test_words_typed_to_the_bot_are_redacted_in_the_audit_log(bus_url: str, space: Space) -> None:
    """Given the bot built from settings alone, when Bob closes a case with a token in his reason, then
    the closure and the label are stored with the token redacted."""
    gate = Gate(Bus(bus_url), gate_settings(), clock=Clock())
    clock = WallClock()
    bot = Bot(bot_settings(space.fake, space.soc), gate=gate, gate_settings=gate.settings, clock=clock)
    case = publish_case(bot.bus)
    answer = ask(bot, space, clock, f"close {case.case_id} tp token: {SECRET} seen on WS-SECRET-9", who="bob")
    assert "as true positive" in answer
    closed = [e for e in Bus(bus_url).audit if isinstance(e, CaseClosed)]
    labels = [e for e in Bus(bus_url).audit if isinstance(e, TruthLabeled)]
    assert len(closed) == len(labels) == 1 and "[REDACTED]" in (closed[0].reason or "")
    assert SECRET not in stored_text(bus_url) and "WS-SECRET-9" not in stored_text(bus_url)
    bot.close()
    gate.close()


def test_audit_import_applies_todays_redaction(bus_url: str, tmp_path: Path) -> None:
    """Given an export made before redaction was configured, when imported with it on, then nothing
    matching the patterns is stored."""
    plain = f"sqlite:///{tmp_path / 'old.db'}"
    gate = Gate(Bus(plain), gate_settings(), clock=Clock())
    req = gate.submit(publish_case(gate.bus).proposal)
    gate.decide(
        req.request_id, person_id="alice", decision="rejected", reason=f"pwd={SECRET}", identity_source="s"
    )
    gate.close()
    assert SECRET in stored_text(plain)
    export = tmp_path / "old.jsonl.gz"
    assert main(["audit", "export", "--bus", plain, "--out", str(export)]) == 0
    assert main(["audit", "import", str(export)]) == 0
    assert len(Bus(bus_url).audit) == len(Bus(plain).audit) and SECRET not in stored_text(bus_url)
