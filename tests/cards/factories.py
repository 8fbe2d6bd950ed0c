"""Deterministic case and action events built around real Wazuh alerts (fixed ids and times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from aisoc.events import (
    ActionDecided,
    ActionExecuted,
    ActionProposed,
    Alert,
    CaseClosed,
    IntelAttribution,
    IrPlan,
    PlanStep,
    PrecedentRef,
    ReviewRequested,
    Tier2Decided,
    Trace,
    TriageVerdict,
    plan_digest,
)
from aisoc.events import Role as R
from cards import Approver, CardContext
from integrations.wazuh import WazuhFileSource

DATA = Path(__file__).resolve().parents[2] / "data"
T0 = datetime(2025, 7, 5, 8, 0, tzinfo=UTC)
"""Every event happens at a fixed time after T0, so cards are byte-for-byte repeatable."""

CURL = "6hdp15cB1Hp-jZ7fObJ_"
"""curl.exe creating a binary on Win11Client (user SOCLAB\\snell, three file hashes, T1105)."""
SQLI = "xhdS15cB1Hp-jZ7ff7BW"
"""SQL injection against DVWA; the logged request carries a live ``user_token``."""
SHELLSHOCK = "eV5665cBARIQcDql-GZ3"
"""Shellshock against Linux-Server (critical)."""
SSH = "h5yT5pcBllEhiOW622x2"
"""sshd brute force with a username list."""

GATE = "https://gate.soc.example/approve"
CASE_URL = "https://soc.example/cases/"
DANA = Approver(R.IR_LEAD, "Dana Ruiz", "dana.ruiz@example.com")
SAM = Approver(R.TIER2, "Sam Lee", "sam.lee@example.com")


@cache
def wazuh_records() -> tuple[tuple[Alert, bool], ...]:
    """Every real Wazuh alert with its analyst label (``True`` = escalated), normalized by the integration."""
    out = []
    for item, truth in WazuhFileSource(DATA / "wazuh" / "alerts.jsonl").records():
        assert isinstance(item, Alert), item
        out.append((item, bool(truth and truth.escalated)))
    return tuple(out)


def alert(source_id: str) -> Alert:
    """The real alert with this Wazuh id."""
    (found,) = [a for a, _ in wazuh_records() if a.source_id == source_id]
    return found


def by(role: str, prompt: str | None = None) -> dict[str, Any]:
    """A ``produced_by`` envelope."""
    return {"role": role, "model_leg": "primary", "prompt_version": prompt or f"{role}-v1"}


def at(minutes: float) -> datetime:
    """T0 plus some minutes."""
    return T0 + timedelta(minutes=minutes)


def triage(
    a: Alert, *, routed: str = "tier2", verdict: str = "malicious", n: int = 1, **kw: Any
) -> TriageVerdict:
    """Sentinel's verdict on ``a``."""
    fields: dict[str, Any] = {
        "event_id": f"evt-triage-{n}",
        "occurred_at": at(1),
        "case_id": a.case_id,
        "produced_by": by("sentinel"),
        "verdict": verdict,
        "confidence": 0.91,
        "priority": 8,
        "summary": f"{a.title} on {', '.join(a.hosts)}; matches a known download-cradle pattern.",
        "routed_to": routed,
    }
    return TriageVerdict(**{**fields, **kw})


def tier2(a: Alert, decision: str = "escalate", **kw: Any) -> Tier2Decided:
    """Tier 2's decision on ``a``."""
    fields: dict[str, Any] = {
        "event_id": "evt-tier2-1",
        "occurred_at": at(6),
        "case_id": a.case_id,
        "produced_by": by("tier2"),
        "decision": decision,
        "confidence": 0.84,
        "summary": "The download came from an external host and the binary is unsigned.",
        "findings": [f"{h} ran curl.exe writing an executable to a temp folder" for h in a.hosts],
        "evidence": [f"{i.type.value}:{i.value}" for i in a.indicators],
    }
    return Tier2Decided(**{**fields, **kw})


def steps_for(a: Alert, actions: int) -> list[PlanStep]:
    """A realistic plan: ``actions`` steps that need approval, plus steps that do not."""
    host = a.hosts[0]
    kinds = ["isolate_host", "disable_account", "block_indicator", "kill_process", "collect_forensics"]
    steps = [
        PlanStep(
            phase="containment",
            description=f"Contain {host}: step {i + 1}",
            kind=kinds[i % len(kinds)],
            target=host if i == 0 else f"{host}-{i}",
            action_id=f"act-{i + 1}",
        )
        for i in range(actions)
    ]
    steps += [
        PlanStep(phase="eradication", description=f"Remove the dropped binary from {host}"),
        PlanStep(
            phase="recovery",
            description=f"Reimage {host} if the binary ran",
            kind="restore_system",
            target=host,
        ),
    ]
    return steps


def plan(a: Alert, *, sev: str = "SEV-2", actions: int = 2, **kw: Any) -> IrPlan:
    """IR Lead's plan for ``a`` with ``actions`` approval steps and one precedent case."""
    steps = kw.pop("steps", None) or steps_for(a, actions)
    other = alert(SSH)
    trace = Trace(
        role="ir_lead",
        prompt_version="ir_lead-v1",
        precedent=[
            PrecedentRef(
                case_id=other.case_id,
                verdict="escalated",
                decided_by="human",
                shared=["ip:10.0.2.8", f"host:{a.hosts[0]}"],
                same_rule=False,
                score=0.72,
                summary="Same attacker host, contained by isolation.",
            )
        ],
    )
    fields: dict[str, Any] = {
        "event_id": "evt-plan-1",
        "occurred_at": at(12),
        "case_id": a.case_id,
        "produced_by": by("ir_lead"),
        "sev": sev,
        "sev_rationale": "Active payload download on a workstation with a domain user session.",
        "summary": "Contain the host and the account, block the download source, collect forensics.",
        "steps": steps,
        "notifications": ["Notify the desktop team lead", "Tell the user's manager"],
        "plan_digest": plan_digest(sev, steps),
        "trace": trace,
    }
    return IrPlan(**{**fields, **kw})


