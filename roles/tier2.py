"""Tier 2 Analyst: investigates what Sentinel routed — escalate to IR Lead, close, or ask a human."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aisoc.events import (
    CaseClosed,
    Disposition,
    Event,
    ReviewRequested,
    Role,
    Tier2Decided,
    Tier2Decision,
    TriageVerdict,
    fit,
)
from aisoc.runtime import AgentRole, RoleContext
from roles._common import Confidence, asked, assess, decision_data


class Tier2Answer(BaseModel):
    """Tier 2's answer."""

    model_config = ConfigDict(extra="ignore")

    decision: Tier2Decision
    confidence: Confidence = Field(ge=0, le=1)
    # Asked for less than what validates (``asked``): a small model writes to the bound it is given.
    summary: str = Field(min_length=1, max_length=2000, json_schema_extra=asked(chars=120))
    findings: list[str] = Field(
        default_factory=list, max_length=20, json_schema_extra=asked(chars=80, items=3)
    )
    evidence: list[str] = Field(
        default_factory=list, max_length=20, json_schema_extra=asked(chars=80, items=3)
    )
    disposition: Literal["benign", "false_positive"] | None = None


class Tier2(AgentRole):
    name = "tier2"
    subscribes = ("triage.verdict",)
    emits = ("tier2.decision", "case.closed", "case.review_requested")
    budget = 30
    tools = (
        "case_lookup",
        "ioc_reputation",
        "attack_lookup",
        "falcon_host_details",
        "falcon_host_alerts",
        "falcon_ioc_lookup",
        "tanium_question",
        "zscaler_url_lookup",
    )
    schema = Tier2Answer
    prompt_version = "tier2/6"
    uses_precedent = True
    review_duty = Role.TIER2
    system_prompt = """\
You are a Tier 2 SOC analyst; Sentinel routed this alert to you. Investigate with the read-only
tools and decide: "escalate" (a real incident for the IR Lead), "close" (not an incident; set
`disposition` to "benign" or "false_positive") or "human_review" (the evidence is not enough; say
exactly what is missing). List your findings and the evidence behind each (tool results, alert
fields). Statistics, when given, count how analysts labelled earlier alerts of the same rule,
category or indicator: weigh them as evidence. Do not escalate on severity alone; do not close
what you cannot explain."""

    def accepts(self, event: Event) -> bool:
        return isinstance(event, TriageVerdict) and event.routed_to == "tier2"

    def data(self, ctx: RoleContext) -> dict[str, Any]:
        v = ctx.latest(TriageVerdict)
        sentinel = {"verdict": v.verdict, "confidence": v.confidence, "priority": v.priority} if v else None
        return {"sentinel": sentinel, **decision_data(ctx)}

    def task(self, ctx: RoleContext) -> str:
        return "Investigate and decide: escalate, close or human_review."

    def handle(self, ctx: RoleContext, output: Any) -> list[Event]:
        a: Tier2Answer = output
        events: list[Event] = [
            ctx.make(
                Tier2Decided,
                decision=a.decision,
                confidence=a.confidence,
                summary=a.summary,
                findings=a.findings,
                evidence=a.evidence,
            )
        ]
        if a.decision == Tier2Decision.CLOSE:
            disposition = Disposition(a.disposition or "false_positive")
            events.append(
                ctx.make(
                    CaseClosed,
                    disposition=disposition,
                    reason=f"Tier 2 closed it: {a.summary}",
                    closed_by={"role": "tier2"},
                )
            )
        elif a.decision == Tier2Decision.HUMAN_REVIEW:
            events.append(
                ctx.make(
                    ReviewRequested,
                    role=Role.TIER2,
                    reason=f"Tier 2 could not decide: {a.summary}",
                    details="\n".join(a.findings) or None,
                    duty=Role.TIER2,
                )
            )
        return events

    def overruled(self, ctx: RoleContext, results: list[Event], reason: str) -> list[Event]:
        """A refused close becomes a human review: the decision says so, with the guardrail's reason."""
        out: list[Event] = []
        for e in results:
            if isinstance(e, Tier2Decided):
                out.append(
                    e.model_copy(
                        update=fit(
                            Tier2Decided,
                            decision=Tier2Decision.HUMAN_REVIEW,
                            summary=f"{reason}. {e.summary}",
                        )
                    )
                )
            elif not isinstance(e, CaseClosed):
                out.append(e)
        return [*out, ctx.make(ReviewRequested, role=Role.TIER2, reason=reason, duty=Role.TIER2)]

    def stub_answer(self, data: dict[str, Any]) -> dict[str, Any]:
        """The written policy of ``roles._common``: escalate or close on it (a close the runtime's
        guardrail refuses becomes a human review)."""
        view, sentinel = data.get("alert") or {}, data.get("sentinel") or {}
        a = assess(data)
        hosts = view.get("hosts") or []
        findings = [f"Sentinel rated it {sentinel.get('verdict')} at priority {sentinel.get('priority')}."]
        if view.get("techniques"):
            findings.append("Mapped to ATT&CK " + ", ".join(view["techniques"][:4]) + ".")
        if hosts:
            findings.append(f"Activity on {', '.join(hosts[:3])}.")
        findings.append(f"Basis: {a.basis}.")
        evidence = [f"alert rule {view.get('rule')}: {view.get('title')}"]
        if a.escalate:
            decision, disposition = "escalate", None
            summary = f"Escalating activity on {', '.join(hosts[:2]) or 'the environment'}: {a.basis}."
        else:
            decision, disposition = "close", "benign"
            summary = f"Closing as benign: {a.basis}."
        return {
            "decision": decision,
            "confidence": a.confidence,
            "summary": summary,
            "findings": findings,
            "evidence": evidence,
            "disposition": disposition,
        }
