"""Two organisations' real Wazuh days (same hosts, same source ids) in one SOC, the bot serving them:
the world of the tenant rooms' and the bound people's tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import time_machine
from flask.testing import FlaskClient

from aisoc.bus import Bus
from aisoc.events import AlertReceived, ProducedBy, ReviewRequested, Role
from bot.service import Bot
from gate.service import Gate
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, bot_settings, deliver, settle
from tests.bot.story import NEIGHBOURS, Story, publish_story, real_alerts, rekeyed, tenant_case
from tests.gate.factory import T0

GLOBEX_ONLY = "wazuh:BRfK1pcB1Hp-jZ7flKn3"
"""A real record (sudo to ROOT on wazuh-server, user wazuh-user) that only globex has."""
PAM = NEIGHBOURS[0]
"""The PAM login failure on Linux-Server: each tenant's Tier 2 asks a person to review it."""


@dataclass
class World:
    """Two tenants' days and the rooms the bot serves."""

    bot: Bot
    client: FlaskClient
    rooms: dict[str, dict[str, Any]]
    stories: dict[str, Story]
    reviews: dict[str, ReviewRequested]


def _review(bus: Bus, tenant: str) -> ReviewRequested:
    event = ReviewRequested(
        case_id=tenant_case(PAM, tenant),
        produced_by=ProducedBy(role="tier2"),
        role=Role.TIER2,
        reason="Repeated PAM failures for vboxuser: a person should look.",
        duty=Role.TIER2,
    )
    bus.publish(event)
    return event


@contextmanager
def two_tenants(
    bus: Bus,
    gate: Gate,
    space: Space,
    clock: WallClock,
    bind: tuple[str, ...] = ("acme", "globex"),
    **settings: Any,
) -> Iterator[World]:
    """acme and globex, each the Shellshock day of the real Wazuh alerts filed under it, each with a
    review waiting; globex also has a sudo on wazuh-server. The rooms of the tenants in ``bind`` are
    bound (the others' threads are in the SOC room); ``settings``: more of the bot's settings."""
    fake = space.fake
    rooms = {
        "soc": space.soc,
        "acme": fake.add_room("Acme SOC", space.alice, space.bob, space.erin),
        "globex": fake.add_room("Globex SOC", space.alice, space.bob, space.erin),
    }
    with time_machine.travel(T0, tick=False):
        stories = {t: publish_story(bus, T0, t) for t in ("acme", "globex")}
        sudo = rekeyed(real_alerts((GLOBEX_ONLY,))[GLOBEX_ONLY], "globex")
        bus.publish(AlertReceived(alert=sudo, case_id=sudo.case_id, produced_by=ProducedBy(role="ingest")))
        reviews = {t: _review(bus, t) for t in ("acme", "globex")}
        for story in stories.values():
            for proposal in story.proposals.values():
                gate.submit(proposal)
        bound = {tenant: rooms[tenant]["id"] for tenant in bind}
        b = Bot(
            bot_settings(fake, space.soc, tenant_rooms=bound, **settings),
            bus=bus,
            gate=gate,
            gate_settings=gate.settings,
            clock=clock,
        )
        try:
            settle(b, clock)
            app = b.create_app()
            app.testing = True
            yield World(b, app.test_client(), rooms, stories, reviews)
        finally:
            b.close()


def ask(
    world: World,
    space: Space,
    clock: WallClock,
    room: str,
    text: str,
    thread: str | None = None,
    *,
    person: dict[str, Any] | None = None,
) -> str:
    """Erin (or ``person``) says ``text`` to the bot in ``room`` (a signed webhook); returns what the
    bot answered."""
    msg = space.fake.person_says(person or space.erin, world.rooms[room], text, parent=thread)
    assert deliver(world.client, space.fake.envelope("messages", msg)).status_code == 200
    with time_machine.travel(T0, tick=False):
        settle(world.bot, clock)
    root = thread or msg["id"]
    posted = space.fake.posted(world.rooms[room])
    before = list(space.fake.messages).index(msg["id"])
    answers = [
        m for m in posted if m.get("parentId") == root and list(space.fake.messages).index(m["id"]) > before
    ]
    assert answers, f"no answer to {text!r} in {room}"
    return "\n\n".join(str(m.get("markdown") or "") for m in answers)


def shown(message: dict[str, Any]) -> str:
    """Everything a posted message shows (its text and its card)."""
    return json.dumps([message.get("markdown"), message.get("attachments")])


def case_root(space: Space, room: dict[str, Any], case_id: str) -> dict[str, Any]:
    """The first post of a case's thread in a room."""
    return next(m for m in space.fake.posted(room) if "parentId" not in m and case_id in shown(m))


def settings_file(tmp_path: Path, text: str) -> str:
    """``text`` as the settings file ``tmp_path/aisoc.toml``; returns its path."""
    path = tmp_path / "aisoc.toml"
    path.write_text(text)
    return str(path)
