"""A SOC day from real Wazuh alerts: the Shellshock case worked from alert to plan, beside its neighbours.

Record eV5665cBARIQcDql-GZ3 (a Shellshock probe on Linux-Server from 10.0.2.8) gets Sentinel's verdict,
Tier 2's findings, an IR Lead plan shown a precedent (an isolation of Linux-Server and a block of
10.0.2.8, both for approval) and Threat Intel's rating. The other records stay alerts: a PAM login
failure and an SQL injection on Linux-Server, two remote logons from 10.0.2.8.

``publish_story(bus, at, tenant="acme")`` files the same day under a tenant: the same records and host
names, re-keyed with :func:`aisoc.tenants.case_id_for` (``acme/wazuh:...``), the action ids suffixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from aisoc.bus import Bus
from aisoc.events import (
    ActionKind,
    ActionProposed,
    Alert,
    AlertReceived,
    IndicatorType,
    IntelAttribution,
    IocRating,
    IrPlan,
    Phase,
    PlanStep,
    PrecedentRef,
    ProducedBy,
    Reputation,
    Risk,
    Role,
    Tier2Decided,
    Trace,
    TriageVerdict,
    plan_digest,
)
from aisoc.tenants import case_id_for, tenant_of
from integrations.wazuh import WazuhFileSource

WAZUH = Path(__file__).resolve().parents[2] / "data" / "wazuh" / "alerts.jsonl"
SHELLSHOCK = "wazuh:eV5665cBARIQcDql-GZ3"
NEIGHBOURS = (
    "wazuh:20cJ1pcBxOat6TbbGa0i",  # PAM: User login failed (Linux-Server, vboxuser, 10.0.2.2)
    "wazuh:xhdS15cB1Hp-jZ7ff7BW",  # SQL injection attempt (Linux-Server)
    "wazuh:CAqs35cBiGYaRV9XU7DQ",  # Successful Remote Logon (Win11Client, snell, from 10.0.2.8)
    "wazuh:tF6e65cBARIQcDqlr2sh",  # Successful Remote Logon (WinSrv2019, vboxuser, from 10.0.2.8)
)
ISOLATE = "act-shellshock-isolate"
BLOCK = "act-shellshock-block"


@dataclass
class Story:
    """What the day published."""

    alerts: dict[str, Alert]
    plan: IrPlan
    proposals: dict[str, ActionProposed]


def _by(role: str) -> ProducedBy:
    return ProducedBy(role=role, model_leg="primary", prompt_version=f"{role}/1")


def real_alerts(wanted: tuple[str, ...]) -> dict[str, Alert]:
    """The real Wazuh records of ``wanted`` case ids, normalized by the Wazuh source."""
    found = {}
    for alert, _ in WazuhFileSource(WAZUH).records():
        if isinstance(alert, Alert) and alert.case_id in wanted:
            found[alert.case_id] = alert
    return found


def rekeyed(alert: Alert, tenant: str | None) -> Alert:
    """The alert as the tenant's own (its case id ``tenant/source:source_id``)."""
    return alert if tenant is None else alert.model_copy(update={"tenant": tenant})


def tenant_case(case_id: str, tenant: str | None) -> str:
    """A story case id (``wazuh:...``) as the tenant's (``acme/wazuh:...``)."""
    source, _, source_id = case_id.partition(":")
    return case_id_for(source, source_id, tenant)


def tenant_action(action_id: str, tenant: str | None) -> str:
    """A story action id as the tenant's (action ids are unique across the SOC)."""
    return f"{action_id}-{tenant}" if tenant else action_id


