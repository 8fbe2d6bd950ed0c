"""Event builders for memory tests: one case's story, told as the roles and people would record it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from aisoc import events as ev

T0 = datetime(2024, 6, 1, tzinfo=UTC)
"""The first alert's creation time in these tests."""

INGEST = ev.ProducedBy(role="ingest")
GATE = ev.ProducedBy(role="gate")
HUMAN = ev.ProducedBy(role="human")


def by(role: str, version: str | None = None, leg: str | None = "primary") -> ev.ProducedBy:
    return ev.ProducedBy(role=role, model_leg=leg, prompt_version=version or f"{role}/3")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def alert(
    sid: str,
    *,
    tenant: str | None = None,
    rule: str | None = "R1",
    ind: Iterable[tuple[str, str]] = (),
    hosts: Sequence[str] = (),
    users: Sequence[str] = (),
    created: datetime = T0,
    private: Iterable[str] = (),
    source: str = "test",
    title: str | None = None,
) -> ev.AlertReceived:
    priv = set(private)
    a = ev.Alert(
        source=source,
        source_id=sid,
        tenant=tenant,
        title=title or f"alert {sid}",
        rule=rule,
        severity=2,
        created_at=created,
        hosts=list(hosts),
        users=list(users),
        indicators=[ev.Indicator(type=t, value=v, private=v in priv) for t, v in ind],
    )
    return ev.AlertReceived(alert=a, case_id=a.case_id, produced_by=INGEST, occurred_at=created)


def trace(
    role: str, *, precedent: Sequence[ev.PrecedentRef] = (), tools: Sequence[ev.ToolCallRecord] = ()
) -> ev.Trace:
    return ev.Trace(
        role=role,
        prompt_version=f"{role}/3",
        model_calls=[ev.ModelCall(leg="primary", duration_ms=120.0)],
        tool_calls=list(tools),
        precedent=list(precedent),
        raw_output="{}",
    )


def triage(
    case_id: str,
    verdict: str = "benign",
    *,
    routed: str = "closed",
    when: datetime | None = None,
    precedent: Sequence[ev.PrecedentRef] = (),
    tools: Sequence[ev.ToolCallRecord] = (),
) -> ev.TriageVerdict:
    return ev.TriageVerdict(
        verdict=verdict,
        confidence=0.8,
        priority=5,
        summary=f"sentinel says {verdict}",
        routed_to=routed,
        case_id=case_id,
        produced_by=by("sentinel"),
        occurred_at=when or T0 + timedelta(minutes=1),
        trace=trace("sentinel", precedent=precedent, tools=tools),
    )


def tier2(
    case_id: str, decision: str, *, when: datetime | None = None, evidence: Sequence[str] = ()
) -> ev.Tier2Decided:
    return ev.Tier2Decided(
        decision=decision,
        confidence=0.7,
        summary=f"tier2 says {decision}",
        findings=["beaconing every 60 s"],
        evidence=list(evidence),
        case_id=case_id,
        produced_by=by("tier2"),
        occurred_at=when or T0 + timedelta(minutes=2),
        trace=trace(
            "tier2",
            tools=[
                ev.ToolCallRecord(
                    name="edr_lookup", arguments={"host": "ws-1"}, result="beacon to 203.0.113.9"
                )
            ],
        ),
    )


def plan(case_id: str, host: str, action_id: str, *, when: datetime | None = None) -> ev.IrPlan:
    steps = [
        ev.PlanStep(
            phase="containment",
            description=f"isolate {host}",
            kind="isolate_host",
            target=host,
            action_id=action_id,
        ),
        ev.PlanStep(phase="eradication", description="remove the implant"),
    ]
    return ev.IrPlan(
        sev="SEV-2",
        sev_rationale="one workstation beaconing",
        summary="contain and clean",
        steps=steps,
        plan_digest=ev.plan_digest("SEV-2", steps),
        case_id=case_id,
        produced_by=by("ir_lead"),
        occurred_at=when or T0 + timedelta(minutes=3),
        trace=trace("ir_lead"),
    )


def proposed(case_id: str, action_id: str, host: str, *, when: datetime | None = None) -> ev.ActionProposed:
    w = when or T0 + timedelta(minutes=4)
    return ev.ActionProposed(
        action_id=action_id,
        kind="isolate_host",
        target=host,
        phase="containment",
        rationale=f"{host} beacons to a known C2",
        approver_role="ir_lead",
        expires_at=w + timedelta(hours=1),
        plan_event_id="p",
        plan_digest="d",
        case_id=case_id,
        produced_by=by("ir_lead"),
        occurred_at=w,
    )


def decided(
    case_id: str | None,
    action_id: str,
    decision: str = "approved",
    *,
    who: str = "alice",
    when: datetime | None = None,
) -> ev.ActionDecided:
    return ev.ActionDecided(
        action_id=action_id,
        decision=decision,
        decided_by=who,
        identity_source="webex",
        reason="confirmed beaconing",
        channel="gate",
        plan_digest="d",
        case_id=case_id,
        produced_by=GATE,
        occurred_at=when or T0 + timedelta(minutes=5),
    )


def executed(
    case_id: str | None, action_id: str, *, who: str = "bob", when: datetime | None = None
) -> ev.ActionExecuted:
    return ev.ActionExecuted(
        action_id=action_id,
        executed_by=who,
        note="isolated from the EDR console",
        case_id=case_id,
        produced_by=HUMAN,
        occurred_at=when or T0 + timedelta(minutes=6),
    )


def closed(
    case_id: str,
    disposition: str,
    *,
    role: str = "human",
    person: str | None = "carol",
    when: datetime | None = None,
) -> ev.CaseClosed:
    return ev.CaseClosed(
        disposition=disposition,
        reason=f"closed {disposition}",
        closed_by=ev.ClosedBy(role=role, person=person),
        case_id=case_id,
        produced_by=HUMAN if role == "human" else by(role),
        occurred_at=when or T0 + timedelta(minutes=7),
    )


def label(
    case_id: str, disposition: str, escalated: bool, *, when: datetime | None = None
) -> ev.TruthLabeled:
    return ev.TruthLabeled(
        label=disposition,
        escalated=escalated,
        labeled_by="dana",
        source="test",
        case_id=case_id,
        produced_by=HUMAN,
        occurred_at=when or T0 + timedelta(minutes=8),
    )


def review(case_id: str, *, role: str = "tier2", when: datetime | None = None) -> ev.ReviewRequested:
    return ev.ReviewRequested(
        role=role,
        reason="could not decide",
        case_id=case_id,
        produced_by=by(role),
        occurred_at=when or T0 + timedelta(minutes=9),
    )


def contained(sid: str, host: str, *, minutes: float = 0, **alert_kw: object) -> list[ev.Event]:
    """A whole true-positive story: alert, triage, escalation, plan, isolation approved and done."""
    a = alert(sid, hosts=[host], created=at(minutes), **alert_kw)  # type: ignore[arg-type]
    cid = a.case_id
    act = f"act-{sid}"
    return [
        a,
        triage(cid, "malicious", routed="tier2", when=at(minutes + 1)),
        tier2(cid, "escalate", when=at(minutes + 2), evidence=["EDR shows beacon"]),
        plan(cid, host, act, when=at(minutes + 3)),
        proposed(cid, act, host, when=at(minutes + 4)),
        decided(cid, act, when=at(minutes + 5)),
        executed(cid, act, when=at(minutes + 6)),
        closed(cid, "true_positive", when=at(minutes + 7)),
    ]
