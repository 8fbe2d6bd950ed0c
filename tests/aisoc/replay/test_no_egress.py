"""Nothing leaves the process during a replay: proven at the network boundary.

The boundary is patched by the test itself (socket connect/sendto/getaddrinfo, ``socket.create_connection``,
http.client, urllib and httpx transports), independently of the replay's own guard, and every attempt
is recorded. A replay from the CLI, with a production-looking bus and vendor settings in the
environment, must make none; a tool that tries to phone home is caught and refused.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aisoc.cli import main
from aisoc.events import Verdict
from aisoc.replay import EgressBlocked, EgressGuard
from aisoc.tools import tool
from tests.aisoc.replay.support import WAZUH, run
from tests.support.fake_model import ScriptedChatModel, call


class Boundary:
    """Every way out of the process the test can see, each recording the attempt and refusing it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, sockets_only: bool = False) -> None:
        self.attempts: list[str] = []
        mp = monkeypatch

        def refuse(what: str) -> Any:
            def fn(*args: Any, **kwargs: Any) -> Any:
                self.attempts.append(f"{what} {args[1:] if what.startswith('socket.') else args}"[:200])
                raise ConnectionRefusedError(f"test boundary: {what}")

            return fn

        mp.setattr(socket.socket, "connect", refuse("socket.connect"))
        mp.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
        mp.setattr(socket.socket, "sendto", refuse("socket.sendto"))
        if sockets_only:  # the lowest level only: whatever is above it runs for real
            return
        mp.setattr(socket, "create_connection", refuse("create_connection"))
        mp.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
        mp.setattr(http.client.HTTPConnection, "connect", refuse("http.client"))
        mp.setattr(urllib.request, "urlopen", refuse("urlopen"))
        mp.setattr(httpx.HTTPTransport, "handle_request", refuse("httpx"))
        mp.setattr(httpx.AsyncHTTPTransport, "handle_async_request", refuse("httpx-async"))


@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Boundary]:
    """The network boundary at the socket level only (httpx, urllib and friends run for real above it)."""
    yield Boundary(monkeypatch, sockets_only=True)


def test_a_cli_replay_with_recall_ab_makes_no_connection_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given production settings in the environment, when `aisoc replay --recall ab` runs, then nothing
    tries to leave the process: no bus, no Webex, no vendor, no DNS lookup."""
    monkeypatch.setenv("AISOC_BUS", "redis://10.1.2.3:6379/0")  # the production bus must not be touched
    monkeypatch.setenv("AISOC_TOOLS", "integrations.tools:build_tools")  # vendor tools must stay off
    monkeypatch.setenv("WEBEX_BOT_TOKEN", "not-a-real-token")
    monkeypatch.chdir(tmp_path)
    boundary = Boundary(monkeypatch)
    out = tmp_path / "m.json"
    status = main(
        ["replay", str(WAZUH), "--source", "wazuh", "--dry-run", "--recall", "ab", "--out", str(out)]
    )
    assert status == 0, capsys.readouterr().err
    metrics = json.loads(out.read_text())
    assert metrics["tickets"] == 89 and metrics["recall_ab"] is not None
    assert boundary.attempts == []
    assert not any(e["stage"] == "egress" for e in metrics["errors"])


def test_a_tool_that_phones_home_is_refused_and_reported(sockets: Boundary, tmp_path: Path) -> None:
    """Given a tool that calls out over HTTP, when a role calls it during a replay, then the replay's guard
    refuses the connection before it reaches the boundary, and the metrics report it."""

    @tool()
    def ioc_reputation(value: str) -> str:
        """Reputation of an indicator (this fake asks a remote service)."""
        with httpx.Client(base_url="http://203.0.113.9:8080") as c:
            return c.get("/rep", params={"v": value}).text

    model = ScriptedChatModel(
        scripts={
            "sentinel": [
                call("ioc_reputation", {"value": "1.2.3.4"}),
                {"verdict": Verdict.BENIGN.value, "confidence": 0.5, "priority": 2, "summary": "looked up"},
            ]
        }
    )
    result = run(WAZUH, "wazuh", model=model, limit=1, tools=[ioc_reputation])
    egress = [e for e in result.metrics["errors"] if e["stage"] == "egress"]
    assert len(egress) == 1 and "203.0.113.9:8080" in egress[0]["message"]
    assert [a.allowed for a in result.egress] == [False]
    assert sockets.attempts == []  # the guard stopped it before the (test's) socket boundary
    (sentinel_call,) = [c for r in result.arms["off"] for c in r.calls if c.role == "sentinel"]
    assert sentinel_call.tool_calls == 1


def test_the_guard_lets_only_the_model_server_through() -> None:
    """Given a guard allowing one local port, when code connects there and elsewhere, then only the
    allowed connection is made and both attempts are recorded."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    port, closed_port = server.getsockname()[1], other.getsockname()[1]
    other.close()
    try:
        with EgressGuard(allow=[("127.0.0.1", port)]) as guard:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            with pytest.raises(EgressBlocked):
                socket.create_connection(("127.0.0.1", closed_port), timeout=2)
            with pytest.raises(OSError, match="replay isolation: outbound connection to 192.0.2.1:80"):
                urllib.request.urlopen("http://192.0.2.1/", timeout=2)  # urllib wraps it in a URLError
    finally:
        server.close()
    assert [a.allowed for a in guard.attempts] == [True, False, False]
    assert socket.socket.connect is not None and guard.blocked[0].address == f"127.0.0.1:{closed_port}"
