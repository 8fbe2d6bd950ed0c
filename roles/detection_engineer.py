"""Detection Engineer: noisy-rule tuning at 09:00 on weekdays ("fired 47 times, 41 closed benign").

A SOC serving several tenants gets one report per tenant (its ``tenant`` names it): a rule noisy for
one organisation is tuned for that one. A single-tenant SOC gets one report, as before."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aisoc.events import DetectionTuning, Disposition, Event, Role, RuleStat, fitted
from aisoc.memory import CaseFile
from aisoc.runtime import ScheduledRole
from roles._window import by_tenant, cases, when, within

NOISY_MIN_FIRES = 5
"""A rule needs at least this many fires in the window before tuning is suggested."""
NOISY_BENIGN_RATE = 0.8
"""Benign-closure rate at or above which a rule is called noisy."""


class DetectionEngineer(ScheduledRole):
    name = "detection_engineer"
    schedule = ("0 9 * * mon-fri",)
    emits = ("detection.tuning",)
    prompt_version = "detection_engineer/1"

    def report(
        self, events: Iterable[Event], start: datetime, end: datetime, tz: str, memory: Any = None
    ) -> list[Event]:
        split = by_tenant(cases(events, end))
        return [self._tuning(files, start, end, tz, tenant or None) for tenant, files in split.items()]

    def _tuning(
        self, files: list[CaseFile], start: datetime, end: datetime, tz: str, tenant: str | None
    ) -> DetectionTuning:
        stats: dict[str, dict[str, Any]] = {}
        for c in files:
            alert = c.alert
            if alert is None or not within(when(c.record.alert), start, end):
                continue
            key = f"{alert.source}:{alert.rule or alert.title}"
            s = stats.setdefault(key, {"title": alert.title, "fired": 0, "benign": 0, "escalated": 0})
            s["fired"] += 1
            closed = c.record.closed
            if closed is not None and closed.disposition in (Disposition.BENIGN, Disposition.FALSE_POSITIVE):
                s["benign"] += 1
            if c.record.output(Role.IR_LEAD) is not None:
                s["escalated"] += 1
        rules = []
        for key, s in sorted(stats.items(), key=lambda kv: (-kv[1]["fired"], kv[0])):
            rate = s["benign"] / s["fired"]
            suggestion = None
            if s["fired"] >= NOISY_MIN_FIRES and rate >= NOISY_BENIGN_RATE:
                suggestion = (
                    f"fired {s['fired']} times, {s['benign']} closed benign: tune the rule or "
                    "suppress the known-good pattern"
                )
            rules.append(
                fitted(
                    RuleStat,
                    rule=key,
                    title=str(s["title"]),
                    fired=s["fired"],
                    closed_benign=s["benign"],
                    escalated=s["escalated"],
                    benign_rate=round(rate, 4),
                    suggestion=suggestion,
                )
            )
        noisy = [r for r in rules if r.suggestion]
        summary = (f"{tenant}: " if tenant else "") + (
            f"{len(rules)} rules fired; {len(noisy)} noisy: "
            + "; ".join(f"{r.rule} ({r.suggestion})" for r in noisy[:5])
            if noisy
            else f"{len(rules)} rules fired; none noisy enough to tune."
        )
        return fitted(
            DetectionTuning,
            window_start=start,
            window_end=end,
            timezone=tz,
            tenant=tenant,
            rules=rules,
            summary=summary,
            produced_by=self.producer(),
        )
