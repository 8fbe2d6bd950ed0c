"""Every chat command, asked through a delivered Webex message and answered in the thread."""

from __future__ import annotations

import re
from typing import Any

import pytest

from aisoc.bus import Bus
from aisoc.events import (
    ActionExecuted,
    ActionReminded,
    CaseClosed,
    Disposition,
    Event,
    ProducedBy,
    ReviewRequested,
    Role,
    TruthLabeled,
)
from bot.service import Bot
from gate.service import Gate
from gate.store import State
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, settle
from tests.gate.factory import Case, publish_case


def ask(bot: Bot, space: Space, clock: WallClock, text: str, who: str = "alice") -> str:
    """Alice (or another person) asks the bot in the SOC room; returns the bot's answer."""
    person: dict[str, Any] = getattr(space, who)
    msg = space.fake.person_says(person, space.soc, text)
    outcome = bot.receiver.from_webhook(space.fake.envelope("messages", msg))
    assert outcome.status == "answered", outcome
    settle(bot, clock)
    answers = [m for m in space.fake.posted(space.soc) if m.get("parentId") == msg["id"]]
    return str(answers[-1]["markdown"]) if answers else ""


def events(bus: Bus, case_id: str, kind: type[Event]) -> list[Any]:
    """A case's events of one type."""
    return [e for e in bus.audit.for_case(case_id) if isinstance(e, kind)]


@pytest.fixture
def case(bus: Bus) -> Case:
    """An escalated case with a plan of one isolation, on WS-042."""
    return publish_case(bus)


def test_help_and_anything_unknown_get_the_command_list(bot: Bot, space: Space, clock: WallClock) -> None:
    """Given help, gibberish and an empty mention, when asked, then each answer lists the commands."""
    for text in ("help", "frobnicate the SIEM", ""):
        assert "What I can do" in ask(bot, space, clock, text)


def test_explain_a_case_answers_from_the_recorded_trace(
    bot: Bot, space: Space, clock: WallClock, case: Case
) -> None:
    """Given a case, when Alice asks to explain it, then the answer says where the isolation stands and
    why, each reason citing the record by a short human reference (no 32-hex id)."""
    answer = ask(bot, space, clock, f"explain {case.case_id}")
    first, second = [line for line in answer.splitlines() if line][:2]
    assert f"`{case.case_id}`" in first
    assert (
        second.startswith("**WS-042 is not isolated**")
        and "awaits a decision by IR Lead On-Call (Alice Ng)" in second
    )
    assert "(Sentinel " in answer and "(Tier 2 " in answer and "lsass dump written" in answer
    assert not re.search(r"[0-9a-f]{32}", answer)


def test_explain_a_host_and_the_free_text_why_answer_about_the_host(
    bot: Bot, space: Space, clock: WallClock, case: Case
) -> None:
    """Given a plan to isolate WS-042, when asked about the host both ways, then both explain WS-042."""
    for text in ("explain WS-042", "why did it contain WS-042?", "Why did it isolate the host ws-042"):
        answer = ask(bot, space, clock, text)
        assert answer.startswith("**host WS-042** — 1 case(s)")
        assert "**WS-042 is not isolated**" in answer


def test_explain_something_never_recorded_says_so(bot: Bot, space: Space, clock: WallClock) -> None:
    """Given nothing about NOPE-1, when explained, then the answer says nothing is recorded (no trace)."""
    assert "Nothing is recorded about `NOPE-1`" in ask(bot, space, clock, "explain NOPE-1")


def test_case_shows_the_path_and_open_approvals(bot: Bot, space: Space, clock: WallClock, case: Case) -> None:
    """Given an escalated case, when Alice asks for it, then its path and open approvals are listed."""
    answer = ask(bot, space, clock, f"case {case.case_id}")
    assert "State: open" in answer and "Approvals: 1 waiting, 0 decided" in answer
    assert "Tier 2 Analyst: escalate" in answer and "IR Lead: SEV-2 plan" in answer


def test_case_answers_from_memory_with_an_added_roles_review_and_a_reminder(
    bot: Bot, space: Space, clock: WallClock, bus: Bus, case: Case
) -> None:
    """Given a reminder about the isolation and a review an added role asked for, when Alice asks for
    the case, then it awaits a human, and both are lines of its path naming who acted."""
    bus.publish(
        ActionReminded(
            action_id=case.proposal.action_id,
            person="alice@example.com",
            reminder=1,
            case_id=case.case_id,
            produced_by=ProducedBy(role="gate"),
        )
    )
    bus.publish(
        ReviewRequested(
            role="second_opinion",
            reason="the <@all> beacon looks like a pentest",
            case_id=case.case_id,
            produced_by=ProducedBy(role="second_opinion"),
        )
    )
    answer = ask(bot, space, clock, f"case {case.case_id}")
    assert "State: open (awaiting human)" in answer
    assert f"Gate: {case.proposal.action_id}: reminder 1 to alice@example.com" in answer
    assert "Second Opinion: Tier 2 On-Call asked to look — the" in answer and "<@all>" not in answer


