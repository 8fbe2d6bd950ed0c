"""What the phrasing corpus cannot say in one line: who asks ("anything pending for me?"), how Webex
marks a mention (a client that sends the bare uuid), a reply quoting the bot in html, near misses
that would cross a number, and hostile text echoed back."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient

from aisoc.bus import Bus
from aisoc.events import ActionExecuted, ActionReminded, AlertReceived, CaseClosed, ProducedBy
from aisoc.memory import Memory
from bot.catalog import Catalog
from bot.hosts import AddressBook
from bot.mentions import strip_mentions
from bot.service import Bot
from bot.understand import understand
from gate.service import Gate
from tests.bot.conftest import Space, answers_to
from tests.bot.factory import WallClock, alert, bot_settings, deliver, review, settle
from tests.bot.fake_webex import raw_uuid
from tests.bot.story import ISOLATE, SHELLSHOCK, Story, publish_story
from tests.bot.test_commands import ask
from tests.gate.factory import T0

BOT_NAME = "AISOC Bot"
"""The fake Webex's bot name in this module (people shorten it to "AISOC")."""


@pytest.fixture
def day(bus: Bus, gate: Gate, space: Space, clock: WallClock) -> Iterator[tuple[Bot, FlaskClient, Story]]:
    """The bot over the Shellshock day (its proposals known to the gate), time frozen at Monday 10:00."""
    with time_machine.travel(T0, tick=False):
        story = publish_story(bus, T0)
        for proposal in story.proposals.values():
            gate.submit(proposal)
        b = Bot(
            bot_settings(space.fake, space.soc), bus=bus, gate=gate, gate_settings=gate.settings, clock=clock
        )
        settle(b, clock)
        app = b.create_app()
        app.testing = True
        yield b, app.test_client(), story
        b.close()


def said(
    day: tuple[Bot, FlaskClient, Story],
    space: Space,
    clock: WallClock,
    body: dict[str, Any],
    *,
    who: str = "erin",
    thread: str | None = None,
) -> str:
    """A person posts ``body`` (text, html) in the SOC space, a signed webhook; returns what the bot
    posted in reply (its answer first)."""
    bot, client, _ = day
    body = {"_mentioned": [space.fake.bot["id"]], **body}
    if thread:
        body["parentId"] = thread
    with space.fake.lock:
        msg = space.fake._message(getattr(space, who), space.soc["id"], body)
    assert deliver(client, space.fake.envelope("messages", msg)).status_code == 200
    settle(bot, clock)
    answers = answers_to(space, msg, thread)
    assert answers, f"no answer to {body!r}"
    return "\n\n".join(str(m["markdown"]) for m in answers)  # the answer, then any card it caused


def _mention(space: Space, shown: str) -> str:
    bot_id = space.fake.bot["id"]
    return f'<spark-mention data-object-type="person" data-object-id="{bot_id}">{shown}</spark-mention>'


def says(
    day: tuple[Bot, FlaskClient, Story], space: Space, clock: WallClock, text: str, who: str = "erin"
) -> str:
    """``text`` with the bot mentioned as the Webex desktop client marks it (``{bot}`` stands for it)."""
    shown = "AISOC Bot"
    tag = _mention(space, shown)
    return said(
        day,
        space,
        clock,
        {"text": text.replace("{bot}", shown), "html": f"<p>{text.replace('{bot}', tag)}</p>"},
        who=who,
    )


def test_pending_lists_what_waits_on_the_asker_first(
    day: tuple[Bot, FlaskClient, Story], space: Space, clock: WallClock, gate: Gate
) -> None:
    """Given two proposals awaiting the IR Lead on call (Alice), when Alice asks "anything pending for
    me?", then both are hers, with their deadline; when Erin asks, nothing waits on her and both are
    listed as Alice's; once Alice approved the isolation, it waits on Bob (its executor) to be done."""
    _, _, story = day
    with time_machine.travel(T0, tick=False):
        alice = says(day, space, clock, "{bot} anything pending for me?", who="alice")
        assert alice.splitlines()[0] == "**Waiting on you**"
        assert "`act-shellshock-isolate`" in alice and "`act-shellshock-block`" in alice
        assert "until 2026-03-16 12:00 UTC" in alice
        erin = says(day, space, clock, "{bot} what's waiting on me?")
        assert erin.splitlines()[:2] == ["**Nothing is waiting on you.**", "**Waiting on others**"]
        assert "IR Lead On-Call (Alice Ng)" in erin
        gate.decide(
            story.proposals[ISOLATE].event_id,
            person_id="alice",
            decision="approved",
            reason="contain until patched",
            identity_source="t",
        )
        settle(day[0], clock)
        bob = says(day, space, clock, "{bot} do I have anything pending?", who="bob")
    lines = bob.splitlines()
    assert lines[0] == "**Waiting on you**"
    assert lines[1].startswith("- carry out *isolate host Linux-Server* (`act-shellshock-isolate`, approved)")
    assert "`done act-shellshock-isolate`" in lines[1]
    assert "act-shellshock-block" not in "\n".join(lines[: lines.index("**Waiting on others**")])


