"""Acknowledging as analysts do it, and edits: ``ack 1234`` finds its case without reading every
case, an ack with a question does both, a closed case's old card records nothing, the SOC-wide
catalog is built once in the background at start, and an edit never runs a command twice."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

import pytest
import time_machine
from flask.testing import FlaskClient

from aisoc.bus import Bus
from aisoc.events import (
    Alert,
    AlertReceived,
    CaseClosed,
    ProducedBy,
    ReviewRequested,
    Role,
    TriageVerdict,
    TruthLabeled,
)
from aisoc.memory import CaseFile, CaseRecord, CaseState, Memory
from bot.service import Bot
from gate.service import Gate
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, bot_settings, deliver, review, settle
from tests.gate.factory import T0

_EDITS = itertools.count(1)
CASES = 3000
"""Cases in memory when ``ack 1234`` must find its one case."""


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    """Monday 10:00 UTC: Erin holds Tier 2."""
    with time_machine.travel(T0, tick=False):
        yield


class CountingMemory(Memory):
    """Memory that counts what the bot reads of it: each listing of every case, each case read."""

    made: ClassVar[list[CountingMemory]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listed = 0
        self.read: list[str] = []
        CountingMemory.made.append(self)

    def cases(self) -> Iterator[CaseRecord]:
        self.listed += 1
        return super().cases()

    def case(self, case_id: str) -> CaseRecord | None:
        self.read.append(case_id)
        return super().case(case_id)

    def case_file(self, case_id: str) -> CaseFile | None:
        self.read.append(case_id)
        return super().case_file(case_id)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[CountingMemory]:
    """The bot's memory counts its reads."""
    CountingMemory.made = []
    monkeypatch.setattr("bot.service.Memory", CountingMemory)
    return CountingMemory


def _xsoar(n: int) -> AlertReceived:
    """An XSOAR incident ``n`` (case ``xsoar:n``) on its own host."""
    a = Alert(
        source="xsoar",
        source_id=str(n),
        title="Suspicious PowerShell",
        severity=2,
        created_at=T0 - timedelta(hours=2) + timedelta(seconds=n),
        hosts=[f"ws-{n:04d}"],
    )
    return AlertReceived(alert=a, case_id=a.case_id, produced_by=ProducedBy(role="ingest"))


def _asked(case_id: str) -> ReviewRequested:
    return ReviewRequested(
        case_id=case_id,
        produced_by=ProducedBy(role="tier2"),
        role=Role.TIER2,
        reason="Signals conflict.",
        duty=Role.TIER2,
    )


def _says(bot: Bot, space: Space, who: str, text: str, parent: str | None = None) -> str:
    """A person types ``text`` (``{bot}`` marks the mention); returns the bot's answer (queued)."""
    msg = space.fake.person_says(getattr(space, who), space.soc, text, parent=parent)
    assert bot.receiver.from_webhook(space.fake.envelope("messages", msg)).status == "answered"
    answer = bot.store.get(f"reply:{msg['id']}")
    assert answer is not None, f"no answer to {text!r}"
    return str(answer.body["markdown"])


def _taken(bus: Bus, case_id: str) -> list[ReviewRequested]:
    return [
        e
        for e in bus.audit.for_case(case_id)
        if isinstance(e, ReviewRequested) and e.role == Role.HUMAN and e.assignee
    ]


def _review_card(space: Space) -> dict[str, Any]:
    return next(m for m in space.fake.posted(space.soc) if "Acknowledge" in json.dumps(m.get("attachments")))


ACKS = [
    ("{bot} ack 1234", "1234"),
    ("{bot} ack case 2345", "2345"),
    ("acknowledge #77 {bot}", "77"),
    ("{bot} pls ackowledge incident 2999 👍", "2999"),  # typo, asking words, an emoji
]
"""``ack`` of a source's own id as typed, the mention anywhere; each a review of its own case."""


