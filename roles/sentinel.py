"""Sentinel: first-line triage of every alert — verdict, priority, route to Tier 2 or close."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aisoc.events import CaseClosed, Disposition, Event, Role, TriageVerdict, Verdict
from aisoc.runtime import AgentRole, RoleContext
from roles._common import ATTACK_WORDS, QUIET_WORDS, SEVERITY_POINTS, alert_text, alert_view, precedent_lean

ESCALATE_PRIORITY = 7
"""Malicious verdicts and priorities at or above this go to Tier 2; the rest are closed."""


class SentinelAnswer(BaseModel):
    """Sentinel's answer."""

    model_config = ConfigDict(extra="ignore")

    verdict: Verdict
    confidence: float = Field(ge=0, le=1)
    priority: int = Field(ge=1, le=10)
    summary: str = Field(min_length=1, max_length=2000)


class Sentinel(AgentRole):
    name = "sentinel"
    subscribes = ("alert.received",)
    emits = ("triage.verdict", "case.closed", "case.review_requested")
    budget = 10
    tools = ("case_lookup", "ioc_reputation", "attack_lookup")
    schema = SentinelAnswer
    prompt_version = "sentinel/1"
    uses_precedent = True
    review_duty = Role.TIER2
    system_prompt = """\
You are Sentinel, the first-line triage analyst of a security operations center. You see every
alert first. Decide:
- verdict: "malicious" (clear evidence of an attack), "suspicious" (could be an attack; a human
  analyst should look), "benign" (real but expected activity), or "false_positive" (the rule fired
  on something it should not have);
- confidence between 0 and 1;
- priority from 1 (ignore) to 10 (drop everything);
- a one-paragraph summary an analyst can act on: what happened, on which host and account, and why
  you judged it so.
Malicious alerts, and any alert of priority 7 or more, go to a Tier 2 analyst; everything else is
closed by you, so do not close what you cannot explain. Use the lookup tools when an indicator or a
technique needs checking; never invent facts that are not in the data or in a tool result."""

    def data(self, ctx: RoleContext) -> dict[str, Any]:
        return {"alert": alert_view(ctx)}

    def task(self, ctx: RoleContext) -> str:
        return "Triage this alert: verdict, confidence, priority and summary as one JSON object."

    def handle(self, ctx: RoleContext, output: Any) -> list[Event]:
        a: SentinelAnswer = output
        routed = "tier2" if a.verdict == Verdict.MALICIOUS or a.priority >= ESCALATE_PRIORITY else "closed"
        events: list[Event] = [
            ctx.make(
                TriageVerdict,
                verdict=a.verdict,
                confidence=a.confidence,
                priority=a.priority,
                summary=a.summary[:8000],
                routed_to=routed,
            )
        ]
        if routed == "closed":
            disposition = (
                Disposition.FALSE_POSITIVE if a.verdict == Verdict.FALSE_POSITIVE else Disposition.BENIGN
            )
            reason = f"Sentinel closed it as {a.verdict.value} (priority {a.priority}): {a.summary}"
            events.append(
                ctx.make(
                    CaseClosed, disposition=disposition, reason=reason[:1024], closed_by={"role": "sentinel"}
                )
            )
        return events

    def stub_answer(self, data: dict[str, Any]) -> dict[str, Any]:
        view = data.get("alert") or {}
        text = alert_text(view)
        score = SEVERITY_POINTS.get(str(view.get("severity")), 2)
        techniques = view.get("techniques") or []
        score += 2 if techniques else 0
        score += 3 if any(w in text for w in ATTACK_WORDS) else 0
        strong = [
            i
            for i in view.get("indicators") or []
            if i.get("type") in ("ip", "domain", "url", "sha256", "md5", "sha1") and not i.get("private")
        ]
        score += 1 if strong else 0
        score -= 4 if any(w in text for w in QUIET_WORDS) else 0
        score += 3 * precedent_lean(data)
        priority = max(1, min(10, score))
        verdict = (
            "malicious"
            if priority >= 8
            else "suspicious"
            if priority >= 5
            else "benign"
            if priority >= 3
            else "false_positive"
        )
        hosts = ", ".join(view.get("hosts") or []) or "no host"
        techs = ", ".join(techniques[:3]) or "no ATT&CK mapping"
        summary = (
            f"{view.get('title')}: {view.get('severity')} severity on {hosts}; {techs}; "
            f"{len(view.get('indicators') or [])} indicators."
        )
        if data.get("precedent"):
            summary += f" Weighed {len(data['precedent'])} precedent case(s)."
        return {
            "verdict": verdict,
            "confidence": round(min(0.95, 0.5 + 0.045 * priority), 2),
            "priority": priority,
            "summary": summary,
        }
