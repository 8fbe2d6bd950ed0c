"""Websocket mode: recorded device frames through webex-bot's real client, into the same receiver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from webex_bot.websockets.webex_websocket_client import WebexWebsocketClient
from webexpythonsdk import WebexAPI

from aisoc.bus import Bus
from bot.service import Bot
from bot.transport import WebsocketTransport
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, deliver, settle
from tests.bot.fake_webex import TOKEN, FakeWebex, raw_uuid
from tests.gate.factory import publish_case

FRAMES = json.loads((Path(__file__).parent / "frames" / "mercury.json").read_text())


class Socket:
    """Stands in for the open websocket: records the acks the client sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, data: str) -> None:
        self.sent.append(json.loads(data))


class RecordedClient(WebexWebsocketClient):  # type: ignore[misc]
    """webex-bot's client, unchanged except that it talks to the fake instead of Webex's hosts."""

    def __init__(self, fake: FakeWebex, **kwargs: Any) -> None:
        self._fake = fake
        super().__init__(**kwargs)
        self.teams = WebexAPI(access_token=TOKEN, base_url=fake.base_url)
        self.teams._session.update_headers(self._get_headers())
        self.websocket = Socket()

    def _get_device_url(self) -> str:
        return f"{self._fake.url}/wdm/api/v1"


def frame(
    name: str, fake: FakeWebex, item: dict[str, Any], actor: dict[str, Any], parent: str = ""
) -> dict[str, Any]:
    """A recorded frame with the fake's ids filled in."""
    text = json.dumps(FRAMES[name])
    for key, value in {
        "$CONV_BASE": f"{fake.url}/conversation/api/v1",
        "$ACTIVITY": raw_uuid(item["id"]),
        "$ROOM_UUID": raw_uuid(item["roomId"]),
        "$ACTOR_UUID": raw_uuid(actor["id"]),
        "$ACTOR_EMAIL": actor["emails"][0],
        "$ACTOR_NAME": actor["displayName"],
        "$BOT_UUID": raw_uuid(fake.bot["id"]),
        "$PARENT_UUID": raw_uuid(parent) if parent else "",
    }.items():
        text = text.replace(key, value)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@pytest.fixture
def transport(bot: Bot, space: Space) -> WebsocketTransport:
    """The websocket transport bound to the bot's receiver, its client wired to the fake."""
    t = WebsocketTransport(TOKEN, "aisoc", client_factory=lambda **kw: RecordedClient(space.fake, **kw))
    t.bind(bot.receiver)
    return t


def test_a_posted_message_frame_is_answered_and_acked(
    bot: Bot, space: Space, clock: WallClock, transport: WebsocketTransport
) -> None:
    """Given Alice's message as a device frame, when processed, then it is acked and answered in thread."""
    msg = space.fake.person_says(space.alice, space.soc, "help")
    transport.client._process_incoming_websocket_message(frame("post", space.fake, msg, space.alice))
    assert [o.status for o in transport.outcomes] == ["answered"]
    assert transport.client.websocket.sent == [{"type": "ack", "messageId": msg["id"]}]
    settle(bot, clock)
    (answer,) = space.fake.posted(space.soc)
    assert answer["parentId"] == msg["id"] and "What I can do" in answer["markdown"]


def test_both_modes_share_deduplication_and_allowlists(
    bot: Bot, space: Space, client: FlaskClient, clock: WallClock, transport: WebsocketTransport
) -> None:
    """Given a redelivered frame, the same by webhook, and Mallory's frame, then one answer, one refusal."""
    msg = space.fake.person_says(space.alice, space.soc, "oncall")
    transport.client._process_incoming_websocket_message(frame("post", space.fake, msg, space.alice))
    transport.client._process_incoming_websocket_message(frame("post", space.fake, msg, space.alice))
    # The webhook keeps it; answering it from the inbox finds the websocket's key: nothing twice.
    assert deliver(client, space.fake.envelope("messages", msg)).get_json()["status"] == "queued"
    bad = space.fake.person_says(space.mallory, space.soc, "status")
    transport.client._process_incoming_websocket_message(frame("post", space.fake, bad, space.mallory))
    assert [o.status for o in transport.outcomes] == ["answered", "duplicate", "refused"]
    settle(bot, clock)
    assert len(space.fake.posted(space.soc)) == 1


def test_a_card_action_frame_reaches_the_same_handler(
    bot: Bot, space: Space, bus: Bus, clock: WallClock, transport: WebsocketTransport
) -> None:
    """Given Bob clicks Explain, when the cardAction frame arrives, then the case thread gets the answer."""
    case = publish_case(bus)
    settle(bot, clock)
    root = space.fake.posted(space.soc)[0]
    action = space.fake.person_submits(space.bob, root["id"], {"cmd": "explain", "case_id": case.case_id})
    transport.client._process_incoming_websocket_message(
        frame("cardAction", space.fake, action, space.bob, parent=root["id"])
    )
    assert [o.status for o in transport.outcomes] == ["answered"]
    settle(bot, clock)
    answer = space.fake.posted(space.soc)[-1]
    assert answer["parentId"] == root["id"] and f"`{case.case_id}`" in answer["markdown"]


def test_frames_the_bot_does_not_handle_are_ignored(space: Space, transport: WebsocketTransport) -> None:
    """Given a read receipt and the bot's own post, when they arrive, then nothing is answered."""
    own = space.fake._message(space.fake.bot, space.soc["id"], {"markdown": "a card"})
    transport.client._process_incoming_websocket_message(frame("acknowledge", space.fake, own, space.alice))
    transport.client._process_incoming_websocket_message(frame("post", space.fake, own, space.fake.bot))
    assert [o.status for o in transport.outcomes] == ["ignored"]
