"""The held-out corpus (``tests/bot/heldout_corpus.py``) said to the bot as Webex delivers it: each
message posted by Erin in the fake Webex (the bot's ``<spark-mention>`` in the html, markdown, quotes),
delivered to the real webhook handler signed with ``X-Spark-Signature``, the bot's answer read back
from the fake, and what it changed on the bus checked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import escape
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient

from aisoc.bus import Bus
from aisoc.events import (
    ActionDecided,
    ActionExecuted,
    ActionKind,
    ActionProposed,
    Alert,
    AlertReceived,
    CaseClosed,
    Event,
    Indicator,
    IndicatorType,
    IrPlan,
    Phase,
    PlanStep,
    ProducedBy,
    ReviewRequested,
    Risk,
    Role,
    Tier2Decided,
    TriageVerdict,
    plan_digest,
)
from bot.service import Bot
from gate.service import Gate
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, bot_settings, deliver, review, settle
from tests.bot.heldout_corpus import CORPUS, FIN, HEDGED, SECOND, WS
from tests.bot.story import publish_story
from tests.gate.factory import T0

BOT_NAME = "SOCbot"
"""The bot's display name in the fake Webex (``@SOCbot``)."""


def _by(role: str) -> ProducedBy:
    return ProducedBy(role=role, model_leg="primary", prompt_version=f"{role}/1")


def _contained(bus: Bus, source_id: str, title: str, host: str, ip: str, user: str, **more: Any) -> None:
    """An EDR detection on ``host`` worked to a SEV-1 plan whose isolation Alice approved and Bob
    carried out (and whose block of ``more['c2']``, if any, is only proposed)."""
    c2: str | None = more.get("c2")
    indicators = [Indicator(type=IndicatorType.IP, value=c2)] if c2 else []
    if more.get("domain"):
        indicators.append(Indicator(type=IndicatorType.DOMAIN, value=more["domain"]))
    alert = Alert(
        source="edr",
        source_id=source_id,
        title=title,
        rule=more.get("rule", "EDR-1"),
        severity=4,
        created_at=T0 - timedelta(minutes=20),
        hosts=[host],
        users=[user],
        indicators=indicators,
        raw={"device": {"hostname": host, "local_ip": ip}, "user": user, "detection": title},
    )
    case = alert.case_id
    received = AlertReceived(alert=alert, case_id=case, produced_by=ProducedBy(role="ingest"))
    verdict = TriageVerdict(
        case_id=case,
        causation_id=received.event_id,
        produced_by=_by("sentinel"),
        verdict="malicious",
        confidence=0.95,
        priority=10,
        summary=more["why"],
        routed_to="tier2",
    )
    tier2 = Tier2Decided(
        case_id=case,
        causation_id=verdict.event_id,
        produced_by=_by("tier2"),
        decision="escalate",
        confidence=0.9,
        summary=more["found"],
        findings=[more["found"]],
        evidence=[more["evidence"]],
    )
    tag = host.lower().replace("-", "")
    steps = [
        PlanStep(
            phase=Phase.CONTAINMENT,
            description=f"Isolate {host} from the network",
            kind=ActionKind.ISOLATE_HOST,
            target=host,
            action_id=f"act-{tag}-isolate",
        )
    ]
    if c2:
        steps.append(
            PlanStep(
                phase=Phase.CONTAINMENT,
                description=f"Block {c2} at the proxy",
                kind=ActionKind.BLOCK_INDICATOR,
                target=c2,
                action_id=f"act-{tag}-block",
            )
        )
    digest = plan_digest("SEV-1", steps)
    plan = IrPlan(
        case_id=case,
        causation_id=tier2.event_id,
        produced_by=_by("ir_lead"),
        sev="SEV-1",
        sev_rationale=more["sev"],
        summary=f"Contain {host}, then investigate.",
        steps=steps,
        plan_digest=digest,
    )
    proposals = [
        ActionProposed(
            case_id=case,
            causation_id=plan.event_id,
            produced_by=_by("ir_lead"),
            action_id=s.action_id or "",
            kind=s.kind or ActionKind.ISOLATE_HOST,
            target=s.target or "",
            phase=s.phase,
            rationale=s.description,
            approver_role=Role.IR_LEAD,
            risk=Risk.HIGH,
            sev="SEV-1",
            expires_at=T0 + timedelta(hours=2),
            plan_event_id=plan.event_id,
            plan_digest=digest,
        )
        for s in steps
    ]
    decided = ActionDecided(
        case_id=case,
        action_id=steps[0].action_id or "",
        decision="approved",
        decided_by="alice@example.com",
        reason="contain it now",
        channel="gate",
        plan_digest=digest,
        produced_by=ProducedBy(role="human"),
    )
    done = ActionExecuted(
        case_id=case,
        action_id=steps[0].action_id or "",
        executed_by="bob@example.com",
        note="isolated in the EDR console",
        produced_by=ProducedBy(role="human"),
    )
    bus.publish_many([received, verdict, tier2, plan, *proposals, decided, done])


