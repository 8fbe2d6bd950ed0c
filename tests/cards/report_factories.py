"""Deterministic report events (shift, tuning, hunt, campaign) and Sentinel closures from real Wazuh data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aisoc.events import Alert, CampaignDetected, DetectionTuning, HuntProposal, ShiftSummary, TriageVerdict
from tests.cards.factories import CURL, T0, alert, at, by, triage, wazuh_records


def shift(**kw: Any) -> ShiftSummary:
    """SOC Manager's summary of the real data set's shift (counts from the labels)."""
    recs = wazuh_records()
    esc = sum(1 for _, e in recs if e)
    curl = alert(CURL)
    fields: dict[str, Any] = {
        "event_id": "evt-shift-1",
        "occurred_at": at(360),
        "produced_by": by("soc_manager"),
        "window_start": T0 - timedelta(hours=2),
        "window_end": T0 + timedelta(hours=6),
        "alerts_received": len(recs),
        "counts_by_verdict": {"malicious": 20, "suspicious": esc - 20, "false_positive": len(recs) - esc},
        "counts_by_sev": {"SEV-2": 1, "SEV-3": 2},
        "escalations": esc,
        "cases_closed": len(recs) - esc,
        "mtta_s": 252.0,
        "mttr_s": 7500.0,
        "open_approvals": [
            {
                "action_id": "act-1",
                "case_id": curl.case_id,
                "kind": "isolate_host",
                "target": curl.hosts[0],
                "approver_role": "ir_lead",
                "age_s": 1500.0,
            }
        ],
        "notable_cases": [
            {"case_id": curl.case_id, "title": curl.title, "status": "contained", "sev": "SEV-2"}
        ],
        "summary": "Quiet shift apart from the curl download on Win11Client.",
    }
    return ShiftSummary(**{**fields, **kw})


def tuning(**kw: Any) -> DetectionTuning:
    """Detection Engineer's report: the real rules that closed most often as false positives."""
    stats: dict[str, dict[str, Any]] = {}
    for a, escalated in wazuh_records():
        s = stats.setdefault(a.rule or "?", {"rule": a.rule or "?", "title": a.title, "fired": 0, "fp": 0})
        s["fired"] += 1
        s["fp"] += 0 if escalated else 1
    noisy = sorted((s for s in stats.values() if s["fp"]), key=lambda s: (-s["fp"], s["rule"]))
    rules = [
        {
            "rule": s["rule"],
            "title": s["title"],
            "fired": s["fired"],
            "closed_benign": s["fp"],
            "escalated": s["fired"] - s["fp"],
            "benign_rate": s["fp"] / s["fired"],
            "suggestion": "Add an exclusion for the lab's admin tooling." if s["fp"] > 2 else None,
        }
        for s in noisy
    ]
    fields: dict[str, Any] = {
        "event_id": "evt-tuning-1",
        "occurred_at": at(60),
        "produced_by": by("detection_engineer"),
        "window_start": T0 - timedelta(days=7),
        "window_end": T0,
        "rules": rules,
        "summary": f"{len(rules)} rules closed as false positive at least once this week.",
    }
    return DetectionTuning(**{**fields, **kw})


def hunt(**kw: Any) -> HuntProposal:
    """Threat Hunter's proposal: the hosts that 10.0.2.8 hit."""
    cases = [a.case_id for a, _ in wazuh_records() if any(i.value == "10.0.2.8" for i in a.indicators)]
    fields: dict[str, Any] = {
        "event_id": "evt-hunt-1",
        "occurred_at": at(600),
        "produced_by": by("threat_hunter"),
        "window_start": T0 - timedelta(hours=12),
        "window_end": T0,
        "findings": [
            {
                "kind": "shared_indicator",
                "summary": "10.0.2.8 appears in several cases on different hosts",
                "case_ids": cases,
                "indicators": ["ip:10.0.2.8"],
                "hypothesis": "One internal host is scanning and attacking the lab",
            }
        ],
        "summary": "One internal source explains most of the week's escalations.",
    }
    return HuntProposal(**{**fields, **kw})


def campaign(**kw: Any) -> CampaignDetected:
    """A campaign linked by 10.0.2.8 over the real cases."""
    cases = [a.case_id for a, _ in wazuh_records() if any(i.value == "10.0.2.8" for i in a.indicators)]
    fields: dict[str, Any] = {
        "event_id": "evt-campaign-1",
        "occurred_at": at(600),
        "produced_by": by("threat_hunter"),
        "campaign_id": "camp-10-0-2-8",
        "status": "new",
        "case_ids": cases,
        "indicators": ["ip:10.0.2.8", "url:http://10.0.2.8/payload.exe"],
        "first_seen": T0 - timedelta(days=3),
        "last_seen": T0,
        "summary": "Cases linked by attacker host 10.0.2.8",
    }
    return CampaignDetected(**{**fields, **kw})


def closures() -> tuple[list[TriageVerdict], dict[str, Alert]]:
    """Sentinel's closures of every real alert the analysts closed as FP, with their alerts."""
    events, alerts = [], {}
    for n, (a, escalated) in enumerate(wazuh_records()):
        if escalated:
            continue
        alerts[a.case_id] = a
        events.append(
            triage(
                a,
                routed="closed",
                verdict="false_positive" if n % 3 else "benign",
                n=n,
                occurred_at=at(n),
                confidence=round(0.55 + (n % 9) * 0.05, 2),
                priority=2,
            )
        )
    return events, alerts
