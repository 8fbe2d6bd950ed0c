"""Rooms bound to tenants: two organisations' real Wazuh days (same hosts, same source ids), each
tenant's threads in its own room, and every answer and command of a tenant's room kept to its cases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from aisoc.bus import Bus
from aisoc.errors import ConfigError
from aisoc.events import ProducedBy, ShiftSummary
from aisoc.tenants import tenant_of
from bot.service import Bot
from bot.settings import load_bot_settings
from gate.service import Gate
from tests.bot.conftest import Space
from tests.bot.factory import WallClock, bot_settings, deliver, settle
from tests.bot.story import (
    ISOLATE,
    SHELLSHOCK,
    publish_story,
    tenant_action,
    tenant_case,
)
from tests.bot.two_tenants import GLOBEX_ONLY, PAM, World, ask, case_root, settings_file, shown, two_tenants
from tests.gate.factory import T0


@pytest.fixture
def world(bus: Bus, gate: Gate, space: Space, clock: WallClock) -> Iterator[World]:
    """acme and globex, their rooms bound (:func:`tests.bot.two_tenants.two_tenants`)."""
    with two_tenants(bus, gate, space, clock) as w:
        yield w


def test_each_tenants_threads_go_to_its_own_room(world: World, space: Space) -> None:
    """Given two tenants bound to two rooms, when their days are posted, then acme's plan card, review
    card and threads are in acme's room only, globex's in globex's, and the SOC room holds neither."""
    for tenant, other in (("acme", "globex"), ("globex", "acme")):
        posts = space.fake.posted(world.rooms[tenant])
        text = "\n".join(shown(p) for p in posts)
        assert tenant_case(SHELLSHOCK, tenant) in text and tenant_case(PAM, tenant) in text
        button = world.bot.store.button(tenant_action(ISOLATE, tenant))  # the plan card's approval
        assert button is not None and button.room_id == world.rooms[tenant]["id"]
        assert other not in text
    assert not [p for p in space.fake.posted(space.soc) if "wazuh:" in shown(p)]
    threads = {p.case_id: p.room_id for p in map(world.bot.store.get, _post_ids(world)) if p and p.case_id}
    assert threads and all(room == world.rooms[tenant_of(c)]["id"] for c, room in threads.items())


def _post_ids(world: World) -> list[str]:
    with world.bot.store._tx() as db:
        return [r[0] for r in db.execute("SELECT post_id FROM posts")]


def test_questions_in_a_tenant_room_see_only_its_cases(world: World, space: Space, clock: WallClock) -> None:
    """Given both tenants hold Linux-Server and 10.0.2.8, when Erin asks in acme's room about hosts, IPs,
    users, titles, a case, "that host", what is pending and open, what happened today, then every answer
    names acme's cases and never globex's."""
    questions = [
        "why did it contain Linux-Server?",
        "what happened to 10.0.2.8?",
        "why was 10.0.2.9 isolated?",  # both tenants' Linux-Server agents report it
        "tell me about vboxuser",
        "explain the Shellshock case",
        "why did it contain that host?",
        f"case {tenant_case(SHELLSHOCK, 'acme')}",
        "pending",
        "anything pending for me?",
        "any open incidents?",
        "what happened today?",
    ]
    for question in questions:
        answer = ask(world, space, clock, "acme", question)
        assert "acme/wazuh:" in answer or tenant_action(ISOLATE, "acme") in answer, (question, answer)
        assert "globex" not in answer.lower(), (question, answer)
    today = ask(world, space, clock, "acme", "what happened today?")
    assert "Alerts in: **5**" in today  # acme's five, not the SOC's eleven
    root = case_root(space, world.rooms["acme"], tenant_case(SHELLSHOCK, "acme"))
    more = ask(world, space, clock, "acme", "more", thread=root["id"])
    assert more.startswith(f"**Record of `{tenant_case(SHELLSHOCK, 'acme')}`**") and "globex" not in more


