"""Builders for the bot's tests: a roster with one person per duty, the bot's settings against the fake,
a wall clock moved by hand, and the events a SOC day produces."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aisoc.bus import Bus
from aisoc.events import (
    Alert,
    AlertReceived,
    CaseClosed,
    ProducedBy,
    ReviewRequested,
    Role,
    ShiftSummary,
    TriageVerdict,
)
from bot.service import Bot
from bot.settings import BotSettings
from gate.settings import GateSettings, RosterSettings
from tests.bot.fake_webex import TOKEN, FakeWebex
from tests.gate.factory import LINK_KEYS, T0

SECRET = "webhook-secret-for-tests"
"""The webhook secret the fake signs deliveries with."""

ROSTER: dict[str, Any] = {
    "people": {
        "alice": {"name": "Alice Ng", "email": "alice@example.com"},
        "bob": {"name": "Bob Ray", "email": "bob@example.com"},
        "erin": {"name": "Erin Fox", "email": "erin@example.com"},
        "dave": {"name": "Dave Kim", "email": "dave@example.com"},
    },
    "duties": {
        "ir_lead": {
            "rotations": [{"people": ["alice"], "start": "2020-01-06", "period": "weekly"}],
            "executors": ["bob"],
        },
        "tier2": {"rotations": [{"people": ["erin"], "start": "2020-01-06", "period": "daily"}]},
        "soc_manager": {"rotations": [{"people": ["dave"], "start": "2020-01-06", "period": "weekly"}]},
    },
}
"""One person per duty, from 2020 on: whoever "now" is, Alice holds IR Lead and Erin Tier 2; Bob carries
out IR Lead's approved actions; Dave is SOC Manager."""


def gate_settings(**overrides: Any) -> GateSettings:
    """The gate's settings the bot signs links with."""
    values: dict[str, Any] = {
        "link_keys": LINK_KEYS,
        "base_url": "http://gate.test",
        "auth": ["proxy"],
        "roster": RosterSettings(**ROSTER),
        **overrides,
    }
    return GateSettings(**values)


def bot_settings(fake: FakeWebex | None, room: dict[str, Any] | None = None, **overrides: Any) -> BotSettings:
    """Settings against the fake (``fake=None``: offline, the preview is the space)."""
    values: dict[str, Any] = {
        "room_interval_s": 1.0,
        "digest_interval_s": 600,
        "error_notice_interval_s": 900,
        "sev_mentions": {},  # the SEV announcement has tests of its own (test_handoff)
    }
    if fake is not None:
        values.update(
            token=TOKEN,
            base_url=fake.base_url,
            test_server=fake.base_url,
            soc_room_id=room["id"] if room else None,
            webhook_secret=SECRET,
            public_url="https://bot.example",
        )
    values.update(overrides)
    return BotSettings(**values)


@dataclass
class WallClock:
    """The bot's wall clock (seconds), moved by hand: pacing and Retry-After without sleeping."""

    now: float = T0.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def sign(body: bytes, secret: str = SECRET) -> str:
    """The X-Spark-Signature of a body."""
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def deliver(
    client: Any, envelope: dict[str, Any], *, secret: str | None = SECRET, signature: str | None = None
) -> Any:
    """POST a webhook delivery to the bot app's test client, signed like Webex signs it."""
    body = json.dumps(envelope).encode()
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Spark-Signature"] = signature
    elif secret is not None:
        headers["X-Spark-Signature"] = sign(body, secret)
    return client.post("/webex/webhook", data=body, headers=headers)


def alert(n: int, title: str = "Logon failure burst", host: str = "WS-100") -> AlertReceived:
    """An alert of case ``jsonl:alert-n``."""
    a = Alert(
        source="jsonl",
        source_id=f"alert-{n}",
        title=title,
        rule="4625",
        severity=1,
        created_at=T0 - timedelta(minutes=5),
        hosts=[host],
    )
    return AlertReceived(alert=a, case_id=a.case_id, produced_by=ProducedBy(role="ingest"))


def sentinel_closes(bus: Bus, n: int, title: str = "Logon failure burst") -> str:
    """Publish an alert that Sentinel closes as benign; returns the case id."""
    received = alert(n, title)
    cid = received.case_id or ""
    verdict = TriageVerdict(
        case_id=cid,
        produced_by=ProducedBy(role="sentinel"),
        verdict="benign",
        confidence=0.7 + (n % 3) / 10,
        priority=1,
        summary="Known scanner.",
        routed_to="closed",
    )
    closed = CaseClosed(
        case_id=cid,
        produced_by=ProducedBy(role="sentinel"),
        disposition="benign",
        reason="known scanner",
        closed_by={"role": "sentinel"},
    )
    bus.publish_many([received, verdict, closed])
    return cid


def review(bus: Bus, n: int = 7) -> ReviewRequested:
    """Publish an alert Tier 2 could not decide."""
    received = alert(n, "Odd PowerShell on a build agent", "BUILD-7")
    event = ReviewRequested(
        case_id=received.case_id,
        produced_by=ProducedBy(role="tier2"),
        role=Role.TIER2,
        reason="Signals conflict: signed binary, unusual parent.",
        duty=Role.TIER2,
    )
    bus.publish_many([received, event])
    return event


def shift(bus: Bus) -> ShiftSummary:
    """Publish a shift summary."""
    event = ShiftSummary(
        produced_by=ProducedBy(role="soc_manager"),
        window_start=T0 - timedelta(hours=8),
        window_end=T0,
        alerts_received=12,
        escalations=2,
        cases_closed=9,
        summary="Quiet shift.",
    )
    bus.publish(event)
    return event


def settle(bot: Bot, clock: WallClock, rounds: int = 200) -> None:
    """Consume the bus and send everything, moving the clock past each room's pace (no sleeping)."""
    for _ in range(rounds):
        bot.feed.drain()
        if not bot.sender.pump():
            wake = bot.store.next_wakeup()
            if wake is None:
                return
            clock.now = max(clock.now, wake)
