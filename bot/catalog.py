"""What the record holds that a question may name, and how a sentence names it.

:class:`Catalog` is built from memory's case records: case ids and titles, the alerts' hosts, users
and indicators, the actions and their targets. :meth:`Catalog.find` matches a sentence against it
case-insensitively, exactly first, then by near misses that never cross a number, then by the words
of case titles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from rapidfuzz import fuzz, process

from aisoc.tenants import tenant_key, tenant_of
from bot.hosts import AddressBook, address, described_hosts, description
from bot.names import STOPWORDS, TOKEN, TRIM, numbers, refang, short_name, variants
from bot.scope import CaseView

Kind = Literal["case", "host", "user", "indicator", "action"]
Via = Literal["", "address", "description"]
"""How a question named a host otherwise than by its name: by its recorded address, or described."""

RECENT_ACTED = 5
"""Targets listed when a top-level question points at "that host" without naming it."""
FUZZY_CUTOFF = 85.0
"""Smallest rapidfuzz ratio for a near-miss identifier ("ws-42" for "WS-042")."""
TITLE_CUTOFF = 88.0
"""Smallest rapidfuzz partial ratio for a word of a case title ("shelshock" for "Shellshock")."""
_TARGET_KIND: dict[str, Kind] = {
    "disable_account": "user",
    "reset_credentials": "user",
    "revoke_sessions": "user",
    "block_indicator": "indicator",
    "quarantine_file": "indicator",
}
"""What an action's target is, by action kind (any other kind acts on a host)."""


def tenant_named(name: str) -> str:
    """The tenant a case id names (``globex`` for ``globex/wazuh:1001``; ``""`` for a plain id or any
    other name): a near miss never crosses it."""
    return tenant_of(name) if ":" in name else ""


def target_kind(action_kind: str) -> Kind:
    """The kind of target an action acts on (``block_indicator`` → indicator, ``isolate_host`` → host)."""
    return _TARGET_KIND.get(action_kind, "host")


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
    via: str = ""


def _merged(a: _Entry, b: _Entry) -> _Entry:
    """One thing found two ways (by its name and by its address, or by one address in two tenants)."""
    cases = dict(a.cases)
    for c, at in b.cases.items():
        cases[c] = max(at, cases.get(c, 0.0))
    return _Entry(a.kind, a.value, cases, a.via if a.via == b.via else "")


