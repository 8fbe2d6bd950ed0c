"""Fixtures for the bot: the fake Webex served over HTTP, a space with people, the Bot and its app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from aisoc.bus import Bus
from bot.app import missing_vendor
from bot.service import Bot
from gate.service import Gate
from tests.bot.factory import WallClock, bot_settings, gate_settings
from tests.bot.fake_webex import FakeWebex
from tests.conftest import IN_CI
from tests.gate.factory import Clock


@dataclass
class Space:
    """The fake's people and rooms for one test."""

    fake: FakeWebex
    alice: dict[str, Any]
    bob: dict[str, Any]
    erin: dict[str, Any]
    mallory: dict[str, Any]
    soc: dict[str, Any]
    other: dict[str, Any]


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[FakeWebex]:
    """The fake Webex REST API on a free port; its bot is named by the test module's ``BOT_NAME``
    (default "aisoc")."""
    f = FakeWebex(bot_name=getattr(request.module, "BOT_NAME", "aisoc")).start()
    yield f
    f.stop()


@pytest.fixture
def space(fake: FakeWebex) -> Space:
    """Alice (IR Lead), Bob, Erin (Tier 2) and Mallory (not allowed) in the SOC room; another room."""
    alice = fake.add_person("alice@example.com", "Alice Ng")
    bob = fake.add_person("bob@example.com", "Bob Ray")
    erin = fake.add_person("erin@example.com", "Erin Fox")
    mallory = fake.add_person("mallory@evil.example", "Mallory Stone")
    soc = fake.add_room("SOC", alice, bob, erin, mallory)
    other = fake.add_room("Watercooler", alice, mallory)
    return Space(fake, alice, bob, erin, mallory, soc, other)


@pytest.fixture
def clock() -> WallClock:
    """The bot's wall clock."""
    return WallClock()


@pytest.fixture
def gate(bus: Bus) -> Iterator[Gate]:
    """The gate over the bus, at the factory's T0 (proposals expire two hours later)."""
    g = Gate(bus, gate_settings(), clock=Clock())
    yield g
    g.close()


@pytest.fixture
def bot(space: Space, bus: Bus, gate: Gate, clock: WallClock) -> Iterator[Bot]:
    """The bot against the fake, its SOC room, the gate's links and roster."""
    b = Bot(bot_settings(space.fake, space.soc), bus=bus, gate=gate, gate_settings=gate.settings, clock=clock)
    yield b
    b.close()


@pytest.fixture
def client(bot: Bot) -> FlaskClient:
    """A test client of the bot's app."""
    app = bot.create_app()
    app.testing = True
    return app.test_client()


@pytest.fixture
def bundled() -> None:
    """The preview's card renderer must be bundled: skip saying how to build it (fail under CI)."""
    from pathlib import Path

    import bot

    missing = missing_vendor(Path(bot.__file__).parent / "static")
    if missing:
        why = (
            f"the preview's renderer is not bundled ({', '.join(missing)} missing from bot/static/vendor/): "
            "run `make vendor` (npm ci in bot/web/, needs node) or `make install`"
        )
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)


def answers_to(space: Space, msg: dict[str, Any], thread: str | None = None) -> list[dict[str, Any]]:
    """What the bot posted in answer to ``msg``: in its thread (``thread``, or the thread ``msg``
    starts), from ``msg`` on, oldest first."""
    root = thread or msg["id"]
    return [
        m
        for m in space.fake.posted(space.soc)
        if m.get("parentId") == root and m["created"] >= msg["created"]
    ]