def test_a_name_only_another_tenant_holds_is_not_recorded(
    world: World, space: Space, clock: WallClock
) -> None:
    """Given wazuh-server, wazuh-user and the sudo case exist only in globex's record, when they are asked
    about in acme's room, then the answer is that nothing is recorded, as for a name nobody has; and
    globex's copy of a case id acme also holds is not answered with acme's."""
    for question, name in (
        ("why did it contain wazuh-server?", "wazuh-server"),
        ("what happened to wazuh-user?", "wazuh-user"),
        (f"case {tenant_case(GLOBEX_ONLY, 'globex')}", tenant_case(GLOBEX_ONLY, "globex")),
        (f"case {tenant_case(SHELLSHOCK, 'globex')}", tenant_case(SHELLSHOCK, "globex")),
        ("why did it contain nosuch-host-9?", "nosuch-host-9"),
    ):
        answer = ask(world, space, clock, "acme", question)
        assert f"Nothing is recorded about `{name}`" in answer, (question, answer)
        assert "acme/wazuh:" not in answer
    assert "sudo" not in ask(world, space, clock, "acme", "explain the sudo to ROOT case").lower()
    assert tenant_case(GLOBEX_ONLY, "globex") in ask(
        world, space, clock, "globex", "what happened to wazuh-server?"
    )


def test_commands_on_another_tenants_case_are_refused(
    world: World, space: Space, clock: WallClock, bus: Bus, gate: Gate
) -> None:
    """Given globex's cases and its approved isolation, when acme's room closes, reopens, assigns,
    acknowledges, takes over or reports done on them, then each is refused and nothing is published."""
    globex = tenant_case(SHELLSHOCK, "globex")
    isolate = tenant_action(ISOLATE, "globex")
    with time_machine.travel(T0, tick=False):
        gate.decide(
            world.stories["globex"].proposals[isolate].event_id,
            person_id="alice",
            decision="approved",
            reason="contain",
            identity_source="t",
        )
        settle(world.bot, clock)
    before = len(bus.audit)
    for command in (
        f"close {globex} fp scanner",
        f"reopen {globex} look again",
        f"assign {globex} bob@example.com",
        f"ack {tenant_case(PAM, 'globex')}",
        f"takeover {tenant_case(PAM, 'globex')}",
    ):
        answer = ask(world, space, clock, "acme", command)
        assert "This room serves acme" in answer and "nothing about it is shown or changed" in answer, answer
    thread = case_root(space, world.rooms["acme"], tenant_case(SHELLSHOCK, "acme"))["id"]
    in_thread = ask(world, space, clock, "acme", f"close {globex} fp", thread=thread)
    assert f"This room serves acme: `{globex}` is not one of its cases" in in_thread, in_thread
    done = ask(world, space, clock, "acme", f"done {isolate} isolated")
    assert f"No proposed action `{isolate}` is recorded" in done
    approve = ask(world, space, clock, "acme", f"approve {tenant_action(ISOLATE, 'globex')}")
    assert "No proposed action" in approve
    assert len(bus.audit) == before
    mine = ask(world, space, clock, "acme", f"close {tenant_case(SHELLSHOCK, 'acme')} tp confirmed")
    assert mine.startswith(f"Closed **{tenant_case(SHELLSHOCK, 'acme')}**") and len(bus.audit) == before + 2


