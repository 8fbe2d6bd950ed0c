"""IR Lead: SEV and a containment / eradication / recovery plan; each real-system step is proposed
to a person as its own ``action.proposed`` — the AI never executes."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aisoc.events import (
    ActionKind,
    ActionProposed,
    Event,
    IrPlan,
    Phase,
    PlanStep,
    Risk,
    Role,
    Sev,
    Tier2Decided,
    Tier2Decision,
    TriageVerdict,
    fitted,
    plan_digest,
    utcnow,
)
from aisoc.runtime import AgentRole, RoleContext
from roles._common import SEVERITY_POINTS, asked, decision_data, view_indicators
from roles._targets import ACCOUNT_ACTIONS, BUILTIN_ACCOUNTS, default_target, wrong_kind

APPROVAL_WINDOW = {
    Sev.SEV1: timedelta(minutes=30),
    Sev.SEV2: timedelta(hours=2),
    Sev.SEV3: timedelta(hours=8),
    Sev.SEV4: timedelta(hours=24),
}
"""How long an approval request stays open before it expires with no action taken."""
TARGET_MAX_CHARS = 256
"""The longest target a step validates with."""
TARGET_CHOICES = 32
"""Most of the case's entities a constrained decoder offers as a step's target (hosts, then accounts,
then indicators)."""


class StepAnswer(BaseModel):
    """One plan step as the model writes it."""

    model_config = ConfigDict(extra="ignore")

    phase: Phase
    description: str = Field(min_length=1, max_length=1000, json_schema_extra=asked(chars=80))
    action: ActionKind | None = None
    target: str | None = Field(default=None, max_length=256, json_schema_extra=asked(chars=80))
    approver: Literal["ir_lead", "soc_manager"] | None = None
    risk: Risk = Risk.MEDIUM


class IrAnswer(BaseModel):
    """IR Lead's answer."""

    model_config = ConfigDict(extra="ignore")

    # The answer asked for is bounded tighter than what validates (``asked``): the whole answer stays
    # under about 1,300 characters, so the local model's max_tokens (the bound) is never reached by
    # a rambling answer and the time per answer stays bounded; see docs/models.md.
    sev: Sev
    sev_rationale: str = Field(min_length=1, max_length=1000, json_schema_extra=asked(chars=100))
    summary: str = Field(min_length=1, max_length=2000, json_schema_extra=asked(chars=100))
    steps: list[StepAnswer] = Field(min_length=1, max_length=20, json_schema_extra=asked(items=3))
    notifications: list[str] = Field(
        default_factory=list, max_length=10, json_schema_extra=asked(chars=32, items=2)
    )


