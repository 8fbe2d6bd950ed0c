"""``Memory(bus.audit)``: the case memory's queries over its local projection of the audit log.

Folding, the cursor and the snapshot live in :mod:`aisoc.memory.local`; this module answers:
recall and precedent, rule history, interrogation, campaigns and the scoring view.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import datetime, timedelta

from aisoc.bus import AuditLog
from aisoc.events import Alert, AlertReceived, Indicator, PrecedentRef, utcnow
from aisoc.memory.campaigns import CampaignCluster, find_clusters
from aisoc.memory.casefile import ActionState, CaseFile
from aisoc.memory.explain import Explanation, Narrator, UnknownCase, explain_case, explain_host, narrate
from aisoc.memory.index import scoped
from aisoc.memory.keys import normalize
from aisoc.memory.local import BATCH, Bulk, LocalProjection
from aisoc.memory.projection import Projection
from aisoc.memory.recall import Precedent, Query, RuleHistory, query_of, recall, rule_history, rule_stats
from aisoc.memory.records import CaseRecord
from aisoc.memory.scoring import CaseOutcome, Scorecard, outcome_of, score
from aisoc.memory.stoplist import Stoplist, no_stoplist
from aisoc.tenants import tenant_key

DEFAULT_MAX_INDICATOR_CASES = 50
"""An indicator shared by more of a tenant's cases than this is infrastructure: it stops linking."""
DEFAULT_HALF_LIFE_DAYS = 30.0
"""Recency half-life of recall's ranking."""

CaseOrAlert = str | CaseRecord | Alert | AlertReceived
"""What recall accepts: a case id, a case record, an alert or its ``alert.received``."""


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _on_host(proj: Projection, hostname: str, tenant: str | None, every_tenant: bool) -> list[CaseRecord]:
    """The records of the cases that touched a host (one tenant's unless ``every_tenant``): those
    with an action on it first, then the most recently active."""
    name = hostname.lower()
    ranked = []
    for ix in proj.index.hosts.get(name, set()):
        rec = proj.records[ix]
        if every_tenant or tenant_key(rec.tenant) == tenant_key(tenant):
            targeted = any(a.target.lower() == name for a in rec.actions.values())
            ranked.append((not targeted, -rec.last_activity(), rec.case_id, rec))
    ranked.sort(key=lambda r: r[:3])
    return [r[3] for r in ranked]


