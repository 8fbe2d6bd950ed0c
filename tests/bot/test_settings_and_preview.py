"""Settings read at the edge, the local preview of the space, and ``aisoc demo --serve``."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from flask.testing import FlaskClient

from aisoc.bus import Bus
from aisoc.cli import main
from aisoc.errors import ConfigError
from aisoc.events import ProducedBy, Tier2Decided
from bot.errors import Refused
from bot.policy import classify
from bot.preview import PreviewSpace
from bot.service import Bot
from bot.settings import load_bot_settings
from tests.bot.factory import WallClock, bot_settings, gate_settings, settle
from tests.gate.factory import publish_case

HEADERS = {"X-Aisoc-Preview": "1"}


def write(tmp_path: Path, text: str) -> str:
    """A settings file."""
    path = tmp_path / "aisoc.toml"
    path.write_text(text)
    return str(path)


def test_settings_name_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a token without room, webhooks without secret, websocket without token: each error names it."""
    monkeypatch.delenv("WEBEX_ACCESS_TOKEN", raising=False)
    cases = {
        '[bot]\ntoken = "t"\nwebhook_secret = "s"\n': "needs soc_room_id",
        '[bot]\ntoken = "t"\nsoc_room_id = "r"\n': "needs webhook_secret",
        '[bot]\nmode = "websocket"\n': "websocket needs a token",
        '[bot]\ncase_url = "https://cases.example/x"\n': "must contain {case_id}",
    }
    for text, expected in cases.items():
        with pytest.raises(ConfigError, match=expected):
            load_bot_settings(write(tmp_path, text))


def test_settings_fall_back_to_the_kernel_and_the_sdk_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given [aisoc] bus, $WEBEX_ACCESS_TOKEN and [bot.noise], when loaded, then all three are used."""
    monkeypatch.setenv("WEBEX_ACCESS_TOKEN", "from-env")
    path = write(
        tmp_path,
        '[aisoc]\nbus = "sqlite:///soc.db"\nnamespace = "acme"\n'
        '[bot]\nmode = "websocket"\nsoc_room_id = "room-1"\n[bot.noise]\ncard = ["tier2.decision"]\n',
    )
    settings = load_bot_settings(path)
    assert settings.token is not None and settings.token.get_secret_value() == "from-env"
    assert (settings.bus, settings.namespace, settings.offline) == ("sqlite:///soc.db", "acme", False)
    close = Tier2Decided(produced_by=ProducedBy(role="tier2"), decision="close", confidence=0.7, summary="ok")
    assert classify(close, settings.noise) == "card"
    assert classify(close, bot_settings(None).noise) == "card"


@pytest.fixture
def offline(bus: Bus, clock: WallClock) -> Iterator[Bot]:
    """A bot without a token: the local preview is its space."""
    b = Bot(bot_settings(None), bus=bus, gate_settings=gate_settings(), clock=clock)
    yield b
    b.close()


@pytest.fixture
def preview(offline: Bot) -> FlaskClient:
    """The offline bot's app."""
    return offline.create_app().test_client()


def test_the_preview_page_loads_the_bundled_renderer_from_the_bot_itself(
    preview: FlaskClient, bundled: None
) -> None:
    """Given the bundled renderer, when the page opens, then scripts come only from the bot (strict CSP)."""
    resp = preview.get("/preview")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "vendor-missing" not in html
    assert (
        '<script src="/static/vendor/adaptivecards.min.js">' in html
        and "https://" not in html.split("<body")[0]
    )
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert preview.get("/static/vendor/adaptivecards.min.js").status_code == 200


def test_the_preview_says_clearly_when_the_renderer_is_not_bundled(offline: Bot, tmp_path: Path) -> None:
    """Given no vendor files (a plain ``pip install -e .[webex]``), when the page is opened, then it still
    works (cards as text) and says how to build the renderer."""
    app = offline.create_app()
    app.static_folder = str(tmp_path)
    resp = app.test_client().get("/preview")
    assert resp.status_code == 200 and "make vendor" in resp.get_data(as_text=True)
    assert "adaptivecards.min.js" in resp.get_data(as_text=True)