class IrLead(AgentRole):
    name = "ir_lead"
    subscribes = ("tier2.decision",)
    emits = ("ir.plan", "action.proposed", "case.review_requested")
    budget = 15
    tools = ("case_lookup", "falcon_host_details", "falcon_host_alerts", "tanium_question")
    schema = IrAnswer
    prompt_version = "ir_lead/6"
    uses_precedent = True
    review_duty = Role.IR_LEAD
    system_prompt = """\
You are the Incident Response Lead; Tier 2 escalated this case. Assign a severity and write the
response plan. SEV-1: active compromise spreading or likely to, ransomware, exfiltration, or a
crown-jewel system (domain controller, payment, production database); SEV-2: confirmed malicious
activity, scope contained; SEV-3: likely malicious, limited impact, no sign of spread; SEV-4: low
impact or policy violation. Give containment, eradication and recovery steps. A step that touches a
real system names its `action`, the exact `target` (a host, account or indicator of the case), its
`risk` and its `approver` ("ir_lead", or "soc_manager" when it has business impact). You only
propose: a person decides and acts. List who must be notified."""

    def accepts(self, event: Event) -> bool:
        return isinstance(event, Tier2Decided) and event.decision == Tier2Decision.ESCALATE

    def answer_schema(self, ctx: RoleContext, schema: dict[str, Any]) -> dict[str, Any] | None:
        """A step's ``target`` is one of the case's hosts, accounts and indicators, or null (a target
        outside the case is never proposed, so a constrained decoder need not let the model write one).

        An entity whose JSON needs an escape (``SOCLAB\\snell``) is left out: llama.cpp's schema
        converters (the server's and llama-cpp-python's) write enum values into the grammar without
        escaping backslashes or quotes, and the answer would not be JSON. A step without a target
        takes the case's first host or person (:func:`~roles._targets.default_target`)."""
        step = (schema.get("$defs") or {}).get(StepAnswer.__name__)
        if not isinstance(step, dict) or "target" not in step.get("properties", {}):
            return None
        alert = ctx.alert
        entities = [*alert.hosts, *alert.users, *(i.value for i in alert.indicators)] if alert else []
        choices = [e for e in dict.fromkeys(entities) if 0 < len(e) <= TARGET_MAX_CHARS and _literal(e)]
        choices = choices[:TARGET_CHOICES]
        target: dict[str, Any] = {"type": "null"}
        if choices:
            target = {"anyOf": [{"enum": choices}, target]}
        narrowed = {**step, "properties": {**step["properties"], "target": {**target, "default": None}}}
        return {**schema, "$defs": {**schema["$defs"], StepAnswer.__name__: narrowed}}

    def data(self, ctx: RoleContext) -> dict[str, Any]:
        t2, v = ctx.latest(Tier2Decided), ctx.latest(TriageVerdict)
        return {
            "sentinel": {"verdict": v.verdict, "priority": v.priority} if v else None,
            "tier2": {"summary": t2.summary, "findings": t2.findings, "evidence": t2.evidence}
            if t2
            else None,
            **decision_data(ctx),
        }

    def task(self, ctx: RoleContext) -> str:
        return "Assign the SEV and write the response plan."

    def handle(self, ctx: RoleContext, output: Any) -> list[Event]:
        a: IrAnswer = output
        alert = ctx.alert
        hosts = list(alert.hosts) if alert else []
        users = list(alert.users) if alert else []
        known = {*hosts, *users, *(i.value for i in alert.indicators)} if alert else set()
        steps: list[PlanStep] = []
        approvers: dict[int, Role] = {}
        risks: dict[int, Risk] = {}
        proposed: dict[tuple[ActionKind, str | None], int] = {}
        for n, s in enumerate(a.steps):
            kind, target = s.action, s.target or default_target(s.action, hosts, users)
            description = s.description
            if kind is not None and (not target or target not in known):
                description += f" (not proposed: target {target or 'missing'} is not in the case evidence)"
                kind, target = None, None
            elif kind in ACCOUNT_ACTIONS and target and BUILTIN_ACCOUNTS.match(target.strip()):
                description += f" (not proposed: {target} is a built-in system account, not a person's)"
                kind, target = None, None
            elif kind is not None and target and (wrong := wrong_kind(kind, target, alert)) is not None:
                description += f" (not proposed: {wrong})"
                kind, target = None, None
            elif kind is not None and (kind, target) in proposed:
                description += f" (not proposed: the same as step {proposed[(kind, target)] + 1})"
                kind, target = None, None
            action_id = None
            if kind is not None:
                proposed[(kind, target)] = n
                action_id = "act-" + hashlib.sha256(f"{ctx.event.event_id}:{n}".encode()).hexdigest()[:12]
                approvers[n] = Role(s.approver or "ir_lead")
                risks[n] = s.risk
            steps.append(
                fitted(
                    PlanStep,
                    phase=s.phase,
                    description=description,
                    kind=kind,
                    target=target,
                    action_id=action_id,
                )
            )
        digest = plan_digest(a.sev.value, steps)
        plan = ctx.make(
            IrPlan,
            sev=a.sev,
            sev_rationale=a.sev_rationale,
            summary=a.summary,
            steps=steps,
            notifications=a.notifications,
            plan_digest=digest,
        )
        expires = (ctx.now or utcnow()) + APPROVAL_WINDOW[a.sev]
        proposals: list[Event] = [
            ctx.make(
                ActionProposed,
                action_id=s.action_id,
                kind=s.kind,
                target=s.target,
                phase=s.phase,
                rationale=s.description,
                approver_role=approvers[n],
                risk=risks[n],
                sev=a.sev,
                expires_at=expires,
                plan_event_id=plan.event_id,
                plan_digest=digest,
            )
            for n, s in enumerate(steps)
            if s.action_id
        ]
        return [plan, *proposals]

    def stub_answer(self, data: dict[str, Any]) -> dict[str, Any]:
        view, sentinel = data.get("alert") or {}, data.get("sentinel") or {}
        points = SEVERITY_POINTS.get(str(view.get("severity")), 2) + int(sentinel.get("priority") or 5)
        sev = "SEV-1" if points >= 16 else "SEV-2" if points >= 12 else "SEV-3" if points >= 9 else "SEV-4"
        hosts = view.get("hosts") or []
        users = [u for u in view.get("users") or [] if not BUILTIN_ACCOUNTS.match(str(u).strip())]
        bad = [
            i
            for i in view_indicators(view)
            if not i["private"] and i.get("type") in ("ip", "domain", "url", "sha256", "md5")
        ]
        steps: list[dict[str, Any]] = []
        for host in hosts[:2]:
            steps.append(
                {
                    "phase": "containment",
                    "description": f"Isolate {host} from the network.",
                    "action": "isolate_host",
                    "target": host,
                    "risk": "high",
                }
            )
        for user in users[:1]:
            steps.append(
                {
                    "phase": "containment",
                    "description": f"Reset the credentials of {user}.",
                    "action": "reset_credentials",
                    "target": user,
                    "risk": "medium",
                }
            )
        for ind in bad[:2]:
            steps.append(
                {
                    "phase": "containment",
                    "description": f"Block {ind['type']} {ind['value']}.",
                    "action": "block_indicator",
                    "target": ind["value"],
                    "risk": "low",
                }
            )
        for host in hosts[:1]:
            steps.append(
                {
                    "phase": "eradication",
                    "description": f"Collect forensics on {host}, then remove what the alert found.",
                    "action": "collect_forensics",
                    "target": host,
                    "risk": "low",
                }
            )
        steps.append(
            {
                "phase": "recovery",
                "description": "Return hosts to service after a clean scan and watch them for 72 hours.",
            }
        )
        return {
            "sev": sev,
            "sev_rationale": f"{view.get('severity')} alert that Tier 2 confirmed; "
            f"Sentinel priority {sentinel.get('priority')}.",
            "summary": f"Contain {', '.join(hosts[:2]) or 'the affected systems'} and investigate "
            f"{view.get('title')}.",
            "steps": steps,
            "notifications": ["SOC Manager On-Call"] + (["CISO"] if sev in ("SEV-1", "SEV-2") else []),
        }


def _literal(text: str) -> bool:
    """Whether ``text`` is written in JSON without an escape (no backslash, quote or control)."""
    return json.dumps(text, ensure_ascii=False) == f'"{text}"'
