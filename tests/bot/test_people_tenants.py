"""People bound to tenants: a customer's people, wherever they talk to the bot (a 1:1 space, the SOC
room, a tenant's room, a card), read and act on their own tenants' cases only; the SOC's staff, bound
to none, see what the room sees. Two organisations' real Wazuh days, asked through signed webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine

from aisoc.bus import Bus
from aisoc.errors import ConfigError
from bot.inbound import Inbound
from bot.service import Bot
from bot.settings import load_bot_settings
from gate.service import Gate
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, bot_settings, deliver, settle
from tests.bot.story import ISOLATE, SHELLSHOCK, publish_story, tenant_action, tenant_case
from tests.bot.two_tenants import GLOBEX_ONLY, PAM, World, ask, case_root, settings_file, two_tenants
from tests.gate.factory import T0

PEOPLE = {
    "ana@acme.example": ("Ana Costa", ["acme"]),  # bound by her email
    "ben@acme.example": ("Ben Okafor", None),  # bound by his domain
    "gil@acme.example": ("Gil Roth", ["globex"]),  # at acme's domain, bound by email to globex
}
"""Customers' people: allowed by email or domain, bound to tenants by email or domain."""
BINDINGS = {"ana@acme.example": ["acme"], "acme.example": ["acme"], "gil@acme.example": ["globex"]}
QUESTIONS = (
    "why did it contain Linux-Server?",
    "what happened to 10.0.2.8?",
    "tell me about vboxuser",
    "explain the Shellshock case",
    "pending",
    "any open incidents?",
    "what happened today?",
)
"""Questions both tenants' records answer (same hosts, same address, same user)."""


@pytest.fixture
def people(space: Space) -> dict[str, dict[str, Any]]:
    """The customers, each with a 1:1 space with the bot; Erin's 1:1 space too."""
    fake = space.fake
    found = {email.split("@")[0]: fake.add_person(email, name) for email, (name, _) in PEOPLE.items()}
    return {"erin": space.erin, **found}


@pytest.fixture
def world(
    bus: Bus, gate: Gate, space: Space, clock: WallClock, people: dict[str, dict[str, Any]]
) -> Iterator[World]:
    """acme's and globex's rooms bound; Ana and Gil allowed by email, acme.example's people by domain;
    each person's 1:1 space is the room named after them."""
    with two_tenants(
        bus,
        gate,
        space,
        clock,
        allowed_people=["ana@acme.example", "gil@acme.example"],
        allowed_domains=["example.com", "acme.example"],
        people_tenants=BINDINGS,
    ) as w:
        for name, person in people.items():
            w.rooms[name] = space.fake.add_room(f"1:1 {name}", person, kind="direct")
        yield w


def _sees(answer: str) -> set[str]:
    return {tenant for tenant in ("acme", "globex") if f"{tenant}/wazuh:" in answer}


def test_a_bound_customer_sees_only_their_tenant_in_a_direct_space_and_the_soc_room(
    world: World, space: Space, clock: WallClock, people: dict[str, dict[str, Any]]
) -> None:
    """Given Ana bound by email to acme, when she asks in her 1:1 space and in the SOC room (both bound
    to no tenant) about hosts, addresses, users, titles, what is pending, open and new, then every
    answer names acme's cases and never globex's; globex's names and ids are not recorded for her."""
    for room in ("ana", "soc"):
        for question in QUESTIONS:
            answer = ask(world, space, clock, room, question, person=people["ana"])
            assert _sees(answer) == {"acme"} and "globex" not in answer.lower(), (room, question, answer)
        today = ask(world, space, clock, room, "what happened today?", person=people["ana"])
        assert "Alerts in: **5**" in today  # acme's five, not the SOC's eleven
        for question, name in (
            ("why did it contain wazuh-server?", "wazuh-server"),
            (f"case {tenant_case(GLOBEX_ONLY, 'globex')}", tenant_case(GLOBEX_ONLY, "globex")),
            (f"case {tenant_case(SHELLSHOCK, 'globex')}", tenant_case(SHELLSHOCK, "globex")),
        ):
            answer = ask(world, space, clock, room, question, person=people["ana"])
            assert f"Nothing is recorded about `{name}`" in answer, (room, question, answer)
    mine = ask(world, space, clock, "acme", "why did it contain Linux-Server?", person=people["ana"])
    assert _sees(mine) == {"acme"}


