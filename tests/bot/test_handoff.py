"""The space drives the work to done: acknowledging a review, the handoff after a decision, SEV
announcements at top level, plan cards exact after each decision. Time is frozen (the roster decides
who is mentioned)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from aisoc.bus import Bus
from aisoc.events import OpenApproval, ProducedBy, ReviewRequested, ShiftSummary
from bot.service import Bot
from bot.settings import SEV_MENTIONS
from gate.roster import Roster
from gate.service import Gate
from gate.settings import RosterSettings
from tests.bot.conftest import Space
from tests.bot.factory import ROSTER, WallClock, bot_settings, review, settle
from tests.bot.story import ISOLATE, SHELLSHOCK, publish_story
from tests.gate.factory import T0

BOB = "<@personEmail:bob@example.com|Bob Ray>"
ALICE = "<@personEmail:alice@example.com|Alice Ng>"
DAVE = "<@personEmail:dave@example.com|Dave Kim>"
ERIN = "<@personEmail:erin@example.com|Erin Fox>"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    """Monday 10:00 UTC: Alice holds IR Lead, Erin Tier 2, Dave SOC Manager."""
    with time_machine.travel(T0, tick=False):
        yield


def texts(space: Space) -> list[str]:
    """Everything the bot posted (markdown and card JSON), oldest first."""
    return [
        str(m.get("markdown")) + json.dumps(m.get("attachments") or []) for m in space.fake.posted(space.soc)
    ]


def nudges(space: Space) -> list[str]:
    """The reminders and escalations the bot posted."""
    return [
        str(m["markdown"]) for m in space.fake.posted(space.soc) if str(m.get("markdown")).startswith("⏰")
    ]


def click(
    bot: Bot, space: Space, clock: WallClock, who: str, message_id: str, inputs: dict[str, Any]
) -> None:
    """A person clicks a card's Action.Submit (delivered like a webhook)."""
    action = space.fake.person_submits(getattr(space, who), message_id, inputs)
    assert bot.receiver.from_webhook(space.fake.envelope("attachmentActions", action)).status == "answered"
    settle(bot, clock)


