"""In-memory indexes over the case records, all kept sorted by alert creation time.

Postings (tenant + indicator key -> cases) and rule groups (tenant + rule -> cases with their outcome
codes) are arrays of case numbers ordered by ``(created_at, case_id)``, so "only cases before T"
is one binary search and "how did this rule's earlier cases end" is a C-speed ``bytearray.count``.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from aisoc.tenants import tenant_key

SEP = "\x1f"
"""Separates the tenant from the rest of an index key (tenants never contain it)."""


def scoped(tenant: str | None, key: str) -> str:
    """The index key of ``key`` within ``tenant`` (cases never link across tenants)."""
    return f"{tenant_key(tenant)}{SEP}{key}"


class Timeline:
    """The creation time and case id of every case number (the order all indexes share)."""

    def __init__(self) -> None:
        self.times = array("d")
        self.ids: list[str] = []

    def add(self, case_id: str) -> int:
        """Register a new case; returns its number."""
        self.times.append(0.0)
        self.ids.append(case_id)
        return len(self.ids) - 1

    def order(self, ix: int) -> tuple[float, str]:
        """The sort key of case ``ix``."""
        return self.times[ix], self.ids[ix]


def _position(arr: array[int], tl: Timeline, ix: int) -> int:
    """Where case ``ix`` sits (or would sit) in ``arr``, ordered by ``(created_at, case_id)``."""
    t = tl.times[ix]
    lo = bisect_left(arr, t, key=tl.times.__getitem__)
    hi = bisect_right(arr, t, lo=lo, key=tl.times.__getitem__)
    cid = tl.ids[ix]
    while lo < hi and tl.ids[arr[lo]] < cid:
        lo += 1
    return lo


def count_before(arr: Sequence[int], tl: Timeline, before: float | None) -> int:
    """How many cases of ``arr`` were created strictly before ``before`` (all when None)."""
    if before is None:
        return len(arr)
    return bisect_left(arr, before, key=tl.times.__getitem__)


@dataclass
class RuleGroup:
    """One tenant's cases of one rule/detector, with an outcome code per case (same order)."""

    tenant: str | None
    rule: str
    cases: array[int] = field(default_factory=lambda: array("i"))
    codes: bytearray = field(default_factory=bytearray)


class Indexes:
    """Postings, rule groups and hosts over the case numbers of one :class:`Timeline`."""

    def __init__(self, timeline: Timeline) -> None:
        self.tl = timeline
        self.postings: dict[str, int | array[int]] = {}
        self.rules: dict[str, RuleGroup] = {}
        self.hosts: dict[str, set[int]] = {}

    # --- postings -------------------------------------------------------------------------------

    def cases_for(self, skey: str) -> array[int] | tuple[int, ...]:
        """The cases sharing scoped key ``skey``, oldest first."""
        found = self.postings.get(skey)
        if found is None:
            return ()
        return (found,) if isinstance(found, int) else found

    def _post(self, skey: str, ix: int) -> None:
        found = self.postings.get(skey)
        if found is None:
            self.postings[skey] = ix
            return
        if isinstance(found, int):
            if found == ix:
                return
            found = array("i", [found])
            self.postings[skey] = found
        pos = _position(found, self.tl, ix)
        if pos < len(found) and found[pos] == ix:
            return
        found.insert(pos, ix)

    def _unpost(self, skey: str, ix: int) -> None:
        found = self.postings.get(skey)
        if found is None:
            return
        if isinstance(found, int):
            if found == ix:
                del self.postings[skey]
            return
        pos = _position(found, self.tl, ix)
        if pos < len(found) and found[pos] == ix:
            del found[pos]
        if len(found) == 1:
            self.postings[skey] = found[0]

    # --- the whole case -------------------------------------------------------------------------

    def add(self, ix: int, tenant: str | None, rule: str | None, keys: tuple[str, ...], code: int) -> None:
        """Index case ``ix`` (its time must already be on the timeline)."""
        for k in keys:
            self._post(scoped(tenant, k), ix)
        if rule is not None:
            g = self.rules.get(scoped(tenant, rule))
            if g is None:
                g = self.rules[scoped(tenant, rule)] = RuleGroup(tenant, rule)
            pos = _position(g.cases, self.tl, ix)
            g.cases.insert(pos, ix)
            g.codes.insert(pos, code)

    def remove(self, ix: int, tenant: str | None, rule: str | None, keys: tuple[str, ...]) -> None:
        """Take case ``ix`` out of every index (before its time or alert changes)."""
        for k in keys:
            self._unpost(scoped(tenant, k), ix)
        g = self.rules.get(scoped(tenant, rule)) if rule is not None else None
        if g is not None:
            pos = _position(g.cases, self.tl, ix)
            if pos < len(g.cases) and g.cases[pos] == ix:
                del g.cases[pos]
                del g.codes[pos]

    def set_code(self, ix: int, tenant: str | None, rule: str | None, code: int) -> None:
        """Record case ``ix``'s new outcome code in its rule group."""
        g = self.rules.get(scoped(tenant, rule)) if rule is not None else None
        if g is not None:
            pos = _position(g.cases, self.tl, ix)
            if pos < len(g.cases) and g.cases[pos] == ix:
                g.codes[pos] = code

    def add_host(self, host: str, ix: int) -> None:
        """Remember that case ``ix`` touched ``host`` (an alert's host or an action's target)."""
        self.hosts.setdefault(host.lower(), set()).add(ix)

    def remove_host(self, host: str, ix: int) -> None:
        """Forget that case ``ix`` touched ``host`` (its alert or its action now names another)."""
        cases = self.hosts.get(host.lower())
        if cases is not None:
            cases.discard(ix)
            if not cases:
                del self.hosts[host.lower()]

    def groups(self, tenant: str | None = None, every_tenant: bool = True) -> Iterator[RuleGroup]:
        """Rule groups, of one tenant unless ``every_tenant``."""
        for g in self.rules.values():
            if every_tenant or tenant_key(g.tenant) == tenant_key(tenant):
                yield g

    def window(self, arr: array[int], since: float | None, until: float | None) -> tuple[int, int]:
        """Index range ``[lo, hi)`` of ``arr`` created in ``[since, until)``."""
        key: Callable[[int], float] = self.tl.times.__getitem__
        lo = 0 if since is None else bisect_left(arr, since, key=key)
        hi = len(arr) if until is None else bisect_left(arr, until, key=key)
        return lo, max(lo, hi)