def test_an_unbound_analyst_still_sees_every_tenant(
    world: World, space: Space, clock: WallClock, people: dict[str, dict[str, Any]]
) -> None:
    """Given Erin bound to no tenant, when she asks in her 1:1 space and in the SOC room, then both
    tenants' cases answer, and the record only globex holds is shown to her."""
    for room in ("erin", "soc"):
        for question in ("why did it contain Linux-Server?", "any open incidents?", "pending"):
            answer = ask(world, space, clock, room, question, person=people["erin"])
            assert _sees(answer) == {"acme", "globex"}, (room, question, answer)
        sudo = ask(world, space, clock, room, "what happened to wazuh-server?", person=people["erin"])
        assert tenant_case(GLOBEX_ONLY, "globex") in sudo


def test_a_domain_binds_its_people_and_an_email_binding_wins_over_it(
    world: World, space: Space, clock: WallClock, people: dict[str, dict[str, Any]]
) -> None:
    """Given acme.example bound to acme and gil@acme.example bound to globex, when Ben (acme.example, no
    binding of his own) and Gil ask in their 1:1 spaces, then Ben sees acme's cases only and Gil
    globex's only."""
    for name, tenant in (("ben", "acme"), ("gil", "globex")):
        for question in ("why did it contain Linux-Server?", "any open incidents?", "what happened today?"):
            answer = ask(world, space, clock, name, question, person=people[name])
            assert _sees(answer) == {tenant}, (name, question, answer)
    sudo = ask(world, space, clock, "ben", "what happened to wazuh-server?", person=people["ben"])
    assert "Nothing is recorded about `wazuh-server`" in sudo
    assert tenant_case(GLOBEX_ONLY, "globex") in ask(
        world, space, clock, "gil", "what happened to wazuh-server?", person=people["gil"]
    )


def test_a_bound_person_in_another_tenants_room_sees_nothing_and_changes_nothing(
    world: World, space: Space, clock: WallClock, bus: Bus, people: dict[str, dict[str, Any]]
) -> None:
    """Given Ana (acme) in globex's room, where the tenants she may see are none, when she asks about
    either tenant's hosts, cases and what is open, then no case is shown; names answer that nothing is
    recorded; closing, reopening or acknowledging either tenant's case is refused and publishes
    nothing."""
    ana = people["ana"]
    for question in QUESTIONS:
        answer = ask(world, space, clock, "globex", question, person=ana)
        assert not _sees(answer) and "act-shellshock" not in answer, (question, answer)
    assert "**No open cases.**" in ask(world, space, clock, "globex", "any open incidents?", person=ana)
    assert "Alerts in: **0**" in ask(world, space, clock, "globex", "what happened today?", person=ana)
    for question, name in (
        ("why did it contain Linux-Server?", "Linux-Server"),
        (f"case {tenant_case(SHELLSHOCK, 'acme')}", tenant_case(SHELLSHOCK, "acme")),
        (f"case {tenant_case(SHELLSHOCK, 'globex')}", tenant_case(SHELLSHOCK, "globex")),
    ):
        assert f"Nothing is recorded about `{name}`" in ask(
            world, space, clock, "globex", question, person=ana
        )
    before = len(bus.audit)
    for tenant in ("acme", "globex"):
        for command in (
            f"close {tenant_case(SHELLSHOCK, tenant)} fp scanner",
            f"reopen {tenant_case(SHELLSHOCK, tenant)} look again",
            f"ack {tenant_case(PAM, tenant)}",
        ):
            answer = ask(world, space, clock, "globex", command, person=ana)
            assert (
                f"This room serves globex and you are bound to acme: `{command.split()[1]}` is not one of "
                "the cases you may see here, so nothing about it is shown or changed here" in answer
            ), answer
    assert len(bus.audit) == before


def test_a_bound_person_may_not_close_or_acknowledge_another_tenants_case_where_they_talk(
    world: World, space: Space, clock: WallClock, bus: Bus, people: dict[str, dict[str, Any]]
) -> None:
    """Given Ana (acme) in her 1:1 space and in the SOC room, when she closes, reopens, assigns,
    acknowledges or takes over globex's cases, or says `done` on its approved isolation, then each is
    refused and nothing is published; her own tenant's case closes."""
    ana = people["ana"]
    globex = tenant_case(SHELLSHOCK, "globex")
    before = len(bus.audit)
    for room in ("ana", "soc"):
        for command in (
            f"close {globex} fp scanner",
            f"reopen {globex} look again",
            f"assign {globex} bob@example.com",
            f"ack {tenant_case(PAM, 'globex')}",
            f"takeover {tenant_case(PAM, 'globex')}",
        ):
            answer = ask(world, space, clock, room, command, person=ana)
            assert "You are bound to acme" in answer and "is not one of the cases you may see" in answer, (
                answer
            )
        done = ask(world, space, clock, room, f"done {tenant_action(ISOLATE, 'globex')} isolated", person=ana)
        assert f"No proposed action `{tenant_action(ISOLATE, 'globex')}` is recorded" in done
    assert len(bus.audit) == before
    mine = ask(
        world, space, clock, "ana", f"close {tenant_case(SHELLSHOCK, 'acme')} tp confirmed", person=ana
    )
    assert mine.startswith(f"Closed **{tenant_case(SHELLSHOCK, 'acme')}**") and len(bus.audit) == before + 2


