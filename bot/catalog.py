"""What the record holds that a question may name, and how a sentence names it.

:class:`Catalog` is built from memory's case records: case ids and titles, the alerts' hosts, users
and indicators, the actions and their targets. :meth:`Catalog.find` matches a sentence against it
case-insensitively, exactly first, then by near misses that never cross a number, then by the words
of case titles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from rapidfuzz import fuzz, process

from aisoc.tenants import tenant_of
from bot.hosts import AddressBook, address, described_hosts, description
from bot.names import STOPWORDS, TOKEN, TRIM, numbers, refang, variants
from bot.recorded import KINDS, Kind, Recorded, spelling, target_kind
from bot.scope import CaseView

__all__ = ["MAX_CANDIDATES", "Catalog", "Kind", "Subject", "target_kind", "tenant_named"]

Via = Literal["", "address", "description"]
"""How a question named a host otherwise than by its name: by its recorded address, or described."""

RECENT_ACTED = 5
"""Targets listed when a top-level question points at "that host" without naming it."""
FUZZY_CUTOFF = 85.0
"""Smallest rapidfuzz ratio for a near-miss identifier ("ws-42" for "WS-042")."""
SOURCE_ID_MIN = 4
"""Shortest source id a question's word is looked up as ("last 8 hours" names no case ``8``)."""
TITLE_CUTOFF = 88.0
"""Smallest rapidfuzz partial ratio for a word of a case title ("shelshock" for "Shellshock")."""


def tenant_named(name: str) -> str:
    """The tenant a case id names (``globex`` for ``globex/wazuh:1001``; ``""`` for a plain id or any
    other name): a near miss never crosses it."""
    return tenant_of(name) if ":" in name else ""


MAX_CANDIDATES = 5
"""Candidates listed when a subject is ambiguous."""


@dataclass(frozen=True)
class Subject:
    """What a question is about, as the record holds it."""

    kind: Kind
    value: str
    """The value as recorded (the case id, the host's spelling in the alert)."""
    case_ids: tuple[str, ...]
    """The cases that hold it, newest first."""
    title: str = ""
    """The case's title (for a case subject)."""
    via: str = ""
    """The address or the description the question named it by (empty: named by name)."""
    via_kind: Via = ""
    acted_first: bool = False
    """Its cases are ordered those with an action on it first (a question about that action)."""

    def label(self) -> str:
        """How the subject reads in an answer."""
        if self.kind == "case":
            return f"{self.value} ({self.title})" if self.title else self.value
        return f"{self.kind} {self.value}"


@dataclass
class _Entry:
    kind: Kind
    value: str
    cases: dict[str, float] = field(default_factory=dict)
    """``case id -> last activity`` (read only: it may be the catalog's own)."""
    via: str = ""


def _merged(a: _Entry, b: _Entry) -> _Entry:
    """One thing found two ways (by its name and by its address, or by one address in two tenants)."""
    cases = dict(a.cases)
    for c, at in b.cases.items():
        cases[c] = max(at, cases.get(c, 0.0))
    return _Entry(a.kind, a.value, cases, a.via if a.via == b.via else "")


