"""The answer: what happened and where it stands first, reasons citing the record; a model may phrase it
only when every sentence checks out against what it cites, and may route questions only to reading."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from aisoc.bus import Bus
from aisoc.events import ActionDecided, CaseClosed
from bot.answer import check_phrasing
from bot.markup import fit
from bot.service import Bot
from gate.service import Gate
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, bot_settings, settle
from tests.bot.story import ISOLATE, SHELLSHOCK, publish_story
from tests.gate.factory import T0


class FakeModel:
    """A chat model that answers every prompt with ``reply`` (and records the prompts)."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def invoke(self, prompt: str) -> Any:
        self.prompts.append(prompt)
        return type("Reply", (), {"content": self.reply})()


@pytest.fixture
def story(bus: Bus) -> Iterator[None]:
    """The Shellshock day, time frozen."""
    with time_machine.travel(T0, tick=False):
        publish_story(bus, T0)
        yield


def asked(
    bus: Bus, gate: Gate, space: Space, clock: WallClock, model: Any, text: str, **settings: Any
) -> str:
    """Erin asks a bot that has ``model``; returns its answer."""
    bot = Bot(
        bot_settings(space.fake, space.soc, **settings),
        bus=bus,
        gate=gate,
        gate_settings=gate.settings,
        clock=clock,
        model=model,
    )
    try:
        msg = space.fake.person_says(space.erin, space.soc, text)
        assert bot.receiver.from_webhook(space.fake.envelope("messages", msg)).status == "answered"
        settle(bot, clock)
        return str(
            [m for m in space.fake.posted(space.soc) if m.get("parentId") == msg["id"]][-1]["markdown"]
        )
    finally:
        bot.close()


def test_the_first_line_says_the_isolation_awaits_whom_and_until_when(
    bus: Bus, gate: Gate, space: Space, clock: WallClock, story: None
) -> None:
    """Given the proposed isolation of Linux-Server, when asked why it was contained, then the first case
    line says it was only proposed and awaits Alice (IR Lead On-Call) until 12:00, and each reason
    cites the record by role and time, linked to the case; no 32-hex id shows."""
    answer = asked(
        bus,
        gate,
        space,
        clock,
        None,
        "why did it contain Linux-Server?",
        case_url="https://soc.test/c/{case_id}",
    )
    lines = answer.splitlines()
    assert lines[0].startswith("**host Linux-Server** — 3 case(s), newest first")
    head = next(line for line in lines if line.startswith("**Linux-Server is not isolated**"))
    assert "proposed by IR Lead at 2026-03-16 10:00 UTC" in head
    assert "awaits a decision by IR Lead On-Call (Alice Ng) until 2026-03-16 12:00 UTC" in head
    link = "(https://soc.test/c/wazuh%3AeV5665cBARIQcDql-GZ3)"
    assert f"[Sentinel 10:00]{link}" in answer and f"[Tier 2 10:00]{link}" in answer
    assert "apache answered 200" in answer and "shares ip:10.0.2.8" in answer
    assert "Shellshock attack detected" in answer and "SQL injection attempt." in answer
    assert not re.search(r"[0-9a-f]{32}", answer) and "aisoc explain" not in answer


def test_after_approval_and_done_the_first_line_says_who_carried_it_out(
    bus: Bus, gate: Gate, space: Space, clock: WallClock, story: None
) -> None:
    """Given the isolation approved by Alice and reported done by Bob, when asked, then the first line
    says Linux-Server was isolated, carried out by Bob, approved by Alice."""
    with time_machine.travel(T0, tick=False):
        proposal = next(e for e in bus.audit.for_case(SHELLSHOCK) if getattr(e, "action_id", None) == ISOLATE)
        gate.submit(proposal)  # type: ignore[arg-type]
        gate.decide(
            proposal.event_id, decision="approved", person_id="alice", identity_source="t", reason="ok"
        )
        gate.record_executed(proposal.event_id, person_id="bob", identity_source="test", note="EDR isolation")
        answer = asked(bus, gate, space, clock, None, f"explain {ISOLATE}")
    head = next(line for line in answer.splitlines() if line.startswith("**Linux-Server"))
    assert head.startswith("**Linux-Server was isolated** — carried out by bob@example.com"), answer
    assert "approved by alice@example.com" in head


