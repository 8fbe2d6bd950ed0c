"""Recall: prior cases that share strong indicators or the rule, ranked by weighted overlap and recency.

Recall starts from the alert's own indicators, so it works at triage time, and it never reads
anything about the query case's outcome: the case itself is excluded, tenants are never crossed,
stoplisted or too-common indicators do not link, and ``before`` hides everything created later.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aisoc.events import Alert, AlertReceived, Indicator, PrecedentRef, RuleStat, fitted
from aisoc.memory.index import count_before, scoped
from aisoc.memory.keys import SAME_RULE_WEIGHT, alert_keys, indicator_of, weight
from aisoc.memory.projection import Projection
from aisoc.memory.records import BENIGN, OPEN, THREAT, CaseRecord, CaseState, to_dt
from aisoc.tenants import tenant_key

log = logging.getLogger(__name__)

RULE_CANDIDATES = 20
"""How many of the rule's most recent earlier cases are considered as same-rule precedent."""


@dataclass(frozen=True, slots=True)
class Query:
    """What recall knows of the case it is asked about: only the alert's own facts."""

    case_id: str | None
    tenant: str | None
    rule: str | None
    keys: tuple[str, ...]
    private: tuple[str, ...]
    created_at: float | None


@dataclass(frozen=True, slots=True)
class Precedent:
    """One prior case recall found, why it was picked, and how it ended."""

    case_id: str
    score: float
    shared: tuple[str, ...]
    same_rule: bool
    verdict: str | None
    decided_by: str | None
    malicious: bool | None
    state: CaseState
    created_at: datetime | None
    title: str
    rule: str | None
    summary: str

    def to_ref(self, note: str | None = None) -> PrecedentRef:
        """The :class:`~aisoc.events.PrecedentRef` a role is shown (``note`` is appended to the summary)."""
        text = " | ".join(s for s in (self.summary, note) if s)
        return fitted(
            PrecedentRef,
            case_id=self.case_id,
            verdict=self.verdict,
            decided_by=self.decided_by,
            shared=self.shared,
            same_rule=self.same_rule,
            score=round(self.score, 4),
            summary=text or None,
        )


@dataclass(frozen=True, slots=True)
class RuleHistory:
    """How one rule/detector's cases of one tenant ended ("fired 47 times, 41 closed benign")."""

    tenant: str | None
    rule: str
    fired: int
    closed_benign: int
    escalated: int
    open: int
    first_seen: datetime | None
    last_seen: datetime | None

    @property
    def benign_rate(self) -> float:
        """Share of the cases that closed benign (0 when it never fired)."""
        return self.closed_benign / self.fired if self.fired else 0.0

    def text(self) -> str:
        """One sentence for a prompt or a report."""
        if not self.fired:
            return f"rule {self.rule} has not fired before in this tenant"
        return (
            f"rule {self.rule} fired {self.fired} times before in this tenant: {self.closed_benign} closed "
            f"benign, {self.escalated} escalated or true positive, {self.open} undecided"
        )

    def to_stat(self, title: str | None = None, suggestion: str | None = None) -> RuleStat:
        """The :class:`~aisoc.events.RuleStat` a ``detection.tuning`` report carries."""
        return RuleStat(
            rule=self.rule,
            title=title,
            fired=self.fired,
            closed_benign=self.closed_benign,
            escalated=self.escalated,
            benign_rate=round(self.benign_rate, 4),
            suggestion=suggestion,
        )


def query_of(rec_or_alert: CaseRecord | Alert | AlertReceived) -> Query | None:
    """Build the query for a case record or an alert (None for a record whose alert is unknown)."""
    if isinstance(rec_or_alert, AlertReceived):
        rec_or_alert = rec_or_alert.alert
    if isinstance(rec_or_alert, Alert):
        a = rec_or_alert
        keys, private = alert_keys(a)
        return Query(a.case_id, a.tenant, a.rule, keys, private, a.created_at.timestamp())
    facts = rec_or_alert.alert
    if facts is None:
        return None
    return Query(rec_or_alert.case_id, facts.tenant, facts.rule, facts.keys, facts.private, facts.created_at)


def precedent_of(proj: Projection, ix: int, score: float, shared: list[str], same_rule: bool) -> Precedent:
    """Describe case ``ix`` as precedent."""
    rec = proj.records[ix]
    fv = rec.final()
    a = rec.alert
    return Precedent(
        case_id=rec.case_id,
        score=score,
        shared=tuple(shared),
        same_rule=same_rule,
        verdict=fv.verdict if fv else None,
        decided_by=fv.decided_by if fv else None,
        malicious=fv.malicious if fv else None,
        state=rec.state,
        created_at=rec.created_at,
        title=a.title if a else "",
        rule=a.rule if a else None,
        summary=rec.summary(),
    )