class Catalog(Recorded):
    """What the record holds that a question may name: an index of memory's case records, kept by
    case, so that one case's change is applied on its own (:meth:`put`).

    Whatever order the cases come in, the catalog of the same records is the same: a name that is
    some case's host is a host wherever it is an indicator, and an answer shows the alert's own
    spelling of a name (:func:`_spelling`).

    Args:
        memory: the case memory as the conversation sees it (every case of it is read once here).
        addresses: which hosts each address is, as the alerts record it (kept by the caller across
            questions, current with the log); None: no host answers to an address.
    """

    def __init__(self, memory: CaseView, addresses: AddressBook | None = None) -> None:
        super().__init__()
        self.addresses = addresses
        for rec in memory.cases():
            self.put(rec.case_id, rec)

    # --- reading --------------------------------------------------------------------------------

    def _kind(self, kind: Kind, low: str) -> Kind:
        """An indicator that is some case's host is that host."""
        return "host" if kind == "indicator" and ("host", low) in self._names else kind

    def _entry(self, kind: Kind, low: str) -> _Entry | None:
        """One name as questions find it (a host with the cases that name it as an indicator too)."""
        kind = self._kind(kind, low)
        name = self._names.get((kind, low))
        if name is None:
            return None
        also = self._names.get(("indicator", low)) if kind == "host" else None
        if also is None:
            return _Entry(kind, name.value, name.cases)
        cases = {**also.cases, **name.cases}  # one last activity per case, whichever name
        return _Entry(kind, min(name.value, also.value, key=spelling), cases)

    def _lookup(self, text: str) -> list[_Entry]:
        """Every name a word is (kinds in a fixed order)."""
        keys = sorted(
            {(self._kind(k, low), low) for k, low in self._text.get(text, ())},
            key=lambda k: (KINDS.index(k[0]), k[1]),
        )
        return [e for k, low in keys if (e := self._entry(k, low)) is not None]

    def subject(self, entry: _Entry) -> Subject:
        """An entry as a subject (its cases newest first)."""
        facts = self._facts

        def newest(c: str) -> tuple[float, float, str]:
            # newest first; of two as new, the one worked on further
            f = facts.get(c)
            return (-entry.cases[c], -(f.worked if f is not None else 0.0), c)

        ids = tuple(sorted(entry.cases, key=newest))
        case = facts.get(entry.value) if entry.kind == "case" else None
        title = (case.title or "") if case is not None else ""
        return Subject(entry.kind, entry.value, ids, title, entry.via, "address" if entry.via else "")

    def case(self, case_id: str) -> Subject | None:
        """The subject of one recorded case."""
        entry = self._entry("case", case_id.lower())
        return None if entry is None else self.subject(entry)

    def recently_acted(self, kinds: set[Kind]) -> list[Subject]:
        """The targets of the latest actions of these kinds of target ("contain" → hosts isolated,
        "block" → indicators blocked), newest first: "that host" at top level."""
        seen: dict[str, Subject] = {}
        for _, _, target, kind in self._acted:
            if kind in kinds and target.lower() not in seen:
                entry = self._entry(kind, target.lower()) or self._entry("host", target.lower())
                if entry is not None:
                    seen[target.lower()] = self.subject(entry)
            if len(seen) == RECENT_ACTED:
                break
        return list(seen.values())

    def in_case(self, case_id: str, kinds: set[Kind]) -> list[Subject]:
        """What a case names of these kinds (its alert's hosts, IPs, users, its actions' targets), as
        subjects of that case only; when its actions acted on some of them, only those."""
        facts = self._facts.get(case_id)
        if facts is None:
            return []
        named: dict[tuple[Kind, str], Subject] = {}
        for k, low in facts.names:
            kind = self._kind(k, low)
            if kind in kinds and (kind, low) not in named and (e := self._entry(kind, low)) is not None:
                named[(kind, low)] = Subject(kind, e.value, (case_id,))
        acted = {t.lower() for _, kind, t in facts.acted if kind in kinds}
        return [s for s in named.values() if s.value.lower() in acted] or list(named.values())

    def find(self, text: str) -> list[Subject]:
        """Every subject the sentence names: exact (any case; a host by its recorded address too),
        else near misses, else a host described ("the linux box"), else case titles."""
        tokens = [t.strip(TRIM) for t in TOKEN.findall(refang(text))]
        tokens = [t[:-2] if t.lower().endswith("'s") else t for t in tokens if t]
        # "linux-server.lab.local" for Linux-Server, "10.0.2.8:443" for 10.0.2.8, "LAB\snell" for snell
        tokens += [v for t in tokens for v in variants(t)]
        named = {t: ip for t in tokens if (ip := address(t))}
        at_address: dict[str, list[_Entry]] = {}
        if named and self.addresses is not None:
            self.addresses.follow()  # what came in since the feed last read the log
            at_address = {ip.lower(): self._at_address(ip) for ip in set(named.values())}
        tokens += [ip for t, ip in named.items() if ip != t]
        # "linux server" for Linux-Server: two words joined are tried as one name too.
        words = list(tokens)
        tokens += [
            f"{a}-{b}"
            for a, b in zip(words, words[1:], strict=False)
            if len(a) > 1 and a.lower() not in STOPWORDS
        ]
        found: dict[tuple[Kind, str], _Entry] = {}

        def add(entry: _Entry) -> None:
            key = (entry.kind, entry.value.lower())
            have = found.get(key)
            found[key] = entry if have is None or have is entry else _merged(have, entry)

        for token in tokens:
            for entry in [*self._lookup(token.lower()), *at_address.get(token.lower(), ())]:
                add(entry)
        if not found:
            # "DET-88213 - why contained?": a case by its source's own id, as the source's console shows it
            for token in tokens:
                if len(token) >= SOURCE_ID_MIN and any(c.isdigit() for c in token):
                    for case_id in self.with_source_id(token):
                        if (entry := self._entry("case", case_id.lower())) is not None:
                            add(entry)
        if not found:
            words = [t for t in tokens if len(t) >= 4 and t.lower() not in STOPWORDS]
            keys = list(self._text)
            for word in words:
                near = process.extract(
                    word.lower(), keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=None
                )
                # the best, of two as close the first in order (whatever order the names came in)
                for match, _, _ in sorted(near, key=lambda m: (-m[1], m[0]))[:MAX_CANDIDATES]:
                    if numbers(word) != numbers(str(match)) or tenant_named(word) != tenant_named(str(match)):
                        # 10.0.2.7 is not 10.0.2.8, nor linux-server-02 Linux-Server, nor
                        # globex/wazuh:1001 acme/wazuh:1001
                        continue
                    for entry in self._lookup(str(match)):
                        add(entry)
        subjects = [self.subject(e) for e in found.values()]
        if not subjects:
            subjects = self.described(text)
        if not subjects:
            subjects = self._titled(words)
        return _collapse(subjects)

    def _at_address(self, ip: str) -> list[_Entry]:
        """The hosts an address is, as the alerts record it, within their tenant: the address names
        the host's cases of the tenant whose alert recorded it, never a same-named host of another
        tenant, and only when this catalog holds a case whose alert records it."""
        assert self.addresses is not None
        out = []
        for (tenant, host), recording in sorted(self.addresses.hosts_at(ip).items()):
            named = self._entry("host", host)
            if named is None or recording.isdisjoint(self._facts):
                continue
            cases = {c: at for c, at in named.cases.items() if self._facts[c].tenant == tenant}
            if cases:
                out.append(_Entry("host", named.value, cases, via=ip))
        return out

    def described(self, text: str) -> list[Subject]:
        """The hosts a description in the sentence fits ("the linux box" → Linux-Server): one when a
        single known host's name holds its distinctive words, several to ask between, else none."""
        said = description(text)
        if said is None:
            return []
        phrase, words, noun = said
        hosts = {e.value: e for low in sorted(self._hosts) if (e := self._entry("host", low)) is not None}
        return [
            replace(self.subject(hosts[h]), via=phrase, via_kind="description")
            for h in described_hosts(list(hosts), words, noun)
        ]

    def acted_first(self, subject: Subject) -> Subject:
        """The subject with the cases that acted on it first (newest first within each group)."""
        acted = set(self._acted_on.get(subject.value.lower(), ()))
        ids = sorted(subject.case_ids, key=lambda c: c not in acted)
        return replace(subject, case_ids=tuple(ids), acted_first=ids != list(subject.case_ids))

    def _titled(self, tokens: Sequence[str]) -> list[Subject]:
        """Cases whose title holds the most of the sentence's significant words (near misses too);
        each title is read once, however many cases share it."""
        words = [t.lower() for t in tokens if len(t) >= 4 and t.lower() not in STOPWORDS]
        if not words:
            return []
        scored: dict[str, int] = {}
        for low, cases in self._titles.items():
            n = sum(1 for w in words if fuzz.partial_ratio(w, low) >= TITLE_CUTOFF)
            if n:
                scored.update(dict.fromkeys(cases, n))
        best = max(scored.values(), default=0)
        ids = sorted((c for c, n in scored.items() if n == best), key=lambda c: (-self._facts[c].at, c))
        return [s for c in ids if (s := self.case(c)) is not None]

    def dump(self) -> dict[str, Any]:
        """A canonical picture of what questions may find (equal for the same records, however the
        catalog was built; tests and debugging)."""
        names = {}
        for kind, low in sorted(self._names):
            entry = self._entry(kind, low)
            if entry is not None and entry.kind == kind:
                names[f"{kind}:{low}"] = [entry.value, sorted(entry.cases.items())]
        return {
            "cases": {c: [f.tenant, f.at, f.worked, f.title] for c, f in sorted(self._facts.items())},
            "names": names,
            "text": {t: sorted(keys) for t, keys in sorted(self._text.items())},
            "titles": {t: sorted(cases) for t, cases in sorted(self._titles.items())},
            "acted": list(self._acted),
            "sources": {s: sorted(cases) for s, cases in sorted(self._sources.items())},
        }


def _collapse(subjects: list[Subject]) -> list[Subject]:
    """One subject per thing: a case named beside its own host narrows the host to that case."""
    cases = {s.value for s in subjects if s.kind == "case"}
    things = [s for s in subjects if s.kind != "case"]
    if cases and things:
        narrowed = [
            replace(s, case_ids=tuple(c for c in s.case_ids if c in cases))
            for s in things
            if any(c in cases for c in s.case_ids)
        ]
        if narrowed:
            return narrowed
    return subjects