class Catalog:
    """What the record holds that a question may name: built from memory's case records.

    Args:
        memory: the case memory (its projection is read once per catalog).
        addresses: which hosts each address is, as the alerts record it (kept by the caller across
            catalogs, current with the log); None: no host answers to an address.
    """

    def __init__(self, memory: CaseView, addresses: AddressBook | None = None) -> None:
        self.memory = memory
        self.addresses = addresses
        self._addressed: set[str] = set()
        self.records = list(memory.cases())
        self.host_cases: dict[tuple[str, str], dict[str, float]] = {}
        """A host's cases per tenant: ``(tenant key, host lowercased) -> {case id: last activity}``."""
        self.worked: dict[str, float] = {}
        """When a role or a person last worked each case (0: only its alert so far)."""
        self.entries: dict[tuple[Kind, str], _Entry] = {}
        self.by_text: dict[str, list[_Entry]] = {}
        self.titles: dict[str, str] = {}
        self.acted: list[tuple[float, Kind, str, str]] = []
        """Every action's target: ``(proposed at, target kind, target, case id)``."""
        for rec in self.records:
            # a case that is only an alert so far was last active when its alert came
            worked = self.worked[rec.case_id] = rec.last_activity()
            at = max(worked, rec.alert.at if rec.alert is not None else 0.0)
            tenant = tenant_key(rec.tenant)
            self._add("case", rec.case_id, rec.case_id, at)
            if rec.alert is not None:
                self.titles[rec.case_id] = rec.alert.title
                for key in rec.alert.keys:
                    t, _, value = key.partition(":")
                    kind: Kind = "host" if t == "host" else "user" if t == "user" else "indicator"
                    self._add(kind, value, rec.case_id, at)
                for host in rec.alert.hosts:
                    self._add("host", host, rec.case_id, at)
                    self.host_cases.setdefault((tenant, host.lower()), {})[rec.case_id] = at
            for a in rec.actions.values():
                self._add("action", a.action_id, rec.case_id, at)
                if a.target:
                    acted_on = target_kind(a.kind)
                    self._add(acted_on, a.target, rec.case_id, at)
                    if self.entries.get(("host", a.target.lower())) is not None:
                        self.host_cases.setdefault((tenant, a.target.lower()), {})[rec.case_id] = at
                    when = a.proposed.at if a.proposed is not None else at
                    self.acted.append((when, acted_on, a.target, rec.case_id))

    def _add(self, kind: Kind, value: str, case_id: str, at: float) -> None:
        low = value.lower()
        if kind == "indicator" and ("host", low) in self.entries:
            kind = "host"
        entry = self.entries.get((kind, low))
        if entry is None:
            entry = self.entries[(kind, low)] = _Entry(kind, value)
            self.by_text.setdefault(low, []).append(entry)
            if kind == "host" and (short := short_name(low)) != low:
                self.by_text.setdefault(short, []).append(entry)  # "web01" finds web01.corp.example
        elif entry.value == low and value != low:
            entry.value = value  # keys are lowercased; show the name as the alert spells it
        entry.cases[case_id] = max(at, entry.cases.get(case_id, 0.0))

    def subject(self, entry: _Entry) -> Subject:
        """An entry as a subject (its cases newest first)."""
        # newest first; of two as new, the one worked on further
        ids = tuple(sorted(entry.cases, key=lambda c: (-entry.cases[c], -self.worked.get(c, 0.0))))
        title = self.titles.get(entry.value, "") if entry.kind == "case" else ""
        return Subject(entry.kind, entry.value, ids, title, entry.via, "address" if entry.via else "")

    def case(self, case_id: str) -> Subject | None:
        """The subject of one recorded case."""
        entry = self.entries.get(("case", case_id.lower()))
        return None if entry is None else self.subject(entry)

    def recently_acted(self, kinds: set[Kind]) -> list[Subject]:
        """The targets of the latest actions of these kinds of target ("contain" → hosts isolated,
        "block" → indicators blocked), newest first: "that host" at top level."""
        seen: dict[str, Subject] = {}
        for _, kind, target, _ in sorted(self.acted, key=lambda x: -x[0]):
            if kind in kinds and target.lower() not in seen:
                entry = self.entries.get((kind, target.lower())) or self.entries.get(("host", target.lower()))
                if entry is not None:
                    seen[target.lower()] = self.subject(entry)
            if len(seen) == RECENT_ACTED:
                break
        return list(seen.values())

    def in_case(self, case_id: str, kinds: set[Kind]) -> list[Subject]:
        """What a case names of these kinds (its alert's hosts, IPs, users, its actions' targets), as
        subjects of that case only; when its actions acted on some of them, only those."""
        named = [
            Subject(e.kind, e.value, (case_id,))
            for (kind, _), e in self.entries.items()
            if kind in kinds and case_id in e.cases
        ]
        acted = {t.lower() for _, kind, t, c in self.acted if c == case_id and kind in kinds}
        return [s for s in named if s.value.lower() in acted] or named

    def find(self, text: str) -> list[Subject]:
        """Every subject the sentence names: exact (any case; a host by its recorded address too),
        else near misses, else a host described ("the linux box"), else case titles."""
        tokens = [t.strip(TRIM) for t in TOKEN.findall(refang(text))]
        tokens = [t[:-2] if t.lower().endswith("'s") else t for t in tokens if t]
        # "linux-server.lab.local" for Linux-Server, "10.0.2.8:443" for 10.0.2.8, "LAB\snell" for snell
        tokens += [v for t in tokens for v in variants(t)]
        named = {t: ip for t in tokens if (ip := address(t))}
        if named and self.addresses is not None:
            self.addresses.follow()  # what came in since the feed last read the log
            for ip in named.values():
                self._load_address(ip)
        tokens += [ip for t, ip in named.items() if ip != t]
        # "linux server" for Linux-Server: two words joined are tried as one name too.
        words = list(tokens)
        tokens += [
            f"{a}-{b}"
            for a, b in zip(words, words[1:], strict=False)
            if len(a) > 2 and a.lower() not in STOPWORDS
        ]
        found: dict[tuple[Kind, str], _Entry] = {}

        def add(entry: _Entry) -> None:
            key = (entry.kind, entry.value.lower())
            have = found.get(key)
            found[key] = entry if have is None or have is entry else _merged(have, entry)

        for token in tokens:
            for entry in self.by_text.get(token.lower(), ()):
                add(entry)
        if not found:
            words = [t for t in tokens if len(t) >= 4 and t.lower() not in STOPWORDS]
            keys = list(self.by_text)
            for word in words:
                for match, _, _ in process.extract(
                    word.lower(),
                    keys,
                    scorer=fuzz.ratio,
                    score_cutoff=FUZZY_CUTOFF,
                    limit=MAX_CANDIDATES,
                ):
                    if numbers(word) != numbers(str(match)) or tenant_named(word) != tenant_named(str(match)):
                        # 10.0.2.7 is not 10.0.2.8, nor linux-server-02 Linux-Server, nor
                        # globex/wazuh:1001 acme/wazuh:1001
                        continue
                    for entry in self.by_text[str(match)]:
                        add(entry)
        subjects = [self.subject(e) for e in found.values()]
        if not subjects:
            subjects = self.described(text)
        if not subjects:
            subjects = self._titled(words)
        return _collapse(subjects)

    def _load_address(self, ip: str) -> None:
        """Let each host answer to an address its alerts record for it, within its tenant: the
        address names the host's cases of the tenant whose alert recorded it, never a same-named host
        of another tenant, and only when this catalog holds a case whose alert records it."""
        if ip in self._addressed or self.addresses is None:
            return
        self._addressed.add(ip)
        for (tenant, host), recording in sorted(self.addresses.hosts_at(ip).items()):
            named = self.entries.get(("host", host))
            cases = self.host_cases.get((tenant, host))
            if named is None or not cases or recording.isdisjoint(self.worked):
                continue
            self.by_text.setdefault(ip.lower(), []).append(_Entry("host", named.value, dict(cases), via=ip))

    def described(self, text: str) -> list[Subject]:
        """The hosts a description in the sentence fits ("the linux box" → Linux-Server): one when a
        single known host's name holds its distinctive words, several to ask between, else none."""
        said = description(text)
        if said is None:
            return []
        phrase, words, noun = said
        hosts = {e.value: e for (kind, _), e in self.entries.items() if kind == "host"}
        return [
            replace(self.subject(hosts[h]), via=phrase, via_kind="description")
            for h in described_hosts(list(hosts), words, noun)
        ]

    def acted_first(self, subject: Subject) -> Subject:
        """The subject with the cases that acted on it first (newest first within each group)."""
        target = subject.value.lower()
        acted = {c for _, _, t, c in self.acted if t.lower() == target}
        ids = sorted(subject.case_ids, key=lambda c: c not in acted)
        return replace(subject, case_ids=tuple(ids), acted_first=ids != list(subject.case_ids))

    def _titled(self, tokens: Sequence[str]) -> list[Subject]:
        """Cases whose title holds the most of the sentence's significant words (near misses too)."""
        words = [t.lower() for t in tokens if len(t) >= 4 and t.lower() not in STOPWORDS]
        if not words:
            return []
        scored: dict[str, int] = {}
        for case_id, title in self.titles.items():
            low = title.lower()
            n = sum(1 for w in words if fuzz.partial_ratio(w, low) >= TITLE_CUTOFF)
            if n:
                scored[case_id] = n
        best = max(scored.values(), default=0)
        hits = [self.case(c) for c, n in scored.items() if n == best]
        return sorted(
            (h for h in hits if h is not None),
            key=lambda s: -self.entries[("case", s.value.lower())].cases[s.value],
        )


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
