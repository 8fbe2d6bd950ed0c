"""Builders for the gate's tests: a roster with DST-crossing rotations, a case with a plan and proposals."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aisoc.bus import Bus
from aisoc.events import (
    ActionKind,
    ActionProposed,
    Alert,
    AlertReceived,
    CaseClosed,
    IrPlan,
    Phase,
    PlanStep,
    ProducedBy,
    Risk,
    Role,
    Tier2Decided,
    ToolCallRecord,
    Trace,
    TriageVerdict,
    plan_digest,
)
from gate.settings import GateSettings, RosterSettings

T0 = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
"""A Monday, 10:00 UTC: Alice holds IR Lead On-Call (her turn began 09:00 London time)."""
SESSION_KEYS = ["session-2026-03-new-9f1c2a7be04d85e3", "session-2026-01-old-3e8b5d0c61fa42b9"]
"""The gate's session (and CSRF) keys, newest first: only the gate holds them."""
LINK_KEYS = ["link-2026-03-new-7d2e9a41c8b0f36a1e", "link-2026-01-old-5a6c1e0f92d4b7c03d"]
"""The approval-link keys, newest first: the gate verifies, the bot signs."""

ROSTER: dict[str, Any] = {
    "people": {
        "alice": {"name": "Alice Ng", "email": "alice@example.com", "aliases": ["ang"]},
        "bob": {"name": "Bob Ray", "email": "bob@example.com"},
        "carol": {"name": "Carol Diaz", "email": "carol@example.com"},
        "dave": {"name": "Dave Kim", "email": "dave@example.com"},
        "erin": {"name": "Erin Fox", "email": "erin@example.com"},
        "frank": {"name": "Frank Auditor", "email": "frank@example.com"},
        "mallory": {"name": "Mallory Stone", "email": "mallory@example.com"},
    },
    "duties": {
        "ir_lead": {
            "rotations": [
                {
                    "people": ["alice", "bob"],
                    "start": "2026-03-02",
                    "handover": "09:00",
                    "timezone": "Europe/London",
                    "period": "weekly",
                }
            ],
            "overrides": [
                {
                    "person": "erin",
                    "start": "2026-03-10T12:00:00",
                    "end": "2026-03-11T12:00:00",
                    "timezone": "Europe/London",
                    "reason": "Bob at the dentist",
                }
            ],
            "approvers": ["carol"],
            "executors": ["bob"],
            "escalation": ["carol", "soc_manager"],
        },
        "soc_manager": {
            "rotations": [
                {"people": ["dave"], "start": "2026-01-01", "handover": "08:00", "period": "daily"}
            ],
        },
        "tier2": {
            "rotations": [
                {
                    "people": ["erin", "bob"],
                    "start": "2026-10-20",
                    "handover": "01:30",
                    "timezone": "Europe/London",
                    "period": "daily",
                }
            ],
        },
    },
    "auditors": ["frank"],
}


def roster_settings(**changes: Any) -> RosterSettings:
    """The test roster (``changes`` replace top-level keys)."""
    return RosterSettings(**{**ROSTER, **changes})


def gate_settings(**overrides: Any) -> GateSettings:
    """Production-like settings: proxy auth from localhost, Secure cookies, two keys of each kind."""
    values: dict[str, Any] = {
        "session_keys": SESSION_KEYS,
        "link_keys": LINK_KEYS,
        "base_url": "http://gate.test",
        "auth": ["proxy"],
        "rate_limit": "10000 per minute",
        "link_ttl_s": 3600,
        "remind_after_s": 300,
        "max_reminders": 2,
        "roster": roster_settings(),
        **overrides,
    }
    return GateSettings(**values)


