"""The on-call roster: rotations across DST, overrides, escalation chains, authorization, ``aisoc oncall``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aisoc.cli import main
from aisoc.errors import ConfigError
from aisoc.events import Role, duty_title
from aisoc.settings import load_settings
from gate.errors import RosterError
from gate.roster import Roster, mention
from gate.settings import RosterSettings
from tests.gate.factory import T0, roster_settings


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def roster() -> Roster:
    return Roster(roster_settings())


def who(roster: Roster, role: str, when: str) -> str | None:
    held = roster.on_call(role, at(when))
    return held.person.id if held else None


def test_weekly_handover_follows_london_time_across_spring_dst(roster: Roster) -> None:
    """Given a 09:00 Europe/London weekly handover, when BST starts, then it moves to 08:00 UTC."""
    assert who(roster, "ir_lead", "2026-03-16T08:59:59+00:00") == "bob"
    assert who(roster, "ir_lead", "2026-03-16T09:00:00+00:00") == "alice"
    assert who(roster, "ir_lead", "2026-03-30T07:59:59+00:00") == "bob"
    assert who(roster, "ir_lead", "2026-03-30T08:00:00+00:00") == "alice"
    held = roster.on_call("ir_lead", at("2026-03-30T12:00:00+00:00"))
    assert held is not None and held.since is not None and held.until is not None
    assert held.local(held.since).strftime("%H:%M %Z") == "09:00 BST"
    assert held.until == at("2026-04-06T08:00:00+00:00")


def test_daily_handover_in_the_repeated_autumn_hour_happens_once(roster: Roster) -> None:
    """Given a 01:30 London daily handover, when 01:30 occurs twice on 25 October, then it hands over once."""
    assert who(roster, "tier2", "2026-10-25T00:29:59+00:00") == "erin"
    assert who(roster, "tier2", "2026-10-25T00:30:00+00:00") == "bob"  # 01:30 BST, the first 01:30
    assert who(roster, "tier2", "2026-10-25T01:30:00+00:00") == "bob"  # 01:30 GMT, the second 01:30
    assert who(roster, "tier2", "2026-10-26T01:29:59+00:00") == "bob"
    assert who(roster, "tier2", "2026-10-26T01:30:00+00:00") == "erin"
    held = roster.on_call("tier2", at("2026-10-25T12:00:00+00:00"))
    assert held is not None and held.until is not None and held.since is not None
    assert held.until - held.since == timedelta(hours=25)


def test_override_covers_its_window_and_cuts_the_rotation_short(roster: Roster) -> None:
    """Given Erin overriding Bob on 10-11 March, when asked around it, then Erin covers exactly it."""
    assert who(roster, "ir_lead", "2026-03-10T11:59:59+00:00") == "bob"
    held = roster.on_call("ir_lead", at("2026-03-10T12:00:00+00:00"))
    assert held is not None and held.person.id == "erin" and held.source == "override"
    assert who(roster, "ir_lead", "2026-03-11T12:00:00+00:00") == "bob"
    before = roster.on_call("ir_lead", at("2026-03-10T10:00:00+00:00"))
    assert before is not None and before.until == at("2026-03-10T12:00:00+00:00")


def test_nobody_is_on_call_before_the_first_rotation_starts(roster: Roster) -> None:
    """Given a rotation starting 2 March, when asked on 1 March, then nobody holds the duty."""
    assert roster.on_call("ir_lead", at("2026-03-01T12:00:00+00:00")) is None
    assert roster.on_call("threat_hunter", T0) is None


def test_escalation_chain_resolves_duties_to_whoever_holds_them(roster: Roster) -> None:
    """Given the chain [carol, soc_manager], when resolved, then it is on-call, Carol, then Dave."""
    assert [p.id for p in roster.chain("ir_lead", T0)] == ["alice", "carol", "dave"]
    assert [p.name for p in roster.approvers("ir_lead")] == ["Carol Diaz"]


def test_authorize_says_who_may_and_why_not(roster: Roster) -> None:
    """Given Alice on call, when people ask, then on-call, approver group and assignee may; others not."""
    assert roster.authorize("alice", "ir_lead", T0).basis == "on call"
    assert roster.authorize("carol", "ir_lead", T0).basis == "approver group"
    assert roster.authorize("dave", "ir_lead", T0, assignee="dave").basis == "escalated to"
    bob = roster.authorize("bob", "ir_lead", T0)
    assert not bob.allowed and "Alice Ng is" in bob.reason and "Carol Diaz" in bob.reason
    assert not roster.authorize("zed", "ir_lead", T0).allowed


def test_people_are_found_by_id_email_or_alias_and_mentioned_by_email(roster: Roster) -> None:
    """Given the roster, when looking people up, then ids, emails and aliases match in any case."""
    alice = roster.find("ALICE@example.com")
    assert alice is not None and roster.find("ang") == alice and roster.find("alice") == alice
    assert roster.find("nobody@example.com") is None and roster.find("") is None
    assert mention(alice) == "<@personEmail:alice@example.com|Alice Ng>" == alice.mention


def test_duties_resolve_from_slugs_and_display_names(roster: Roster) -> None:
    """Given duty names, when resolved, then slugs and display names map to role slugs."""
    assert roster.resolve_duty("IR Lead On-Call") == Role.IR_LEAD
    assert roster.resolve_duty("soc_manager") == Role.SOC_MANAGER
    assert roster.resolve_duty("tier 2 on-call") == Role.TIER2
    assert duty_title("soc_manager") == "SOC Manager On-Call"
    with pytest.raises(RosterError, match="ir_lead \\(IR Lead On-Call\\)"):
        roster.resolve_duty("Night Watch")


def test_audit_is_for_auditors_and_people_named_in_duties(roster: Roster) -> None:
    """Given the roster, when asking who may read the audit, then auditors and duty people may, others not."""
    assert roster.may_audit("frank") and roster.may_audit("alice") and roster.may_audit("dave")
    assert not roster.may_audit("mallory")


def test_roster_with_an_unknown_person_is_a_settings_error(tmp_path: Path) -> None:
    """Given a duty naming someone not in people, when loaded, then the error names them and the table."""
    path = tmp_path / "aisoc.toml"
    path.write_text(
        '[roster.people.alice]\nname = "Alice"\nemail = "a@x.org"\n\n'
        '[[roster.duties.ir_lead.rotations]]\npeople = ["alice", "ghost"]\nstart = 2026-01-05\n'
    )
    with pytest.raises(ConfigError, match="unknown person 'ghost'"):
        load_settings(RosterSettings, path)


@pytest.mark.parametrize(
    ("alice", "bob", "shared"),
    [
        ({"aliases": ["ang"]}, {"aliases": ["ANG "]}, "ang"),
        ({}, {"aliases": ["alice@example.com"]}, "alice@example.com"),
        ({"aliases": ["bob"]}, {}, "bob"),
        ({}, {"email": "Alice@Example.com"}, "alice@example.com"),
    ],
)
def test_roster_refuses_one_identity_naming_two_people(
    tmp_path: Path, alice: dict[str, object], bob: dict[str, object], shared: str
) -> None:
    """Given an alias, id or email that names two people (any case, any spacing), when the roster is
    loaded, then it is refused with a message naming the identity and both people."""
    people = {
        "alice": {"name": "Alice Ng", "email": "alice@example.com", **alice},
        "bob": {"name": "Bob Ray", "email": "bob@example.com", **bob},
    }
    path = tmp_path / "aisoc.toml"
    path.write_text(
        "".join(
            f"[roster.people.{pid}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in p.items())
            for pid, p in people.items()
        )
    )
    with pytest.raises(ConfigError) as e:
        load_settings(RosterSettings, path)
    message = str(e.value)
    assert repr(shared) in message and "alice" in message and "bob" in message


def test_a_person_may_repeat_their_own_identity_as_an_alias() -> None:
    """Given Alice listing her own email and id among her aliases, then the roster loads and finds her."""
    r = Roster(
        RosterSettings(people={"alice": {"name": "A", "email": "a@x.org", "aliases": ["A@x.org", "alice"]}})
    )
    assert r.find("A@X.ORG") == r.find("alice") == r.people["alice"]


ROSTER_TOML = """
[roster]
auditors = ["frank"]

