"""What the record holds that a question may name, kept by case: the catalog's index.

Each case gives the index what its record alone says (:class:`_Facts`: its id, its alert's hosts,
users, indicators and title, its actions and their targets); the index is the union of those, so a
change of one case is applied on its own (:meth:`Recorded.put`: take its old facts out, put the new
ones in) and the index of the same records is the same whatever order they came in.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from aisoc.memory import CaseRecord
from aisoc.tenants import tenant_key
from bot.names import short_name

Kind = Literal["case", "host", "user", "indicator", "action"]
KINDS: tuple[Kind, ...] = ("case", "host", "user", "indicator", "action")
"""The kinds of name, in the order a word that is several names lists them."""
_TARGET_KIND: dict[str, Kind] = {
    "disable_account": "user",
    "reset_credentials": "user",
    "revoke_sessions": "user",
    "block_indicator": "indicator",
    "quarantine_file": "indicator",
}
"""What an action's target is, by action kind (any other kind acts on a host)."""


def target_kind(action_kind: str) -> Kind:
    """The kind of target an action acts on (``block_indicator`` → indicator, ``isolate_host`` → host)."""
    return _TARGET_KIND.get(action_kind, "host")


def source_id(case_id: str) -> str:
    """A case's source's own id, lowercased (``1234`` of ``xsoar:1234``; a plain id is its own)."""
    return case_id.rpartition(":")[2].lower()


def spelling(s: str) -> tuple[bool, str]:
    """How a spelling of a name ranks for an answer (the least is shown): one with the alert's
    capitals before a lowercased key, then alphabetically, so the order the cases were read in never
    changes it."""
    return (s == s.lower(), s)


@dataclass
class _Name:
    """One name of one kind as the record holds it: its cases and how they spell it."""

    value: str
    """The spelling shown (the best of ``spellings``, see :func:`spelling`)."""
    cases: dict[str, float] = field(default_factory=dict)
    """``case id -> last activity``."""
    spellings: dict[str, int] = field(default_factory=dict)
    """How many cases spell it each way (each case its best way)."""


@dataclass(frozen=True)
class _Facts:
    """What one case gives the catalog, read from its record alone."""

    tenant: str
    at: float
    """Its last activity (its alert's arrival when nothing else happened yet)."""
    worked: float
    """When a role or a person last worked it (0: only its alert so far)."""
    title: str | None
    names: dict[tuple[Kind, str], str]
    """``(kind, name lowercased) -> its best spelling in the case``: its id, its alert's hosts, users
    and indicators, its actions and their targets, in the record's order."""
    acted: tuple[tuple[float, Kind, str], ...]
    """Its actions' targets: ``(proposed at, target kind, target)``."""


def _facts(rec: CaseRecord) -> _Facts:
    """What a case's record gives the catalog (nothing else is read: a case is put again as is)."""
    # a case that is only an alert so far was last active when its alert came
    worked = rec.last_activity()
    at = max(worked, rec.alert.at if rec.alert is not None else 0.0)
    names: dict[tuple[Kind, str], str] = {}

    def name(kind: Kind, value: str) -> None:
        key = (kind, value.lower())
        have = names.get(key)
        if have is None or (value != have and spelling(value) < spelling(have)):
            names[key] = value

    name("case", rec.case_id)
    if rec.alert is not None:
        for key in rec.alert.keys:
            t, _, value = key.partition(":")
            name("host" if t == "host" else "user" if t == "user" else "indicator", value)
        for host in rec.alert.hosts:
            name("host", host)
    acted: list[tuple[float, Kind, str]] = []
    for a in rec.actions.values():
        name("action", a.action_id)
        if a.target:
            kind = target_kind(a.kind)
            name(kind, a.target)
            acted.append((a.proposed.at if a.proposed is not None else at, kind, a.target))
    title = rec.alert.title if rec.alert is not None else None
    return _Facts(tenant_key(rec.tenant), at, worked, title, names, tuple(acted))