def test_a_forged_card_submit_naming_another_tenants_case_is_refused(
    world: World, space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given acme's review card, when a submit from it names globex's case (ack, explain), then nothing
    is published and globex's case is neither acknowledged nor explained; acme's own ack still works."""
    card = case_root(space, world.rooms["acme"], tenant_case(PAM, "acme"))
    before = len(bus.audit)
    answers = []
    for inputs in (
        {"cmd": "ack", "case_id": tenant_case(PAM, "globex")},
        {"cmd": "explain", "case_id": tenant_case(SHELLSHOCK, "globex")},
    ):
        action = space.fake.person_submits(space.erin, card["id"], inputs)
        assert action["roomId"] == world.rooms["acme"]["id"]
        assert deliver(world.client, space.fake.envelope("attachmentActions", action)).status_code == 200
        with time_machine.travel(T0, tick=False):
            settle(world.bot, clock)
        answers.append(space.fake.posted(world.rooms["acme"])[-1]["markdown"])
    assert "This room serves acme" in answers[0]
    assert f"Nothing is recorded about `{tenant_case(SHELLSHOCK, 'globex')}`" in answers[1]
    assert len(bus.audit) == before
    action = space.fake.person_submits(
        space.erin, card["id"], {"cmd": "ack", "case_id": tenant_case(PAM, "acme")}
    )
    deliver(world.client, space.fake.envelope("attachmentActions", action))
    with time_machine.travel(T0, tick=False):
        settle(world.bot, clock)
    assert len(bus.audit) == before + 1


def test_the_soc_room_sees_every_tenant(world: World, space: Space, clock: WallClock) -> None:
    """Given the SOC room is bound to no tenant, when Erin asks there, then both tenants' cases answer."""
    for question in ("why did it contain Linux-Server?", "any open incidents?", "pending"):
        answer = ask(world, space, clock, "soc", question)
        assert "acme" in answer and "globex" in answer, (question, answer)
    sudo = ask(world, space, clock, "soc", "what happened to wazuh-server?")
    assert tenant_case(GLOBEX_ONLY, "globex") in sudo


def test_soc_wide_commands_stay_in_the_soc_room(
    world: World, space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given acme's room, when Erin asks for status, pauses or resumes, then each is refused and nothing
    is published; on-call is answered; help does not offer what the room may not do. The SOC room may."""
    before = len(bus.audit)
    for command in ("status", "pause tier2 storm", "resume tier2"):
        answer = ask(world, space, clock, "acme", command)
        assert "is for the SOC's own space" in answer, (command, answer)
    assert len(bus.audit) == before
    assert "IR Lead" in ask(world, space, clock, "acme", "who is on call?")
    help_text = ask(world, space, clock, "acme", "help")
    assert "`case CASE`" in help_text and "`pause" not in help_text and "`status`" not in help_text
    assert "**SOC status**" in ask(world, space, clock, "soc", "status")
    assert "`pause" in ask(world, space, clock, "soc", "help")


def test_the_routing_model_is_kept_to_the_rooms_tenants(
    bus: Bus, gate: Gate, space: Space, clock: WallClock
) -> None:
    """Given a model that routes an unparsed sentence to the open cases, when asked in acme's room, then
    it lists acme's cases only; routed to status, it is refused there."""
    from tests.bot.test_answer import FakeModel

    acme = space.fake.add_room("Acme SOC", space.erin)
    with time_machine.travel(T0, tick=False):
        for tenant in ("acme", "globex"):
            publish_story(bus, T0, tenant)
    for reply, expected in (
        ('{"command": "cases"}', "acme/wazuh:"),
        ('{"command": "status"}', "SOC's own space"),
    ):
        settings = bot_settings(space.fake, space.soc, tenant_rooms={"acme": acme["id"]}, room_interval_s=0)
        b = Bot(
            settings, bus=bus, gate=gate, gate_settings=gate.settings, clock=clock, model=FakeModel(reply)
        )
        with time_machine.travel(T0, tick=False):
            settle(b, clock)
            msg = space.fake.person_says(space.erin, acme, "gimme the usual pls")
            b.receiver.receive(_inbound(msg))
            settle(b, clock)
        answer = space.fake.posted(acme)[-1]["markdown"]
        assert expected in answer and "globex" not in answer, answer
        b.close()


def _inbound(msg: dict[str, Any]) -> Any:
    from bot.inbound import Inbound

    return Inbound.from_message(msg, "webhook")


# --- settings ---------------------------------------------------------------------------------------


def test_tenant_rooms_are_read_from_toml_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given [bot.tenant_rooms] binding acme and globex to one room and initech to another, then each
    tenant's cases go to its room, that room serves both, and plain ids stay in the SOC's rooms; the
    same mapping is read from AISOC_BOT_TENANT_ROOMS."""
    monkeypatch.delenv("WEBEX_ACCESS_TOKEN", raising=False)
    path = settings_file(
        tmp_path,
        '[bot]\nsoc_room_id = "SOC"\ncase_room_id = "CASES"\n'
        '[bot.tenant_rooms]\nacme = "R1"\nglobex = "R1"\n"Initech Ltd" = "R2"\n',
    )
    s = load_bot_settings(path)
    assert s.room_tenants("R1") == {"acme", "globex"} and s.room_tenants("SOC") is None
    assert s.case_room_for("acme/wazuh:1") == "R1" and s.case_room_for("Initech%20Ltd/xsoar:7") == "R2"
    assert s.case_room_for("wazuh:1") == "CASES" and s.case_room_for("hooli/wazuh:1") == "CASES"
    assert {"R1", "R2", "SOC", "CASES"} <= s.answer_rooms()
    monkeypatch.setenv("AISOC_BOT_TENANT_ROOMS", '{"acme": "R9"}')
    assert load_bot_settings(settings_file(tmp_path, "")).tenant_rooms == {"acme": "R9"}


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('[bot]\ntenant_room = { acme = "R1" }\n', "tenant_room.*Extra inputs are not permitted"),
        ('[bot.tenant_rooms]\nacme = ""\n', "tenant 'acme' is bound to an empty room id"),
        ('[bot.tenant_rooms]\nacme = "  "\n', "tenant 'acme' is bound to an empty room id"),
        ('[bot.tenant_rooms]\nacme = "R1"\n" acme " = "R2"\n', "tenant 'acme' is bound to two rooms"),
        ('[bot.tenant_rooms]\n"" = "R1"\n', "a tenant name is empty"),
        ('[bot]\nsoc_room_id = "R1"\n[bot.tenant_rooms]\nacme = "R1"\n', "give the tenant a room of its own"),
        ('[bot]\nrooms = ["R1"]\n[bot.tenant_rooms]\nacme = "R1"\n', "give the tenant a room of its own"),
        (
            '[aisoc]\ntenants = ["acme"]\n[bot.tenant_rooms]\nglobx = "R1"\n',
            "'globx', which .* does not declare",
        ),
        (
            '[aisoc]\ndefault_tenant = "acme"\n[bot.tenant_rooms]\nacme = "R1"\n',
            "the \\[aisoc\\] default_tenant",
        ),
    ],
)
def test_a_wrong_tenant_mapping_is_refused_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, expected: str
) -> None:
    """Given a mapping with an unknown key, an empty room, a tenant bound twice, an empty tenant, a
    room that serves every tenant, an undeclared or the default tenant: loading fails and says why."""
    monkeypatch.delenv("WEBEX_ACCESS_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=expected):
        load_bot_settings(settings_file(tmp_path, table))


def test_a_tenants_own_report_also_goes_to_its_room(
    world: World, space: Space, clock: WallClock, bus: Bus
) -> None:
    """Given the SOC Manager's shift summaries (one per tenant, and one with no tenant), then each is
    in the SOC room, acme's also in acme's room, and acme's room gets no other tenant's report."""
    with time_machine.travel(T0, tick=False):
        for tenant, said in (
            ("acme", "Acme shift: quiet."),
            ("globex", "Globex shift: busy."),
            (None, "All: calm."),
        ):
            bus.publish(
                ShiftSummary(
                    produced_by=ProducedBy(role="soc_manager"),
                    window_start=T0 - timedelta(hours=8),
                    window_end=T0,
                    tenant=tenant,
                    alerts_received=3,
                    summary=said,
                )
            )
        settle(world.bot, clock)
    soc = "\n".join(shown(p) for p in space.fake.posted(space.soc))
    acme = "\n".join(shown(p) for p in space.fake.posted(world.rooms["acme"]))
    assert all(s in soc for s in ("Acme shift: quiet.", "Globex shift: busy.", "All: calm."))
    assert "Acme shift: quiet." in acme
    assert "Globex shift: busy." not in acme and "All: calm." not in acme