def publish_world(bus: Bus) -> None:
    """The Shellshock day, the two contained hosts, and ten reviews asked of Tier 2."""
    publish_story(bus, T0)
    _contained(
        bus,
        "DET-88213",
        "Cobalt Strike beacon on WS-0142",
        "WS-0142",
        "10.20.4.142",
        "mlopez",
        c2="185.220.101.45",
        domain="cdn-update-check.net",
        why="Beacon to a known Cobalt Strike team server every 60 s.",
        found="rundll32 spawned by WINWORD beaconing to 185.220.101.45",
        evidence="proxy.log: 412 CONNECTs to cdn-update-check.net in 7 hours",
        sev="Active C2 on a workstation with HR data.",
    )
    _contained(
        bus,
        "DET-88301",
        "Ransomware canary file modified",
        "FIN-LAP-7",
        "10.0.0.5",
        "kchan",
        why="A canary file in the finance share was encrypted.",
        found="vssadmin delete shadows ran before the canary was rewritten",
        evidence="EDR: vssadmin.exe delete shadows /all /quiet by kchan",
        sev="Ransomware behaviour on a finance laptop.",
    )
    for n in range(71, 81):
        review(bus, n)


def _html(text: str, bot_id: str) -> str:
    """The html a Webex client sends for ``text``: the mention, markdown and quotes marked up."""
    tag = f'<spark-mention data-object-type="person" data-object-id="{bot_id}">{BOT_NAME}</spark-mention>'
    quoted: list[str] = []
    own: list[str] = []
    for line in text.splitlines():
        (quoted if line.startswith("> ") else own).append(line.removeprefix("> "))

    def mark(line: str) -> str:
        s = escape(line, quote=False)
        s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
        s = re.sub(r"`(.+?)`", r"<code>\1</code>", s)
        s = re.sub(r"\*(.+?)\*", r"<em>\1</em>", s)
        return s.replace("{bot}", tag)

    body = "<br/>".join(mark(line) for line in own)
    quote = f"<blockquote><p>{'<br/>'.join(mark(q) for q in quoted)}</p></blockquote>" if quoted else ""
    return f"{quote}<p>{body}</p>"


@pytest.fixture
def world(bus: Bus, gate: Gate, space: Space, clock: WallClock) -> Iterator[tuple[Bot, FlaskClient]]:
    """The bot over the held-out world, its cards posted, time frozen at the factory's Monday."""
    with time_machine.travel(T0, tick=False):
        publish_world(bus)
        b = Bot(
            bot_settings(space.fake, space.soc, sev_mentions={"SEV-1": []}),
            bus=bus,
            gate=gate,
            gate_settings=gate.settings,
            clock=clock,
        )
        settle(b, clock)
        app = b.create_app()
        app.testing = True
        yield b, app.test_client()
        b.close()


