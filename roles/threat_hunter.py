"""Threat Hunter: cross-case patterns at 06:00 and 18:00 — repeated hosts, shared indicators,
verdicts that never got a follow-up, and campaigns from case memory.

Patterns link cases of one tenant only (two organisations' ``DC01`` are two hosts), unless the role
is built with ``across_tenants`` (setting ``hunt_across_tenants``); its leads then say so."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from aisoc.events import STRONG_TYPES, Event, HuntFinding, HuntProposal, Role, Tier2Decision, fitted
from aisoc.runtime import ScheduledRole
from aisoc.tenants import tenant_key
from roles._window import cases, when, within

CAMPAIGN_WINDOW = timedelta(days=7)
"""Cases linked by shared infrastructure within this window form a campaign."""
REPEATED_HOST = 3
"""A host in at least this many cases of the window is worth a hunt."""


class ThreatHunter(ScheduledRole):
    name = "threat_hunter"
    schedule = ("0 6,18 * * *",)
    emits = ("hunt.proposal", "campaign.detected")
    across_tenants: bool = False
    """Link cases of different tenants (an MSSP hunting one actor across its customers)."""

    def _scope(self, tenant: str | None) -> str:
        return "" if self.across_tenants else tenant_key(tenant)

    @staticmethod
    def _of(scope: str) -> str:
        return f" of tenant {scope}" if scope else ""

    prompt_version = "threat_hunter/1"

    def report(
        self, events: Iterable[Event], start: datetime, end: datetime, tz: str, memory: Any = None
    ) -> list[Event]:
        files = cases(events, end)
        hosts: dict[tuple[str, str], list[str]] = defaultdict(list)
        shared: dict[tuple[str, str], list[str]] = defaultdict(list)
        findings: list[HuntFinding] = []
        seen = 0
        for c in files:
            alert = c.alert
            if alert is None or not within(when(c.record.alert), start, end):
                continue
            seen += 1
            scope = self._scope(alert.tenant)
            for h in alert.hosts:
                hosts[(scope, h)].append(c.case_id)
            for i in alert.indicators:
                if i.type in STRONG_TYPES and not i.private:
                    shared[(scope, i.key)].append(c.case_id)
            verdict, tier2, plan = (c.record.output(r) for r in (Role.SENTINEL, Role.TIER2, Role.IR_LEAD))
            if verdict is not None and verdict.route == "tier2" and tier2 is None:
                findings.append(
                    HuntFinding(
                        kind="no_follow_up",
                        case_ids=[c.case_id],
                        summary=f"Sentinel routed {c.case_id} to Tier 2; no decision yet.",
                    )
                )
            elif tier2 is not None and tier2.outcome == Tier2Decision.ESCALATE and plan is None:
                findings.append(
                    HuntFinding(
                        kind="no_follow_up",
                        case_ids=[c.case_id],
                        summary=f"Tier 2 escalated {c.case_id}; IR Lead has no plan yet.",
                    )
                )
        span = " (across tenants)" if self.across_tenants else ""
        for (scope, host), ids in sorted(hosts.items(), key=lambda kv: -len(kv[1])):
            if len(ids) >= REPEATED_HOST:
                findings.append(
                    fitted(
                        HuntFinding,
                        kind="repeated_host",
                        case_ids=ids,
                        indicators=[f"host:{host}"],
                        summary=f"{host}{self._of(scope)} appears in {len(ids)} cases this window{span}.",
                        hypothesis=f"One intrusion on {host} seen by several rules; hunt its process tree.",
                    )
                )
        for (scope, key), ids in sorted(shared.items(), key=lambda kv: -len(kv[1])):
            if len(set(ids)) >= 2:
                findings.append(
                    fitted(
                        HuntFinding,
                        kind="shared_indicator",
                        case_ids=sorted(set(ids)),
                        indicators=[key],
                        summary=f"{key} is shared by {len(set(ids))} cases{self._of(scope)}{span}.",
                        hypothesis="Shared infrastructure: look for other hosts talking to it.",
                    )
                )
        events_out: list[Event] = []
        if memory is not None:
            for cluster in memory.find_campaign_clusters(CAMPAIGN_WINDOW, end=end):
                if cluster.is_news:
                    events_out.append(cluster.to_event(self.producer()))
        summary = f"{len(findings)} hunt leads from {seen} cases."
        events_out.insert(
            0,
            fitted(
                HuntProposal,
                window_start=start,
                window_end=end,
                timezone=tz,
                findings=findings,
                summary=summary,
                produced_by=self.producer(),
            ),
        )
        return events_out