def test_status_shows_roles_and_the_outbox(bot: Bot, space: Space, clock: WallClock) -> None:
    """Given a quiet SOC, when Alice asks for status, then roles, dead letters and the outbox show."""
    answer = ask(bot, space, clock, "status")
    assert "sentinel:" in answer and "dead letters: 0" in answer and "bot outbox:" in answer


def test_oncall_names_people_without_notifying_them(bot: Bot, space: Space, clock: WallClock) -> None:
    """Given the roster, when asked who is on call, then names show without mentions; bad duties are named."""
    answer = ask(bot, space, clock, "oncall")
    assert "IR Lead On-Call: Alice Ng" in answer and "Tier 2 On-Call: Erin Fox" in answer
    assert "<@" not in answer
    assert "Tier 2 On-Call: Erin Fox" in ask(bot, space, clock, "oncall tier2")
    assert "unknown duty 'wizard'" in ask(bot, space, clock, "oncall wizard")
    for asked in ("who is on call for the IR lead right now?", "oncall ir_led", "who's on call, ir-lead?"):
        answer = ask(bot, space, clock, asked)
        assert "IR Lead On-Call: Alice Ng" in answer and "Tier 2" not in answer, asked
    assert "Tier 2 On-Call: Erin Fox" in ask(bot, space, clock, "who is oncall right now?")


def test_close_publishes_the_label_and_the_closure_by_the_person(
    bot: Bot, space: Space, clock: WallClock, bus: Bus, case: Case
) -> None:
    """Given a case, when Bob closes it as tp, then truth.labeled and case.closed are published by Bob."""
    answer = ask(bot, space, clock, f"close {case.case_id} tp confirmed by EDR", who="bob")
    assert "as true positive" in answer
    (label,) = events(bus, case.case_id, TruthLabeled)
    (closed,) = events(bus, case.case_id, CaseClosed)
    assert (label.label, label.escalated, label.labeled_by, label.source) == (
        Disposition.TRUE_POSITIVE,
        True,
        "bob@example.com",
        "webex",
    )
    assert (closed.closed_by.role, closed.closed_by.person, closed.reason) == (
        Role.HUMAN,
        "bob@example.com",
        "confirmed by EDR",
    )


def test_close_with_a_bad_label_or_an_unknown_case_publishes_nothing(
    bot: Bot, space: Space, clock: WallClock, bus: Bus, case: Case
) -> None:
    """Given a bad label or an unknown case, when closing, then the answer says why; nothing is published."""
    before = len(bus.audit)
    assert "is not a label" in ask(bot, space, clock, f"close {case.case_id} maybe")
    assert "No case `jsonl:nope`" in ask(bot, space, clock, "close jsonl:nope fp")
    assert len(bus.audit) == before


def test_reopen_asks_tier2_again_and_the_review_card_mentions_them(
    bot: Bot, space: Space, clock: WallClock, bus: Bus, case: Case
) -> None:
    """Given a case, when Bob reopens it, then a human review request is published and Erin is mentioned."""
    assert "Tier 2 On-Call (Erin Fox)" in ask(
        bot, space, clock, f"reopen {case.case_id} new evidence", who="bob"
    )
    (req,) = events(bus, case.case_id, ReviewRequested)
    assert (req.role, req.reason, req.assignee) == (
        Role.HUMAN,
        "reopened by bob@example.com: new evidence",
        None,
    )
    settle(bot, clock)
    assert any(
        "<@personEmail:erin@example.com|Erin Fox>" in m["markdown"] for m in space.fake.posted(space.soc)
    )


def test_assign_by_mention_sets_the_assignee_and_mentions_them(
    bot: Bot, space: Space, clock: WallClock, bus: Bus, case: Case
) -> None:
    """Given a case, when Alice assigns it mentioning Bob, then Bob is the assignee and is mentioned."""
    msg = space.fake.person_says(space.alice, space.soc, f"assign {case.case_id} Bob Ray")
    msg["mentionedPeople"] = [space.fake.bot["id"], space.bob["id"]]
    assert bot.receiver.from_webhook(space.fake.envelope("messages", msg)).status == "answered"
    settle(bot, clock)
    (req,) = events(bus, case.case_id, ReviewRequested)
    assert (req.assignee, req.reason) == ("bob@example.com", "assigned by alice@example.com")
    assert any(
        "Now with <@personEmail:bob@example.com|Bob Ray>" in m["markdown"] for m in space.fake.posted()
    )
    assert "Assigned" in ask(bot, space, clock, f"assign {case.case_id} erin")


def test_done_records_the_execution_through_the_gate(
    bot: Bot, space: Space, clock: WallClock, bus: Bus, gate: Gate, case: Case
) -> None:
    """Given an approved isolation, when Bob says done, then the gate records action.executed by Bob."""
    gate.submit(case.proposal)
    gate.decide(
        case.proposal.event_id, person_id="alice", decision="approved", reason="go", identity_source="sso"
    )
    answer = ask(bot, space, clock, f"done {case.proposal.action_id} isolated in Falcon", who="bob")
    assert "carried out by bob@example.com" in answer
    (executed,) = events(bus, case.case_id, ActionExecuted)
    assert (executed.executed_by, executed.identity_source, executed.note) == (
        "bob@example.com",
        "webex",
        "isolated in Falcon",
    )
    req = gate.get(case.proposal.event_id)
    assert req.state == State.APPROVED and req.executed_by == "bob"


