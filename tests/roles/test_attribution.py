"""What Threat Intel asserts is checked against the case: an actor needs evidence the case record holds
(an indicator looked up, a technique of the alert, a precedent case with that actor), named; ATT&CK ids
outside the catalogue are dropped."""

from __future__ import annotations

from typing import Any

import pytest

from aisoc import Bus, events
from aisoc.runtime import RoleTeam
from aisoc.tools import tool
from roles import IrLead, Sentinel, ThreatIntel, Tier2
from tests.aisoc.runtime.test_loop import real_alert
from tests.support.fake_model import ScriptedChatModel, call

ALERT = real_alert(1)  # a real Wazuh alert: T1087, T1059.003 and the hashes of the binary
SHA256 = next(i.value for i in ALERT.alert.indicators if i.type == "sha256")
ROUTE = {"verdict": "suspicious", "confidence": 0.9, "priority": 8, "summary": "looks bad"}
ESCALATE = {"decision": "escalate", "confidence": 0.9, "summary": "confirmed"}
PLAN = {
    "sev": "SEV-2",
    "sev_rationale": "one host",
    "summary": "contain",
    "steps": [{"phase": "containment", "description": "isolate the host"}],
}


def intel(actor: str | None, evidence: list[str], techniques: list[str] | None = None) -> dict[str, Any]:
    return {
        "actor": actor,
        "actor_evidence": evidence,
        "techniques": techniques or ["T1059.003"],
        "iocs": [{"type": "sha256", "value": SHA256, "reputation": "malicious", "source": "feed"}],
        "confidence": 0.8,
        "summary": "mapped",
    }


@tool(name="ioc_reputation")
def ioc_reputation(value: str) -> dict[str, str]:
    """Reputation of an indicator in the local feeds."""
    return {"value": value, "reputation": "malicious", "source": "test feed"}


def attribution(script: list[Any], bus: Bus | None = None) -> events.IntelAttribution:
    """Run the case through the team with Threat Intel answering ``script``; its attribution."""
    model = ScriptedChatModel(
        scripts={"sentinel": [ROUTE], "tier2": [ESCALATE], "ir_lead": [PLAN], "threat_intel": script}
    )
    team = RoleTeam(
        model=model, tools=[ioc_reputation], bus=bus or Bus(), roles=[Sentinel, Tier2, IrLead, ThreatIntel]
    )
    team.subscribe()
    team.bus.publish(ALERT)
    team.bus.drain()
    return next(e for e in team.bus.audit.for_case(ALERT.case_id) if isinstance(e, events.IntelAttribution))


def test_an_actor_on_no_evidence_of_the_case_is_dropped_and_the_trace_says_why() -> None:
    """Given APT29 'evidenced' by ["trust me"] or by a technique the case does not carry, when Threat Intel
    answers, then no actor is kept, and the trace's note and the summary say why."""
    for evidence in (["trust me"], ["uses T1003 credential dumping"]):
        found = attribution([intel("APT29", evidence)])
        assert found.actor is None and found.actor_evidence == []
        assert found.trace is not None and "actor 'APT29' dropped" in (found.trace.note or "")
        assert "actor 'APT29' dropped" in found.summary


def test_an_indicator_counts_only_when_it_was_looked_up() -> None:
    """Given evidence naming the case's SHA-256, when Threat Intel looked it up, then APT29 stays with that
    evidence; when it only asserts it, the actor is dropped."""
    evidence = [f"{SHA256} is a known APT29 dropper", "they like Tuesdays"]
    looked_up = attribution([call("ioc_reputation", {"value": SHA256}), intel("APT29", evidence)])
    assert looked_up.actor == "APT29" and looked_up.actor_evidence == evidence[:1]
    assert attribution([intel("APT29", evidence)]).actor is None


def test_a_technique_of_the_case_is_evidence() -> None:
    """Given evidence naming T1059.003 (which the alert carries), then the actor is kept."""
    found = attribution([intel("FIN7", ["cmd shell use (T1059.003) matches FIN7 tradecraft"])])
    assert found.actor == "FIN7" and found.trace is not None and found.trace.note is None


def test_a_precedent_case_counts_only_when_it_names_the_same_actor() -> None:
    """Given an earlier case attributed to APT29, when Threat Intel looks it up and names it, then APT29 is
    kept; naming it for another actor keeps nothing."""

    def with_earlier_case() -> Bus:
        bus = Bus()
        earlier = events.IntelAttribution(
            case_id="wazuh:earlier-1",
            actor="APT29",
            actor_evidence=["T1087"],
            confidence=0.9,
            summary="earlier",
            produced_by={"role": "threat_intel"},
        )
        bus.publish(earlier)
        return bus

    lookup = call("case_lookup", {"case_id": "wazuh:earlier-1"})
    found = attribution([lookup, intel("APT29", ["same actor as wazuh:earlier-1"])], with_earlier_case())
    assert found.actor == "APT29"
    other = attribution([lookup, intel("Lazarus", ["same actor as wazuh:earlier-1"])], with_earlier_case())
    assert other.actor is None
    unseen = attribution([intel("APT29", ["same actor as wazuh:earlier-1"])], with_earlier_case())
    assert unseen.actor is None


@pytest.mark.parametrize(
    ("claimed", "kept"),
    [(["T9999", "T1059.003"], ["T1059.003"]), (["t1086", "T1059.001"], ["T1059.001"]), (["T12"], [])],
)
def test_technique_ids_outside_the_catalogue_are_dropped(claimed: list[str], kept: list[str]) -> None:
    """Given technique ids the catalogue does not know, revoked or malformed, then only catalogued ids stay
    (a revoked one replaced by its successor) and the note names the unknown ones."""
    found = attribution([intel(None, [], claimed)])
    assert found.techniques == kept
    if "T9999" in claimed:
        assert found.trace is not None and "T9999" in (found.trace.note or "")
