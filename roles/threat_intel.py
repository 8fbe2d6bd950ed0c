"""Threat Intel: actor attribution (only with corroborating evidence), ATT&CK mapping, IOC ratings.

Kept out of IR Lead's prompt: it runs on the plan, after the response is already decided.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aisoc.events import (
    Event,
    IndicatorType,
    IntelAttribution,
    IrPlan,
    Reputation,
    Role,
    Tier2Decided,
    valid_techniques,
)
from aisoc.events.attack import current_technique
from aisoc.runtime import AgentRole, RoleContext, Settled
from roles._attribution import check_attribution
from roles._common import Confidence, alert_view, asked, view_indicators

TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")


class IocAnswer(BaseModel):
    """One indicator's rating."""

    model_config = ConfigDict(extra="ignore")

    type: IndicatorType
    value: str = Field(min_length=1, max_length=2048, json_schema_extra=asked(chars=100))
    reputation: Reputation
    source: str | None = Field(default=None, max_length=256, json_schema_extra=asked(chars=40))


MAX_TECHNIQUES = 50
"""Techniques one answer may name (an alert may map to up to 100; a GUIDE incident maps to 61)."""
MAX_IOCS = 100
"""Indicators one answer may rate."""


class IntelAnswer(BaseModel):
    """Threat Intel's answer."""

    model_config = ConfigDict(extra="ignore")

    # Asked for less than what validates (``asked``): the whole answer stays under about 1,600
    # characters, within the local model's max_tokens (the bound); see docs/models.md.
    actor: str | None = Field(default=None, max_length=256, json_schema_extra=asked(chars=64))
    actor_evidence: list[str] = Field(default_factory=list, max_length=20, json_schema_extra=asked(items=2))
    techniques: list[str] = Field(
        default_factory=list, max_length=MAX_TECHNIQUES, json_schema_extra=asked(chars=12)
    )  # an ATT&CK id is at most 9 characters (T1059.001)
    iocs: list[IocAnswer] = Field(default_factory=list, max_length=MAX_IOCS)
    confidence: Confidence = Field(ge=0, le=1)
    summary: str = Field(min_length=1, max_length=2000, json_schema_extra=asked(chars=120))