def test_ack_of_a_source_id_reads_only_its_case_among_thousands(
    counting: type[CountingMemory], space: Space, bus: Bus, gate: Gate, clock: WallClock
) -> None:
    """Given 3,000 XSOAR incidents, four of them waiting on a review, and the catalog the first
    question built, when Erin types "ack 1234", "ack case 2345", "acknowledge #77" and a misspelt
    ack of 2999, then each takes its case's review, and no case but the one meant is read (memory is
    never listed again)."""
    for n in range(1, CASES + 1):
        bus.publish(_xsoar(n))
    for _, number in ACKS:
        bus.publish(_asked(f"xsoar:{number}"))
    bot = Bot(
        bot_settings(space.fake, space.soc), bus=bus, gate=gate, gate_settings=gate.settings, clock=clock
    )
    try:
        assert _says(bot, space, "erin", "{bot} what happened to ws-0005?").startswith("**host ws-0005**")
        (memory,) = counting.made
        assert memory.listed == 1  # the catalog's build
        settle(bot, clock)
        for text, number in ACKS:
            memory.listed, memory.read = 0, []
            said = _says(bot, space, "erin", text)
            case_id = f"xsoar:{number}"
            assert said == f"You hold the review of **{case_id}** now; its card says so.", text
            assert memory.listed == 0 and set(memory.read) <= {case_id, number}, (text, memory.read[:10])
            assert [e.assignee for e in _taken(bus, case_id)] == ["erin@example.com"]
            settle(bot, clock)  # the feed brings the catalog current with the ack
    finally:
        bot.close()


def test_a_source_id_of_several_cases_is_asked_about() -> None:
    """Given two tenants' incident 1001 in the catalog, when "ack 1001" is resolved, then both cases
    are named and the person is asked which (nothing is taken)."""
    from bot.catalog import Catalog
    from bot.commands import Commands
    from bot.errors import CommandError

    bus = Bus()
    for tenant in ("acme", "globex"):
        a = Alert(source="xsoar", source_id="1001", tenant=tenant, title="t", severity=1, created_at=T0)
        bus.publish(AlertReceived(alert=a, case_id=a.case_id, produced_by=ProducedBy(role="ingest")))
    memory = Memory(bus.audit)
    with pytest.raises(CommandError, match="is the id of several cases") as e:
        Commands._case_named(memory, Catalog(memory), "1001")
    assert "acme/xsoar:1001" in str(e.value) and "globex/xsoar:1001" in str(e.value)


