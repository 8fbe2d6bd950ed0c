"""The durable outbox and its one sender: pacing per room, 429, retries, throttled notices, restarts."""

from __future__ import annotations

from pathlib import Path

from aisoc.bus import Bus
from bot.service import Bot
from bot.store import Plan, Post
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, bot_settings, review, settle, shift
from tests.gate.factory import publish_case


def queue(bot: Bot, room: str, n: int, prefix: str = "p") -> None:
    """Queue ``n`` text posts to one room."""
    posts = [Post(post_id=f"{prefix}{i}", room_id=room, body={"markdown": f"post {i}"}) for i in range(n)]
    bot.store.apply(Plan(posts=posts))


def test_each_room_keeps_its_pace_without_holding_up_the_others(
    bot: Bot, space: Space, clock: WallClock
) -> None:
    """Given three posts for the SOC room and one elsewhere, when sending now, then one per room goes."""
    queue(bot, space.soc["id"], 3)
    queue(bot, space.other["id"], 1, prefix="o")
    assert [s.post_id for s in bot.sender.pump()] == ["p0", "o0"]
    clock.advance(bot.settings.room_interval_s)
    assert [s.post_id for s in bot.sender.pump()] == ["p1"]
    assert [m["markdown"] for m in space.fake.posted(space.soc)] == ["post 0", "post 1"]


def test_a_429_holds_the_room_for_retry_after_without_counting_a_failure(
    bot: Bot, space: Space, clock: WallClock
) -> None:
    """Given a 429 with Retry-After 30, when sending, then nothing is lost and it goes 30 s later."""
    queue(bot, space.soc["id"], 2)
    space.fake.rate_limits.append(30)
    assert [s.outcome for s in bot.sender.pump()] == ["rate_limited"]
    clock.advance(29)
    assert bot.sender.pump() == []
    clock.advance(1)
    assert [s.outcome for s in bot.sender.pump()] == ["sent"]
    assert bot.store.get("p0").attempts == 0  # type: ignore[union-attr]
    settle(bot, clock)
    assert [m["markdown"] for m in space.fake.posted(space.soc)] == ["post 0", "post 1"]


def test_a_burst_never_blocks_the_bus_while_webex_is_rate_limited(
    bot: Bot, space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given Webex rate limiting, when 20 cases escalate, then the bot's group is acked and posts wait."""
    space.fake.rate_limits.extend([60] * 5)
    for n in range(20):
        publish_case(bus, n)
    bot.feed.drain()
    bot.sender.pump()
    (group,) = [g for s in bus.stats().streams if s.name == "cases" for g in s.groups if g.name == "bot"]
    assert group.pending == 0 and group.lag in (0, None)
    assert bot.store.counts()["queued"] >= 40
    clock.advance(60)
    settle(bot, clock)
    assert bot.store.counts() == {"sent": 40} and len(space.fake.posted(space.soc)) == 40


def test_server_errors_are_retried_with_backoff_then_given_up_with_one_notice(
    space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a room Webex keeps failing, when posts die, then one notice per interval reaches the SOC room."""
    bot = Bot(bot_settings(space.fake, space.soc, max_attempts=3), bus=bus, clock=clock)
    space.fake.failures.extend([503] * 6)
    queue(bot, space.soc["id"], 2)
    settle(bot, clock)
    assert bot.store.get("p0").state == "dead" and bot.store.get("p1").state == "dead"  # type: ignore[union-attr]
    notices = [m for m in space.fake.posted(space.soc) if m["markdown"].startswith("⚠️")]
    assert len(notices) == 1 and "could not post 1 message(s)" in notices[0]["markdown"]
    assert "503" in notices[0]["markdown"]
    clock.advance(bot.settings.error_notice_interval_s)
    settle(bot, clock)
    notices = [m for m in space.fake.posted(space.soc) if m["markdown"].startswith("⚠️")]
    assert len(notices) == 2 and "could not post 1 message(s)" in notices[1]["markdown"]


def test_notices_never_notice_themselves(space: Space, bus: Bus, clock: WallClock) -> None:
    """Given the SOC room failing, when posts and notices die, then notices only ever report posts."""
    bot = Bot(bot_settings(space.fake, space.soc, max_attempts=1), bus=bus, clock=clock)
    space.fake.failures.extend([503] * 50)
    queue(bot, space.soc["id"], 3)
    for _ in range(5):
        clock.advance(bot.settings.error_notice_interval_s)
        settle(bot, clock)
    kinds = [p.kind for p in bot.store.posts("dead")]
    assert kinds == [None, None, None, "notice", "notice"]  # p0 at once; p1 and p2 rolled into the next
    assert bot.store.meta("notice_pending") == "0"


def test_a_refused_card_is_posted_as_text(bot: Bot, space: Space, clock: WallClock) -> None:
    """Given a card Webex refuses, when sent, then its markdown goes alone and nothing is lost."""
    bad = {
        "markdown": "**plan**",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {"type": "AdaptiveCard", "version": "9.9"},
            }
        ],
    }
    bot.store.apply(Plan(posts=[Post(post_id="bad", room_id=space.soc["id"], body=bad)]))
    assert [s.outcome for s in bot.sender.pump()] == ["degraded", "sent"]
    (msg,) = space.fake.posted(space.soc)
    assert msg["markdown"] == "**plan**" and "attachments" not in msg


def test_a_restart_loses_no_post_and_sends_none_twice(space: Space, tmp_path: Path, clock: WallClock) -> None:
    """Given 5 posts queued (a shift summary and its handover among them), 2 sent, when the bot restarts on
    the same files, then the rest go, once each."""
    bus_url = f"sqlite:///{tmp_path}/soc.db"
    bus = Bus(bus_url)
    first = Bot(bot_settings(space.fake, space.soc, room_interval_s=0), bus=bus, clock=clock)
    review(bus, 1)
    publish_case(bus, 2)
    shift(bus)
    first.feed.drain()
    queued = first.store.counts()["queued"]
    assert [s.outcome for s in first.sender.pump(limit=2)] == ["sent", "sent"]
    first.close()
    bus.close()

    bus = Bus(bus_url)
    second = Bot(bot_settings(space.fake, space.soc, room_interval_s=0), bus=bus, clock=clock)
    assert second.store.path == str(tmp_path / "soc.bot.db")
    settle(second, clock)
    posted = space.fake.posted(space.soc)
    assert queued == 5 and second.store.counts() == {"sent": 5}
    assert len(posted) == len({m["markdown"] for m in posted}) == 5
    second.close()
    bus.close()


def test_an_event_planned_but_not_acked_before_a_crash_is_posted_once(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given the feed queued a review's post but died before its ack, when redelivered, then one post."""
    review(bus, 3)
    (d,) = bus.consume("bot", "crashed", streams=["cases"], count=10)[-1:]
    bot.store.apply(bot.composer.plan(d.event))
    d.release()  # the process died: the entry is pending, not acked
    settle(bot, clock)
    assert len(space.fake.posted(space.soc)) == 1 and bot.store.counts() == {"sent": 1}