class Memory(LocalProjection):
    """The case memory: recall, interrogation, campaigns and proof over the audit log.

    Args:
        audit: the audit log to fold (``bus.audit``).
        snapshot_path: this process's SQLite snapshot (None: in memory only, rebuilt on start).
        stoplist: ``(Indicator) -> bool``; indicators it answers True for never link cases.
        max_indicator_cases: an indicator in more of a tenant's cases than this stops linking.
        recency_half_life_days: recall's recency half-life.
        auto_refresh: fold new audit entries before each query (off: call :meth:`refresh`).
        batch_size: audit entries read per page.
        bulk: the context each fold and snapshot load runs in: the entry point's GC policy (the
            CLI and the bot pass :func:`aisoc.tuning.gc_paused`); none by default.
        max_cases: hold at most this many cases in RAM; older ones stay in the snapshot's cold
            tier, where recall, precedent, rule history and :meth:`case` still find them (rule
            statistics over windows, campaigns, explain-host and scoring see the held window).
        max_age_days: hold in RAM only cases created within this many days of the newest alert.

    Example:
        >>> from aisoc import Bus
        >>> mem = Memory(Bus().audit)
        >>> mem.refresh()
        0
    """

    def __init__(
        self,
        audit: AuditLog,
        *,
        snapshot_path: str | os.PathLike[str] | None = None,
        stoplist: Stoplist | None = None,
        max_indicator_cases: int = DEFAULT_MAX_INDICATOR_CASES,
        recency_half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
        auto_refresh: bool = True,
        batch_size: int = BATCH,
        bulk: Bulk = nullcontext,
        max_cases: int | None = None,
        max_age_days: float | None = None,
    ) -> None:
        if max_indicator_cases < 1 or recency_half_life_days <= 0:
            raise ValueError("max_indicator_cases and recency_half_life_days must be positive")
        self.stoplist: Stoplist = stoplist or no_stoplist
        self.max_indicator_cases = max_indicator_cases
        self.half_life_s = recency_half_life_days * 86400.0
        super().__init__(
            audit,
            snapshot_path=snapshot_path,
            auto_refresh=auto_refresh,
            batch_size=batch_size,
            bulk=bulk,
            max_cases=max_cases,
            max_age_days=max_age_days,
        )

    # --- cases ----------------------------------------------------------------------------------

    def case(self, case_id: str) -> CaseRecord | None:
        """The record of ``case_id`` (None when memory knows nothing about it), from RAM or the
        cold tier."""
        with self._lock:
            proj = self._fresh()
            rec = proj.record(case_id)
            if rec is None and proj.cold is not None:
                rec = proj.cold.record(case_id)
            return rec

    def cases(self) -> Iterator[CaseRecord]:
        """Every case record held in RAM (all of them unless the window is bounded), in the order
        memory first saw them."""
        with self._lock:
            return iter(list(self._fresh()))

    def cases_with(self, indicator: Indicator | str, tenant: str | None = None) -> list[str]:
        """Case ids of ``tenant`` whose alert has ``indicator`` (or a ``type:value`` key), oldest first."""
        if isinstance(indicator, Indicator):
            key = normalize(indicator.type.value, indicator.value)
        else:
            key = normalize(*indicator.split(":", 1)) if ":" in indicator else indicator
        with self._lock:
            proj = self._fresh()
            return [proj.timeline.ids[ix] for ix in proj.index.cases_for(scoped(tenant, key))]

    def cases_on_host(
        self, hostname: str, *, tenant: str | None = None, every_tenant: bool = False
    ) -> list[str]:
        """Case ids whose alert names ``hostname`` or that proposed an action on it (case-insensitive).

        Cases that proposed an action on the host come first, then the most recently active ones.
        Host names repeat across organisations (``WS-042`` at two customers), so a lookup stays in one
        tenant unless asked otherwise.

        Args:
            hostname: the host.
            tenant: only this tenant's cases (None, "" or blanks: the default tenant's).
            every_tenant: every tenant's cases instead (an operator's view across organisations).
        """
        with self._lock:
            return [r.case_id for r in _on_host(self._fresh(), hostname, tenant, every_tenant)]

    def case_file(self, case_id: str) -> CaseFile | None:
        """The case read model: memory's record of ``case_id`` beside every event of it.

        Returns:
            The file (state, alert, latest plan, actions, statements), or None when nothing is
            recorded about the case.
        """
        events = self.audit.for_case(case_id)
        with self._lock:
            filed = self._fresh().filed(case_id)
        if filed:  # decisions published without a case id, filed through their action
            seen = {e.event_id for e in events}
            events = sorted(
                [*events, *(e for e in filed if e.event_id not in seen)], key=lambda e: e.occurred_at
            )
        return CaseFile(case_id, events) if events else None

    def action(self, action_id: str) -> ActionState | None:
        """Where one proposed action stands: proposed by whom and when, which duty must decide by
        when (and whom the latest reminder or escalation asked), decided and carried out by whom.

        Returns:
            The action's state, or None when memory knows no such action.
        """
        with self._lock:
            proj = self._fresh()
            ix = proj.action_case.get(action_id)
            rec = None if ix is None else proj.records[ix]
            if rec is None and proj.cold is not None and (cold_case := proj.cold.action_case(action_id)):
                rec = proj.cold.record(cold_case)
            act = None if rec is None else rec.actions.get(action_id)
            return None if rec is None or act is None else ActionState(rec.case_id, act)

    # --- recall ---------------------------------------------------------------------------------

    def _query(self, proj: Projection, case_or_alert: CaseOrAlert) -> Query:
        target: CaseRecord | Alert | AlertReceived | None
        target = proj.record(case_or_alert) if isinstance(case_or_alert, str) else case_or_alert
        if target is None and isinstance(case_or_alert, str) and proj.cold is not None:
            target = proj.cold.record(case_or_alert)
        q = None if target is None else query_of(target)
        if q is None:
            raise UnknownCase(f"memory has no alert for case {case_or_alert!r}")
        return q

    def _recall(self, proj: Projection, q: Query, k: int, before: datetime | None) -> list[Precedent]:
        return recall(
            proj,
            q,
            k=k,
            before=_ts(before),
            stoplist=self.stoplist,
            max_cases=self.max_indicator_cases,
            half_life_s=self.half_life_s,
        )

    def recall_similar(
        self, case_or_alert: CaseOrAlert, k: int = 5, *, before: datetime | None = None
    ) -> list[Precedent]:
        """Prior cases of the same tenant sharing indicators or the rule, best first.

        Only the alert's own facts are used (tenant, rule, indicators, hosts, users, creation
        time): never anything about how the case itself went, and never the case itself.

        Args:
            case_or_alert: a case id, record, alert or ``alert.received``.
            k: how many to return.
            before: only cases whose alert was created strictly before this count (replay passes
                the query alert's ``created_at`` for chronological honesty).

        Returns:
            At most ``k`` precedents, ranked by weighted overlap and recency.

        Raises:
            UnknownCase: a case id or record whose alert memory does not know.
        """
        with self._lock:
            proj = self._fresh()
            return self._recall(proj, self._query(proj, case_or_alert), k, before)

    def precedent_for(
        self, alert: CaseOrAlert, k: int = 5, *, before: datetime | None = None
    ) -> list[PrecedentRef]:
        """The precedent a role is shown: :meth:`recall_similar` as ``PrecedentRef`` s.

        The first same-rule reference also carries the rule's history in its summary ("rule R
        fired 47 times before in this tenant: 41 closed benign ..."), counted over the cases
        created before ``before`` or, without it, before the alert itself.

        Args:
            alert: the alert being worked on (or its case id / record / ``alert.received``).
            k: how many references to return.
            before: as in :meth:`recall_similar`.

        Returns:
            At most ``k`` references, best first (empty when nothing relevant is known).

        Raises:
            UnknownCase: a case id or record whose alert memory does not know.
        """
        with self._lock:
            proj = self._fresh()
            q = self._query(proj, alert)
            refs = []
            history_told = False
            for p in self._recall(proj, q, k, before):
                note = None
                if p.same_rule and not history_told and q.rule is not None:
                    note = rule_history(proj, q.tenant, q.rule, _ts(before) or q.created_at).text()
                    history_told = True
                refs.append(p.to_ref(note))
            return refs

    def rule_history(self, tenant: str | None, rule: str, *, before: datetime | None = None) -> RuleHistory:
        """How the tenant's cases of ``rule`` ended: fired, closed benign, escalated, undecided.

        Args:
            tenant: the tenant (None: alerts without one).
            rule: the rule/detector.
            before: only cases created strictly before this (None: all of them).

        Returns:
            The counts, with the first and last time the rule fired.
        """
        with self._lock:
            return rule_history(self._fresh(), tenant, rule, _ts(before))

    def rule_stats(
        self,
        tenant: str | None = None,
        *,
        all_tenants: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[RuleHistory]:
        """Per-rule/detector statistics, most fired first, for alerts created in ``[since, until)``.

        Args:
            tenant: one tenant (None with ``all_tenants`` false: alerts without a tenant).
            all_tenants: every tenant, each rule per tenant (default: when ``tenant`` is None).
            since: window start.
            until: window end (exclusive).

        Returns:
            One entry per (tenant, rule) that fired in the window, the most fired first.
        """
        every = tenant is None if all_tenants is None else all_tenants
        with self._lock:
            return rule_stats(self._fresh(), tenant, every_tenant=every, since=_ts(since), until=_ts(until))

    # --- interrogation --------------------------------------------------------------------------

    def explain(self, case_id: str, *, narrator: Narrator | None = None) -> Explanation:
        """Why the team did what it did on one case, from the recorded trace and decisions only.

        Args:
            case_id: the case.
            narrator: optional ``text -> prose``; its answer is kept only if its citations check out.

        Returns:
            The explanation; ``.text()`` is the narrator's accepted prose or the deterministic one.

        Raises:
            UnknownCase: the audit log holds nothing about the case.
        """
        return narrate(explain_case(self.case_file(case_id), case_id), narrator)

    def explain_host(
        self,
        hostname: str,
        *,
        tenant: str | None = None,
        every_tenant: bool = False,
        limit: int = 5,
        narrator: Narrator | None = None,
    ) -> Explanation:
        """What was done to ``hostname`` and why, across the cases that touched it.

        Cases that proposed an action on the host come first, then the most recent ones.

        Args:
            hostname: the host (case-insensitive).
            tenant: only this tenant's cases (None, "" or blanks: the default tenant's).
            every_tenant: every tenant's cases instead (an operator's view across organisations).
            limit: at most this many cases.
            narrator: optional ``text -> prose``, checked as in :meth:`explain`.

        Returns:
            The explanation across those cases, the actions on the host first in its answer.

        Raises:
            UnknownCase: no case touched the host.
        """
        with self._lock:
            records = _on_host(self._fresh(), hostname, tenant, every_tenant)[:limit]
        # The projection's records were folded just now: each case's events are read, not folded again.
        found = [CaseFile(r.case_id, self.audit.for_case(r.case_id), r) for r in records]
        return narrate(explain_host(hostname, [f for f in found if f.events]), narrator)

    # --- campaigns and proof --------------------------------------------------------------------

    def find_campaign_clusters(
        self,
        window: timedelta | None = None,
        *,
        end: datetime | None = None,
        min_cases: int = 2,
        tenant: str | None = None,
    ) -> list[CampaignCluster]:
        """Clusters of cases linked by shared strong infrastructure, with stable campaign ids.

        Args:
            window: only alerts created in ``[end - window, end)`` (None: all time).
            end: the window's end (default: now when ``window`` is given, else no end).
            min_cases: the smallest cluster returned.
            tenant: only this tenant (None: every tenant, each on its own).

        Returns:
            Clusters oldest first; ``status`` says new / grown / unchanged against the
            ``campaign.detected`` events already in the log.
        """
        if window is not None and end is None:
            end = utcnow()
        since = None if window is None or end is None else end - window
        with self._lock:
            return find_clusters(
                self._fresh(),
                since=_ts(since),
                until=_ts(end),
                stoplist=self.stoplist,
                max_cases=self.max_indicator_cases,
                min_cases=min_cases,
                tenant=tenant,
                every_tenant=tenant is None,
            )

    def outcomes(self) -> list[CaseOutcome]:
        """Every case as scoring sees it (the team's route, each role's answer, the ground truth)."""
        with self._lock:
            return [outcome_of(r) for r in self._fresh()]

    def scorecard(self) -> Scorecard:
        """Score every case in memory (see :mod:`aisoc.memory.scoring`)."""
        return score(self.outcomes())