def recall(
    proj: Projection,
    q: Query,
    *,
    k: int,
    before: float | None,
    stoplist: Callable[[Indicator], bool],
    max_cases: int,
    half_life_s: float,
) -> list[Precedent]:
    """Rank prior cases of ``q``'s tenant by weighted overlap and recency.

    Args:
        proj: the projection.
        q: the query (the alert's own facts).
        k: how many to return.
        before: only cases created strictly before this POSIX time count (None: all).
        stoplist: indicators it answers True for never link.
        max_cases: an indicator shared by more earlier cases than this stops linking.
        half_life_s: the recency half-life; age halves the recency part of the score.

    Returns:
        At most ``k`` precedents, best first.
    """
    tl, index = proj.timeline, proj.index
    self_ix = proj.by_id.get(q.case_id) if q.case_id else None
    scores: dict[int, float] = {}
    shared: dict[int, list[str]] = {}
    private = set(q.private)
    for key in q.keys:
        arr = index.cases_for(scoped(q.tenant, key))
        n = count_before(arr, tl, before)
        if n == 0 or (n == 1 and arr[0] == self_ix):
            continue
        if n > max_cases:
            log.debug("indicator %s is in %d cases: too common to link", key, n)
            continue
        if stoplist(indicator_of(key, key in private)):
            continue
        w = weight(key)
        for i in range(n):
            ix = arr[i]
            if ix != self_ix:
                scores[ix] = scores.get(ix, 0.0) + w
                shared.setdefault(ix, []).append(key)
    same: set[int] = set()
    if q.rule is not None:
        g = index.rules.get(scoped(q.tenant, q.rule))
        if g is not None:
            n = count_before(g.cases, tl, before)
            for ix in g.cases[max(0, n - RULE_CANDIDATES - 1) : n]:
                if ix != self_ix:
                    same.add(ix)
            for ix in scores:
                a = proj.records[ix].alert
                if a is not None and a.rule == q.rule:
                    same.add(ix)
    for ix in same:
        scores[ix] = scores.get(ix, 0.0) + SAME_RULE_WEIGHT
    ref = before if before is not None else q.created_at
    ranked = []
    for ix, base in scores.items():
        t = tl.times[ix]
        age = max(0.0, (ref - t)) if ref is not None else 0.0
        score = base * (0.5 + 0.5 * 0.5 ** (age / half_life_s))
        ranked.append((-score, -t, tl.ids[ix], ix))
    ranked.sort()
    return [precedent_of(proj, ix, -neg, shared.get(ix, []), ix in same) for neg, _, _, ix in ranked[:k]]


def rule_history(proj: Projection, tenant: str | None, rule: str, before: float | None = None) -> RuleHistory:
    """How the tenant's cases of ``rule`` created before ``before`` (all when None) ended."""
    g = proj.index.rules.get(scoped(tenant, rule))
    if g is None:
        return RuleHistory(tenant, rule, 0, 0, 0, 0, None, None)
    n = count_before(g.cases, proj.timeline, before)
    return _history(proj, tenant, rule, g.cases, g.codes, 0, n)


def _history(
    proj: Projection, tenant: str | None, rule: str, cases: array[int], codes: bytearray, lo: int, hi: int
) -> RuleHistory:
    times = proj.timeline.times
    return RuleHistory(
        tenant=tenant,
        rule=rule,
        fired=hi - lo,
        closed_benign=codes.count(BENIGN, lo, hi),
        escalated=codes.count(THREAT, lo, hi),
        open=codes.count(OPEN, lo, hi),
        first_seen=to_dt(times[cases[lo]]) if hi > lo else None,
        last_seen=to_dt(times[cases[hi - 1]]) if hi > lo else None,
    )


def rule_stats(
    proj: Projection,
    tenant: str | None = None,
    *,
    every_tenant: bool = False,
    since: float | None = None,
    until: float | None = None,
) -> list[RuleHistory]:
    """Per-rule statistics of one tenant (or of every tenant), for cases created in ``[since, until)``."""
    out = []
    for g in proj.index.groups(tenant, every_tenant):
        lo, hi = proj.index.window(g.cases, since, until)
        if hi > lo:
            out.append(_history(proj, g.tenant, g.rule, g.cases, g.codes, lo, hi))
    out.sort(key=lambda h: (-h.fired, tenant_key(h.tenant), h.rule))
    return out