def test_a_mention_with_the_bare_uuid_and_a_shortened_name_is_removed(
    day: tuple[Bot, FlaskClient, Story], space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given a client that marks the mention with the person's bare uuid, no <p>, and the name cut to
    "AISOC B" (Webex for iPhone does), when Erin says "case …" and "close … fp …", then both run as
    commands: the mention is found by the uuid inside the bot's REST id, not by its spelling."""
    uuid = raw_uuid(space.fake.bot["id"])
    tag = f'<spark-mention data-object-id="{uuid}" data-object-type="person">AISOC B</spark-mention>'

    def iphone(words: str) -> dict[str, str]:
        return {"text": f"AISOC B {words}", "html": f"{tag} {words}"}

    with time_machine.travel(T0, tick=False):
        assert said(day, space, clock, iphone(f"case {SHELLSHOCK}")).startswith(f"**Case {SHELLSHOCK}**")
        said(day, space, clock, iphone(f"close {SHELLSHOCK} fp lab scanner"))
    closed = [e for e in bus.audit.for_case(SHELLSHOCK) if isinstance(e, CaseClosed)]
    assert [c.reason for c in closed] == ["lab scanner"]
    assert strip_mentions("AISOC B help", f"{tag} help", space.fake.bot["id"]) == "help"


def test_a_reply_quoting_in_html_is_asked_by_its_own_words(
    day: tuple[Bot, FlaskClient, Story], space: Space, clock: WallClock
) -> None:
    """Given a reply whose html quotes a line naming Linux-Server and Win11Client (its text carries the
    quote without ">"), when the person's own words ask "why did you block that IP?", then the answer is
    about the blocked address, not a question about the quoted names; a quote alone names the subject."""
    mention = _mention(space, "AISOC Bot")
    quote = "Linux-Server is not isolated; Win11Client was seen too"
    body = {
        "text": f"{quote}\nAISOC Bot why did you block that IP?",
        "html": f'<blockquote class="quote"><p>{quote}</p></blockquote>'
        f"<p>{mention} why did you block that IP?</p>",
    }
    with time_machine.travel(T0, tick=False):
        answer = said(day, space, clock, body)
        assert answer.splitlines()[0].startswith("**indicator 10.0.2.8**"), answer
        body = {
            "text": f"{quote}\nAISOC Bot why not?",
            "html": f"<blockquote><p>{quote}</p></blockquote><p>{mention} why not?</p>",
        }
        answer = said(day, space, clock, body)
    assert answer.splitlines()[0] == "Which one do you mean?" and "Win11Client".lower() in answer.lower()


def test_hostile_text_is_answered_without_breaking_the_answer(
    day: tuple[Bot, FlaskClient, Story], space: Space, clock: WallClock
) -> None:
    """Given control characters, a 20,000-character message, and an id that closes its code span to
    inject a link, when said, then each gets an answer (never "failed inside the bot"), within Webex's
    size, and the echoed id stays inside its code span with its link defanged."""
    with time_machine.travel(T0, tick=False):
        control = says(day, space, clock, "{bot} \x00\x07why did it contain Linux-Server\x1b[31m")
        assert control.startswith("**host Linux-Server**")
        huge = says(day, space, clock, "{bot} why did it contain Linux-Server? " + "blah " * 4000)
        assert huge.startswith("**host Linux-Server**")
        junk = says(day, space, clock, "{bot} " + "x" * 20000)
        assert junk.startswith("I did not understand that.")
        echo = says(day, space, clock, "{bot} close x`[a](http://evil.example)` fp")
    assert "failed inside the bot" not in control + huge + junk + echo
    assert max(len(a.encode()) for a in (control, huge, junk, echo)) <= 7439
    assert echo.count("`") % 2 == 0 and "](http" not in echo
    assert "`x'[a]" in echo


def test_a_near_miss_keeps_its_numbers_and_a_fqdn_finds_its_host(bus: Bus) -> None:
    """Given hosts WS-042 and web01.corp.example, when a question names "ws-42", "ws-43", "WS-042.corp"
    or "web01", then "ws-42" and the FQDN find WS-042, "web01" finds its FQDN, and "ws-43" finds nothing."""
    bus.publish(alert(1, host="WS-042"))
    bus.publish(alert(2, host="web01.corp.example"))
    catalog = Catalog(Memory(bus.audit))

    def found(text: str) -> str | None:
        req = understand(text, catalog, None)
        return req.subject.value.lower() if req.subject else None  # the alert keeps hosts lower-cased

    assert found("why did it contain ws-42?") == "ws-042"
    assert found("why did it contain WS-042.corp.example?") == "ws-042"
    assert found("what happened to web01") == "web01.corp.example"
    assert found("why did it contain ws-43?") is None
    assert found("why did it contian ws-042") == "ws-042"
    assert found("what about hxxp://web01.corp[.]example/login?") == "web01.corp.example"  # defanged URL
    assert found("why was ws-042:3389 contained") == "ws-042"


def test_in_a_thread_close_and_done_take_the_words_people_use(
    day: tuple[Bot, FlaskClient, Story], space: Space, clock: WallClock, bus: Bus, gate: Gate
) -> None:
    """Given the Shellshock thread with the isolation approved, when Bob says "done isolated in EDR"
    (no action id: the case has one approved action) and Alice "close it as fp, lab scanner", then the
    isolation is recorded done with Bob's note and the case closed as a false positive with that reason;
    a mistyped id is never swapped for the approved action."""
    bot, _, story = day
    root = bot.store.thread_root(SHELLSHOCK)
    assert root is not None and root.message_id
    gate.decide(
        story.proposals[ISOLATE].event_id,
        person_id="alice",
        decision="approved",
        reason="go",
        identity_source="t",
    )
    settle(bot, clock)

    def thread(text: str, who: str) -> str:
        body = {"text": f"AISOC Bot {text}", "html": f"<p>{_mention(space, 'AISOC Bot')} {text}</p>"}
        return said(day, space, clock, body, who=who, thread=root.message_id)

    with time_machine.travel(T0, tick=False):
        assert "No proposed action `act-shellshok-isolate`" in thread("done act-shellshok-isolate", "bob")
        assert "carried out by bob@example.com" in thread("done isolated in EDR", "bob")
        assert f"Closed **{SHELLSHOCK}** as false positive" in thread("close it as fp, lab scanner", "alice")
    executed = [e for e in bus.audit.for_case(SHELLSHOCK) if isinstance(e, ActionExecuted)]
    assert [(e.action_id, e.note) for e in executed] == [(ISOLATE, "isolated in EDR")]
    closed = [e for e in bus.audit.for_case(SHELLSHOCK) if isinstance(e, CaseClosed)]
    assert [(c.disposition.value, c.reason) for c in closed] == [("false_positive", "lab scanner")]


def test_pending_lists_a_review_for_the_analyst_on_call(
    bot: Bot, space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given a case Tier 2 could not decide (a review asked of Tier 2 On-Call, Erin), when Erin asks what
    is waiting on her, then the review is hers; Alice has nothing waiting."""
    review(bus)
    erin = ask(bot, space, clock, "what's waiting on me?", who="erin")
    assert erin.splitlines()[:2] == [
        "**Waiting on you**",
        "- review Odd PowerShell on a build agent · `jsonl:alert-7` — Tier 2 On-Call (Erin Fox)",
    ]
    assert ask(bot, space, clock, "anything pending for me?").startswith("**Nothing is waiting on you.**")


def test_a_conversation_begun_at_top_level_continues_in_its_thread(
    day: tuple[Bot, FlaskClient, Story], space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given Erin's top-level "why did it contain that host?" answered about Linux-Server (the Shellshock
    case first), when she replies in that answer's thread "more" (as the answer invites), "what's the
    status?" and "and the IP?", then each is about the Shellshock case; "close fp" there closes nothing,
    since a state change takes its case only from the words or a case's own thread."""
    bot, client, _ = day
    with time_machine.travel(T0, tick=False):
        question = space.fake.person_says(space.erin, space.soc, "{bot} why did it contain that host?")
        deliver(client, space.fake.envelope("messages", question))
        settle(bot, clock)

        def follow(text: str) -> str:
            before = {m["id"] for m in space.fake.posted(space.soc)}
            msg = space.fake.person_says(space.erin, space.soc, "{bot} " + text, parent=question["id"])
            deliver(client, space.fake.envelope("messages", msg))
            settle(bot, clock)
            new = [m for m in space.fake.posted(space.soc) if m["id"] not in before]
            assert new and all(m.get("parentId") == question["id"] for m in new)
            return str(new[-1]["markdown"])

        first = [m for m in space.fake.posted(space.soc) if m.get("parentId") == question["id"]]
        assert first and "Reply `more` in this thread" in first[0]["markdown"]
        assert follow("more").startswith(f"**Record of `{SHELLSHOCK}`** (page 1)")
        assert follow("what's the status?").startswith(f"**Case {SHELLSHOCK}**")
        assert follow("and the IP?").startswith("**indicator 10.0.2.8** — 1 case(s)")
        follow("close fp")
    assert [e for e in bus.audit.for_case(SHELLSHOCK) if isinstance(e, CaseClosed)] == []


def test_that_host_with_no_containment_on_record_says_so(
    bot: Bot, space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given a day with alerts but no action proposed, when someone asks "why did it contain that host?"
    or "who approved the block?", then the bot says no such action is recorded (nothing carried out),
    not a generic "which host?"."""
    bus.publish(alert(1, host="WS-042"))
    assert ask(bot, space, clock, "why did it contain that host?").startswith(
        "⚠️ No action to contain or isolate a host is recorded, so none was carried out."
    )
    assert "No action to block an address or another indicator is recorded" in ask(
        bot, space, clock, "who approved the block?"
    )


def test_an_address_names_its_host_in_its_own_tenant_and_an_isolation_question_its_case(bus: Bus) -> None:
    """Given the Shellshock day (Linux-Server's Wazuh agent at 10.0.2.9, its isolation proposed), a later
    alert on Linux-Server, and tenant acme's own Linux-Server whose agent reports 10.0.2.50, when someone
    asks why 10.0.2.9 was isolated, then the subject is the default tenant's Linux-Server with the
    isolating case first, never acme's case; 10.0.2.50 finds acme's case only, 10.0.2.5 nothing."""
    story = publish_story(bus, T0)
    shellshock = story.alerts[SHELLSHOCK]
    later = shellshock.model_copy(update={"source_id": "later-probe", "created_at": T0 + timedelta(hours=1)})
    raw = copy.deepcopy(shellshock.raw)
    raw["alert"]["_source"]["agent"]["ip"] = "10.0.2.50"
    acme = shellshock.model_copy(update={"tenant": "acme", "source_id": "acme-1", "raw": raw})
    for a, minutes in ((later, 60), (acme, 90)):
        bus.publish(
            AlertReceived(
                alert=a,
                case_id=a.case_id,
                produced_by=ProducedBy(role="ingest"),
                occurred_at=T0 + timedelta(minutes=minutes),
            )
        )
    catalog = Catalog(Memory(bus.audit), AddressBook(bus.audit))

    req = understand("why was 10.0.2.9 isolated?", catalog, None)
    assert req.subject is not None and (req.subject.kind, req.subject.value) == ("host", "Linux-Server")
    assert req.subject.via == "10.0.2.9" and req.subject.case_ids[0] == SHELLSHOCK
    assert later.case_id in req.subject.case_ids and acme.case_id not in req.subject.case_ids
    assert req.subject.case_ids.index(later.case_id) > 0  # newer, but it isolated nothing
    other = understand("what happened to 10.0.2.50?", catalog, None).subject
    assert other is not None and other.case_ids == (acme.case_id,)
    assert understand("why was 10.0.2.5 isolated?", catalog, None).subject is None


def test_an_answer_about_an_isolated_address_shows_the_isolating_case_first(
    day: tuple[Bot, FlaskClient, Story], space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given the Shellshock day and a newer alert on Linux-Server, when Erin asks "why was 10.0.2.9
    isolated?", then the answer says 10.0.2.9 is Linux-Server's address and shows the Shellshock case
    (the one that proposed the isolation) first, not the newest case."""
    _, _, story = day
    shellshock = story.alerts[SHELLSHOCK]
    later = shellshock.model_copy(update={"source_id": "later-probe"})
    bus.publish(
        AlertReceived(
            alert=later,
            case_id=later.case_id,
            produced_by=ProducedBy(role="ingest"),
            occurred_at=T0 + timedelta(hours=1),
        )
    )
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        answer = says(day, space, clock, "{bot} why was 10.0.2.9 isolated?")
    lines = answer.splitlines()
    assert lines[0] == "`10.0.2.9` is the address on record of host **Linux-Server**."
    assert lines[2].startswith("**host Linux-Server** — 4 case(s), the one that acted on it first")
    cases = [line for line in lines if line.startswith("**") and " · `" in line]
    assert cases[0].endswith(f"`{SHELLSHOCK}`") and later.case_id in "\n".join(cases[1:])


def test_a_described_host_is_taken_only_when_one_name_fits(bus: Bus) -> None:
    """Given hosts DC-01, web01.corp.example and WS-042, when someone asks about "the DC", "the domain
    controller" or "the web server", then that one host is the subject, said to be taken for the
    description; once CORP-DC02 is also known, "the DC" asks between the two, never guessing."""
    for n, host in enumerate(("DC-01", "web01.corp.example", "WS-042")):
        bus.publish(alert(n, host=host))

    def subject(text: str) -> tuple[str, str] | None:
        req = understand(text, Catalog(Memory(bus.audit)), None)
        return (req.subject.value.lower(), req.subject.via) if req.subject else None

    assert subject("why was the DC isolated?") == ("dc-01", "the DC")
    assert subject("what happened to the domain controller") == ("dc-01", "the domain controller")
    assert subject("explain the web server") == ("web01.corp.example", "the web server")
    assert subject("why did it contain the compromised box?") is None  # describes no name
    bus.publish(alert(9, host="CORP-DC02"))
    req = understand("why was the DC isolated?", Catalog(Memory(bus.audit)), None)
    assert req.subject is None
    assert sorted(c.value.lower() for c in req.candidates) == ["corp-dc02", "dc-01"]


def test_thanks_beside_another_persons_mention_is_thanks(
    day: tuple[Bot, FlaskClient, Story], space: Space, clock: WallClock
) -> None:
    """Given Erin thanking Alice and the bot in one message ("@Alice @AISOC Bot thanks!"), when it
    arrives, then the bot says you're welcome, not the command list: another person's mention is not
    part of what is said to the bot."""
    alice = (
        f'<spark-mention data-object-type="person" data-object-id="{space.alice["id"]}">Alice</spark-mention>'
    )
    body = {
        "text": "Alice AISOC Bot thanks!",
        "html": f"<p>{alice} {_mention(space, 'AISOC Bot')} thanks!</p>",
    }
    with time_machine.travel(T0, tick=False):
        assert said(day, space, clock, body) == "You're welcome."


def test_a_reminded_approver_is_named_not_shown_by_email(
    day: tuple[Bot, FlaskClient, Story], space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given the gate reminded Alice (the reminder names her by email), when Erin asks why Linux-Server
    was contained and which cases are open, then both answers say who must decide by name."""
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        bus.publish(
            ActionReminded(
                case_id=SHELLSHOCK,
                action_id=ISOLATE,
                person="alice@example.com",
                reminder=1,
                produced_by=ProducedBy(role="gate"),
            )
        )
        settle(day[0], clock)
        why = says(day, space, clock, "{bot} why did it contain Linux-Server?")
        listed = says(day, space, clock, "{bot} any open incidents?")
    assert "awaits a decision by IR Lead On-Call (Alice Ng)" in why and "alice@example.com" not in why
    shellshock = next(line for line in listed.splitlines() if SHELLSHOCK in line)
    assert shellshock.startswith("- **SEV-2** Shellshock attack detected [Linux-Server]")
    assert "2 approvals waiting on IR Lead On-Call (Alice Ng)" in shellshock


def test_a_command_asked_about_is_not_run() -> None:
    """Given state-changing commands that begin a sentence ending in "?" ("reopen?", "ack this one?"),
    when understood, then none is run (a request and an ack with a question after it still are)."""
    from bot.understand import intent

    for asked in ("reopen?", "reopen the discussion tomorrow?", "close it as fp?", "ack?", "ack this one?"):
        assert intent(asked)[0] == "unknown", asked
    assert intent("can you close it as fp?")[0] == "close"
    assert intent("ack, why did it contain that host?")[0] == "ack"
    assert intent("ack it")[0] == "ack"
