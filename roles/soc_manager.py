"""SOC Manager: the shift summary at 06:00, 14:00 and 22:00 — counts, MTTA/MTTR, open approvals.

A SOC serving several tenants gets one summary per tenant (its ``tenant`` names it); a single-tenant
SOC gets one summary, as before."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from statistics import fmean
from typing import Any

from aisoc.events import (
    Event,
    NotableCase,
    OpenApproval,
    Role,
    Sev,
    ShiftSummary,
    Tier2Decision,
    Verdict,
    fitted,
)
from aisoc.memory import CaseFile
from aisoc.runtime import ScheduledRole
from roles._window import Stamped, by_tenant, cases, title_of, when, within


class SocManager(ScheduledRole):
    name = "soc_manager"
    schedule = ("0 6,14,22 * * *",)
    emits = ("shift.summary",)
    prompt_version = "soc_manager/1"

    def report(
        self, events: Iterable[Event], start: datetime, end: datetime, tz: str, memory: Any = None
    ) -> list[Event]:
        split = by_tenant(cases(events, end))
        return [self._summary(files, start, end, tz, tenant or None) for tenant, files in split.items()]

    def _summary(
        self, files: list[CaseFile], start: datetime, end: datetime, tz: str, tenant: str | None
    ) -> ShiftSummary:
        received = [c for c in files if within(when(c.record.alert), start, end)]
        verdicts: Counter[Verdict] = Counter()
        sevs: Counter[Sev] = Counter()
        escalations = 0
        notable = []
        for c in files:
            verdict, tier2, plan = (c.record.output(r) for r in (Role.SENTINEL, Role.TIER2, Role.IR_LEAD))
            if verdict is not None and within(when(verdict), start, end):
                verdicts[Verdict(verdict.outcome)] += 1
            if (
                tier2 is not None
                and within(when(tier2), start, end)
                and tier2.outcome == Tier2Decision.ESCALATE
            ):
                escalations += 1
            if plan is not None and within(when(plan), start, end):
                sevs[Sev(plan.outcome)] += 1
                if plan.outcome in (Sev.SEV1, Sev.SEV2):
                    notable.append(
                        fitted(
                            NotableCase,
                            case_id=c.case_id,
                            title=title_of(c),
                            status="closed" if c.record.closed else "open",
                            sev=Sev(plan.outcome),
                        )
                    )
        closed = [c for c in files if within(when(c.record.closed), start, end)]
        mtta = [_seconds(c.record.alert, c.record.output(Role.SENTINEL)) for c in received]
        mttr = [_seconds(c.record.alert, c.record.closed) for c in closed]
        open_approvals = [
            OpenApproval(
                action_id=a.action_id,
                case_id=c.case_id,
                kind=a.action.kind,
                target=a.action.target,
                approver_role=a.duty,
                age_s=max(0.0, (end - proposed).total_seconds()),
            )
            for c in files
            for a in c.actions()
            if a.awaiting
            and a.duty is not None
            and (proposed := when(a.proposed)) is not None
            and a.deadline is not None
            and a.deadline > end
        ]
        summary = (f"{tenant}: " if tenant else "") + (
            f"{len(received)} alerts received, {sum(verdicts.values())} triaged, {escalations} escalated, "
            f"{len(closed)} cases closed; {len(open_approvals)} approvals still open."
        )
        return fitted(
            ShiftSummary,
            window_start=start,
            window_end=end,
            timezone=tz,
            tenant=tenant,
            alerts_received=len(received),
            counts_by_verdict=dict(verdicts),
            counts_by_sev=dict(sevs),
            escalations=escalations,
            cases_closed=len(closed),
            mtta_s=_mean(mtta),
            mttr_s=_mean(mttr),
            open_approvals=open_approvals,
            notable_cases=notable,
            summary=summary,
            produced_by=self.producer(),
        )


def _seconds(first: Stamped | None, then: Stamped | None) -> float | None:
    """Seconds from one register's write to another's (None when either is missing)."""
    a, b = when(first), when(then)
    return None if a is None or b is None else (b - a).total_seconds()


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(fmean(known), 3) if known else None
