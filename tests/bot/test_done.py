"""``done ACTION`` in chat: only whoever decided, the duty's approvers or its executors may record it —
through the gate's shared store, and through the bot's own check when that store is out of reach."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aisoc.bus import Bus
from aisoc.events import ActionExecuted
from bot.service import Bot
from gate.service import Gate
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, bot_settings, gate_settings
from tests.bot.test_commands import ask, events
from tests.gate.factory import Case, Clock, publish_case


@pytest.fixture
def approved(bus: Bus, gate: Gate) -> Case:
    """An isolation Alice (IR Lead On-Call) approved in the gate."""
    case = publish_case(bus)
    gate.submit(case.proposal)
    gate.decide(
        case.proposal.event_id, person_id="alice", decision="approved", reason="go", identity_source="t"
    )
    return case


@pytest.fixture
def remote_bot(space: Space, bus: Bus, clock: WallClock) -> Iterator[Bot]:
    """A bot whose gate runs elsewhere with a store this process cannot reach (its own Gate is empty)."""
    b = Bot(bot_settings(space.fake, space.soc), bus=bus, gate_settings=gate_settings(), clock=clock)
    yield b
    b.close()


def test_done_by_someone_outside_the_decision_is_refused_in_chat(
    bot: Bot, space: Space, clock: WallClock, bus: Bus, approved: Case
) -> None:
    """Given an approved isolation, when Erin (Tier 2, not an approver or executor) says done, then the
    answer says who may, and nothing is published; Bob (an executor) may."""
    answer = ask(bot, space, clock, f"done {approved.proposal.action_id} isolated", who="erin")
    assert "⚠️" in answer and "Alice Ng" in answer and "Bob Ray" in answer
    assert events(bus, approved.case_id, ActionExecuted) == []
    assert "carried out by bob@example.com" in ask(
        bot, space, clock, f"done {approved.proposal.action_id}", who="bob"
    )
    assert len(events(bus, approved.case_id, ActionExecuted)) == 1


def test_the_decider_may_record_done_in_chat(
    bot: Bot, space: Space, clock: WallClock, bus: Bus, approved: Case
) -> None:
    """Given Alice approved it, when Alice says done, then it is recorded as hers."""
    assert "carried out by alice@example.com" in ask(bot, space, clock, f"done {approved.proposal.action_id}")
    (e,) = events(bus, approved.case_id, ActionExecuted)
    assert e.executed_by == "alice@example.com"


def test_without_the_gate_store_the_bot_applies_the_same_rule(
    remote_bot: Bot, space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given an approval recorded on the bus by a gate elsewhere, when Erin and then Bob say done through a
    bot that cannot reach that gate's store, then Erin is refused and Bob's execution is published once."""
    elsewhere = Gate(bus, gate_settings(), clock=Clock())  # on the memory bus each Gate has its own store
    case = publish_case(bus)
    elsewhere.submit(case.proposal)
    elsewhere.decide(
        case.proposal.event_id, person_id="alice", decision="approved", reason="go", identity_source="t"
    )
    refused = ask(remote_bot, space, clock, f"done {case.proposal.action_id}", who="erin")
    assert "⚠️" in refused and "Bob Ray" in refused
    assert events(bus, case.case_id, ActionExecuted) == []
    assert "carried out by bob@example.com" in ask(
        remote_bot, space, clock, f"done {case.proposal.action_id}", who="bob"
    )
    (e,) = events(bus, case.case_id, ActionExecuted)
    assert e.executed_by == "bob@example.com"
