"""The bot consumes the bus and posts: one thread per case, mentions, digest, card edits and fallback."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aisoc.bus import Bus
from aisoc.events import ActionDecided, ActionReminded, Event, ProducedBy
from aisoc.health import status
from bot.service import Bot
from bot.settings import DEFAULT_CARDS, NoiseSettings
from gate.service import Gate
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, bot_settings, gate_settings, review, sentinel_closes, settle, shift
from tests.bot.fake_webex import _validator
from tests.cards.checks import all_actions, all_text
from tests.gate.factory import publish_case


def card(msg: dict[str, Any]) -> dict[str, Any]:
    """The card of a message."""
    (attachment,) = msg["attachments"]
    content: dict[str, Any] = attachment["content"]
    return content


def test_an_escalated_case_gets_one_thread_rooted_at_its_first_card(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given an escalated case, when posted, then its first card is the thread root and the rest reply."""
    case = publish_case(bus)
    settle(bot, clock)
    root, *replies = [m for m in space.fake.posted(space.soc) if not str(m.get("markdown")).startswith("🚨")]
    assert "parentId" not in root and "ESCALATED TO IR LEAD" in all_text(card(root))
    assert replies and all(m["parentId"] == root["id"] for m in replies)
    assert bot.store.thread_root(case.case_id).message_id == root["id"]  # type: ignore[union-attr]


