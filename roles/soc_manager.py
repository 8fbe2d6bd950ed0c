"""SOC Manager: the shift summary at 06:00, 14:00 and 22:00 — counts, MTTA/MTTR, open approvals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from statistics import fmean
from typing import Any

from aisoc.events import Event, NotableCase, OpenApproval, Sev, ShiftSummary, Verdict
from aisoc.runtime import ScheduledRole
from roles._window import fold, title_of, within


class SocManager(ScheduledRole):
    name = "soc_manager"
    schedule = ("0 6,14,22 * * *",)
    emits = ("shift.summary",)
    prompt_version = "soc_manager/1"

    def report(
        self, events: Iterable[Event], start: datetime, end: datetime, tz: str, memory: Any = None
    ) -> list[Event]:
        cases = fold(events, end)
        received = [c for c in cases.values() if within(c.received, start, end)]
        verdicts = Counter(
            Verdict(c.verdict.verdict) for c in cases.values() if within(c.verdict, start, end)
        )
        sevs = Counter(Sev(c.plan.sev) for c in cases.values() if within(c.plan, start, end))
        escalations = sum(
            1
            for c in cases.values()
            if within(c.tier2, start, end) and c.tier2 is not None and c.tier2.decision == "escalate"
        )
        closed = [c for c in cases.values() if within(c.closed, start, end)]
        mtta = [
            (c.verdict.occurred_at - c.received.occurred_at).total_seconds()
            for c in received
            if c.verdict is not None and c.received is not None
        ]
        mttr = [
            (c.closed.occurred_at - c.received.occurred_at).total_seconds()
            for c in closed
            if c.closed is not None and c.received is not None
        ]
        open_approvals = [
            OpenApproval(
                action_id=p.action_id,
                case_id=c.case_id,
                kind=p.kind,
                target=p.target,
                approver_role=p.approver_role,
                age_s=max(0.0, (end - p.occurred_at).total_seconds()),
            )
            for c in cases.values()
            for p in c.proposals.values()
            if p.action_id not in c.decided and p.expires_at > end
        ]
        notable = [
            NotableCase(
                case_id=c.case_id,
                title=title_of(c)[:1024],
                status="closed" if c.closed else "open",
                sev=Sev(c.plan.sev) if c.plan else None,
            )
            for c in cases.values()
            if within(c.plan, start, end) and c.plan is not None and c.plan.sev in (Sev.SEV1, Sev.SEV2)
        ]
        summary = (
            f"{len(received)} alerts received, {sum(verdicts.values())} triaged, {escalations} escalated, "
            f"{len(closed)} cases closed; {len(open_approvals)} approvals still open."
        )
        return [
            ShiftSummary(
                window_start=start,
                window_end=end,
                timezone=tz,
                alerts_received=len(received),
                counts_by_verdict=dict(verdicts),
                counts_by_sev=dict(sevs),
                escalations=escalations,
                cases_closed=len(closed),
                mtta_s=round(fmean(mtta), 3) if mtta else None,
                mttr_s=round(fmean(mttr), 3) if mttr else None,
                open_approvals=open_approvals[:200],
                notable_cases=notable[:50],
                summary=summary,
                produced_by=self.producer(),
            )
        ]