[roster.people.alice]
name = "Alice Ng"
email = "alice@example.com"
[roster.people.bob]
name = "Bob Ray"
email = "bob@example.com"
[roster.people.carol]
name = "Carol Diaz"
email = "carol@example.com"
[roster.people.dave]
name = "Dave Kim"
email = "dave@example.com"
[roster.people.frank]
name = "Frank Auditor"
email = "frank@example.com"

[roster.duties.ir_lead]
approvers = ["carol"]
executors = ["frank"]
escalation = ["carol", "soc_manager"]
[[roster.duties.ir_lead.rotations]]
people = ["alice", "bob"]
start = 2026-03-02
handover = 09:00:00
timezone = "Europe/London"
period = "weekly"
[[roster.duties.ir_lead.overrides]]
person = "carol"
start = 2026-04-01T09:00:00
end = 2026-04-02T09:00:00
timezone = "Europe/London"
reason = "Alice on a flight"

[[roster.duties.soc_manager.rotations]]
people = ["dave"]
start = 2026-01-01
handover = 08:00:00
period = "daily"
"""


def test_oncall_command_prints_who_holds_a_duty_at_a_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a roster file, when `aisoc oncall --at` runs, then it prints holder, chain, approvers and
    executors."""
    path = tmp_path / "aisoc.toml"
    path.write_text(ROSTER_TOML)
    assert main(["--config", str(path), "oncall", "IR Lead On-Call", "--at", "2026-03-30T08:30+01:00"]) == 0
    out = capsys.readouterr().out
    assert "IR Lead On-Call (ir_lead): Bob Ray <bob@example.com>" in out
    assert "until Mon 2026-03-30 09:00 BST" in out and "escalation: Carol Diaz -> Dave Kim" in out
    assert "executors:  Frank Auditor" in out
    assert main(["--config", str(path), "oncall", "--at", "2026-04-01T10:00:00+01:00", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["duty"], r["person"], r["source"]) for r in rows] == [
        ("ir_lead", "carol", "override"),
        ("soc_manager", "dave", "rotation"),
    ]
    assert main(["--config", str(path), "oncall", "night watch"]) == 2
    assert "unknown duty" in capsys.readouterr().err