def publish_story(bus: Bus, at: datetime, tenant: str | None = None) -> Story:
    """Publish the neighbours' alerts, then the Shellshock case up to its plan, intel and proposals
    (``tenant``: all of it filed under that tenant)."""
    found = real_alerts((SHELLSHOCK, *NEIGHBOURS))
    alerts = {tenant_case(c, tenant): rekeyed(a, tenant) for c, a in found.items()}
    shellshock = tenant_case(SHELLSHOCK, tenant)
    assert tenant_of(shellshock) == (tenant or "") and alerts[shellshock].case_id == shellshock
    for cid in NEIGHBOURS:
        cid = tenant_case(cid, tenant)
        bus.publish(AlertReceived(alert=alerts[cid], case_id=cid, produced_by=ProducedBy(role="ingest")))
    alert = alerts[shellshock]
    received = AlertReceived(alert=alert, case_id=shellshock, produced_by=ProducedBy(role="ingest"))
    verdict = TriageVerdict(
        case_id=shellshock,
        causation_id=received.event_id,
        produced_by=_by("sentinel"),
        verdict="malicious",
        confidence=0.91,
        priority=9,
        summary="Shellshock payload in the User-Agent of a CGI request from 10.0.2.8.",
        routed_to="tier2",
    )
    tier2 = Tier2Decided(
        case_id=shellshock,
        causation_id=verdict.event_id,
        produced_by=_by("tier2"),
        decision="escalate",
        confidence=0.88,
        summary="The probe got a 200 from the CGI script: possible code execution.",
        findings=["apache answered 200 to the Shellshock request"],
        evidence=["access.log: 10.0.2.8 GET /cgi-bin/ with () { :; }; payload"],
    )
    steps = [
        PlanStep(
            phase=Phase.CONTAINMENT,
            description="Isolate Linux-Server until the CGI script is patched",
            kind=ActionKind.ISOLATE_HOST,
            target="Linux-Server",
            action_id=tenant_action(ISOLATE, tenant),
        ),
        PlanStep(
            phase=Phase.CONTAINMENT,
            description="Block the attacking address 10.0.2.8 at the perimeter",
            kind=ActionKind.BLOCK_INDICATOR,
            target="10.0.2.8",
            action_id=tenant_action(BLOCK, tenant),
        ),
        PlanStep(phase=Phase.RECOVERY, description="Patch bash and restore the CGI service"),
    ]
    digest = plan_digest("SEV-2", steps)
    plan = IrPlan(
        case_id=shellshock,
        causation_id=tier2.event_id,
        produced_by=_by("ir_lead"),
        sev="SEV-2",
        sev_rationale="Remote code execution attempt that the server answered.",
        summary="Contain the server and the attacker's address, then patch.",
        steps=steps,
        plan_digest=digest,
        trace=Trace(
            role="ir_lead",
            prompt_version="ir_lead/1",
            raw_output="{}",
            precedent=[
                PrecedentRef(
                    case_id=tenant_case("wazuh:CAqs35cBiGYaRV9XU7DQ", tenant),
                    verdict="escalated",
                    shared=["ip:10.0.2.8"],
                    score=0.6,
                    summary="Same source address logged on remotely.",
                )
            ],
        ),
    )
    proposals = {
        s.action_id: ActionProposed(
            case_id=shellshock,
            causation_id=plan.event_id,
            produced_by=_by("ir_lead"),
            action_id=s.action_id,
            kind=s.kind,
            target=s.target,
            phase=s.phase,
            rationale=s.description,
            approver_role=Role.IR_LEAD,
            risk=Risk.HIGH,
            sev="SEV-2",
            expires_at=at + timedelta(hours=2),
            plan_event_id=plan.event_id,
            plan_digest=digest,
        )
        for s in steps
        if s.action_id and s.kind and s.target
    }
    intel = IntelAttribution(
        case_id=shellshock,
        causation_id=plan.event_id,
        produced_by=_by("threat_intel"),
        techniques=["T1190"],
        iocs=[
            IocRating(type=IndicatorType.IP, value="10.0.2.8", reputation=Reputation.MALICIOUS, source="lab")
        ],
        confidence=0.7,
        summary="Exploit of a public-facing application; no actor attribution.",
    )
    bus.publish_many([received, verdict, tier2, plan, *proposals.values(), intel])
    return Story(alerts, plan, proposals)