def proposal(p: IrPlan, step: PlanStep, **kw: Any) -> ActionProposed:
    """The ``action.proposed`` of one plan step."""
    assert step.action_id and step.kind and step.target
    fields: dict[str, Any] = {
        "event_id": f"evt-prop-{step.action_id}",
        "occurred_at": at(12),
        "case_id": p.case_id,
        "causation_id": p.event_id,
        "produced_by": by("ir_lead"),
        "action_id": step.action_id,
        "kind": step.kind,
        "target": step.target,
        "phase": step.phase,
        "rationale": f"{step.description[:900]}: stops the payload from spreading.",
        "approver_role": "ir_lead",
        "risk": "high" if step.kind == "isolate_host" else "medium",
        "sev": p.sev,
        "expires_at": at(72),
        "plan_event_id": p.event_id,
        "plan_digest": p.plan_digest,
    }
    return ActionProposed(**{**fields, **kw})


def context(a: Alert | None, p: IrPlan | None = None, **kw: Any) -> CardContext:
    """The context the bot would pass: alert, approvers, gate links, case link, SLA, proposals."""
    links = {}
    proposals = {}
    if p is not None:
        for s in p.steps:
            if s.action_id:
                links[s.action_id] = f"{GATE}/{s.action_id}?sig=signed-{s.action_id}"
                proposals[s.action_id] = proposal(p, s)
    fields: dict[str, Any] = {
        "alert": a,
        "approvers": {R.IR_LEAD: DANA, R.TIER2: SAM},
        "gate_links": links,
        "case_url": f"{CASE_URL}{a.case_id}" if a else None,
        "review_sla_minutes": 30,
        "proposals": proposals,
    }
    return CardContext(**{**fields, **kw})


def decided(p: ActionProposed, decision: str, **kw: Any) -> ActionDecided:
    """How ``p`` ended."""
    fields: dict[str, Any] = {
        "event_id": f"evt-decided-{decision}",
        "occurred_at": at(20),
        "case_id": p.case_id,
        "causation_id": p.event_id,
        "produced_by": {"role": "gate"},
        "action_id": p.action_id,
        "decision": decision,
        "decided_by": None if decision == "expired" else "dana.ruiz@example.com",
        "identity_source": None if decision == "expired" else "sso",
        "reason": {
            "approved": "Confirmed the download source is external and unknown.",
            "rejected": "The host runs the lab's build agent; isolate the process instead.",
            "expired": "No decision within the approval window.",
            "cancelled": "The plan was superseded by a new plan.",
        }[decision],
        "channel": "gate",
        "plan_digest": p.plan_digest,
    }
    return ActionDecided(**{**fields, **kw})


def executed(p: ActionProposed) -> ActionExecuted:
    """A person reports carrying ``p`` out."""
    return ActionExecuted(
        event_id="evt-exec-1",
        occurred_at=at(35),
        case_id=p.case_id,
        produced_by={"role": "human"},
        action_id=p.action_id,
        executed_by="dana.ruiz@example.com",
        identity_source="webex",
        note="Isolated from the EDR console; ticket CHG-4411.",
    )


def attribution(a: Alert, **kw: Any) -> IntelAttribution:
    """Threat Intel's view of ``a``: the hashes and the source IP as IOCs."""
    iocs = [{"type": i.type.value, "value": i.value, "reputation": "unknown"} for i in a.indicators]
    iocs.append(
        {
            "type": "url",
            "value": "http://10.0.2.8/payload.exe",
            "reputation": "malicious",
            "source": "sandbox",
        }
    )
    iocs.append(
        {"type": "domain", "value": "updates.example-cdn.net", "reputation": "suspicious", "source": "pdns"}
    )
    fields: dict[str, Any] = {
        "event_id": "evt-intel-1",
        "occurred_at": at(15),
        "case_id": a.case_id,
        "produced_by": by("threat_intel"),
        "actor": None,
        "actor_evidence": [],
        "techniques": a.techniques + ["T1059.001"],
        "iocs": iocs,
        "confidence": 0.4,
        "summary": "Commodity tooling; no corroborated actor. The payload URL is known-bad in the sandbox.",
    }
    return IntelAttribution(**{**fields, **kw})


def review(a: Alert, **kw: Any) -> ReviewRequested:
    """Tier 2 could not decide on ``a``."""
    fields: dict[str, Any] = {
        "event_id": "evt-review-1",
        "occurred_at": at(7),
        "case_id": a.case_id,
        "produced_by": by("tier2"),
        "role": "tier2",
        "reason": "Tool budget exhausted before the download source could be checked.",
        "details": "CrowdStrike lookups timed out twice.",
        "duty": "tier2",
    }
    return ReviewRequested(**{**fields, **kw})


def closed(a: Alert, **kw: Any) -> CaseClosed:
    """A person closes ``a`` as a true positive."""
    fields: dict[str, Any] = {
        "event_id": "evt-closed-1",
        "occurred_at": at(90),
        "case_id": a.case_id,
        "produced_by": {"role": "human"},
        "disposition": "true_positive",
        "reason": "Contained and reimaged; lessons-learned ticket filed.",
        "closed_by": {"role": "human", "person": "dana.ruiz@example.com"},
    }
    return CaseClosed(**{**fields, **kw})