def test_soc_wide_commands_are_refused_to_a_bound_person_everywhere(
    world: World, space: Space, clock: WallClock, bus: Bus, people: dict[str, dict[str, Any]]
) -> None:
    """Given Ana bound to acme, when she asks for status, pauses or resumes in her 1:1 space and in the
    SOC room, then each is refused and nothing is published, and help does not offer them; Erin, in
    her 1:1 space, gets the SOC's status."""
    before = len(bus.audit)
    for room in ("ana", "soc"):
        for command in ("status", "pause tier2 storm", "resume tier2", "pause all"):
            answer = ask(world, space, clock, room, command, person=people["ana"])
            assert "is for the SOC's own staff" in answer, (room, command, answer)
        help_text = ask(world, space, clock, room, "help", person=people["ana"])
        assert "`case CASE`" in help_text and "`pause" not in help_text and "`status`" not in help_text
    assert len(bus.audit) == before
    assert "**SOC status**" in ask(world, space, clock, "erin", "status", person=people["erin"])


def test_a_bound_persons_clicks_and_forged_submits_on_another_tenants_card_are_refused(
    bus: Bus, gate: Gate, space: Space, clock: WallClock, people: dict[str, dict[str, Any]]
) -> None:
    """Given globex bound to no room (its threads and review card are in the SOC room), when Ana
    (acme) clicks Acknowledge on globex's review card, forges a submit from it naming globex's case to
    explain, or asks and closes in its thread, then nothing of globex is shown and nothing is
    published; Erin's click acknowledges it."""
    ana = people["ana"]
    with two_tenants(
        bus, gate, space, clock, bind=("acme",), allowed_people=["ana@acme.example"], people_tenants=BINDINGS
    ) as world:
        card = case_root(space, space.soc, tenant_case(PAM, "globex"))
        before = len(bus.audit)
        answers = []
        for person, inputs in (
            (ana, {"cmd": "ack", "case_id": tenant_case(PAM, "globex")}),
            (ana, {"cmd": "explain", "case_id": tenant_case(SHELLSHOCK, "globex")}),
            (ana, {"cmd": "more", "case_id": tenant_case(PAM, "globex")}),
        ):
            answers.append(_submit(world, space, clock, person, card["id"], inputs))
        assert "You are bound to acme" in answers[0] and "nothing about it is shown or changed" in answers[0]
        assert f"Nothing is recorded about `{tenant_case(SHELLSHOCK, 'globex')}`" in answers[1]
        assert f"Nothing is recorded about `{tenant_case(PAM, 'globex')}`" in answers[2]
        for question in ("more", "why?", "what happened here?"):
            answer = ask(world, space, clock, "soc", question, thread=card["id"], person=ana)
            assert "globex" not in answer.lower() and "vboxuser" not in answer, (question, answer)
        closed = ask(world, space, clock, "soc", "close fp scanner", thread=card["id"], person=ana)
        assert f"`{tenant_case(PAM, 'globex')}` is not one of the cases you may see here" in closed
        assert len(bus.audit) == before
        _submit(
            world, space, clock, space.erin, card["id"], {"cmd": "ack", "case_id": tenant_case(PAM, "globex")}
        )
        assert len(bus.audit) == before + 1


def _submit(
    world: World, space: Space, clock: WallClock, person: dict[str, Any], card: str, inputs: dict[str, Any]
) -> str:
    """``person`` submits ``inputs`` from the card (a signed webhook); returns the bot's last post."""
    action = space.fake.person_submits(person, card, inputs)
    assert deliver(world.client, space.fake.envelope("attachmentActions", action)).status_code == 200
    with time_machine.travel(T0, tick=False):
        settle(world.bot, clock)
    room = next(r for r in world.rooms.values() if r["id"] == action["roomId"])
    return str(space.fake.posted(room)[-1].get("markdown") or "")


