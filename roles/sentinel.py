"""Sentinel: first-line triage of every alert — verdict, priority, route to Tier 2 or close."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from aisoc.events import CaseClosed, Disposition, Event, Role, TriageVerdict, Verdict, fit
from aisoc.runtime import AgentRole, RoleContext
from roles._common import SEVERITY_POINTS, Confidence, NotBool, asked, assess, decision_data

ESCALATE_PRIORITY = 7
"""Malicious verdicts and priorities at or above this go to Tier 2; the rest are closed."""


class SentinelAnswer(BaseModel):
    """Sentinel's answer."""

    model_config = ConfigDict(extra="ignore")

    verdict: Verdict
    confidence: Confidence = Field(ge=0, le=1)
    priority: Annotated[int, NotBool] = Field(ge=1, le=10)
    # Asked for one sentence (``asked``): a small model writes to the bound it is given.
    summary: str = Field(min_length=1, max_length=2000, json_schema_extra=asked(chars=120))


class Sentinel(AgentRole):
    name = "sentinel"
    subscribes = ("alert.received",)
    emits = ("triage.verdict", "case.closed", "case.review_requested")
    budget = 10
    tools = ("case_lookup", "ioc_reputation", "attack_lookup")
    schema = SentinelAnswer
    prompt_version = "sentinel/5"
    uses_precedent = True
    review_duty = Role.TIER2
    system_prompt = """\
You are Sentinel, first-line triage in a SOC: you see every alert first. Decide the verdict:
malicious (clear evidence of an attack), suspicious (could be one; an analyst should look), benign
(real, expected activity) or false_positive (the rule fired on something it should not have);
confidence 0-1; priority 1 (ignore) to 10 (drop everything); a one-paragraph summary an analyst can
act on: what happened, on which host and account, and why you judged so. Malicious alerts and
priority 7+ go to Tier 2; you close the rest, so do not close what you cannot explain. Statistics,
when given, count how analysts labelled earlier alerts of the same rule, category or indicator:
weigh them as evidence. Check indicators or techniques with the lookup tools; never invent facts
that are not in the data or a tool result."""

    def data(self, ctx: RoleContext) -> dict[str, Any]:
        return decision_data(ctx)

    def task(self, ctx: RoleContext) -> str:
        return "Triage this alert."

    def handle(self, ctx: RoleContext, output: Any) -> list[Event]:
        a: SentinelAnswer = output
        routed = "tier2" if a.verdict == Verdict.MALICIOUS or a.priority >= ESCALATE_PRIORITY else "closed"
        events: list[Event] = [
            ctx.make(
                TriageVerdict,
                verdict=a.verdict,
                confidence=a.confidence,
                priority=a.priority,
                summary=a.summary,
                routed_to=routed,
            )
        ]
        if routed == "closed":
            disposition = (
                Disposition.FALSE_POSITIVE if a.verdict == Verdict.FALSE_POSITIVE else Disposition.BENIGN
            )
            reason = f"Sentinel closed it as {a.verdict.value} (priority {a.priority}): {a.summary}"
            events.append(
                ctx.make(CaseClosed, disposition=disposition, reason=reason, closed_by={"role": "sentinel"})
            )
        return events

    def overruled(self, ctx: RoleContext, results: list[Event], reason: str) -> list[Event]:
        """A refused close goes to Tier 2, the guardrail's reason first in the verdict's summary."""
        out: list[Event] = []
        for e in results:
            if isinstance(e, TriageVerdict):
                out.append(
                    e.model_copy(
                        update=fit(TriageVerdict, routed_to="tier2", summary=f"{reason}. {e.summary}")
                    )
                )
            elif not isinstance(e, CaseClosed):
                out.append(e)
        return out

    def stub_answer(self, data: dict[str, Any]) -> dict[str, Any]:
        """The written policy of ``roles._common`` as a verdict, a priority and a summary."""
        view = data.get("alert") or {}
        a = assess(data)
        severity = SEVERITY_POINTS.get(str(view.get("severity")), 2)
        if a.escalate:
            priority = min(10, ESCALATE_PRIORITY + severity // 4)
            verdict = "malicious" if a.history and a.confidence >= 0.8 else "suspicious"
        else:
            priority = max(1, min(ESCALATE_PRIORITY - 1, severity))
            verdict = "benign"
        hosts = ", ".join(view.get("hosts") or []) or "no host"
        techs = ", ".join((view.get("techniques") or [])[:3]) or "no ATT&CK mapping"
        summary = (
            f"{view.get('title')}: {view.get('severity')} severity on {hosts}; {techs}; "
            f"{len(view.get('indicators') or [])} indicators. Basis: {a.basis}."
        )
        return {"verdict": verdict, "confidence": a.confidence, "priority": priority, "summary": summary}
