"""IR Lead never proposes an account action on a Windows built-in service principal.

Real Wazuh alerts carry ``NT AUTHORITY\\SYSTEM`` as the user of many Windows events; resetting its
credentials or disabling it is impossible, and a plan that asks a person to do so costs trust.
"""

from __future__ import annotations

import pytest

from aisoc import Bus, events, models
from aisoc.runtime import RoleTeam
from integrations.samples import demo_source
from integrations.wazuh import WazuhFileSource
from roles import IrLead, Sentinel, Tier2
from roles._targets import ACCOUNT_ACTIONS, BUILTIN_ACCOUNTS
from tests.aisoc.runtime.test_loop import DATA
from tests.support.fake_model import ScriptedChatModel

SYSTEM = "NT AUTHORITY\\SYSTEM"


def _wazuh() -> list[events.Alert]:
    return [a for a in WazuhFileSource(DATA / "wazuh/alerts.jsonl").poll() if isinstance(a, events.Alert)]


class _One:
    """A source of one alert."""

    name = "one"

    def __init__(self, alert: events.Alert) -> None:
        self.alert = alert

    def poll(self) -> list[events.Alert]:
        return [self.alert]


def test_the_canned_team_proposes_no_account_action_on_a_builtin_principal() -> None:
    """Given the demo's real Wazuh alerts (some run as NT AUTHORITY\\SYSTEM), when the canned team
    works them, then no account action targets a built-in principal, and people's accounts still can."""
    alerts = [a for a in demo_source().poll() if isinstance(a, events.Alert)]
    assert any(SYSTEM in a.users for a in alerts), "the sample no longer holds a SYSTEM alert"
    bus = Bus()
    RoleTeam(model=models.from_spec("stub"), bus=bus).consume(demo_source())
    accounts = [e for e in bus.audit if isinstance(e, events.ActionProposed) and e.kind in ACCOUNT_ACTIONS]
    assert not [p.target for p in accounts if BUILTIN_ACCOUNTS.match(p.target)]


def test_a_model_asking_to_reset_system_gets_a_step_without_an_action() -> None:
    """Given a model whose plan resets NT AUTHORITY\\SYSTEM's credentials on an alert of that user,
    then the step stays in the plan with the reason, and no action is proposed for it."""
    alert = next(a for a in _wazuh() if SYSTEM in a.users and a.hosts)
    host = alert.hosts[0]
    model = ScriptedChatModel(
        scripts={
            "sentinel": [{"verdict": "malicious", "confidence": 0.9, "priority": 9, "summary": "bad"}],
            "tier2": [{"decision": "escalate", "confidence": 0.9, "summary": "confirmed"}],
            "ir_lead": [
                {
                    "sev": "SEV-2",
                    "sev_rationale": "confirmed",
                    "summary": "contain",
                    "steps": [
                        {
                            "phase": "containment",
                            "description": "Reset SYSTEM",
                            "action": "reset_credentials",
                            "target": SYSTEM,
                        },
                        {
                            "phase": "containment",
                            "description": f"Isolate {host}",
                            "action": "isolate_host",
                            "target": host,
                        },
                    ],
                }
            ],
        }
    )
    bus = Bus()
    team = RoleTeam(model=model, tools=[], bus=bus, roles=[Sentinel, Tier2, IrLead])
    team.consume(_One(alert))
    (plan,) = [e for e in bus.audit if isinstance(e, events.IrPlan)]
    reset = plan.steps[0]
    assert reset.kind is None and reset.action_id is None
    assert "built-in system account" in reset.description
    proposed = [e for e in bus.audit if isinstance(e, events.ActionProposed)]
    assert [(p.kind, p.target) for p in proposed] == [(events.ActionKind.ISOLATE_HOST, host)]


PLAN = {
    "sev": "SEV-2",
    "sev_rationale": "confirmed",
    "summary": "contain",
    "steps": [{"phase": "containment", "description": "Isolate", "action": "isolate_host"}],
}
SCRIPTS = {
    "sentinel": [{"verdict": "malicious", "confidence": 0.9, "priority": 9, "summary": "bad"}],
    "tier2": [{"decision": "escalate", "confidence": 0.9, "summary": "confirmed"}],
    "ir_lead": [PLAN],
}


def _run_json_mode(alert: events.Alert) -> tuple[ScriptedChatModel, RoleTeam, Bus]:
    model = ScriptedChatModel(scripts=SCRIPTS, metadata={"aisoc_mode": "json"})
    bus = Bus()
    team = RoleTeam(model=model, tools=[], bus=bus, roles=[Sentinel, Tier2, IrLead])
    team.consume(_One(alert))
    return model, team, bus


def _target(schema: dict) -> dict:
    return schema["$defs"]["StepAnswer"]["properties"]["target"]