def test_done_before_approval_or_by_a_stranger_is_refused_with_the_reason(
    bot: Bot, space: Space, clock: WallClock, bus: Bus, gate: Gate, case: Case
) -> None:
    """Given a pending request, when Bob says done, then he is told it is not approved; nothing published."""
    gate.submit(case.proposal)
    assert "only an approved request can be done" in ask(
        bot, space, clock, f"done {case.proposal.action_id}", who="bob"
    )
    assert "No proposed action `act-nope`" in ask(bot, space, clock, "done act-nope")
    assert events(bus, case.case_id, ActionExecuted) == []


def test_approve_in_chat_decides_nothing_and_points_to_the_gate(
    bot: Bot, space: Space, clock: WallClock, bus: Bus, gate: Gate, case: Case
) -> None:
    """Given a pending request, when Alice types approve, then she gets the gate link; nothing is decided."""
    gate.submit(case.proposal)
    answer = ask(bot, space, clock, f"approve {case.proposal.action_id}")
    assert "never decided in chat" in answer and f"http://gate.test/a/{case.proposal.event_id}?t=" in answer
    assert gate.get(case.proposal.event_id).state == State.PENDING


def test_a_failing_command_answers_sorry_never_a_stack_trace(
    bot: Bot, space: Space, clock: WallClock, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    """Given the memory failing, when Alice asks to explain, then she gets an apology with a reference."""

    def broken() -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bot.commands, "_memory_factory", broken)
    answer = ask(bot, space, clock, f"explain {case.case_id}")
    assert answer.startswith("Sorry, that failed inside the bot (ref `") and "Traceback" not in answer
    assert "disk on fire" not in answer


def test_pause_from_chat_and_only_an_on_call_lead_resumes(
    bot: Bot, space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given the kill switch in chat, when Erin pauses Sentinel, then control.paused is recorded by her;
    Bob (not on call now) may not resume; Alice (IR Lead On-Call) may; a bad scope publishes nothing."""
    from aisoc.events import ControlPaused, ControlResumed

    assert "Paused **sentinel**" in ask(bot, space, clock, "pause sentinel model looping", who="erin")
    assert "Only the SOC Manager or IR Lead on call" in ask(bot, space, clock, "resume sentinel", who="bob")
    assert "Resumed **sentinel**" in ask(bot, space, clock, "resume sentinel")
    before = len(bus.audit)
    assert "name a role" in ask(bot, space, clock, "pause everything!", who="erin")
    assert len(bus.audit) == before
    controls = [e for e in bus.audit if isinstance(e, ControlPaused | ControlResumed)]
    assert [(e.type, e.scope, e.by, e.reason) for e in controls] == [
        ("control.paused", "sentinel", "erin@example.com", "model looping"),
        ("control.resumed", "sentinel", "alice@example.com", None),
    ]


def test_a_pause_shows_in_status_and_a_misspelt_role_is_refused(
    bot: Bot, space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given Erin pauses Sentinel from chat, then the bot's `status` says what is paused, by whom and
    why (a paused role otherwise reads "alive" with a growing lag); a misspelt role ("sentinal") is
    refused, naming the roles, and publishes nothing; a role that has run on the bus (a heartbeat)
    may be paused by its own slug."""
    ask(bot, space, clock, "pause sentinel model looping", who="erin")
    status = ask(bot, space, clock, "status")
    assert "paused: sentinel by erin@example.com at " in status and ": model looping" in status
    before = len(bus.audit)
    refused = ask(bot, space, clock, "pause sentinal", who="erin")
    assert refused.startswith("⚠️ Nothing to pause: no role `sentinal` is known here") and "tier2" in refused
    assert len(bus.audit) == before
    bus.heartbeat("phishing_triage-1", {"role": "phishing_triage", "version": "1"})
    assert "Paused **phishing_triage**" in ask(bot, space, clock, "pause phishing_triage", who="erin")


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("closing this as fp would be wrong", "talked"),
        ("close this as fp would be wrong", "talked"),
        ("don't close it", "talked"),
        ("could you close it as fp", "close"),
        ("close as fp - scanner noise", "close"),
        ("closing as benign, it's the backup job", "close"),
        ("close as fp since it is the scanner", "close"),
        ("close as fp looks like the scanner", "close"),
        ("reopen wazuh:1 look again", "reopen"),
        ("I'll ack this", "ack"),
        ("why would it close the case?", "explain"),
        ("close as benign if nobody objects", "talked"),
        ("close as fp, unless tier 2 disagrees", "talked"),
        ("reopen it if the scanner fires again", "talked"),
        ("close as benign, it was the backup job", "close"),
    ],
)
def test_a_command_talked_about_is_not_given(text: str, command: str) -> None:
    """A state-changing command negated, hedged or made the subject of a verb is talked about
    (``talked``: it changes nothing), while one given with its reason, asked for politely, or a
    question about it is what it was."""
    from bot.understand import intent

    assert intent(text)[0] == command