def _threads(bot: Bot, space: Space) -> dict[str, str | None]:
    """Where a message is said: the room's top level, a case's thread, the SEV-1 announcement's."""
    where: dict[str, str | None] = {"top": None, "dm": None}
    for name, case in (("ws", WS), ("fin", FIN), ("shell", "wazuh:eV5665cBARIQcDql-GZ3")):
        root = bot.store.thread_root(case)
        assert root is not None and root.message_id
        where[name] = root.message_id
    for i, n in enumerate(range(71, 79), start=1):
        root = bot.store.thread_root(f"jsonl:alert-{n}")
        assert root is not None and root.message_id
        where[f"review{i}"] = root.message_id
    sev = [
        m
        for m in space.fake.posted(space.soc)
        if not m.get("parentId") and "SEV-1" in str(m.get("markdown")) and WS in str(m.get("markdown"))
    ]
    assert len(sev) == 1
    where["sev"] = sev[0]["id"]
    return where


def _say(space: Space, dm: dict[str, Any], text: str, where: str, parent: str | None) -> dict[str, Any]:
    """Erin posts ``text`` in the fake Webex as its client would."""
    fake = space.fake
    if where == "dm":
        body: dict[str, Any] = {"text": text}
        room = dm
    else:
        body = {
            "text": text.replace("{bot}", BOT_NAME),
            "markdown": text.replace("{bot}", f"<@personId:{fake.bot['id']}|{BOT_NAME}>"),
            "html": _html(text, fake.bot["id"]),
            "_mentioned": [fake.bot["id"]],
        }
        room = space.soc
    if parent:
        body["parentId"] = parent
    with fake.lock:
        return fake._message(space.erin, room["id"], body)


def _human(events: list[Event]) -> list[Event]:
    return [e for e in events if e.produced_by.role == "human"]


def check(answer: str, changed: list[Event], expect: tuple[str, str | None]) -> bool:
    """Whether the answer and what changed are what ``expect`` names."""
    what, subject = expect
    s = str(subject)
    lines = answer.splitlines() or [""]
    first = lines[0]
    if what == "acked":
        return bool(changed) and all(
            isinstance(e, ReviewRequested) and e.case_id == s and e.role == Role.HUMAN for e in changed
        )
    if what == "closed":
        case, label = s.split("|")
        closes = [e for e in changed if isinstance(e, CaseClosed)]
        return (
            len(closes) == 1
            and closes[0].case_id == case
            and str(closes[0].disposition).startswith(label)
            and all(e.case_id == case for e in changed)
        )
    if changed:
        return False
    if what == "hedged":  # talk about a command: changed nothing, and how to say it plainly
        return "changed nothing" in first.lower() and f"`{s}" in answer
    if what == "host":
        name, case = s.split("@")
        heading = re.match(r"\*\*(host|indicator|user|domain) (\S+)\*\*", first)
        return bool(heading) and heading.group(2).lower() == name.lower() and case in answer  # type: ignore[union-attr]
    if what == "address":
        ip, rest = s.split(">")
        host, case = rest.split("@")
        return first.startswith(f"`{ip}` is the address on record of host **{host}**") and case in answer
    if what == "about":
        return s in "\n".join(lines[:5]) and "which one" not in answer.lower()
    if what == "pick":
        return "which" in first.lower() and all(h.lower() in answer.lower() for h in s.split("|"))
    if what == "record":
        return first.startswith(f"**Record of `{s}`**")
    if what == "oncall":
        return first == "**On call now**"
    if what == "pending":
        return first in ("**Waiting on you**", "**Nothing is waiting on you.**", "**Waiting**")
    if what == "glance":
        return first.startswith("**The SOC ") and "- Alerts in: **" in answer
    if what == "open":
        return first.startswith(f"**Open SEV-{s} cases" if subject else "**Open cases")
    if what == "chat":
        return (
            answer in ("You're welcome.", "👍")
            or (answer.startswith("Hi!") and "\n" not in answer)
            or first == "I did not understand that."
        )
    return what == "safe"