def test_an_ack_with_a_question_takes_the_review_and_answers_it(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a review card, when Erin says "ack, why did it contain that host?" in its thread, then she
    holds the review (one line) and the question is answered after it; at top level, where no review is
    named, the question is answered after one line saying how to ack, and nothing is taken."""
    asked = review(bus)
    settle(bot, clock)
    card = _review_card(space)
    said = _says(bot, space, "erin", "{bot} ack, why did it contain that host?", parent=card["id"])
    first, _, rest = said.partition("\n\n")
    assert first == f"You hold the review of **{asked.case_id}** now; its card says so."
    assert rest.lower().startswith("**host build-7**")
    assert [e.assignee for e in _taken(bus, asked.case_id)] == ["erin@example.com"]

    said = _says(bot, space, "bob", "ack'd {bot} - but what happened to BUILD-7?")
    first, _, rest = said.partition("\n\n")
    assert first.startswith("Acknowledge which review?") and rest.lower().startswith("**host build-7**")
    assert [e.assignee for e in _taken(bus, asked.case_id)] == ["erin@example.com"]


def test_acknowledge_on_an_old_card_of_a_closed_case_records_nothing(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a review card whose case Alice then closed as a false positive, when Erin clicks its
    Acknowledge, types "ack" in its thread or "ack CASE" at top level, then each is answered that the
    case is closed (its label, by Alice, when) and nothing is recorded: the case stays closed."""
    asked = review(bus)
    settle(bot, clock)
    card = _review_card(space)
    later = time_machine.travel(T0 + timedelta(minutes=20), tick=False)
    later.start()
    closed = _says(bot, space, "alice", f"close {asked.case_id} fp lab noise", parent=card["id"])
    assert closed.startswith(f"Closed **{asked.case_id}**")
    settle(bot, clock)
    before = len(list(bus.audit.for_case(asked.case_id)))
    says = f"**{asked.case_id}** is closed (false positive, by alice@example.com at 2026-03-16 10:20 UTC)"

    action = space.fake.person_submits(space.erin, card["id"], {"cmd": "ack", "case_id": asked.case_id})
    assert bot.receiver.from_webhook(space.fake.envelope("attachmentActions", action)).status == "answered"
    clicked = bot.store.get(f"reply:{action['id']}")
    assert clicked is not None and str(clicked.body["markdown"]).startswith(says)
    assert "nothing was recorded" in str(clicked.body["markdown"])
    for text, parent in (
        ("ack", card["id"]),
        ("{bot} acknowledged", card["id"]),
        (f"ack {asked.case_id}", None),
    ):
        assert _says(bot, space, "erin", text, parent=parent).startswith(says), text
    for text in ("takeover", "ack it, I'll take it"):
        assert _says(bot, space, "bob", text, parent=card["id"]).startswith(says), text
    settle(bot, clock)
    assert len(list(bus.audit.for_case(asked.case_id))) == before
    assert _taken(bus, asked.case_id) == []
    rec = Memory(bus.audit).case(asked.case_id)
    assert rec is not None and rec.state == CaseState.CLOSED
    later.stop()


def test_a_review_answered_in_the_same_instant_is_not_acknowledged(
    bot: Bot, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a review request and, recorded after it in the same instant, a verdict that answers it
    (the case is no longer waiting on a person), when Erin types "ack CASE", then she is told that no
    review waits and nothing is recorded: the ack goes by the case's state, not a tie of timestamps."""
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        asked = review(bus)
        bus.publish(
            TriageVerdict(
                case_id=asked.case_id,
                produced_by=ProducedBy(role="sentinel"),
                verdict="malicious",
                confidence=0.9,
                priority=2,
                summary="Confirmed by the EDR.",
                routed_to="tier2",
            )
        )
    settle(bot, clock)
    rec = Memory(bus.audit).case(asked.case_id)
    assert rec is not None and rec.state != CaseState.AWAITING_HUMAN
    before = len(list(bus.audit.for_case(asked.case_id)))
    said = _says(bot, space, "erin", f"{{bot}} ack {asked.case_id}")
    assert said.startswith(f"Nothing to acknowledge on **{asked.case_id}**"), said
    settle(bot, clock)
    assert len(list(bus.audit.for_case(asked.case_id))) == before
    assert _taken(bus, asked.case_id) == []


def test_the_soc_wide_catalog_is_built_in_the_background_at_start_once(
    monkeypatch: pytest.MonkeyPatch, space: Space, bus: Bus, gate: Gate, clock: WallClock
) -> None:
    """Given 500 cases, when the bot starts, then start returns while the SOC-wide catalog is still
    being built in the background; a question that arrives during the build waits for it and is
    answered; memory is made once and every case listed once per read model: the catalog was built
    once."""
    for n in range(1, 501):
        bus.publish(_xsoar(n))
    building, release = threading.Event(), threading.Event()

    class Held(CountingMemory):
        def cases(self) -> Iterator[CaseRecord]:
            if self.listed:  # the nudger's index is built first, then the catalog: hold that
                building.set()
                release.wait(10)
            return super().cases()

    CountingMemory.made = []
    monkeypatch.setattr("bot.service.Memory", Held)
    b = Bot(bot_settings(space.fake, space.soc), bus=bus, gate=gate, gate_settings=gate.settings, clock=clock)
    answers: list[str] = []
    try:
        b.start(feed=False, sender=False)
        assert building.wait(10), "the catalog was not built at start"
        assert not b.commands.desk(None).catalog.built  # start did not wait for it
        asked = threading.Thread(
            target=lambda: answers.append(_says(b, space, "erin", "{bot} who is on call?"))
        )
        asked.start()
        release.set()
        asked.join(10)
        assert b.warming is not None
        b.warming.join(10)
        assert answers and answers[0].startswith("**On call now**")
        assert b.commands.desk(None).catalog.built
        assert _says(b, space, "erin", "{bot} what happened to ws-0042?").startswith("**host ws-0042**")
        (memory,) = CountingMemory.made
        assert memory.listed == 2  # once for the nudger's index, once for the catalog
    finally:
        release.set()
        b.stop()
        b.close()


def _edit(
    client: FlaskClient, bot: Bot, space: Space, clock: WallClock, msg: dict[str, Any], text: str
) -> str:
    """The person edits ``msg`` into ``text`` (a signed ``messages``/``updated`` delivery); returns
    the bot's answer to the edit."""
    with time_machine.travel(T0 + timedelta(seconds=next(_EDITS)), tick=False):
        space.fake.person_edits(msg, text)  # each edit has its own time, as on Webex
    assert (
        deliver(client, space.fake.envelope("messages", msg, event="updated")).get_json()["status"]
        == "queued"
    )
    settle(bot, clock)
    edited = space.fake.messages[msg["id"]]
    answer = bot.store.get(f"reply:{msg['id']}@{edited['updated']}")
    assert answer is not None, f"no answer to the edit {text!r}"
    return str(answer.body["markdown"])


def _send(
    client: FlaskClient,
    bot: Bot,
    space: Space,
    clock: WallClock,
    who: str,
    text: str,
    parent: str | None = None,
) -> tuple[dict[str, Any], str]:
    msg = space.fake.person_says(getattr(space, who), space.soc, text, parent=parent)
    assert deliver(client, space.fake.envelope("messages", msg)).get_json()["status"] == "queued"
    settle(bot, clock)
    answer = bot.store.get(f"reply:{msg['id']}")
    assert answer is not None, f"no answer to {text!r}"
    return msg, str(answer.body["markdown"])


def _changes(bus: Bus, case_id: str) -> list[str]:
    return [
        e.type
        for e in bus.audit.for_case(case_id)
        if isinstance(e, CaseClosed | TruthLabeled | ReviewRequested)
    ]


def test_an_edit_never_runs_a_command_that_already_ran(
    bot: Bot, client: FlaskClient, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given Alice's "close CASE fp" that closed a case, when she edits it to "close CASE tp", then
    nothing is recorded and she is told what it would do and to send it as a new message; edited back
    to the command that ran, she is told it already ran; edited into a question, it is answered."""
    asked = review(bus)
    settle(bot, clock)
    case = asked.case_id
    msg, said = _send(client, bot, space, clock, "alice", f"close {case} fp lab noise")
    assert said.startswith(f"Closed **{case}**")
    ran = _changes(bus, case)
    assert ran.count("case.closed") == 1

    said = _edit(client, bot, space, clock, msg, f"{{bot}} close {case} tp real attack")
    assert said.startswith(f"Nothing was changed: `close {case} fp lab noise` already ran")
    assert f"Send `close {case} tp real attack` as a new message" in said and "ground truth" in said
    said = _edit(client, bot, space, clock, msg, f"close  {case} FP lab noise")
    ran_line = f"`close {case} fp lab noise` already ran when you sent this message"
    assert said == f"{ran_line}; an edit does not run it again."
    said = _edit(client, bot, space, clock, msg, "{bot} who is on call?")
    assert said.startswith("**On call now**")
    assert _changes(bus, case) == ran
    labels = [e for e in bus.audit.for_case(case) if isinstance(e, TruthLabeled)]
    assert [e.label for e in labels] == ["false_positive"]


def test_an_edit_runs_a_command_once_when_nothing_ran_before(
    bot: Bot, client: FlaskClient, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given a question, and a close refused for a mistyped label, when each is edited into a command,
    then that command runs (nothing of the message ran before), once: a second edit runs nothing."""
    asked = review(bus)
    settle(bot, clock)
    case = asked.case_id
    msg, said = _send(client, bot, space, clock, "alice", "{bot} status")
    assert said.startswith("**SOC status**")
    assert _edit(client, bot, space, clock, msg, f"{{bot}} reopen {case} look again").startswith(
        f"Reopened **{case}**"
    )
    assert _edit(client, bot, space, clock, msg, f"{{bot}} reopen {case} look again, please").startswith(
        "Nothing was changed"
    )
    assert _changes(bus, case).count("case.review_requested") == 2  # Tier 2's, and the reopen

    msg, said = _send(client, bot, space, clock, "alice", f"close {case} tpp")
    assert "is not a label" in said
    assert _edit(client, bot, space, clock, msg, f"close {case} tp").startswith(f"Closed **{case}**")
    assert _edit(client, bot, space, clock, msg, f"close {case} benign").startswith("Nothing was changed")
    assert _changes(bus, case).count("case.closed") == 1


def test_an_edited_ack_is_not_taken_again_and_its_new_question_is_answered(
    bot: Bot, client: FlaskClient, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given Erin's "ack" that took a review in its card's thread, when she edits it to "ack, what
    happened here?", then the ack is not run again (she is told so) and the question is answered."""
    asked = review(bus)
    settle(bot, clock)
    card = _review_card(space)
    msg, said = _send(client, bot, space, clock, "erin", "ack", parent=card["id"])
    assert said.startswith("You hold the review")
    said = _edit(client, bot, space, clock, msg, "{bot} ack, what happened here?")
    first, _, rest = said.partition("\n\n")
    assert (
        first
        == f"`ack {asked.case_id}` already ran when you sent this message; an edit does not run it again."
    )
    assert f"`{asked.case_id}`" in rest.splitlines()[0]
    assert len(_taken(bus, asked.case_id)) == 1


def test_a_close_edited_without_its_label_is_told_the_label_it_closed_with(
    bot: Bot, client: FlaskClient, space: Space, bus: Bus, clock: WallClock
) -> None:
    """Given Alice's "close CASE fp lab noise" that closed a case, and Bob's "close tp" in the review
    card's thread that relabelled it, when each is edited into the same close without a label ("close
    CASE", "can you close CASE?", "close it please" in the thread), then nothing is recorded and each is
    told the label its message closed the case as and how to change it, never to send the labelless
    close as a new message."""
    asked = review(bus)
    settle(bot, clock)
    case = asked.case_id
    card = _review_card(space)
    msg, said = _send(client, bot, space, clock, "alice", f"close {case} fp lab noise")
    assert said.startswith(f"Closed **{case}**")
    threaded, said = _send(client, bot, space, clock, "bob", "close tp real attack", parent=card["id"])
    assert said.startswith(f"Closed **{case}**")
    ran = _changes(bus, case)
    change = f"To change the label, send `close {case} tp|fp|benign [reason]` as a new message"

    for text in (f"close {case}", f"{{bot}} can you close {case}?", f"{{bot}} close {case} please"):
        said = _edit(client, bot, space, clock, msg, text)
        assert said.startswith(
            f"`{case}` was already closed as false positive by this message (`close {case} fp lab noise`)"
        ), text
        assert change in said and "Nothing was changed" not in said, text
    for text in ("close it please", "{bot} can you close it?"):
        said = _edit(client, bot, space, clock, threaded, text)
        assert said.startswith(f"`{case}` was already closed as true positive by this message"), text
        assert change in said, text
    said = _edit(client, bot, space, clock, msg, "close xsoar:999999")  # another case: the generic answer
    assert said.startswith("Nothing was changed")
    assert _changes(bus, case) == ran
    labels = [e.label for e in bus.audit.for_case(case) if isinstance(e, TruthLabeled)]
    assert labels == ["false_positive", "true_positive"]
