"""IR Lead never proposes an account action on a Windows built-in service principal.

Real Wazuh alerts carry ``NT AUTHORITY\\SYSTEM`` as the user of many Windows events; resetting its
credentials or disabling it is impossible, and a plan that asks a person to do so costs trust.
"""

from __future__ import annotations

from aisoc import Bus, events, models
from aisoc.runtime import RoleTeam
from integrations.samples import demo_source
from integrations.wazuh import WazuhFileSource
from roles import IrLead, Sentinel, Tier2
from roles.ir_lead import ACCOUNT_ACTIONS, BUILTIN_ACCOUNTS
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