def test_acknowledge_edits_the_card_and_a_second_click_asks_before_taking_over(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a review card, when Erin acknowledges, then the card says so and loses its button, nobody is
    mentioned; when Bob clicks too, he is asked first; when he takes over, it is recorded, unmentioned."""
    asked = review(bus)
    settle(bot, clock)
    card = next(m for m in space.fake.posted(space.soc) if "Acknowledge" in json.dumps(m.get("attachments")))
    before = len(space.fake.posted(space.soc))
    click(bot, space, clock, "erin", card["id"], {"cmd": "ack", "case_id": asked.case_id})
    edited = space.fake.messages[card["id"]]
    shown = json.dumps(edited["attachments"])
    assert "Acknowledged by Erin Fox at 10:00" in shown and '"Acknowledge"' not in shown
    assert len(space.fake.posted(space.soc)) == before  # an edit, nothing posted, nobody mentioned

    click(bot, space, clock, "bob", card["id"], {"cmd": "ack", "case_id": asked.case_id})
    question = space.fake.posted(space.soc)[-1]["markdown"]
    assert question.startswith("Erin Fox acknowledged the review") and "`takeover" in question
    assert len([e for e in bus.audit.for_case(asked.case_id) if isinstance(e, ReviewRequested)]) == 2

    msg = space.fake.person_says(space.bob, space.soc, f"takeover {asked.case_id}", parent=card["id"])
    assert bot.receiver.from_webhook(space.fake.envelope("messages", msg)).status == "answered"
    settle(bot, clock)
    last = [e for e in bus.audit.for_case(asked.case_id) if isinstance(e, ReviewRequested)][-1]
    assert (last.assignee, last.reason) == ("bob@example.com", "taken over by Bob Ray from Erin Fox")
    assert "Acknowledged by Bob Ray" in json.dumps(space.fake.messages[card["id"]]["attachments"])
    assert not [t for t in texts(space)[before:] if "<@personEmail:" in t]


@pytest.mark.parametrize("extra", [{}, {"SEV-2": ["bob", "all"]}])
def test_a_sev2_plan_is_announced_at_top_level_to_ir_lead_and_soc_manager(
    space: Space, bus: Bus, clock: WallClock, gate: Gate, extra: dict[str, list[str]]
) -> None:
    """Given the Shellshock SEV-2 plan and the default settings (or Bob and everyone added), when posted,
    then a top-level message names the case and mentions Alice (IR Lead On-Call) and Dave (SOC Manager
    On-Call), and whoever the settings add."""
    settings = bot_settings(space.fake, space.soc, sev_mentions=extra or SEV_MENTIONS)
    bot = Bot(settings, bus=bus, gate=gate, gate_settings=gate.settings, clock=clock)
    publish_story(bus, T0)
    settle(bot, clock)
    bot.close()
    (sev,) = [m for m in space.fake.posted(space.soc) if str(m.get("markdown")).startswith("🚨")]
    assert "parentId" not in sev and f"`{SHELLSHOCK}`" in sev["markdown"]
    assert ALICE in sev["markdown"] and DAVE in sev["markdown"]
    assert (BOB in sev["markdown"] and "<@all>" in sev["markdown"]) == bool(extra)


def test_an_approval_hands_the_action_to_its_executors_and_the_plan_card_stays_exact(
    bot: Bot, space: Space, bus: Bus, clock: WallClock, gate: Gate
) -> None:
    """Given the plan's two approvals, when Alice approves the isolation, then a new threaded message
    mentions Bob (IR Lead's executor) with the `done` instruction, and the plan card lists the decision
    without claiming a link is still to come."""
    story = publish_story(bus, T0)
    for p in story.proposals.values():
        gate.submit(p)
    settle(bot, clock)
    proposal = story.proposals[ISOLATE]
    gate.decide(
        proposal.event_id, person_id="alice", decision="approved", reason="contain", identity_source="t"
    )
    settle(bot, clock)
    root = bot.store.thread_root(SHELLSHOCK)
    assert root is not None
    (handoff,) = [m for m in space.fake.posted(space.soc) if "✅ **Approved**" in str(m.get("markdown"))]
    assert handoff["parentId"] == root.message_id and BOB in handoff["markdown"]
    assert f"`done {ISOLATE} [note]`" in handoff["markdown"]
    plan = next(m for m in space.fake.posted(space.soc) if "IR PLAN" in json.dumps(m.get("attachments")))
    shown = json.dumps(space.fake.messages[plan["id"]]["attachments"])
    assert "approved" in shown and "not issued yet" not in shown


def test_an_approved_action_not_done_is_reminded_then_escalated_until_done(
    bot: Bot, space: Space, bus: Bus, clock: WallClock, gate: Gate
) -> None:
    """Given the isolation approved at 10:00 and never reported done, when 30 and 60 minutes pass, then
    Bob (the executor) is reminded twice; at 90 minutes it escalates to Alice (on call); once Bob reports
    done, nothing more is posted."""
    story = publish_story(bus, T0)
    proposal = story.proposals[ISOLATE]
    gate.submit(proposal)
    gate.decide(
        proposal.event_id, person_id="alice", decision="approved", reason="contain", identity_source="t"
    )
    settle(bot, clock)
    assert nudges(space) == []
    for minutes in (30, 60, 90):
        clock.now = T0.timestamp() + minutes * 60
        settle(bot, clock)
    first, second, third = nudges(space)
    assert first.startswith("⏰ Reminder 1: isolate host Linux-Server was approved by alice@example.com")
    assert BOB in first and f"`done {ISOLATE} [note]`" in first and ALICE not in first
    assert second.startswith("⏰ Reminder 2") and third.startswith("⏰ Escalated (level 1)")
    assert BOB in third and ALICE in third
    gate.record_executed(proposal.event_id, person_id="bob", identity_source="t", note="isolated in EDR")
    clock.now = T0.timestamp() + 240 * 60
    settle(bot, clock)
    assert len(nudges(space)) == 3


def test_a_review_not_picked_up_within_its_sla_is_reminded_and_stops_once_acknowledged(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a review asked at 10:00 with a 30-minute SLA, when 31 minutes pass, then Erin (Tier 2 on
    call) is reminded in the case's thread; once she acknowledges, no further reminder comes."""
    asked = review(bus)
    settle(bot, clock)
    clock.now = T0.timestamp() + 31 * 60
    settle(bot, clock)
    (reminder,) = [m for m in space.fake.posted(space.soc) if str(m.get("markdown")).startswith("⏰")]
    assert (
        "<@personEmail:erin@example.com|Erin Fox>" in reminder["markdown"]
        and "30 min SLA" in reminder["markdown"]
    )
    assert reminder["parentId"] == bot.store.thread_root(asked.case_id).message_id  # type: ignore[union-attr]
    card = next(m for m in space.fake.posted(space.soc) if "Acknowledge" in json.dumps(m.get("attachments")))
    with time_machine.travel(T0 + timedelta(minutes=31), tick=False):
        click(bot, space, clock, "erin", card["id"], {"cmd": "ack", "case_id": asked.case_id})
    clock.now = T0.timestamp() + 120 * 60
    settle(bot, clock)
    assert len(nudges(space)) == 1


TIER2 = ROSTER["duties"]["tier2"]["rotations"][0]


def test_a_reminder_names_who_is_on_call_at_the_sweeps_time_not_the_wall_clocks(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a review asked at 10:00 and a sweep at 10:31 (Erin holds Tier 2 then), when the sweep runs
    while the wall clock already reads the next day (Bob's shift: a sweep that lags, or a test), then
    the reminder names Erin: the roster is asked at the sweep's time."""
    rotating = {**ROSTER["duties"]["tier2"], "rotations": [{**TIER2, "people": ["bob", "erin"]}]}
    roster = Roster(RosterSettings(**{**ROSTER, "duties": {**ROSTER["duties"], "tier2": rotating}}))
    bot.directory.roster = roster
    assert roster.on_call("tier2").person.id == "erin"  # type: ignore[union-attr]
    review(bus)
    settle(bot, clock)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        assert roster.on_call("tier2").person.id == "bob"  # type: ignore[union-attr]
        clock.now = T0.timestamp() + 31 * 60
        settle(bot, clock)
    (reminder,) = nudges(space)
    assert ERIN in reminder and "Bob Ray" not in reminder


def test_a_shift_summary_hands_over_to_the_incoming_on_call_with_each_open_approval_linked(
    bot: Bot, space: Space, bus: Bus, clock: WallClock, gate: Gate
) -> None:
    """Given two open approvals at the end of a shift, when the summary is posted, then a handover
    mentions Alice, Erin and Dave and links each approval to the gate."""
    story = publish_story(bus, T0)
    opened = [
        OpenApproval(
            action_id=p.action_id,
            case_id=SHELLSHOCK,
            kind=p.kind,
            target=p.target,
            approver_role=p.approver_role,
            age_s=60,
        )
        for p in story.proposals.values()
    ]
    bus.publish(
        ShiftSummary(
            produced_by=ProducedBy(role="soc_manager"),
            window_start=T0 - timedelta(hours=8),
            window_end=T0,
            alerts_received=5,
            open_approvals=opened,
            summary="Shellshock on Linux-Server awaits two approvals.",
        )
    )
    settle(bot, clock)
    (handover,) = [
        m for m in space.fake.posted(space.soc) if str(m.get("markdown")).startswith("**Shift handover**")
    ]
    text = handover["markdown"]
    assert ALICE in text and DAVE in text and "<@personEmail:erin@example.com|Erin Fox>" in text
    for p in story.proposals.values():
        assert f"(http://gate.test/a/{p.event_id}?t=" in text


def says(bot: Bot, space: Space, clock: WallClock, who: str, text: str, parent: str | None) -> str:
    """A person types ``text`` (a signed-webhook-shaped delivery); returns the bot's answer to it."""
    msg = space.fake.person_says(getattr(space, who), space.soc, text, parent=parent)
    assert bot.receiver.from_webhook(space.fake.envelope("messages", msg)).status == "answered"
    settle(bot, clock)
    answer = bot.store.get(f"reply:{msg['id']}")
    assert answer is not None and answer.state == "sent", f"no answer to {text!r}"
    return str(answer.body["markdown"])


def test_ack_typed_in_the_review_cards_thread_takes_the_review_as_the_button_does(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a review card, when Erin types "ack it pls" in its thread, then she holds the review, the
    card says so and she is told in one line; when Bob types "acknowledged" he is asked before taking it
    over, and "takeover" there takes it; "ack" at top level asks which review in one line."""
    asked = review(bus)
    settle(bot, clock)
    card = next(m for m in space.fake.posted(space.soc) if "Acknowledge" in json.dumps(m.get("attachments")))
    said = says(bot, space, clock, "erin", "ack it pls", card["id"])
    assert said == f"You hold the review of **{asked.case_id}** now; its card says so."
    assert "Acknowledged by Erin Fox" in json.dumps(space.fake.messages[card["id"]]["attachments"])
    taken = [e for e in bus.audit.for_case(asked.case_id) if isinstance(e, ReviewRequested)][-1]
    assert (taken.assignee, taken.reason, taken.causation_id) == (
        "erin@example.com",
        "acknowledged by Erin Fox",
        asked.event_id,
    )
    assert says(bot, space, clock, "bob", "Acknowledged!", card["id"]).startswith(
        "Erin Fox acknowledged the review"
    )
    assert says(bot, space, clock, "bob", "takeover", card["id"]).startswith("You hold the review of")
    last = [e for e in bus.audit.for_case(asked.case_id) if isinstance(e, ReviewRequested)][-1]
    assert (last.assignee, last.reason) == ("bob@example.com", "taken over by Bob Ray from Erin Fox")
    assert says(bot, space, clock, "bob", "ack", None).startswith("Acknowledge which review?")
    assert (
        says(bot, space, clock, "bob", "ack", card["id"])
        == f"You already hold the review of **{asked.case_id}**."
    )
