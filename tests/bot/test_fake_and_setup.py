"""The fake holds the bot to Webex's limits through the real SDK; ``aisoc bot setup`` is idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aisoc.cli import main
from bot.errors import RateLimited, Refused
from bot.webex import WebexSpace
from bot.webhooks import WEBHOOKS, setup_webhooks
from tests.bot.conftest import Space
from tests.bot.factory import SECRET, bot_settings
from tests.bot.fake_webex import CARD, TOKEN

GOOD_CARD = {"contentType": CARD, "content": {"type": "AdaptiveCard", "version": "1.3", "body": []}}


@pytest.fixture
def webex(space: Space) -> WebexSpace:
    """The bot's Webex client (webexpythonsdk) against the fake."""
    return WebexSpace(bot_settings(space.fake, space.soc))


def test_the_fake_enforces_webex_message_limits_through_the_sdk(webex: WebexSpace, space: Space) -> None:
    """Given the real SDK, when messages break Webex's limits, then each is refused; a valid card is not."""
    room = space.soc["id"]
    bad: list[dict[str, Any]] = [
        {"roomId": room, "markdown": "x", "attachments": [GOOD_CARD, GOOD_CARD]},
        {"roomId": room, "markdown": "é" * 3720},
        {
            "roomId": room,
            "markdown": "x",
            "attachments": [{**GOOD_CARD, "content": {"type": "AdaptiveCard"}}],
        },
        {"roomId": room, "attachments": [GOOD_CARD]},
    ]
    for body in bad:
        with pytest.raises(Refused) as e:
            webex.create_message(body)
        assert e.value.status == 400
    root = webex.create_message({"roomId": room, "markdown": "ok", "attachments": [GOOD_CARD]})
    reply = webex.create_message({"roomId": room, "markdown": "r", "parentId": root["id"]})
    with pytest.raises(Refused, match="reply to a reply"):
        webex.create_message({"roomId": room, "markdown": "rr", "parentId": reply["id"]})


def test_the_fake_rate_limits_and_caps_edits(webex: WebexSpace, space: Space) -> None:
    """Given a 429 and ten edits, when posting and editing, then Retry-After is raised and edit 11 fails."""
    space.fake.rate_limits.append(12)
    with pytest.raises(RateLimited) as e:
        webex.create_message({"roomId": space.soc["id"], "markdown": "x"})
    assert e.value.retry_after == 12
    msg = webex.create_message({"roomId": space.soc["id"], "markdown": "v0"})
    for n in range(10):
        webex.update_message(msg["id"], {"roomId": space.soc["id"], "markdown": f"v{n + 1}"})
    with pytest.raises(Refused, match="at most 10"):
        webex.update_message(msg["id"], {"roomId": space.soc["id"], "markdown": "v11"})
    assert webex.get_message(msg["id"])["markdown"] == "v10"


def test_setup_registers_each_webhook_once_however_often_it_runs(webex: WebexSpace, space: Space) -> None:
    """Given a duplicate and another app's webhook, when setup runs twice, then one of each is ours:
    messages created, updated (edits) and deleted, and card submits, all signed with the secret."""
    settings = bot_settings(space.fake, space.soc)
    stale = webex.create_webhook(
        name="aisoc messages", targetUrl="https://old.example/hook", resource="messages", event="created"
    )
    webex.create_webhook(
        name="aisoc messages", targetUrl="https://old.example/x", resource="messages", event="created"
    )
    other = webex.create_webhook(
        name="crm", targetUrl="https://crm.example", resource="rooms", event="created"
    )
    first = setup_webhooks(webex, settings)
    assert first.updated == ["aisoc messages"]
    assert first.created == ["aisoc messages updated", "aisoc messages deleted", "aisoc attachmentActions"]
    assert len(first.deleted) == 1
    second = setup_webhooks(webex, settings)
    assert (second.created, second.deleted) == ([], [])
    hooks = {(w["resource"], w["name"]): w for w in webex.list_webhooks()}
    assert set(hooks) == {
        ("messages", "aisoc messages"),
        ("messages", "aisoc messages updated"),
        ("messages", "aisoc messages deleted"),
        ("attachmentActions", "aisoc attachmentActions"),
        ("rooms", "crm"),
    }
    assert [hooks[("messages", f"aisoc messages {e}")]["event"] for e in ("updated", "deleted")] == [
        "updated",
        "deleted",
    ]
    for resource, name in (
        ("messages", "aisoc messages"),
        ("messages", "aisoc messages updated"),
        ("messages", "aisoc messages deleted"),
        ("attachmentActions", "aisoc attachmentActions"),
    ):
        hook = hooks[(resource, name)]
        assert (hook["targetUrl"], hook["secret"], hook["status"]) == (
            "https://bot.example/webex/webhook",
            SECRET,
            "active",
        )
    assert hooks[("messages", "aisoc messages")]["id"] == stale["id"] and hooks[("rooms", "crm")] == other


def test_aisoc_bot_setup_reads_the_settings_file(
    space: Space, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a [bot] table, when `aisoc bot setup` runs, then it prints what it registered and exits 0."""
    config = tmp_path / "aisoc.toml"
    config.write_text(
        f'[bot]\ntoken = "{TOKEN}"\nbase_url = "{space.fake.base_url}"\n'
        f'test_server = "{space.fake.base_url}"\nsoc_room_id = "{space.soc["id"]}"\n'
        f'webhook_secret = "{SECRET}"\npublic_url = "https://bot.example"\n'
    )
    assert main(["--config", str(config), "bot", "setup"]) == 0
    out = capsys.readouterr().out
    assert "webhooks -> https://bot.example/webex/webhook" in out and "created aisoc messages" in out
    assert len(space.fake.webhooks) == len(WEBHOOKS)


def test_the_fake_lists_and_deletes_messages_and_knows_rooms_through_the_sdk(
    webex: WebexSpace, space: Space
) -> None:
    """Given two posts, when listed, one deleted and the room fetched, then the SDK sees what Webex shows."""
    first = webex.create_message({"roomId": space.soc["id"], "markdown": "one"})
    webex.create_message({"roomId": space.soc["id"], "markdown": "two"})
    listed = [m.markdown for m in webex.api.messages.list(roomId=space.soc["id"])]
    assert listed == ["two", "one"]
    webex.api.messages.delete(first["id"])
    assert [m.markdown for m in webex.api.messages.list(roomId=space.soc["id"])] == ["two"]
    assert webex.get_room(space.soc["id"])["type"] == "group" and webex.me()["type"] == "bot"
    assert [r.title for r in webex.api.rooms.list()] == ["SOC", "Watercooler"]