class ThreatIntel(AgentRole):
    name = "threat_intel"
    subscribes = ("ir.plan",)
    emits = ("intel.attribution", "case.review_requested")
    budget = 12
    tools = (
        "case_lookup",
        "ioc_reputation",
        "attack_lookup",
        "falcon_ioc_lookup",
        "zscaler_url_lookup",
        "zscaler_sandbox_report",
    )
    schema = IntelAnswer
    prompt_version = "threat_intel/6"
    review_duty = Role.IR_LEAD
    system_prompt = """\
You are the Threat Intelligence analyst. For this escalated case: map the activity to MITRE ATT&CK
technique ids (format T1234 or T1234.001; check them with attack_lookup), rate each indicator of the
case (malicious, suspicious, unknown, benign) with its source, and attribute a threat actor ONLY
when the evidence corroborates it. Each item of actor_evidence must name what it rests on: an
indicator of the case you looked up with a reputation tool, an ATT&CK technique the alert carries,
or an earlier case id that case_lookup showed attributed to the same actor. Anything else is not
evidence and the actor is dropped. No evidence, no actor: leave it null. Unknown is an honest
rating."""

    def accepts(self, event: Event) -> bool:
        return isinstance(event, IrPlan)

    def data(self, ctx: RoleContext) -> dict[str, Any]:
        plan, t2 = ctx.latest(IrPlan), ctx.latest(Tier2Decided)
        return {
            "tier2_findings": t2.findings if t2 else [],
            "plan": {"sev": plan.sev, "summary": plan.summary} if plan else None,
        }

    def task(self, ctx: RoleContext) -> str:
        return "Attribute, map and rate."

    def settle(self, ctx: RoleContext) -> Settled | None:
        """Nothing to judge, so no model is asked, when the case has no actor evidence and either no
        indicator to rate or a model that cannot call tools.

        Rateable indicators are the strong ones (hashes, domains, public IPs, URLs, CVEs, emails)
        that are not private addresses; actor evidence is an actor indicator. A model without tools
        (the bundled small model) has no reputation source to rate an indicator by and no lookup to
        check a technique or corroborate an actor with: by this role's own rules every indicator is
        then ``unknown``, the actor is left out, and the detection's ATT&CK ids are what is known.
        Either way the detection's own ATT&CK ids are carried over as they are.
        """
        alert = ctx.alert
        if alert is None:
            return None
        rateable = [i for i in alert.strong_indicators() if not i.private and i.type != IndicatorType.ACTOR]
        if any(i.type == IndicatorType.ACTOR for i in alert.indicators) or (ctx.tools and rateable):
            return None
        techniques = [t for t in alert.techniques if TECHNIQUE.match(t)]
        mapped = (
            f"the detection's ATT&CK mapping kept ({', '.join(techniques[:MAX_TECHNIQUES])})"
            if techniques
            else "no ATT&CK mapping"
        )
        if ctx.tools:
            reason = "no indicator to rate and no actor evidence in the case"
            summary = f"Nothing to attribute or rate: {reason}; {mapped}."
        else:
            reason = "the model cannot call tools: no reputation or ATT&CK lookup to rate or attribute by"
            summary = (
                f"No lookup possible on this model: {len(rateable[:MAX_IOCS])} indicator(s) rated unknown, "
                f"no actor; {mapped}."
            )
        return Settled(
            answer={
                "actor": None,
                "actor_evidence": [],
                "techniques": techniques[:MAX_TECHNIQUES],
                "iocs": [
                    {"type": i.type.value, "value": i.value, "reputation": "unknown", "source": "no lookup"}
                    for i in rateable[:MAX_IOCS]
                ],
                "confidence": 0.5,
                "summary": summary,
            },
            reason=reason,
        )

    def handle(self, ctx: RoleContext, output: Any) -> list[Event]:
        a: IntelAnswer = output
        alert = ctx.alert
        known = (
            {v.lower() for v in (*alert.hosts, *alert.users, *(i.value for i in alert.indicators))}
            if alert
            else set()
        )
        text = str(alert_view(ctx)).lower()
        claimed = list(dict.fromkeys(t.strip().upper() for t in a.techniques))
        techniques = valid_techniques(t for t in claimed if TECHNIQUE.match(t))
        iocs = [i for i in a.iocs if i.value.lower() in known or json.dumps(i.value.lower())[1:-1] in text]
        notes = []
        unknown = [t for t in claimed if current_technique(t) is None]
        if unknown:
            notes.append(f"dropped technique id(s) not in the ATT&CK catalogue: {', '.join(unknown[:10])}")
        if len(iocs) < len(a.iocs):
            notes.append(f"dropped {len(a.iocs) - len(iocs)} indicator(s) not found in the case")
        attribution = check_attribution(a.actor, a.actor_evidence, alert, ctx.tool_calls)
        if attribution.note:
            notes.append(attribution.note)
        ctx.notes.extend(notes)
        summary = a.summary + (f" [{'; '.join(notes)}]" if notes else "")
        return [
            ctx.make(
                IntelAttribution,
                actor=attribution.actor,
                actor_evidence=attribution.evidence,
                techniques=techniques,
                iocs=[i.model_dump() for i in iocs],
                confidence=a.confidence,
                summary=summary,
            )
        ]

    def stub_answer(self, data: dict[str, Any]) -> dict[str, Any]:
        view = data.get("alert") or {}
        iocs = [
            {"type": i["type"], "value": i["value"], "reputation": "unknown", "source": "no feed"}
            for i in view_indicators(view)[:10]
            if i.get("type") in ("ip", "domain", "url", "sha256", "sha1", "md5", "email")
        ]
        techniques = list(view.get("techniques") or [])[:MAX_TECHNIQUES]
        return {
            "actor": None,
            "actor_evidence": [],
            "techniques": techniques,
            "iocs": iocs,
            "confidence": 0.4,
            "summary": f"{len(techniques)} technique(s) from the detection; {len(iocs)} indicator(s) "
            "rated unknown; no corroborated actor.",
        }
