"""The feed handles deliveries a batch at a time and keeps every guarantee of one at a time:
acked only once stored, nothing queued twice on redelivery, a bad event alone dead-lettered,
plans before their actions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from aisoc.bus import Bus, Delivery
from aisoc.events import ProducedBy, ReviewRequested, Role
from bot.feed import BATCH, GROUP, MAX_BATCH
from bot.service import Bot
from bot.store import Plan
from gate.service import Gate
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, bot_settings, review, sentinel_closes, settle
from tests.cards.checks import all_text
from tests.gate.factory import publish_case


class Crash(BaseException):
    """The process dies (not an error the feed may catch)."""


def unacked(bus: Bus) -> int:
    """Entries of the bot's streams its group has read but not acked."""
    return sum(g.pending for s in bus.stats().streams for g in s.groups if g.name == GROUP)


def test_a_crash_between_the_commit_and_the_ack_queues_nothing_twice(
    bot: Bot, space: Space, bus: Bus, gate: Gate, clock: WallClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a batch of cases stored but the process dying before its ack, when the entries are
    redelivered, then no post is queued a second time and each message reaches Webex once."""
    for n in range(6):
        publish_case(bus, n, steps=2)
    review(bus, 40)
    taken: list[Delivery] = []

    def die(deliveries: Any) -> None:
        taken.extend(deliveries)
        raise Crash

    monkeypatch.setattr(bus, "ack_many", die)
    with pytest.raises(Crash):
        bot.feed.run_once()
    monkeypatch.undo()
    stored = bot.store.counts()["queued"]
    assert stored >= 13 and unacked(bus) == len(taken) > 7  # every case's cards, committed, unacked
    for d in taken:
        d.release()  # the process died: another start reads them again
    settle(bot, clock)
    posted = space.fake.posted(space.soc)
    assert unacked(bus) == 0 and bot.store.counts() == {"sent": stored}
    assert len(posted) == stored and len({m["id"] for m in posted}) == stored
    assert len([m for m in posted if "parentId" not in m]) == 7  # one thread per case, none opened twice


def test_one_bad_event_is_dead_lettered_and_the_rest_of_its_batch_is_stored(
    bot: Bot, space: Space, bus: Bus, clock: WallClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a batch in which one event's planning fails after it wrote a post, when the feed runs
    until quiet, then that event is dead-lettered for the bot with nothing of it stored, and every
    other event of the batch is posted."""
    cases = [publish_case(bus, n) for n in range(5)]
    bad = cases[2].plan
    apply = bot.store.apply

    def half_then_fail(plan: Plan, **kw: Any) -> list[str]:
        queued = apply(plan, **kw)  # the post is written inside the event's savepoint ...
        if any(p.source_event_id == bad.event_id for p in plan.posts):
            raise RuntimeError("renderer bug")  # ... and must be rolled back with it
        return queued

    monkeypatch.setattr(bot.store, "apply", half_then_fail)
    settle(bot, clock)
    (letter,) = bus.dead_letters()
    assert letter.group == GROUP and letter.event_id == bad.event_id and "renderer bug" in letter.reason
    assert letter.delivery_count == bus.max_deliveries
    assert bot.store.get(bad.event_id) is None
    posted = {p.source_event_id for p in bot.store.posts()}
    assert {c.plan.event_id for c in cases} - posted == {bad.event_id}
    assert unacked(bus) == 0


def test_a_batch_that_cannot_commit_is_handled_one_event_at_a_time(
    bot: Bot, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the store failing a whole batch's commit (its writes rolled back), when the feed runs,
    then each delivery is stored in its own transaction and acked, and nothing is lost."""
    for n in range(4):
        publish_case(bus, n)
    real = bot.store.batch

    @contextmanager
    def refuse() -> Iterator[None]:
        with real():
            yield
            raise OSError("disk I/O error at commit")

    monkeypatch.setattr(bot.store, "batch", refuse)
    handled = bot.feed.run_once()
    assert handled == bot.feed.handled == 16 and unacked(bus) == 0  # 4 x verdict, Tier 2, plan, proposal
    assert bot.store.counts() == {"queued": 8}  # 4 x Tier 2's card and the plan's card


def test_in_one_batch_each_event_sees_the_posts_of_those_before_it(
    bot: Bot, space: Space, bus: Bus, gate: Gate, clock: WallClock
) -> None:
    """Given a plan and its decision, and a review and its acknowledgement, all waiting before the
    bot reads anything, when one round handles them, then the acknowledgement edits the review's
    card queued earlier in its own, uncommitted batch, and the decision edits the plan's card."""
    case = publish_case(bus, steps=2)
    gate.submit(case.proposals[0])
    gate.decide(
        case.proposals[0].event_id, person_id="alice", decision="rejected", reason="no", identity_source="sso"
    )
    asked = review(bus, 9)
    bus.publish(
        ReviewRequested(
            case_id=asked.case_id,
            causation_id=asked.event_id,
            produced_by=ProducedBy(role="human"),
            role=Role.HUMAN,
            reason="acknowledged",
            duty=Role.TIER2,
            assignee="erin@example.com",
        )
    )
    bot.feed.run_once()
    posts = bot.store.posts()
    edits = [p for p in posts if p.op == "update"]
    assert {p.target_post_id for p in edits} == {case.plan.event_id, asked.event_id}
    first = {p.post_id: p.seq for p in posts}
    assert all(first[p.target_post_id] < p.seq for p in edits)  # type: ignore[index]
    settle(bot, clock)
    assert bot.store.counts() == {"sent": len(posts)}


def test_cases_are_read_before_actions_whatever_the_backlog(bot: Bot, bus: Bus) -> None:
    """Given more waiting cases than one batch holds, when the feed drains, then no proposal is
    posted on its own (its plan's card, read later, carries its button)."""
    cases = [publish_case(bus, n, steps=2) for n in range(BATCH + 10)]
    bot.feed.drain()
    posts = bot.store.posts(limit=10_000)
    assert {p.kind for p in posts} == {"tier2.decision", "ir.plan"}
    buttons = {p.source_event_id: p.action_ids for p in posts if p.kind == "ir.plan"}
    assert buttons == {c.plan.event_id: tuple(p.action_id for p in c.proposals) for c in cases}


def test_a_backlog_is_read_in_growing_batches_and_a_quiet_feed_in_small_ones(bot: Bot, bus: Bus) -> None:
    """Given a backlog of reviews, when the feed drains it, then full batches grow (to at most
    MAX_BATCH) and once it keeps up it reads BATCH at a time again; every review is posted once."""
    total = BATCH * 7
    for n in range(total):
        review(bus, n)
    sizes = []
    while n := bot.feed.run_once():
        sizes.append(n)
    assert sizes[:3] == [BATCH, 2 * BATCH, 4 * BATCH] and max(sizes) <= MAX_BATCH
    assert sum(sizes) == total and bot.store.counts() == {"queued": total}
    for n in range(3):
        review(bus, total + n)
    assert bot.feed.run_once() == 3 and bot.feed.run_once() == 0
    for n in range(BATCH + 1):
        review(bus, 2 * total + n)
    assert bot.feed.run_once() == BATCH  # back to small batches once it had kept up


def test_a_backlog_of_closures_is_rolled_up_digest_max_at_a_time(
    space: Space, bus: Bus, gate: Gate, clock: WallClock
) -> None:
    """Given more waiting Sentinel closures than ``digest_max`` when the bot starts, when one batch
    buffers them all, then each digest card rolls up at most ``digest_max`` of them and none is lost."""
    bot = Bot(bot_settings(space.fake, space.soc, digest_max=4), bus=bus, gate=gate, clock=clock)
    for n in range(5):
        sentinel_closes(bus, n)  # a verdict and a closure each: 10 items
    bot.feed.run_once()
    digests = [p for p in bot.store.posts() if p.kind == "sentinel.digest"]
    assert len(digests) == 3 and bot.store.digest_items() == []
    settle(bot, clock)
    said = [all_text(m["attachments"][0]["content"]) for m in space.fake.posted(space.soc)]
    assert sum(int(re.search(r"Sentinel closed (\d+) alert", t).group(1)) for t in said) == 5  # type: ignore[union-attr]
    bot.close()


def test_a_batch_whose_transaction_sqlite_rolled_back_acks_nothing_unstored(
    bot: Bot, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given SQLite rolling back the whole batch's transaction midway (as after an I/O error), when
    the feed runs, then nothing written before it is acked as stored: the batch is handled again one
    delivery per transaction, and every card is queued once."""
    cases = [publish_case(bus, n) for n in range(4)]
    apply = bot.store.apply
    lost = []

    def io_error_once(plan: Plan, **kw: Any) -> list[str]:
        if not lost and any(p.source_event_id == cases[2].plan.event_id for p in plan.posts):
            lost.append(True)
            bot.store._db.execute("ROLLBACK")  # what SQLite does to a transaction on SQLITE_IOERR
            raise OSError("disk I/O error")
        return apply(plan, **kw)

    monkeypatch.setattr(bot.store, "apply", io_error_once)
    bot.feed.run_once()
    assert lost and unacked(bus) == 0 and bus.dead_letters() == []
    plans = {p.source_event_id for p in bot.store.posts() if p.kind == "ir.plan"}
    assert plans == {c.plan.event_id for c in cases} and bot.store.counts() == {"queued": 8}


def test_the_feed_builds_the_hosts_addresses_a_page_a_round_and_a_failure_stops_no_post(
    bot: Bot, space: Space, bus: Bus, clock: WallClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a log longer than a page, when the feed runs, then it reads the log into the hosts'
    addresses a page per round until they are current (no question builds them); and when following
    the log fails, the feed still posts the cards and tries again next round."""
    for n in range(3):
        publish_case(bus, n, steps=2)
    pages: list[int] = []
    follow = bot.commands.addresses.follow
    monkeypatch.setattr(bot.feed, "keep_up", lambda: pages.append(follow(2)) or pages[-1])
    settle(bot, clock)
    assert pages[0] == 2 and pages[-1] == 0 and bot.commands.addresses.follow() == 0

    def broken() -> int:
        raise ConnectionError("redis went away")

    monkeypatch.setattr(bot.feed, "keep_up", broken)
    review(bus, 41)
    settle(bot, clock)
    assert bot.store.counts().get("queued", 0) == 0
    assert any("jsonl:alert-41" in str(m) for m in space.fake.posted(space.soc))
