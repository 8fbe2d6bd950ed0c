"""Campaigns: cases of one tenant linked by shared strong infrastructure within a time window.

Stoplisted indicators and indicators shared by more than ``max_cases`` of the tenant's cases do not
link. A cluster keeps the id of the reported campaign (a folded ``campaign.detected``) it overlaps
most, so the id stays stable as the cluster grows; a cluster never reported gets an id derived from
its earliest case, which is the same every time it is computed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from aisoc.events import CampaignDetected, Indicator, ProducedBy, fitted
from aisoc.memory.index import SEP, count_before
from aisoc.memory.keys import indicator_of, is_strong
from aisoc.memory.projection import Projection
from aisoc.memory.records import to_dt
from aisoc.tenants import tenant_key

Status = Literal["new", "grown", "unchanged"]


@dataclass(frozen=True, slots=True)
class CampaignCluster:
    """One cluster of linked cases, with its stable campaign id and what is new since it was reported.

    ``status`` is ``new`` (never reported), ``grown`` (reported, and ``added`` holds the cases the
    report did not have) or ``unchanged``.
    """

    campaign_id: str
    status: Status
    tenant: str | None
    case_ids: tuple[str, ...]
    indicators: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    added: tuple[str, ...]

    @property
    def is_news(self) -> bool:
        """Whether the Threat Hunter should report it (new or grown)."""
        return self.status != "unchanged"

    def summary(self) -> str:
        """One line: how many cases share which infrastructure, and when."""
        keys = ", ".join(self.indicators[:5]) + (" ..." if len(self.indicators) > 5 else "")
        grown = f" ({len(self.added)} new)" if self.status == "grown" else ""
        return (
            f"{len(self.case_ids)} cases{grown} of tenant {self.tenant or 'none'} share {keys} "
            f"between {self.first_seen:%Y-%m-%d %H:%M}Z and {self.last_seen:%Y-%m-%d %H:%M}Z"
        )

    def to_event(self, produced_by: ProducedBy, causation_id: str | None = None) -> CampaignDetected:
        """The ``campaign.detected`` event reporting this cluster (the cases not yet reported first).

        Raises:
            ValueError: the cluster is unchanged (there is nothing to report).
        """
        if not self.is_news:
            raise ValueError(f"campaign {self.campaign_id} is unchanged; nothing to report")
        added = set(self.added)
        ordered = [*self.added, *(c for c in reversed(self.case_ids) if c not in added)]
        return fitted(
            CampaignDetected,
            campaign_id=self.campaign_id,
            status="new" if self.status == "new" else "grown",
            tenant=self.tenant,
            case_ids=ordered,
            indicators=self.indicators,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            summary=self.summary(),
            produced_by=produced_by,
            causation_id=causation_id,
        )


def _find(parent: dict[int, int], x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def _new_id(tenant: str | None, first_case: str, taken: set[str]) -> str:
    base = "camp-" + hashlib.sha256(f"{tenant_key(tenant)}{SEP}{first_case}".encode()).hexdigest()[:12]
    cid, n = base, 1
    while cid in taken:
        n += 1
        cid = f"{base}-{n}"
    return cid


def find_clusters(
    proj: Projection,
    *,
    since: float | None,
    until: float | None,
    stoplist: Callable[[Indicator], bool],
    max_cases: int,
    min_cases: int = 2,
    tenant: str | None = None,
    every_tenant: bool = True,
) -> list[CampaignCluster]:
    """Cluster the cases created in ``[since, until)`` by shared strong indicators.

    Args:
        proj: the projection.
        since: window start (POSIX time, None: from the beginning).
        until: window end, exclusive (None: no end).
        stoplist: indicators it answers True for never link.
        max_cases: an indicator in more of the tenant's cases (created before ``until``) stops linking.
        min_cases: the smallest cluster reported.
        tenant: only this tenant, unless ``every_tenant``.
        every_tenant: cluster every tenant (each on its own).

    Returns:
        Clusters, oldest first.
    """
    tl, index = proj.timeline, proj.index
    parent: dict[int, int] = {}
    links: list[tuple[str, list[int]]] = []
    for skey, arr in index.postings.items():
        if isinstance(arr, int):
            continue
        scope, _, key = skey.partition(SEP)
        if not is_strong(key) or (not every_tenant and scope != tenant_key(tenant)):
            continue
        upto = count_before(arr, tl, until)
        if upto > max_cases:
            continue
        lo = 0 if since is None else count_before(arr, tl, since)
        if upto - lo < 2:
            continue
        members = list(arr[lo:upto])
        first = proj.records[members[0]].alert
        if stoplist(indicator_of(key, first is not None and key in first.private)):
            continue
        links.append((key, members))
        for ix in members:
            parent.setdefault(ix, ix)
        root = _find(parent, members[0])
        for ix in members[1:]:
            other = _find(parent, ix)
            if other != root:
                parent[other] = root
    comps: dict[int, list[int]] = {}
    for ix in parent:
        comps.setdefault(_find(parent, ix), []).append(ix)
    comp_keys: dict[int, Counter[str]] = {}
    for key, members in links:
        comp_keys.setdefault(_find(parent, members[0]), Counter())[key] += len(members)
    groups = []
    for root, ixs in comps.items():
        if len(ixs) >= min_cases:
            ixs.sort(key=tl.order)
            groups.append((root, ixs))
    groups.sort(key=lambda g: tl.order(g[1][0]))
    return _name(proj, groups, comp_keys)


def _name(
    proj: Projection, groups: list[tuple[int, list[int]]], comp_keys: dict[int, Counter[str]]
) -> list[CampaignCluster]:
    tl = proj.timeline
    known_by_case: dict[str, list[str]] = {}
    for c in proj.campaigns.values():
        for cid in c.case_ids:
            known_by_case.setdefault(cid, []).append(c.campaign_id)
    pairs = []
    for gi, (_, ixs) in enumerate(groups):
        tenant = proj.records[ixs[0]].tenant
        overlap = Counter(
            k for ix in ixs for k in known_by_case.get(tl.ids[ix], ()) if proj.campaigns[k].tenant == tenant
        )
        pairs += [(-n, proj.campaigns[k].at, k, gi) for k, n in overlap.items()]
    pairs.sort()
    assigned: dict[int, str] = {}
    used: set[str] = set()
    for _, _, k, gi in pairs:
        if gi not in assigned and k not in used:
            assigned[gi] = k
            used.add(k)
    taken = used | set(proj.campaigns)
    out = []
    for gi, (root, ixs) in enumerate(groups):
        ids = tuple(tl.ids[ix] for ix in ixs)
        tenant = proj.records[ixs[0]].tenant
        status: Status
        if gi in assigned:
            cid = assigned[gi]
            known = proj.campaigns[cid].case_ids
            added = tuple(c for c in ids if c not in known)
            status = "grown" if added else "unchanged"
        else:
            cid = _new_id(tenant, ids[0], taken)
            taken.add(cid)
            added, status = ids, "new"
        keys = comp_keys.get(root, Counter())
        out.append(
            CampaignCluster(
                campaign_id=cid,
                status=status,
                tenant=tenant,
                case_ids=ids,
                indicators=tuple(k for k, _ in sorted(keys.items(), key=lambda kv: (-kv[1], kv[0]))),
                first_seen=to_dt(tl.times[ixs[0]]),
                last_seen=to_dt(tl.times[ixs[-1]]),
                added=added,
            )
        )
    return out
