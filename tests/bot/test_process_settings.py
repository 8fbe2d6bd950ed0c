"""Per-process settings: the gate and the bot have their own names, the bot talks only to Webex (or a
named stand-in), metrics listen on loopback, and every process logs as ``log_json`` says."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator

import pytest

from aisoc.cli._common import JsonFormatter
from aisoc.errors import ConfigError
from aisoc.settings import KernelSettings
from bot.settings import load_bot_settings
from gate.cli import _log
from gate.settings import load_gate_settings
from tests.bot.factory import SECRET, TOKEN


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[pytest.MonkeyPatch]:
    """No settings file and no AISOC_* variables but the ones a test sets."""
    monkeypatch.chdir(str(tmp_path))
    import os

    for name in [n for n in os.environ if n.startswith("AISOC_") or n == "WEBEX_ACCESS_TOKEN"]:
        monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield monkeypatch
    root.handlers[:] = handlers
    root.setLevel(level)


def test_gate_and_bot_read_their_own_ports_and_urls(clean: pytest.MonkeyPatch) -> None:
    """Given AISOC_GATE_* and AISOC_BOT_* in one environment, then each process reads only its own."""
    clean.setenv("AISOC_GATE_PORT", "8800")
    clean.setenv("AISOC_GATE_BASE_URL", "https://gate.example")
    clean.setenv("AISOC_BOT_PORT", "8810")
    gate, bot = load_gate_settings(demo=True), load_bot_settings()
    assert (gate.port, gate.base_url, bot.port) == (8800, "https://gate.example", 8810)
    assert bot.base_url == "https://webexapis.com/v1/"


@pytest.mark.parametrize("name", ["AISOC_PORT", "AISOC_BASE_URL", "AISOC_HOST"])
def test_the_old_shared_names_are_refused_with_the_new_ones_named(
    clean: pytest.MonkeyPatch, name: str
) -> None:
    """Given a variable the gate and the bot once shared, then both refuse to start and name their own."""
    clean.setenv(name, "8800" if name == "AISOC_PORT" else "http://127.0.0.1:8700")
    suffix = name.removeprefix("AISOC_")
    with pytest.raises(ConfigError, match=f"{name} is no longer read.*AISOC_GATE_{suffix}"):
        load_gate_settings(demo=True)
    with pytest.raises(ConfigError, match=f"{name} is no longer read.*AISOC_BOT_{suffix}"):
        load_bot_settings()


def test_an_old_name_of_one_process_still_works_with_a_warning(
    clean: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Given AISOC_SOC_ROOM_ID (the bot's own setting under the old prefix), then it is read and the log
    says which name replaces it."""
    clean.setenv("AISOC_SOC_ROOM_ID", "room-1")
    with caplog.at_level(logging.WARNING):
        assert load_bot_settings().soc_room_id == "room-1"
    assert "AISOC_SOC_ROOM_ID is deprecated for the bot: set AISOC_BOT_SOC_ROOM_ID" in caplog.text


def test_the_bot_refuses_a_base_url_that_is_not_webex(clean: pytest.MonkeyPatch) -> None:
    """Given a base URL other than Webex's, then the bot refuses to start unless it is the configured test
    server; Webex's own URL needs nothing."""
    values = {"token": TOKEN, "soc_room_id": "r", "webhook_secret": SECRET}
    with pytest.raises(ConfigError, match="is not Webex.*would send its token there"):
        load_bot_settings(base_url="http://gate.internal:8700", **values)
    with pytest.raises(ConfigError, match="is not Webex"):
        load_bot_settings(base_url="https://webexapis.com.evil.example/v1", **values)
    fake = "http://127.0.0.1:9999/v1/"
    assert load_bot_settings(base_url=fake, test_server=fake, **values).base_url == fake
    assert (
        load_bot_settings(base_url="https://webexapis.com/v1", **values).base_url
        == "https://webexapis.com/v1/"
    )


def test_metrics_listen_on_loopback_unless_told(clean: pytest.MonkeyPatch) -> None:
    """Given no setting, then metrics endpoints bind loopback; metrics_host changes it."""
    assert KernelSettings().metrics_host == "127.0.0.1"
    clean.setenv("AISOC_METRICS_HOST", "0.0.0.0")
    assert KernelSettings().metrics_host == "0.0.0.0"


def test_the_gate_logs_json_when_log_json_is_set(
    clean: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given log_json on, when the gate's process sets up logging, then each line is a JSON object."""
    clean.setenv("AISOC_LOG_JSON", "true")
    _log(argparse.Namespace(config=None), load_gate_settings(demo=True))
    assert isinstance(logging.getLogger().handlers[0].formatter, JsonFormatter)
    logging.getLogger("gate.test").warning("approval %s pending", "r-1")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert json.loads(line)["message"] == "approval r-1 pending"