def test_a_model_that_invents_facts_is_replaced_by_the_record(
    bus: Bus, gate: Gate, space: Space, clock: WallClock, story: None
) -> None:
    """Given a model that cites line 2 but says Mallory wiped the server, when it phrases the answer,
    then the answer is the deterministic text (Mallory appears nowhere)."""
    liar = FakeModel("Mallory wiped Linux-Server at 03:00 [2]. Sentinel judged it malicious [2].")
    answer = asked(bus, gate, space, clock, liar, f"explain {SHELLSHOCK}")
    assert liar.prompts and "Mallory" not in answer
    assert "- Sentinel: malicious (0.91)" in answer


def test_a_model_that_cites_nothing_is_replaced_and_a_faithful_one_is_kept(
    bus: Bus, gate: Gate, space: Space, clock: WallClock, story: None
) -> None:
    """Given one model whose sentence cites nothing and one that holds to its citations, when each
    phrases, then the first is replaced by the record and the second is shown with its references."""
    vague = FakeModel("It was probably fine.")
    assert "- Sentinel: malicious" in asked(bus, gate, space, clock, vague, f"explain {SHELLSHOCK}")
    faithful = FakeModel(
        "Sentinel judged it malicious [2]. Tier 2 saw apache answered 200 and escalated [3]."
    )
    answer = asked(bus, gate, space, clock, faithful, f"explain {SHELLSHOCK}")
    assert "Sentinel judged it malicious (Sentinel 10:00). Tier 2 saw apache answered 200" in answer
    assert "- Sentinel: malicious" not in answer


def test_check_phrasing_names_what_is_wrong() -> None:
    """Given lines and phrasings, when checked, then an unknown reference and a number not cited fail."""
    from datetime import UTC, datetime

    from aisoc.memory.statements import Statement
    from bot.answer import Line

    s = Statement("e1", datetime(2026, 3, 16, tzinfo=UTC), "c", "Sentinel", "verdict", "x")
    lines = [Line("Sentinel: malicious (0.91)", s, "c")]
    assert check_phrasing("Sentinel said malicious [1].", lines) is None
    assert "does not exist" in str(check_phrasing("Sentinel said malicious [4].", lines))
    assert "'0.99'" in str(check_phrasing("Sentinel was 0.99 sure [1].", lines))


@pytest.mark.parametrize("reply", ['{"command": "approve"}', '{"command": "close"}', "close it now", "{}"])
def test_the_router_can_never_act(
    bus: Bus, gate: Gate, space: Space, clock: WallClock, story: None, reply: str
) -> None:
    """Given a model that routes to approve, close or garbage, when a free sentence is routed, then
    nothing is decided or closed and the bot says it did not understand."""
    answer = asked(bus, gate, space, clock, FakeModel(reply), "sort it all out for me")
    assert answer.startswith("I did not understand that.")
    acted = [e for e in bus.audit.for_case(SHELLSHOCK) if isinstance(e, ActionDecided | CaseClosed)]
    assert acted == []


def test_the_router_places_a_sentence_in_a_read_only_command(
    bus: Bus, gate: Gate, space: Space, clock: WallClock, story: None
) -> None:
    """Given a model that routes to oncall, when a sentence the grammar cannot place arrives, then the
    answer is the on-call list."""
    model = FakeModel('{"command": "oncall"}')
    assert asked(bus, gate, space, clock, model, "whom do I bug tonight").startswith("**On call now**")
    model = FakeModel('{"command": "pending"}')
    assert "Waiting" in asked(bus, gate, space, clock, model, "what's on my desk this morning")


def test_clipping_keeps_a_code_block_closed_whatever_the_characters() -> None:
    """Given a code block of multi-byte text over the limit, when fitted, then the fence is closed."""
    text = "**SOC status**\n```\n" + "é漢🙂" * 3000 + "\n```"
    out = fit(text)
    assert len(out.encode("utf-8")) <= 7439 and out.count("```") == 2 and out.endswith("```")