class Recorded:
    """The names the record holds, by case (see the module's docstring); :class:`bot.catalog.Catalog`
    answers questions from it."""

    def __init__(self) -> None:
        self._facts: dict[str, _Facts] = {}
        self._names: dict[tuple[Kind, str], _Name] = {}
        self._text: dict[str, set[tuple[Kind, str]]] = {}
        """What a word of a question may be (lowercased) -> the names it is: a name, a host's first
        DNS label ("web01" finds web01.corp.example)."""
        self._hosts: set[str] = set()
        """Every host name (lowercased)."""
        self._titles: dict[str, set[str]] = {}
        """A title lowercased -> its cases (titles repeat: a rule's alerts share one)."""
        self._acted: list[tuple[float, str, str, Kind]] = []
        """Every action's target, newest first: ``(-proposed at, case id, target, target kind)``."""
        self._acted_on: dict[str, Counter[str]] = {}
        """A target lowercased -> the cases with an action on it."""
        self._sources: dict[str, set[str]] = {}
        """A source's own id lowercased (``1234`` of ``xsoar:1234`` and ``acme/xsoar:1234``) -> the
        cases it is the id of: ``ack 1234`` finds its case without reading every case."""

    def __len__(self) -> int:
        return len(self._facts)

    def with_source_id(self, source_id: str) -> list[str]:
        """The cases whose source's own id this is (``xsoar:1234`` for ``1234``), in id order."""
        return sorted(self._sources.get(source_id.lower(), ()))

    def put(self, case_id: str, rec: CaseRecord | None) -> bool:
        """Hold what the record says of one case now (``rec`` None: nothing the conversation may
        see); returns whether anything changed."""
        new = None if rec is None else _facts(rec)
        old = self._facts.get(case_id)
        if new == old:
            return False
        if old is not None:
            self._take(case_id, old)
        if new is not None:
            self._give(case_id, new)
        return True

    def _give(self, case_id: str, facts: _Facts) -> None:
        """Add one case's facts (it holds none)."""
        self._facts[case_id] = facts
        self._sources.setdefault(source_id(case_id), set()).add(case_id)
        for key, value in facts.names.items():
            name = self._names.get(key)
            if name is None:
                name = self._names[key] = _Name(value)
                self._index(key, add=True)
            elif value != name.value and spelling(value) < spelling(name.value):
                name.value = value
            name.cases[case_id] = facts.at
            name.spellings[value] = name.spellings.get(value, 0) + 1
        if facts.title is not None:
            self._titles.setdefault(facts.title.lower(), set()).add(case_id)
        for when, kind, target in facts.acted:
            bisect.insort(self._acted, (-when, case_id, target, kind))
            self._acted_on.setdefault(target.lower(), Counter())[case_id] += 1

    def _take(self, case_id: str, facts: _Facts) -> None:
        """Take one case's facts out again: a name no case holds any more is forgotten."""
        del self._facts[case_id]
        same = self._sources[source_id(case_id)]
        same.discard(case_id)
        if not same:
            del self._sources[source_id(case_id)]
        for key, value in facts.names.items():
            name = self._names[key]
            del name.cases[case_id]
            if not name.cases:
                del self._names[key]
                self._index(key, add=False)
                continue
            name.spellings[value] -= 1
            if name.spellings[value] <= 0:
                del name.spellings[value]
            if name.value not in name.spellings:
                name.value = min(name.spellings, key=spelling)
        if facts.title is not None:
            titled = self._titles[facts.title.lower()]
            titled.discard(case_id)
            if not titled:
                del self._titles[facts.title.lower()]
        for when, kind, target in facts.acted:
            del self._acted[bisect.bisect_left(self._acted, (-when, case_id, target, kind))]
            on = self._acted_on[target.lower()]
            on[case_id] -= 1
            if on[case_id] <= 0:
                del on[case_id]
            if not on:
                del self._acted_on[target.lower()]

    def _index(self, key: tuple[Kind, str], *, add: bool) -> None:
        """The words that find a name (a host by its first DNS label too), as it comes or goes."""
        kind, low = key
        texts = {low, short_name(low)} if kind == "host" else {low}
        for text in texts:
            if add:
                self._text.setdefault(text, set()).add(key)
            else:
                self._text[text].discard(key)
                if not self._text[text]:
                    del self._text[text]
        if kind == "host":
            (self._hosts.add if add else self._hosts.discard)(low)