@dataclass
class Clock:
    """An injected clock the tests move by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Case:
    """A case on the bus: alert, verdicts, plan and its proposals."""

    case_id: str
    alert: AlertReceived
    plan: IrPlan
    proposals: list[ActionProposed] = field(default_factory=list)

    @property
    def proposal(self) -> ActionProposed:
        return self.proposals[0]


def _by(role: str) -> ProducedBy:
    return ProducedBy(role=role, model_leg="primary", prompt_version=f"{role}/1")


def _trace(role: str, tool: str) -> Trace:
    return Trace(
        role=role,
        prompt_version=f"{role}/1",
        tool_calls=[ToolCallRecord(name=tool, arguments={"host": "WS-042"}, result="seen", duration_ms=12)],
        raw_output="{}",
    )


def publish_case(
    bus: Bus,
    n: int = 1,
    *,
    at: datetime = T0,
    target: str = "WS-042",
    approver_role: Role = Role.IR_LEAD,
    expires_in: timedelta = timedelta(hours=2),
    steps: int = 1,
) -> Case:
    """Publish alert -> verdict -> Tier 2 -> plan + proposals for case ``jsonl:case-n``."""
    alert = Alert(
        source="jsonl",
        source_id=f"case-{n}",
        title=f"Mimikatz credential dumping on {target}",
        rule="T1003-lsass",
        severity=4,
        created_at=at - timedelta(minutes=20),
        hosts=[target],
        users=["svc-backup"],
    )
    received = AlertReceived(alert=alert, case_id=alert.case_id, produced_by=ProducedBy(role="ingest"))
    cid = alert.case_id
    verdict = TriageVerdict(
        case_id=cid,
        causation_id=received.event_id,
        produced_by=_by("sentinel"),
        verdict="malicious",
        confidence=0.93,
        priority=9,
        summary="LSASS memory read by an unsigned binary.",
        routed_to="tier2",
        trace=_trace("sentinel", "case_lookup"),
    )
    tier2 = Tier2Decided(
        case_id=cid,
        causation_id=verdict.event_id,
        produced_by=_by("tier2"),
        decision="escalate",
        confidence=0.9,
        summary="Credential theft in progress.",
        findings=["lsass dump written to C:\\temp"],
        evidence=[f"falcon: {target} wrote lsass.dmp"],
        trace=_trace("tier2", "falcon_host_alerts"),
    )
    return publish_plan(
        bus,
        cid,
        received,
        tier2.event_id,
        [verdict, tier2],
        target=target,
        approver_role=approver_role,
        expires_at=at + expires_in,
        steps=steps,
    )


def publish_plan(
    bus: Bus,
    case_id: str,
    alert: AlertReceived | None,
    cause: str,
    before: list[Any],
    *,
    target: str = "WS-042",
    approver_role: Role = Role.IR_LEAD,
    expires_at: datetime,
    steps: int = 1,
    salt: str = "",
) -> Case:
    """Publish a plan (and ``before`` events first) with ``steps`` isolate proposals."""
    plan_steps = [
        PlanStep(
            phase=Phase.CONTAINMENT,
            description=f"Isolate {target}{salt} #{i}",
            kind=ActionKind.ISOLATE_HOST,
            target=target,
            action_id=f"act-{case_id[-6:]}-{salt}{i}",
        )
        for i in range(steps)
    ]
    plan_steps.append(PlanStep(phase=Phase.RECOVERY, description="Reimage and restore"))
    digest = plan_digest("SEV-2", plan_steps)
    plan = IrPlan(
        case_id=case_id,
        causation_id=cause,
        produced_by=_by("ir_lead"),
        sev="SEV-2",
        sev_rationale="Confirmed credential theft on one host.",
        summary="Contain, reset, reimage.",
        steps=plan_steps,
        plan_digest=digest,
        trace=_trace("ir_lead", "falcon_host_details"),
    )
    proposals = [
        ActionProposed(
            case_id=case_id,
            causation_id=plan.event_id,
            produced_by=_by("ir_lead"),
            action_id=s.action_id,
            kind=s.kind,
            target=s.target,
            phase=s.phase,
            rationale=s.description,
            approver_role=approver_role,
            risk=Risk.HIGH,
            sev="SEV-2",
            expires_at=expires_at,
            plan_event_id=plan.event_id,
            plan_digest=digest,
        )
        for s in plan_steps
        if s.action_id
    ]
    head = [alert] if alert is not None else []
    bus.publish_many([*head, *before, plan, *proposals])
    return Case(case_id, alert, plan, proposals)  # type: ignore[arg-type]


def close_case(bus: Bus, case_id: str) -> CaseClosed:
    """Publish a person closing the case."""
    closed = CaseClosed(
        case_id=case_id,
        produced_by=ProducedBy(role="human"),
        disposition="benign",
        reason="authorized pentest",
        closed_by={"role": "human", "person": "carol"},
    )
    bus.publish(closed)
    return closed


def types(bus: Bus, case_id: str) -> list[str]:
    """Event types of one case, in audit order."""
    return [e.type for e in bus.audit.for_case(case_id)]


def gate_events(bus: Bus, case_id: str, kind: type[Any]) -> list[Any]:
    """Events of one type for a case."""
    return [e for e in bus.audit.for_case(case_id) if isinstance(e, kind)]


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf(html: str) -> str:
    """The CSRF token of the first form on a page."""
    m = CSRF_RE.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def forge_session(key: str, data: dict[str, Any]) -> str:
    """A Flask session cookie value holding ``data``, signed with ``key`` the way Flask signs sessions."""
    from flask import Flask

    app = Flask("forger")
    app.secret_key = key
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    return str(serializer.dumps(data))