def test_the_person_at_the_preview_talks_to_the_same_receiver(
    offline: Bot, preview: FlaskClient, bus: Bus, clock: WallClock
) -> None:
    """Given a card in the preview, when the person types and clicks Explain, then both get thread answers."""
    case = publish_case(bus)
    settle(offline, clock)
    assert preview.post("/preview/api/messages", json={"text": "help"}).status_code == 400  # no page header
    said = preview.post("/preview/api/messages", json={"text": "oncall"}, headers=HEADERS).get_json()
    assert said["outcome"] == "answered"
    root = offline.preview.messages()[0]  # type: ignore[union-attr]
    clicked = preview.post(
        "/preview/api/actions",
        json={"messageId": root["id"], "inputs": {"cmd": "explain", "case_id": case.case_id}},
        headers=HEADERS,
    ).get_json()
    assert clicked["outcome"] == "answered"
    settle(offline, clock)
    feed = preview.get("/preview/api/messages?since=0").get_json()["messages"]
    answers = [m for m in feed if m["personId"] == "preview-bot" and not m["attachments"]]
    assert [a["parentId"] for a in answers] == [said["message"]["id"], root["id"]]
    assert (
        "IR Lead On-Call: Alice Ng" in answers[0]["markdown"]
        and f"`{case.case_id}`" in answers[1]["markdown"]
    )
    assert preview.get("/healthz").get_json()["preview"] is True


def test_aisoc_demo_without_serve_keeps_its_output(capsys: pytest.CaptureFixture[str]) -> None:
    """Given the plain demo, when it runs, then it prints the paths and the summary and serves nothing."""
    # The demo roster rotates Dana and Lee weekly from 2026-01-05: freeze a Dana week, not the calendar.
    with time_machine.travel(datetime(2026, 1, 6, 12, 0, tzinfo=UTC), tick=True):
        assert main(["demo", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "SOC-in-a-Box demo" in out and "Nothing was executed" in out and "Open http" not in out
    assert "awaits IR Lead On-Call (Dana Ruiz)" in out  # the path ends at the gate, naming the person


def test_aisoc_demo_serve_posts_to_the_preview_and_stops_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    """Given --serve on free ports briefly, when the demo runs, then it points at the preview, exits 0."""
    assert (
        main(["demo", "--limit", "6", "--serve", "--serve-for", "0.3", "--port", "0", "--gate-port", "0"])
        == 0
    )
    out = capsys.readouterr().out
    assert "Open http://127.0.0.1:" in out and "/preview" in out and "demo login" in out


def test_aisoc_demo_serve_on_a_taken_port_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """Given the preview's port taken, when --serve starts, then it exits 1 naming the ports."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["demo", "--serve", "--port", str(port), "--gate-port", "0"]) == 1
    assert f"cannot serve on 127.0.0.1 ports {port}/0" in capsys.readouterr().err


def test_the_preview_keeps_only_its_newest_messages() -> None:
    """Given a preview that keeps 3 messages, when 5 are posted, then the 3 newest are kept; a reply
    into a forgotten thread is accepted, an edit of a forgotten message is refused, and a parent the
    preview never made is still refused."""
    preview = PreviewSpace(max_messages=3)
    sent = [preview.create_message({"markdown": f"m{i}"}) for i in range(5)]
    assert [m["markdown"] for m in preview.messages()] == ["m2", "m3", "m4"]
    reply = preview.create_message({"markdown": "r", "parentId": sent[0]["id"]})
    assert reply["parentId"] == sent[0]["id"]
    assert [m["markdown"] for m in preview.messages()] == ["m3", "m4", "r"]
    with pytest.raises(Refused):
        preview.update_message(sent[1]["id"], {"markdown": "edited"})
    with pytest.raises(Refused):
        preview.create_message({"markdown": "r", "parentId": "msg-99-0123abcd"})
    with pytest.raises(Refused):
        preview.create_message({"markdown": "r", "parentId": reply["id"]})  # not the top of a thread