def test_a_plan_mentions_the_on_call_approver_and_links_the_gate(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a SEV plan, when posted, then IR Lead On-Call is mentioned and Approve opens the signed link."""
    case = publish_case(bus, steps=2)
    settle(bot, clock)
    (plan,) = [m for m in space.fake.posted(space.soc) if "IR PLAN" in all_text(card(m))]
    assert "<@personEmail:alice@example.com|Alice Ng>" in plan["markdown"]
    assert plan["mentionedPeople"] == [space.alice["id"]]
    actions = all_actions(card(plan))
    urls = [a["url"] for a in actions if a["type"] == "Action.OpenUrl"]
    assert [u.split("?t=")[0] for u in urls] == [f"http://gate.test/a/{p.event_id}" for p in case.proposals]
    assert not [a for a in actions if a["type"] == "Action.Submit" and a["data"].get("cmd") != "explain"]


def test_a_review_request_mentions_the_tier2_analyst_with_the_sla(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a review request, when posted, then the Tier 2 on call is mentioned and the SLA shown."""
    review(bus)
    settle(bot, clock)
    (msg,) = space.fake.posted(space.soc)
    assert "<@personEmail:erin@example.com|Erin Fox>" in msg["markdown"]
    assert "30 min" in all_text(card(msg))
    assert {"type": "Action.Submit", "cmd": "ack"} in [
        {"type": a["type"], "cmd": a.get("data", {}).get("cmd")} for a in all_actions(card(msg))
    ]


def test_sentinel_closures_roll_into_one_digest_card(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given 5 Sentinel closures, when the interval passes, then one digest card says 5 (none before)."""
    for n in range(5):
        sentinel_closes(bus, n)
    settle(bot, clock)
    assert space.fake.posted(space.soc) == []
    clock.advance(bot.settings.digest_interval_s)
    settle(bot, clock)
    (digest,) = space.fake.posted(space.soc)
    assert "Sentinel closed 5 alert(s)" in all_text(card(digest)) and "parentId" not in digest


def test_reports_go_to_the_soc_space_outside_any_thread(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a shift summary, when posted, then it is a top-level card in the SOC room, followed by the
    top-level handover (test_handoff)."""
    shift(bus)
    settle(bot, clock)
    msg, handover = space.fake.posted(space.soc)
    assert "parentId" not in msg and "Shift summary" in all_text(card(msg))
    assert "parentId" not in handover and handover["markdown"].startswith("**Shift handover**")


def test_a_decision_edits_the_card_that_asked_for_it(
    bot: Bot, space: Space, bus: Bus, gate: Gate, clock: WallClock
) -> None:
    """Given a posted plan, when Alice approves, then the card is edited: decision listed, button gone."""
    case = publish_case(bus, steps=2)
    settle(bot, clock)
    before = len(space.fake.posted(space.soc))
    gate.submit(case.proposals[0])
    gate.decide(
        case.proposals[0].event_id,
        person_id="alice",
        decision="approved",
        reason="contain",
        identity_source="sso",
    )
    settle(bot, clock)
    posted = space.fake.posted(space.soc)
    (plan,) = [m for m in posted if m.get("attachments") and "IR PLAN" in all_text(card(m))]
    (handoff,) = posted[before:]  # the decision's own message: who carries it out (test_handoff)
    assert space.fake.edits[plan["id"]] == 1 and "✅ **Approved**" in handoff["markdown"]
    assert "approved** by alice@example.com" in all_text(card(plan))
    urls = [a["url"] for a in all_actions(card(plan)) if a["type"] == "Action.OpenUrl"]
    assert [u.split("?t=")[0] for u in urls] == [f"http://gate.test/a/{case.proposals[1].event_id}"]
    assert list(_validator().iter_errors(card(plan))) == []


def test_when_webex_refuses_the_edit_a_threaded_reply_says_what_was_decided(
    bot: Bot, space: Space, bus: Bus, gate: Gate, clock: WallClock
) -> None:
    """Given Webex refusing edits, when a request is rejected, then a thread reply carries the decision."""
    case = publish_case(bus)
    settle(bot, clock)
    root = space.fake.posted(space.soc)[0]
    space.fake.refuse_edits = True
    gate.submit(case.proposal)
    gate.decide(
        case.proposal.event_id,
        person_id="alice",
        decision="rejected",
        reason="pentest",
        identity_source="sso",
    )
    settle(bot, clock)
    *_, last, handoff = space.fake.posted(space.soc)
    assert last["parentId"] == root["id"] and "Rejected" in all_text(card(last))
    assert handoff["parentId"] == root["id"] and "Nothing is to be carried out" in handoff["markdown"]
    (decided,) = [e for e in bus.audit.for_case(case.case_id) if isinstance(e, ActionDecided)]
    assert bot.store.get(f"{decided.event_id}:edit").last_error.startswith("edit refused")  # type: ignore[union-attr]


def test_a_gate_reminder_mentions_the_approver_in_the_thread(
    bot: Bot, space: Space, bus: Bus, gate: Gate, clock: WallClock
) -> None:
    """Given an unanswered request, when the gate reminds, then a reply mentions the approver + link."""
    case = publish_case(bus)
    gate.submit(case.proposal)
    gate.clock.advance(seconds=gate.settings.remind_after_s + 1)  # type: ignore[attr-defined]
    gate.tick()
    assert [e for e in bus.audit.for_case(case.case_id) if isinstance(e, ActionReminded)]
    settle(bot, clock)
    last = space.fake.posted(space.soc)[-1]
    assert last["markdown"].startswith("⏰ Reminder 1: <@personEmail:alice@example.com|Alice Ng>")
    assert f"http://gate.test/a/{case.proposal.event_id}?t=" in last["markdown"]


def test_an_event_delivered_twice_is_posted_once(bot: Bot, space: Space, bus: Bus, clock: WallClock) -> None:
    """Given an event already queued, when it is planned again (a redelivery), then nothing new is queued."""
    event = review(bus)
    settle(bot, clock)
    assert bot.store.apply(bot.composer.plan(event)) == []
    settle(bot, clock)
    assert len(space.fake.posted(space.soc)) == 1


class WatchlistHit(Event):
    """An event type a SOC's own role defines (the bot knows nothing of it)."""

    TYPE = "test.watchlist_hit"
    STREAM = "cases"

    watchlist: str
    summary: str


def _hit_on_a_case(bus: Bus) -> str:
    case = publish_case(bus)
    bus.publish(
        WatchlistHit(
            watchlist="vip-hosts",
            summary="WS-042 belongs to the CFO",
            case_id=case.case_id,
            produced_by=ProducedBy(role="watchlist_desk"),
        )
    )
    return case.case_id


def test_an_added_roles_own_event_is_acked_unposted_while_the_policy_does_not_name_it(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given an added role's own event on an escalated case, when the noise policy does not name its
    type, then nothing is posted for it and nothing is dead-lettered."""
    _hit_on_a_case(bus)
    settle(bot, clock)
    assert space.fake.posted(space.soc)
    assert not any("WATCHLIST" in all_text(card(m)) for m in space.fake.posted(space.soc) if m["attachments"])
    assert bus.dead_letters() == []


def test_an_added_roles_own_event_is_a_generic_card_in_the_case_thread_once_the_policy_names_it(
    space: Space, bus: Bus, gate: Gate, clock: WallClock
) -> None:
    """Given the same event and a noise policy naming its type, when posted, then a generic card
    naming the role and the type joins the case's thread."""
    case_id = _hit_on_a_case(bus)
    noise = NoiseSettings(card=[*DEFAULT_CARDS, "test.watchlist_hit"])
    bot = Bot(
        bot_settings(space.fake, space.soc, noise=noise),
        bus=bus,
        gate=gate,
        gate_settings=gate.settings,
        clock=clock,
    )
    try:
        settle(bot, clock)
        root = bot.store.thread_root(case_id)
    finally:
        bot.close()
    (hit,) = [
        m for m in space.fake.posted(space.soc) if m["attachments"] and "WATCHLIST" in all_text(card(m))
    ]
    assert "WATCHLIST DESK · TEST.WATCHLIST_HIT" in all_text(card(hit)) and "CFO" in all_text(card(hit))
    assert root is not None and hit["parentId"] == root.message_id
    assert bus.dead_letters() == []


def test_the_bot_heartbeat_reads_alive_in_status(tmp_path: Path) -> None:
    """Given the bot's feed running, when `aisoc status` (and the bot's own `status`) read the
    heartbeats, then the bot is alive: its beat carries the time it was sent."""
    bus = Bus()
    bot = Bot(
        bot_settings(None, state_dir=tmp_path), bus=bus, gate_settings=gate_settings(), clock=WallClock()
    )
    bot.feed.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not bus.heartbeats():
            time.sleep(0.05)
        (beat,) = [p for p in status(bus).others if p.role == "bot"]
        assert beat.alive and beat.age_s is not None and beat.age_s < 5
        assert f"{beat.name}: alive" in status(bus).lines()
    finally:
        bot.feed.stop()
        bot.close()