def test_a_constrained_decoder_offers_only_the_cases_entities_as_a_target() -> None:
    """Given a real Wazuh alert with hosts, accounts and indicators (and two accounts whose JSON needs
    an escape) and a model that takes a schema, when IR Lead is asked, then its schema's step target is
    one of exactly those entities (hosts first, the escaped ones left out) or null, everything else of
    the schema is the role's own; Sentinel and Tier 2 get their own schemas."""
    found = next(a for a in _wazuh() if a.hosts and a.users and a.indicators)
    alert = found.model_copy(update={"users": [*found.users, "LAB\\root", 'say "hi"']})
    model, team, bus = _run_json_mode(alert)
    formats = dict(model.formats)
    # Left out: names whose JSON needs an escape (llama.cpp's converters would break the grammar).
    entities = [*alert.hosts, *alert.users, *(i.value for i in alert.indicators)]
    plain = [e for e in dict.fromkeys(entities) if "\\" not in e and '"' not in e]
    assert len(plain) == len(set(entities)) - 3  # the real record's Windows account is left out too
    assert _target(formats["ir_lead"]["schema"]) == {
        "anyOf": [{"enum": plain}, {"type": "null"}],
        "default": None,
    }
    own = team.loops["ir_lead"].grammar
    narrowed = formats["ir_lead"]["schema"]
    assert {k: v for k, v in narrowed.items() if k != "$defs"} == {
        k: v for k, v in own.items() if k != "$defs"
    }
    step, own_step = narrowed["$defs"]["StepAnswer"], own["$defs"]["StepAnswer"]
    assert {**step, "properties": {}} == {**own_step, "properties": {}}
    assert {k for k in step["properties"] if step["properties"][k] != own_step["properties"][k]} == {"target"}
    assert formats["sentinel"]["schema"] == team.loops["sentinel"].grammar
    assert formats["tier2"]["schema"] == team.loops["tier2"].grammar
    # A step with no target gets the default one (the first host), as before.
    (proposal,) = [e for e in bus.audit if isinstance(e, events.ActionProposed)]
    assert (proposal.kind, proposal.target) == (events.ActionKind.ISOLATE_HOST, alert.hosts[0])


def test_a_case_without_entities_offers_no_target_and_a_broken_narrowing_keeps_the_roles_schema(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Given an alert with no host, account or indicator, then the target can only be null; given a
    narrowing that raises, then IR Lead is still asked, under its own schema, and the error is logged."""
    alert = next(a for a in _wazuh() if a.hosts and a.users)
    bare = alert.model_copy(update={"hosts": [], "users": [], "indicators": []})
    model, _, _ = _run_json_mode(bare)
    assert _target(dict(model.formats)["ir_lead"]["schema"]) == {"type": "null", "default": None}

    def broken(self: IrLead, ctx: object, schema: dict) -> dict:
        raise KeyError("$defs")

    monkeypatch.setattr(IrLead, "answer_schema", broken)
    model, team, bus = _run_json_mode(alert)
    assert dict(model.formats)["ir_lead"]["schema"] == team.loops["ir_lead"].grammar
    assert "could not narrow the answer schema" in caplog.text
    assert [e for e in bus.audit if isinstance(e, events.IrPlan)]


def test_a_model_without_a_schema_is_not_narrowed() -> None:
    """Given a tool-calling model (no response schema), when IR Lead is asked, then no response_format
    is sent: the narrowing is only for decoders that take a schema."""
    alert = next(a for a in _wazuh() if a.hosts)
    model = ScriptedChatModel(scripts=SCRIPTS)
    RoleTeam(model=model, tools=[], bus=Bus(), roles=[Sentinel, Tier2, IrLead]).consume(_One(alert))
    assert dict(model.formats)["ir_lead"] is None


def test_an_action_on_the_wrong_kind_of_entity_or_twice_is_not_proposed() -> None:
    """Given a real Wazuh alert and a plan (as the bundled model wrote them once targets were the case's
    entities) that resets a host's credentials, disables an indicator, isolates a public address,
    blocks a host and isolates the same host twice, then only the fitting steps are proposed (the host
    isolated once, the user's credentials reset, the indicator blocked) and every other step stays
    in the plan with the reason."""
    alert = next(a for a in _wazuh() if a.hosts and a.users and any(not i.private for i in a.indicators))
    host, user = alert.hosts[0], next(u for u in alert.users if not BUILTIN_ACCOUNTS.match(u))
    public = next(i.value for i in alert.indicators if not i.private)

    def step(action: str, target: str) -> dict:
        return {
            "phase": "containment",
            "description": f"{action} {target}",
            "action": action,
            "target": target,
        }

    steps = [
        step("reset_credentials", host),
        step("disable_account", public),
        step("isolate_host", public),
        step("block_indicator", host),
        step("isolate_host", host),
        step("isolate_host", host),
        step("reset_credentials", user),
        step("block_indicator", public),
    ]
    model = ScriptedChatModel(scripts={**SCRIPTS, "ir_lead": [{**PLAN, "steps": steps}]})
    bus = Bus()
    RoleTeam(model=model, tools=[], bus=bus, roles=[Sentinel, Tier2, IrLead]).consume(_One(alert))
    (plan,) = [e for e in bus.audit if isinstance(e, events.IrPlan)]
    proposed = [(e.kind.value, e.target) for e in bus.audit if isinstance(e, events.ActionProposed)]
    assert proposed == [("isolate_host", host), ("reset_credentials", user), ("block_indicator", public)]
    reasons = [s.description.split("(not proposed: ")[-1] for s in plan.steps if s.action_id is None]
    assert reasons == [
        f"reset_credentials acts on an account of the case; {host} is not one)",
        f"disable_account acts on an account of the case; {public} is not one)",
        f"isolate_host acts on a host of the case; {public} is not one)",
        f"block_indicator acts on an indicator of the case; {host} is not one)",
        "the same as step 5)",
    ]
