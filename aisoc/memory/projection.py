"""The projection: case records, their indexes and the campaigns already reported, folded from events.

Everything derived (postings, rule statistics, hosts) is recomputed from a record whenever the record
changes, so the projection is a pure function of the set of events folded, whatever the batching.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from aisoc.events import (
    ActionKind,
    ActionProposed,
    CampaignDetected,
    Event,
)
from aisoc.memory.codec import record_to_obj
from aisoc.memory.cold import ColdStore, Evicted
from aisoc.memory.fold import CASE_TYPES, ActionEvent, fold
from aisoc.memory.index import Indexes, Timeline, scoped
from aisoc.memory.records import CaseRecord, KnownCampaign

log = logging.getLogger(__name__)

_HOST_ACTIONS = frozenset({ActionKind.ISOLATE_HOST.value, ActionKind.COLLECT_FORENSICS.value})


class Projection:
    """Case records plus indexes, and the campaigns reported so far."""

    def __init__(self, cold: ColdStore | None = None, next_seq: int = 0) -> None:
        self.cold = cold
        """Where cases evicted from RAM are found again (None: every case stays in RAM)."""
        self.seqs: list[int] = []
        """Each record's order of first sight (stable across evictions and restores)."""
        self.next_seq = next_seq
        self.timeline = Timeline()
        self.index = Indexes(self.timeline)
        self.records: list[CaseRecord] = []
        self.by_id: dict[str, int] = {}
        self.codes = bytearray()
        self.action_case: dict[str, int] = {}
        self.case_hosts: dict[int, frozenset[str]] = {}
        self.caseless: dict[str, Event] = {}
        """Action events published without a case id (a person's decision, say), by event id: each is
        filed under its action's case, at once or as soon as an event of the action names the case."""
        self.orphans: dict[str, dict[str, Event]] = {}
        """The case-less action events whose action is not known yet, by action id."""
        self.campaigns: dict[str, KnownCampaign] = {}
        self.dirty: set[int] = set()
        self.campaigns_dirty = False
        self.caseless_dirty = False

    def __len__(self) -> int:
        return len(self.records)

    def record(self, case_id: str) -> CaseRecord | None:
        """The record of ``case_id``, or None."""
        ix = self.by_id.get(case_id)
        return None if ix is None else self.records[ix]

    def filed(self, case_id: str) -> list[Event]:
        """The case-less action events filed under ``case_id`` (through their action)."""
        ix = self.by_id.get(case_id)
        return [e for e in self.caseless.values() if self.action_case.get(getattr(e, "action_id", "")) == ix]

    def __iter__(self) -> Iterator[CaseRecord]:
        return iter(self.records)

    def _ix(self, case_id: str) -> int:
        ix = self.by_id.get(case_id)
        if ix is None:
            back = self.cold.readmit(case_id) if self.cold is not None else None
            if back is not None:  # an event about a cold case brings it back into the window
                return self._admit(back[0], back[1])
            ix = self._new(case_id, self.next_seq)
            self.next_seq += 1
        return ix

    def _new(self, case_id: str, seq: int) -> int:
        ix = self.timeline.add(case_id)
        self.by_id[case_id] = ix
        self.records.append(CaseRecord(case_id))
        self.seqs.append(seq)
        self.codes.append(0)
        return ix

    def _admit(self, rec: CaseRecord, seq: int) -> int:
        ix = self._new(rec.case_id, seq)
        self.records[ix] = rec
        for action_id in rec.actions:
            self.action_case[action_id] = ix
        self._reindex(ix, rec, None)
        self.dirty.add(ix)
        return ix

    def _action_case(self, action_id: str) -> int | None:
        known = self.action_case.get(action_id)
        if known is None and self.cold is not None and (case_id := self.cold.action_case(action_id)):
            known = self._ix(case_id)
        return known

    # --- folding --------------------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Fold one event; returns whether anything changed."""
        if isinstance(event, CampaignDetected):
            return self._campaign(event)
        if event.type not in CASE_TYPES:
            return False
        case_id = event.case_id
        if case_id is None and isinstance(event, ActionEvent):
            if event.event_id not in self.caseless:
                self.caseless[event.event_id] = event
                self.caseless_dirty = True
            known = self._action_case(event.action_id)
            if known is None:  # held until the action is known
                held = self.orphans.setdefault(event.action_id, {})
                if event.event_id in held:
                    return False
                held[event.event_id] = event
                return True
            case_id = self.records[known].case_id
        if case_id is None:
            log.debug("event %s (%s) has no case; not folded", event.event_id, event.type)
            return False
        ix = self._ix(case_id)
        rec = self.records[ix]
        before = rec.alert
        changed = fold(rec, event)
        if isinstance(event, ActionEvent):
            if isinstance(event, ActionProposed) or event.action_id not in self.action_case:
                self.action_case[event.action_id] = ix
            for held_event in self.orphans.pop(event.action_id, {}).values():
                changed = fold(rec, held_event) or changed
        if not changed:
            return False
        self.dirty.add(ix)
        self._reindex(ix, rec, before)
        return True

    def _rehost(self, ix: int, rec: CaseRecord) -> None:
        """Index the hosts the case touches now: its alert's and its host actions' targets (derived from
        the record alone, so a re-proposed action moves its host whatever the fold order)."""
        targets = (a.target.lower() for a in rec.actions.values() if a.kind in _HOST_ACTIONS and a.target)
        hosts = frozenset((*(rec.alert.hosts if rec.alert else ()), *targets))
        old = self.case_hosts.get(ix, frozenset())
        if hosts == old:
            return
        for host in old - hosts:
            self.index.remove_host(host, ix)
        for host in hosts - old:
            self.index.add_host(host, ix)
        self.case_hosts[ix] = hosts

    def _reindex(self, ix: int, rec: CaseRecord, before: Any) -> None:
        self._rehost(ix, rec)
        code = rec.outcome_code()
        a = rec.alert
        if a is not before:
            if before is not None:
                self.index.remove(ix, before.tenant, before.rule, before.keys)
            if a is not None:
                self.timeline.times[ix] = a.created_at
                self.index.add(ix, a.tenant, a.rule, a.keys, code)
            self.codes[ix] = code
        elif code != self.codes[ix]:
            self.codes[ix] = code
            if a is not None:
                self.index.set_code(ix, a.tenant, a.rule, code)

    def _campaign(self, event: CampaignDetected) -> bool:
        # Cases accumulate (set union); the campaign is stamped by its earliest report.
        old = self.campaigns.get(event.campaign_id)
        stamp = (event.occurred_at.timestamp(), event.event_id)
        new = KnownCampaign(
            event.campaign_id, event.tenant, frozenset(event.case_ids), event.event_id, stamp[0]
        )
        if old is not None:
            first = min((old.at, old.event_id), stamp)
            tenant = old.tenant if first[1] == old.event_id else event.tenant
            new = KnownCampaign(event.campaign_id, tenant, old.case_ids | new.case_ids, first[1], first[0])
            if new == old:
                return False
        self.campaigns[event.campaign_id] = new
        self.campaigns_dirty = True
        return True

    # --- restoring ------------------------------------------------------------------------------

    def restore(
        self,
        records: list[CaseRecord],
        campaigns: list[KnownCampaign],
        caseless: Sequence[Event] = (),
        seqs: Sequence[int] | None = None,
    ) -> None:
        """Load records (in case-number order, with their order numbers), campaigns and the
        case-less action events from a snapshot, rebuilding indexes."""
        order = list(range(self.next_seq, self.next_seq + len(records))) if seqs is None else seqs
        for rec, seq in zip(records, order, strict=True):
            ix = self.by_id.get(rec.case_id)
            if ix is None:
                ix = self._new(rec.case_id, seq)
            self.next_seq = max(self.next_seq, seq + 1)
            self.records[ix] = rec
            for action_id in rec.actions:
                self.action_case[action_id] = ix
            self._reindex(ix, rec, None)
        for c in campaigns:
            self.campaigns[c.campaign_id] = c
        for e in caseless:
            self.caseless[e.event_id] = e
            action_id = getattr(e, "action_id", "")
            if action_id not in self.action_case:
                self.orphans.setdefault(action_id, {})[e.event_id] = e
        self.dirty.clear()
        self.campaigns_dirty = False
        self.caseless_dirty = False

    # --- the window held in RAM ------------------------------------------------------------------

    def beyond_window(self, max_cases: int | None, max_age_s: float | None) -> list[int]:
        """The cases outside the window: all but the newest ``max_cases`` by alert creation time,
        and those created more than ``max_age_s`` before the newest alert (oldest first)."""
        tl = self.timeline
        order = sorted(range(len(self.records)), key=tl.order)
        cut = 0 if max_cases is None else max(0, len(order) - max_cases)
        if max_age_s is not None and order:
            oldest_kept = tl.times[order[-1]] - max_age_s
            while cut < len(order) and tl.times[order[cut]] < oldest_kept:
                cut += 1
        return order[:cut]

    def evicted(self, ix: int) -> Evicted:
        """What the cold tier indexes of case ``ix``."""
        rec = self.records[ix]
        a = rec.alert
        return Evicted(
            rec.case_id,
            self.timeline.times[ix],
            tuple(scoped(a.tenant, k) for k in a.keys) if a is not None else (),
            scoped(a.tenant, a.rule) if a is not None and a.rule is not None else None,
            self.codes[ix],
            tuple(rec.actions),
        )

    def keeping(self, gone: set[int]) -> Projection:
        """A new projection of the same cold tier with every case but ``gone`` (records, campaigns,
        and the case-less events not filed under a case that goes)."""
        kept = [ix for ix in range(len(self.records)) if ix not in gone]
        caseless = [
            e for e in self.caseless.values() if self.action_case.get(getattr(e, "action_id", "")) not in gone
        ]
        out = Projection(self.cold, self.next_seq)
        out.restore(
            [self.records[ix] for ix in kept],
            list(self.campaigns.values()),
            caseless,
            [self.seqs[ix] for ix in kept],
        )
        out.caseless_dirty = len(caseless) != len(self.caseless)
        return out

    def dump(self) -> dict[str, Any]:
        """A canonical, comparable picture of everything folded (tests and debugging)."""
        rules = {
            f"{g.tenant}/{g.rule}": [[self.timeline.ids[i] for i in g.cases], list(g.codes)]
            for g in self.index.rules.values()
            if len(g.cases)
        }
        postings = {
            k: sorted(self.timeline.ids[i] for i in self.index.cases_for(k)) for k in self.index.postings
        }
        return {
            "cases": {r.case_id: record_to_obj(r) for r in self.records},
            "states": {r.case_id: r.state.value for r in self.records},
            "rules": dict(sorted(rules.items())),
            "postings": dict(sorted(postings.items())),
            "hosts": {
                h: sorted(self.timeline.ids[i] for i in ixs)
                for h, ixs in sorted(self.index.hosts.items())
                if ixs
            },
            "campaigns": {
                c.campaign_id: [c.tenant, sorted(c.case_ids), c.event_id, c.at]
                for c in sorted(self.campaigns.values(), key=lambda c: c.campaign_id)
            },
            "caseless": sorted(self.caseless),
            "held": {a: sorted(held) for a, held in sorted(self.orphans.items()) if held},
        }