def test_the_routing_model_is_kept_to_the_persons_tenants(
    bus: Bus, gate: Gate, space: Space, clock: WallClock, people: dict[str, dict[str, Any]]
) -> None:
    """Given a model that routes an unparsed sentence to the open cases, when Ana (acme) asks in her 1:1
    space, then it lists acme's cases only; routed to status, it is refused to her."""
    from tests.bot.test_answer import FakeModel

    direct = space.fake.add_room("1:1 ana", people["ana"], kind="direct")
    with time_machine.travel(T0, tick=False):
        for tenant in ("acme", "globex"):
            publish_story(bus, T0, tenant)
    for reply, expected in (
        ('{"command": "cases"}', "acme/wazuh:"),
        ('{"command": "status"}', "SOC's own staff"),
    ):
        settings = bot_settings(
            space.fake,
            space.soc,
            allowed_people=["ana@acme.example"],
            people_tenants={"ana@acme.example": ["acme"]},
            room_interval_s=0,
        )
        b = Bot(
            settings, bus=bus, gate=gate, gate_settings=gate.settings, clock=clock, model=FakeModel(reply)
        )
        with time_machine.travel(T0, tick=False):
            settle(b, clock)
            msg = space.fake.person_says(people["ana"], direct, "gimme the usual pls")
            b.receiver.receive(Inbound.from_message(msg, "webhook"))
            settle(b, clock)
        answer = space.fake.posted(direct)[-1]["markdown"]
        assert expected in answer and "globex" not in answer, answer
        b.close()


# --- settings ---------------------------------------------------------------------------------------


def test_people_tenants_are_read_from_toml_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given [bot.people_tenants] binding an email and a domain (any case, "@domain" too), then a person
    is bound by their email first, else by their domain, matched in any case; anyone else is bound to
    nothing; the same mapping is read from AISOC_BOT_PEOPLE_TENANTS."""
    monkeypatch.delenv("WEBEX_ACCESS_TOKEN", raising=False)
    path = settings_file(
        tmp_path,
        '[bot.people_tenants]\n" Ana@Acme.Example " = ["acme", "globex"]\n"@ACME.example" = ["acme"]\n'
        '"gil@acme.example" = ["globex"]\n',
    )
    s = load_bot_settings(path)
    assert s.people_tenants == {
        "ana@acme.example": ["acme", "globex"],
        "acme.example": ["acme"],
        "gil@acme.example": ["globex"],
    }
    assert s.person_tenants("ANA@acme.example") == {"acme", "globex"}
    assert s.person_tenants("ben@acme.example") == {"acme"} and s.person_tenants("gil@acme.example") == {
        "globex"
    }
    assert s.person_tenants("erin@example.com") is None and s.person_tenants(None) is None
    assert s.person_tenants("ben@sub.acme.example") is None  # a domain is matched exactly
    monkeypatch.setenv("AISOC_BOT_PEOPLE_TENANTS", '{"ana@acme.example": ["acme"]}')
    assert load_bot_settings(settings_file(tmp_path, "")).person_tenants("ana@acme.example") == {"acme"}


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            '[bot]\npeople_tenant = { "a@b.example" = ["acme"] }\n',
            "people_tenant.*Extra inputs are not permitted",
        ),
        ('[bot.people_tenants]\n"ana@acme.example" = []\n', "binds 'ana@acme.example' to no tenant"),
        ('[bot.people_tenants]\n"acme.example" = [" "]\n', "binds 'acme.example' to an empty tenant name"),
        ('[bot.people_tenants]\n"ana@acme.example" = "acme"\n', "must be bound to a list of tenants"),
        ('[bot.people_tenants]\n"ana@" = ["acme"]\n', "'ana@' is neither an email nor a domain"),
        ('[bot.people_tenants]\n"" = ["acme"]\n', "'' is neither an email nor a domain"),
        ('[bot.people_tenants]\nacme = ["acme"]\n', "'acme' is neither an email nor a domain"),
        (
            '[bot.people_tenants]\n"ana@acme.example" = ["acme"]\n"ANA@acme.example" = ["globex"]\n',
            "binds 'ana@acme.example' twice",
        ),
        (
            '[aisoc]\ntenants = ["acme"]\n[bot.people_tenants]\n"acme.example" = ["globx"]\n',
            "people_tenants binds 'globx', which .* does not declare",
        ),
        (
            '[aisoc]\ndefault_tenant = "acme"\n[bot.people_tenants]\n"acme.example" = ["acme"]\n',
            "people_tenants binds 'acme', the \\[aisoc\\] default_tenant",
        ),
    ],
)
def test_a_wrong_people_mapping_is_refused_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, expected: str
) -> None:
    """Given a mapping with an unknown key, no tenant, an empty tenant, a bare string, a key that is
    neither an email nor a domain, one email bound twice, an undeclared or the default tenant: loading
    fails and says why."""
    monkeypatch.delenv("WEBEX_ACCESS_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=expected):
        load_bot_settings(settings_file(tmp_path, table))