def test_the_held_out_corpus_is_understood(
    world: tuple[Bot, FlaskClient], space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given the held-out world, when Erin says each message of the held-out corpus where it names
    (top level, a case's thread, under the SEV announcement or a review card, a 1:1 space) as Webex
    delivers it (signed webhook, mention markup, markdown), then each answer is the one it expects
    and nothing changes but what a clear ack or close asks for."""
    bot, client = world
    dm = space.fake.add_room("Erin", space.erin, kind="direct")
    assert len(CORPUS) >= 150
    wrong: dict[str, list[str]] = {}
    with time_machine.travel(T0, tick=False):
        threads = _threads(bot, space)
        sets = (("held-out corpus", CORPUS), ("second held-out set", SECOND), ("hedged commands", HEDGED))
        for name, corpus in sets:
            wrong[name] = []
            for text, where, expect in corpus:
                room = dm if where == "dm" else space.soc
                before_posts = len(space.fake.posted(room))
                cursor = bus.audit.last_id()
                msg = _say(space, dm, text, where, threads[where])
                resp = deliver(client, space.fake.envelope("messages", msg))
                assert resp.status_code == 200, resp.get_json()
                settle(bot, clock)
                new = space.fake.posted(room)[before_posts:]
                root = threads[where] or msg["id"]
                said = [m for m in new if m.get("parentId") == root or where == "dm"]
                answer = str(said[-1].get("markdown") or said[-1].get("text")) if said else ""
                changed = _human([e.event for e in bus.audit.entries(since=cursor)])
                if not check(answer, changed, expect):
                    what = [type(e).__name__ for e in changed]
                    wrong[name].append(
                        f"[{where}] {text!r} expected {expect}; changed {what}; answered:\n{answer}"
                    )
            print(f"{name}: {len(corpus) - len(wrong[name])} of {len(corpus)} understood")
    missed = [w for ws in wrong.values() for w in ws]
    assert not missed, "\n\n".join(missed)


WHO_AND_WHAT: list[tuple[str, str, str]] = [
    # a who-question about people on a shift: who is on call, never the shift's summary
    ("{bot} who's working the shift today?", "top", "oncall"),
    ("{bot} who is on shift", "top", "oncall"),
    ("{bot} who's on the night shift", "top", "oncall"),
    ("{bot} who is on shift tonight?", "ws", "oncall"),
    # the shift itself: its summary
    ("{bot} how was the shift?", "top", "glance"),
    ("{bot} recap of this shift", "top", "glance"),
    # not understood in a case's thread: one line; a question, one line that points to `help`
    ("{bot} hmm ok", "ws", "unclear"),
    ("{bot} interesting", "fin", "unclear"),
    ("{bot} \U0001f937", "ws", "unclear"),
    ("{bot} frobnicate the widget?", "ws", "unclear?"),
    # not understood at top level: the command list, as before
    ("{bot} interesting", "top", "help"),
]


@pytest.mark.parametrize(("text", "where", "what"), WHO_AND_WHAT)
def test_who_is_on_shift_and_what_is_not_understood(
    world: tuple[Bot, FlaskClient], space: Space, clock: WallClock, bus: Bus, text: str, where: str, what: str
) -> None:
    """Given the held-out world on a frozen clock with someone on call for every duty, when Erin asks
    who is on a shift, then the answer is who is on call (with names), while a question about the shift
    itself is its summary; and what is not understood in a case's thread is answered in one line (a
    question's line points to `help`), at top level with the command list; nothing changes."""
    bot, client = world
    dm = space.fake.add_room("Erin", space.erin, kind="direct")
    with time_machine.travel(T0, tick=False):
        threads = _threads(bot, space)
        before_posts = len(space.fake.posted(space.soc))
        cursor = bus.audit.last_id()
        msg = _say(space, dm, text, where, threads[where])
        assert deliver(client, space.fake.envelope("messages", msg)).status_code == 200
        settle(bot, clock)
        said = [
            m
            for m in space.fake.posted(space.soc)[before_posts:]
            if m.get("parentId") == (threads[where] or msg["id"])
        ]
        answer = str(said[-1].get("markdown")) if said else ""
        assert not _human([e.event for e in bus.audit.entries(since=cursor)])
    if what == "oncall":
        assert check(answer, [], ("oncall", None)), answer
        held = answer.splitlines()[1:]
        assert held and not any(line.endswith(": nobody") for line in held), answer
    elif what == "glance":
        assert check(answer, [], ("glance", None)), answer
    elif what == "help":
        assert answer.startswith("I did not understand that.") and "**What I can do**" in answer
    else:
        assert "\n" not in answer and answer.startswith("I did not understand that."), answer
        assert ("`help`" in answer) == (what == "unclear?"), answer
