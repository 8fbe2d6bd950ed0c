"""gunicorn's settings for the gate come from ``[gate]``: where it binds, whom it believes, and a clear
refusal (not a traceback) when the pages' keys are missing."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.gate.factory import LINK_KEYS, SESSION_KEYS


def load_conf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gate_table: str) -> ModuleType:
    path = tmp_path / "aisoc.toml"
    path.write_text(f"[gate]\n{gate_table}\n")
    monkeypatch.setenv("AISOC_CONFIG", str(path))
    monkeypatch.delitem(sys.modules, "gate.gunicorn_conf", raising=False)
    return importlib.import_module("gate.gunicorn_conf")


def test_gunicorn_binds_and_trusts_what_the_gate_settings_say(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Given host, port and trusted proxies in [gate], then gunicorn binds there and believes
    X-Forwarded-Proto only from those proxies; no control socket, threads for concurrent people."""
    monkeypatch.setenv("AISOC_GATE_SESSION_KEYS", json.dumps(SESSION_KEYS))
    conf = load_conf(
        monkeypatch,
        tmp_path,
        'host = "::1"\nport = 8799\ntrusted_proxies = ["10.0.0.0/24", "::1"]\n'
        f"link_keys = {json.dumps(LINK_KEYS)}",
    )
    assert conf.bind == ["[::1]:8799"] and conf.forwarded_allow_ips == "10.0.0.0/24,::1"
    assert conf.forwarder_headers == ""  # no header moves the gate's path: base_url says it
    assert conf.worker_class == "gthread" and conf.workers == 2 and conf.control_socket_disable


def test_gunicorn_refuses_to_start_without_the_session_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Given no session keys in the gate's environment, then gunicorn stops at once naming the setting."""
    monkeypatch.delenv("AISOC_GATE_SESSION_KEYS", raising=False)
    with pytest.raises(SystemExit, match="session_keys"):
        load_conf(monkeypatch, tmp_path, f"link_keys = {json.dumps(LINK_KEYS)}")


def test_gunicorn_warns_that_a_per_worker_rate_limit_store_multiplies_the_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Given the default memory:// rate-limit store and two workers, when gunicorn is ready, then its
    log says a person may send twice the limit and how to share the count; with a shared store or
    one worker it says nothing."""
    monkeypatch.setenv("AISOC_GATE_SESSION_KEYS", json.dumps(SESSION_KEYS))
    conf = load_conf(monkeypatch, tmp_path, f"link_keys = {json.dumps(LINK_KEYS)}")
    said: list[str] = []

    class Server:
        def __init__(self, workers: int) -> None:
            self.cfg = type("Cfg", (), {"workers": workers})()
            self.log = type("Log", (), {"warning": lambda _, msg, *args: said.append(msg % args)})()

    conf.when_ready(Server(1))
    assert said == []
    conf.when_ready(Server(2))
    (warning,) = said
    assert "2 x '10 per minute'" in warning and "rate_limit_storage" in warning
