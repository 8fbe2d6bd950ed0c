"""Precedent statistics: what analysts decided about a rule's, an indicator's or a category's earlier alerts.

"This detector fired 47 times for this organisation in 30 days; analysts closed 41 as benign,
escalated 4" — counted mechanically, judged by the role. :class:`Statistics` folds two event types
of the audit log (``alert.received`` and ``truth.labeled``) into sorted time lists per subject and
level, so one question costs a few binary searches whatever the log's size.

Only an analyst's label counts as an outcome here (never a role's own verdict), and only labels
already in the log: replay publishes a label once its delay has passed, so a statistic never carries
a label younger than that. Only alerts created strictly before the one being worked on count, so an
alert never meets its own outcome.

Subjects and levels: the alert's rule/detector, its category and its tenant as a whole (the base
rate), each counted within the alert's tenant and across all tenants (when the policy allows); and
its strong indicators and entities, within the tenant and, for strong indicators with fewer than
``min_labelled`` labels there, across all tenants.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from aisoc.bus.audit import AuditLog
from aisoc.bus.records import AuditEntry
from aisoc.events import Alert, AlertReceived, Event, IndicatorType, TruthLabeled
from aisoc.events.alert import STRONG_TYPES
from aisoc.memory.records import to_dt
from aisoc.tenants import tenant_key

log = logging.getLogger(__name__)

Subject = Literal["rule", "category", "tenant", "indicator"]
Level = Literal["tenant", "all_tenants"]
ALL = "\x00all"
"""The tenant slot of a statistic counted across every tenant."""
ENTITY_TYPES = frozenset(
    {IndicatorType.HOST, IndicatorType.USER, IndicatorType.DEVICE_ID, IndicatorType.ACCOUNT_ID}
)
"""Entities whose statistics are shown within the tenant only (the same name elsewhere is someone else)."""
MAX_KEYS = 40
"""Indicators and entities of one alert that are counted (the first ones, strong types first)."""


class StatisticsHook(Protocol):
    """What the runtime asks for a role's prompt: the statistics about one case's alert."""

    def __call__(self, role: str, alert: Alert, case_id: str) -> list[Stat]: ...


class StatisticsPolicy(BaseModel):
    """What the statistics shown to roles count (settings table ``[aisoc.statistics]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: float = Field(default=90.0, gt=0)
    """Only alerts created this many days before the one being worked on are counted."""
    all_tenants: bool = True
    """Fall back to counts across every tenant when the alert's tenant has too few labels (a SOC
    that serves organisations who must not learn from each other turns this off)."""
    min_labelled: int = Field(default=3, ge=1)
    """A level with fewer labelled alerts than this defers to the next level."""
    max_indicators: int = Field(default=3, ge=0, le=20)
    """Indicator and entity statistics shown per prompt (those with the most labels)."""


@dataclass(frozen=True, slots=True)
class Stat:
    """How analysts decided one subject's earlier alerts, at one level, in the policy's window."""

    subject: Subject
    key: str
    level: Level
    window_days: float
    fired: int
    labelled: int
    true_positive: int
    benign: int
    last_fired: datetime | None
    last_true_positive: datetime | None
    at: datetime | None
    """The moment the statistic describes (the alert's creation time)."""

    @property
    def tp_share(self) -> float | None:
        """Share of the labelled alerts that were true positives (None without labels)."""
        return self.true_positive / self.labelled if self.labelled else None

    def text(self) -> str:
        """One sentence for a prompt, a card or a trace."""
        where = "for this tenant" if self.level == "tenant" else "across all tenants"
        what = {"rule": "rule/detector ", "indicator": "indicator ", "category": "category ", "tenant": ""}
        name = "alerts" if self.subject == "tenant" else f"{what[self.subject]}{self.key}"
        days = f"{self.window_days:g} days"
        if not self.fired:
            return f"{name} has not fired {where} in {days}"
        out = (
            f"{name} fired {self.fired} times {where} in {days}; analysts labelled "
            f"{self.labelled}: {self.benign} closed as benign or false positive, {self.true_positive} "
            "true positive"
        )
        if self.last_true_positive is not None and self.at is not None:
            out += f" (latest true positive {_age(self.at - self.last_true_positive)} earlier)"
        return out

    def view(self) -> dict[str, Any]:
        """What a role is shown (numbers for reasoning, one sentence for reading)."""
        return {
            "subject": self.subject,
            "key": self.key,
            "level": self.level,
            "fired": self.fired,
            "labelled": self.labelled,
            "true_positive": self.true_positive,
            "benign": self.benign,
            "text": self.text(),
        }


def _age(d: timedelta) -> str:
    s = max(0.0, d.total_seconds())
    if s < 3600:
        return f"{s / 60:.0f} minutes"
    if s < 86400:
        return f"{s / 3600:.0f} hours"
    return f"{s / 86400:.0f} days"


@dataclass(slots=True)
class _Group:
    """One subject at one level: sorted creation times of its alerts, and of its labelled ones."""

    times: list[float] = field(default_factory=list)
    tp: list[float] = field(default_factory=list)
    benign: list[float] = field(default_factory=list)


@dataclass(slots=True)
class _Case:
    created: float
    groups: tuple[tuple[str, str, str], ...]
    label: bool | None = None


def subjects_of(alert: Alert) -> list[tuple[Subject, str, bool]]:
    """``(subject, key, may cross tenants)`` of an alert: its rule, category, indicators and entities."""
    out: list[tuple[Subject, str, bool]] = []
    if alert.rule:
        out.append(("rule", alert.rule, True))
    if alert.category:
        out.append(("category", alert.category, True))
    out.append(("tenant", "", True))
    strong = [i for i in alert.indicators if i.type in STRONG_TYPES]
    weak = [i for i in alert.indicators if i.type not in STRONG_TYPES and i.type in ENTITY_TYPES]
    keys = [(i.key, True) for i in strong] + [(i.key, False) for i in weak]
    keys += [(f"host:{h}", False) for h in alert.hosts] + [(f"user:{u}", False) for u in alert.users]
    for key, crosses in dict.fromkeys(keys[:MAX_KEYS]):
        out.append(("indicator", key, crosses))
    return out


class Statistics:
    """Precedent statistics over an audit log (its own small fold: alerts and analysts' labels).

    Args:
        audit: the audit log (``bus.audit``).
        policy: window, levels and how many statistics a prompt gets.
        auto_refresh: fold new audit entries before each question (off: call :meth:`refresh`).
        max_cases: hold at most this many alerts (the newest by creation time; None: no limit),
            and let go of alerts created more than the policy's ``window_days`` before the newest
            one (no statistic of a later alert counts them). The count bound does change
            answers once reached (the counts then cover the newest ``max_cases`` alerts), so it is
            logged when it first bites; keep it above the alerts of one window.

    Example:
        >>> from aisoc import Bus
        >>> Statistics(Bus().audit).refresh()
        0
    """

    def __init__(
        self,
        audit: AuditLog,
        *,
        policy: StatisticsPolicy | None = None,
        auto_refresh: bool = True,
        max_cases: int | None = None,
    ):
        if max_cases is not None and max_cases < 1:
            raise ValueError("max_cases must be positive")
        self.audit = audit
        self.policy = policy or StatisticsPolicy()
        self.auto_refresh = auto_refresh
        self.max_cases = max_cases
        self._slack = max(1, (max_cases or 2000) // 20)
        self._warned = False
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self._cases: dict[str, _Case] = {}
        self._oldest: list[tuple[float, str]] = []
        """A heap of (creation time, case id) of the alerts held: the next to let go on top."""
        self._newest = float("-inf")
        self._since_bound = 0
        self._labels: dict[str, bool] = {}
        self._groups: dict[tuple[str, str, str], _Group] = {}
        self._cursor: str | None = None
        self._epoch: str | None = None

    # --- folding --------------------------------------------------------------------------------

    def refresh(self) -> int:
        """Fold the audit entries after the cursor; rebuild when the log was wiped.

        Returns:
            How many entries were read.
        """
        with self._lock:
            if self._epoch is not None and self.audit.epoch != self._epoch:
                self._reset()
            self._epoch = self.audit.epoch
            n = 0
            for entry in self.audit.scan(since=self._cursor):
                self._cursor = entry.id  # past an entry that does not decode too, once
                if not isinstance(entry, AuditEntry):
                    continue
                self.apply(entry.event)
                n += 1
                if self.max_cases is not None and self._since_bound >= self._slack:
                    self._bound()
            return n

    def _bound(self) -> None:
        """Let go of alerts outside the window: older than ``window_days`` before the newest one,
        and beyond ``max_cases``."""
        self._since_bound = 0
        oldest_kept = self._newest - self.policy.window_days * 86400.0
        by_count = 0
        while self._oldest and (
            self._oldest[0][0] < oldest_kept
            or (self.max_cases is not None and len(self._cases) > self.max_cases)
        ):
            created, cid = heapq.heappop(self._oldest)
            if created >= oldest_kept:
                by_count += 1
            self._forget(cid)
        if by_count and not self._warned:
            self._warned = True
            log.warning(
                "statistics hold the newest %d alerts (memory_max_cases): counts over the window no "
                "longer include older ones",
                self.max_cases,
            )

    def _forget(self, cid: str) -> None:
        case = self._cases.pop(cid, None)
        self._labels.pop(cid, None)
        if case is None:
            return
        for g in case.groups:
            group = self._groups[g]
            lists = [group.times] + (
                [group.tp if case.label else group.benign] if case.label is not None else []
            )
            for xs in lists:
                i = bisect.bisect_left(xs, case.created)
                if i < len(xs) and xs[i] == case.created:
                    del xs[i]
            if not group.times and not group.tp and not group.benign:
                del self._groups[g]

    def apply(self, event: Event) -> None:
        """Fold one event (anything but an alert or a label is ignored)."""
        if isinstance(event, AlertReceived):
            self._alert(event)
        elif isinstance(event, TruthLabeled) and event.case_id:
            self._label(event.case_id, event.escalated)

    def _alert(self, event: AlertReceived) -> None:
        cid = event.case_id or event.alert.case_id
        if cid in self._cases:
            return
        a = event.alert
        t = a.created_at.timestamp()
        tenant = tenant_key(a.tenant)
        groups: list[tuple[str, str, str]] = []
        for subject, key, crosses in subjects_of(a):
            groups.append((subject, tenant, key))
            if crosses:
                groups.append((subject, ALL, key))
        case = _Case(t, tuple(groups))
        self._cases[cid] = case
        heapq.heappush(self._oldest, (t, cid))
        self._newest = max(self._newest, t)
        self._since_bound += 1
        for g in groups:
            bisect.insort(self._groups.setdefault(g, _Group()).times, t)
        if cid in self._labels:
            self._set_label(case, self._labels[cid])

    def _label(self, case_id: str, escalated: bool) -> None:
        self._labels[case_id] = escalated  # a later label supersedes
        case = self._cases.get(case_id)
        if case is not None:
            self._set_label(case, escalated)

    def _set_label(self, case: _Case, escalated: bool) -> None:
        if case.label == escalated:
            return
        for g in case.groups:
            group = self._groups[g]
            if case.label is not None:
                old = group.tp if case.label else group.benign
                i = bisect.bisect_left(old, case.created)
                if i < len(old) and old[i] == case.created:
                    del old[i]
            bisect.insort(group.tp if escalated else group.benign, case.created)
        case.label = escalated

    # --- questions ------------------------------------------------------------------------------

    def stat(
        self, subject: Subject, key: str, tenant: str | None, *, before: datetime, level: Level = "tenant"
    ) -> Stat:
        """The statistic of one subject at one level over the window that ends at ``before`` (exclusive)."""
        with self._lock:
            if self.auto_refresh:
                self.refresh()
            return self._stat(subject, key, tenant_key(tenant), before, level)

    def _stat(self, subject: Subject, key: str, tenant: str, before: datetime, level: Level) -> Stat:
        g = self._groups.get((subject, tenant if level == "tenant" else ALL, key))
        hi_t = before.timestamp()
        lo_t = hi_t - self.policy.window_days * 86400.0
        if g is None:
            return Stat(subject, key, level, self.policy.window_days, 0, 0, 0, 0, None, None, before)

        def span(xs: list[float]) -> tuple[int, int]:
            return bisect.bisect_left(xs, lo_t), bisect.bisect_left(xs, hi_t)

        lo, hi = span(g.times)
        tlo, thi = span(g.tp)
        blo, bhi = span(g.benign)
        return Stat(
            subject=subject,
            key=key,
            level=level,
            window_days=self.policy.window_days,
            fired=hi - lo,
            labelled=(thi - tlo) + (bhi - blo),
            true_positive=thi - tlo,
            benign=bhi - blo,
            last_fired=to_dt(g.times[hi - 1]) if hi > lo else None,
            last_true_positive=to_dt(g.tp[thi - 1]) if thi > tlo else None,
            at=before,
        )

    def for_alert(self, alert: Alert, *, before: datetime | None = None) -> list[Stat]:
        """The statistics a role is shown about ``alert``: rule, category, tenant, then indicators.

        The rule, the category and the tenant's alerts as a whole are each shown for the tenant and
        across all tenants (policy allowing), wherever they fired. Indicators and entities are
        shown for the tenant, strong indicators across all tenants when the tenant holds fewer than
        ``min_labelled`` labels of them; ranked by labels known (at most ``max_indicators``), those
        never labelled left out.

        Args:
            alert: the alert being worked on.
            before: only alerts created strictly before this count (default: the alert's creation).

        Returns:
            The statistics, the most specific subject first.
        """
        at = before or alert.created_at
        tenant = tenant_key(alert.tenant)
        p = self.policy
        levels: tuple[Level, ...] = ("tenant", "all_tenants") if p.all_tenants else ("tenant",)
        with self._lock:
            if self.auto_refresh:
                self.refresh()
            out: list[Stat] = []
            found: list[Stat] = []
            for subject, key, crosses in subjects_of(alert):
                if subject != "indicator":
                    for level in levels:
                        s = self._stat(subject, key, tenant, at, level)
                        if s.fired:
                            out.append(s)
                    continue
                s = self._stat(subject, key, tenant, at, "tenant")
                if s.labelled < p.min_labelled and crosses and p.all_tenants:
                    wide = self._stat(subject, key, tenant, at, "all_tenants")
                    s = wide if wide.labelled > s.labelled else s
                if s.labelled:
                    found.append(s)
            found.sort(key=lambda s: (-s.labelled, s.key))
            return out + found[: p.max_indicators]

    def hook(self) -> StatisticsHook:
        """The runtime's statistics hook: computed once per case, shared by the case's roles."""
        last: list[Any] = [None, []]

        def hook(role: str, alert: Alert, case_id: str) -> list[Stat]:
            if last[0] != case_id:
                last[0], last[1] = case_id, self.for_alert(alert)
            return list(last[1])

        return hook

    def __len__(self) -> int:
        return len(self._cases)
