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


def precedent_of(rec: CaseRecord, score: float, shared: list[str], same_rule: bool) -> Precedent:
    """Describe a case as precedent."""
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
    tl, index, cold = proj.timeline, proj.index, proj.cold
    self_ix = proj.by_id.get(q.case_id) if q.case_id else None
    scores: dict[int, float] = {}
    shared: dict[int, list[str]] = {}
    # Cases evicted from RAM count as if they were held: same thresholds, same scores.
    cold_scores: dict[str, float] = {}
    cold_shared: dict[str, list[str]] = {}
    cold_times: dict[str, float] = {}
    private = set(q.private)
    for key in q.keys:
        skey = scoped(q.tenant, key)
        arr = index.cases_for(skey)
        n = count_before(arr, tl, before)
        cold_n = cold.count_key(skey, before) if cold is not None else 0
        if n + cold_n == 0 or (n == 1 and cold_n == 0 and arr[0] == self_ix):
            continue
        if n + cold_n > max_cases:
            log.debug("indicator %s is in %d cases: too common to link", key, n + cold_n)
            continue
        if stoplist(indicator_of(key, key in private)):
            continue
        w = weight(key)
        for i in range(n):
            ix = arr[i]
            if ix != self_ix:
                scores[ix] = scores.get(ix, 0.0) + w
                shared.setdefault(ix, []).append(key)
        if cold_n:
            for t, case_id in cold.with_key(skey, before):  # type: ignore[union-attr]
                if case_id != q.case_id:
                    cold_scores[case_id] = cold_scores.get(case_id, 0.0) + w
                    cold_shared.setdefault(case_id, []).append(key)
                    cold_times[case_id] = t
    same: set[int] = set()
    cold_same: set[str] = set()
    if q.rule is not None:
        rkey = scoped(q.tenant, q.rule)
        g = index.rules.get(rkey)
        latest: list[tuple[float, str, int | None]] = []
        if g is not None:
            n = count_before(g.cases, tl, before)
            latest = [(tl.times[ix], tl.ids[ix], ix) for ix in g.cases[max(0, n - RULE_CANDIDATES - 1) : n]]
        if cold is not None:
            latest += [(t, c, None) for t, c in cold.rule_latest(rkey, before, RULE_CANDIDATES + 1)]
            latest.sort(key=lambda r: r[:2])
        for t, case_id, held in latest[-(RULE_CANDIDATES + 1) :]:
            if held is None:
                if case_id != q.case_id:
                    cold_same.add(case_id)
                    cold_times[case_id] = t
            elif held != self_ix:
                same.add(held)
        for ix in scores:
            a = proj.records[ix].alert
            if a is not None and a.rule == q.rule:
                same.add(ix)
    cold_records = cold.records([*cold_scores, *cold_same]) if cold is not None else {}
    if q.rule is not None:
        for case_id in cold_scores:
            found = cold_records.get(case_id)
            if found is not None and found.alert is not None and found.alert.rule == q.rule:
                cold_same.add(case_id)
    for ix in same:
        scores[ix] = scores.get(ix, 0.0) + SAME_RULE_WEIGHT
    for case_id in cold_same:
        cold_scores[case_id] = cold_scores.get(case_id, 0.0) + SAME_RULE_WEIGHT
    ref = before if before is not None else q.created_at

    def ranked_by(base: float, t: float) -> float:
        age = max(0.0, (ref - t)) if ref is not None else 0.0
        return float(base * (0.5 + 0.5 * 0.5 ** (age / half_life_s)))

    ranked: list[tuple[float, float, str, CaseRecord, list[str], bool]] = []
    for ix, base in scores.items():
        t = tl.times[ix]
        ranked.append((-ranked_by(base, t), -t, tl.ids[ix], proj.records[ix], shared.get(ix, []), ix in same))
    for case_id, base in cold_scores.items():
        rec = cold_records.get(case_id)
        if rec is not None:
            t = cold_times[case_id]
            ranked.append(
                (-ranked_by(base, t), -t, case_id, rec, cold_shared.get(case_id, []), case_id in cold_same)
            )
    ranked.sort(key=lambda r: r[:3])
    return [precedent_of(rec, -neg, sh, sr) for neg, _, _, rec, sh, sr in ranked[:k]]


def rule_history(proj: Projection, tenant: str | None, rule: str, before: float | None = None) -> RuleHistory:
    """How the tenant's cases of ``rule`` created before ``before`` (all when None) ended."""
    g = proj.index.rules.get(scoped(tenant, rule))
    held = (
        RuleHistory(tenant, rule, 0, 0, 0, 0, None, None)
        if g is None
        else _history(proj, tenant, rule, g.cases, g.codes, 0, count_before(g.cases, proj.timeline, before))
    )
    if proj.cold is None:
        return held
    cold = proj.cold.rule_counts(scoped(tenant, rule), before)
    if not cold.total:
        return held
    firsts = [t for t in (held.first_seen, to_dt(cold.first) if cold.first is not None else None) if t]
    lasts = [t for t in (held.last_seen, to_dt(cold.last) if cold.last is not None else None) if t]
    return RuleHistory(
        tenant=tenant,
        rule=rule,
        fired=held.fired + cold.total,
        closed_benign=held.closed_benign + cold.by_code.get(BENIGN, 0),
        escalated=held.escalated + cold.by_code.get(THREAT, 0),
        open=held.open + cold.by_code.get(OPEN, 0),
        first_seen=min(firsts) if firsts else None,
        last_seen=max(lasts) if lasts else None,
    )


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
