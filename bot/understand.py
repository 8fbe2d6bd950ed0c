"""What a person means: the command and its subject, from a sentence, not from a command grammar.

People talk to the bot as to a colleague: "why did it contain that host?" inside a case's thread,
"explain the Shellshock case", "@AISOC Bot what happened to 10.0.2.8?". Three steps turn that into a
:class:`Request`:

1. :func:`strip_mentions` removes the bot's mention wherever it stands, using the message's structured
   mention data (the ``html`` ``<spark-mention>`` markup), never a prefix string.
2. :func:`intent` finds the command. Commands that change something (``close``, ``done``, ``pause`` ...)
   keep their exact grammar: the verb comes first, so "don't close it" closes nothing. Questions are
   recognised anywhere in the sentence, typos included.
3. :class:`Catalog` finds the subject against what the record holds (case ids, hosts, IPs, users,
   hashes, action ids, case titles), case-insensitively and with near-miss matching (rapidfuzz) that
   never crosses a number; indicators are refanged and tried without port, mask or domain, hosts by
   their FQDN's first label. In a case's thread, "it", "here" or no subject at all mean that case,
   "that host", "the IP", "the isolation" its own targets; a name the record lacks is said so.
   What a message quotes (``> ...``, ``<blockquote>``) names the subject only when its own words
   do not.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import urlsplit

from rapidfuzz import fuzz, process

from aisoc.memory import Memory

Kind = Literal["case", "host", "user", "indicator", "action"]

GRAMMAR = frozenset(
    {"close", "reopen", "assign", "ack", "done", "pause", "resume", "approve", "reject", "deny", "takeover"}
)
"""Commands that change something: only their exact grammar (verb first) runs them."""
READ_ONLY = frozenset({"explain", "case", "more", "status", "oncall", "help", "pending"})
"""Commands that only read the record (the only ones a model may route to)."""

_QUESTION = re.compile(
    r"\b(why|explain\w*|what\s+happened|what\s+(?:did|was|were|has|have)\b|tell\s+me\s+about|how\s+come|"
    r"walk\s+me\s+through|what'?s\s+(?:going\s+on|up)|what\s+is\s+going\s+on|reason|summar\w*|story|"
    r"details?\s+(?:on|of|about)|info\s+(?:on|about)|"
    # "y did it ...", "who approved the isolation?", "was it approved?": questions about a decision
    r"y\s+(?:did|was|were|is|are|has|had|do|does|would)\b|who\s+(?:\w+ed|ok'?d)\b|"
    r"(?:any\s+)?updates?\s+(?:on|about|for)\b|any\s+(?:updates?|news)\b|news\s+(?:on|about)\b|eta\b|"
    r"what\s+about\b)",
    re.IGNORECASE,
)
_DECISION = re.compile(r"\b(?:approv(?:ed|al)|reject(?:ed|ion)|decided|decision)\b", re.IGNORECASE)
"""A question about a decision ("was the isolation approved?"): explained, after "pending" is ruled out."""
_CASE = re.compile(
    r"^(?:case|summary|summari[sz]e|sum\s+(?:it\s+)?up|show(?:\s+me)?(?:\s+the)?\s+case)\b|"
    r"\bwhere\s+does\b.*\bstand\b|"
    r"\bwhat(?:'?s|\s+is)\s+(?:still\s+)?open\b|\bstate\s+of\b",
    re.IGNORECASE,
)
_STATUS = re.compile(
    r"^(?:status|health)\b|\b(?:soc|system|bot|roles?|agents?)\s+(?:status|health)\b|"
    r"\b(?:are|is)\s+(?:you|the\s+(?:roles|agents|soc|system|bot|pipeline)|all\s+(?:the\s+)?roles|"
    r"every\s*(?:thing|one)|it\s+all)\s+(?:still\s+)?(?:alive|up|ok|okay|running|healthy|working|fine)\b|"
    r"\bhealth\s*check\b",
    re.IGNORECASE,
)
_ONCALL = re.compile(r"\bon[- ]?call\b|\bwho(?:'s|\s+is)\s+(?:holding|covering)\b", re.IGNORECASE)
_BARE_STATUS = re.compile(
    r"^\W*(?:(?:soc|system|bot|roles?|agents?|pipeline)\s+)?(?:status|health)(?:\s*check)?\W*$|"
    r"\b(?:soc|system|bot|roles?|agents?|pipeline)\s+(?:status|health)\b|"
    r"\b(?:are|is)\s+(?:you|the\s+(?:roles|agents|soc|system|bot|pipeline)|all|every\s*(?:thing|one)|it\s+all)\b",
    re.IGNORECASE,
)
"""A status question about the SOC itself, never a case's ("status", "soc health", "are the roles up?")."""
_PENDING = re.compile(
    r"\b(?:pending|waiting|awaiting|outstanding|to\s+(?:approve|review|decide)|my\s+(?:queue|approvals?|plate)|"
    r"open\s+(?:approvals?|items?|requests?|reviews?))\b",
    re.IGNORECASE,
)
"""What waits on a person: approvals, reviews, approved actions not reported done."""
_OPEN = re.compile(r"\bwhat(?:'?s|\s+is)\s+(?:still\s+)?open\b", re.IGNORECASE)
_MINE = re.compile(r"\b(?:me|my|mine|i)\b", re.IGNORECASE)
_HELP = re.compile(r"^(?:help|\?|what\s+can\s+you\s+do|commands)\b", re.IGNORECASE)
_MORE = re.compile(r"^(?:more|show\s+more|full\s+record|the\s+rest)\b", re.IGNORECASE)
_ONCALL_WORDS = frozenset(
    """on call oncall on-call who's whos now is who the today right currently atm moment tonight
    this week weekend shift duty holding covering""".split()
)
"""Words of an on-call question that never name a duty ("who is on call right now?")."""
_NEGATION = re.compile(r"\b(?:don'?t|do\s+not|never|stop|no\s+need)\b", re.IGNORECASE)
_PRONOUN = re.compile(
    r"\b(?:it|that|this|here|there|the\s+(?:host|machine|box|server|endpoint|case|incident|alert|ip|user))\b",
    re.IGNORECASE,
)
_ACTED: tuple[tuple[re.Pattern[str], Kind], ...] = (
    (re.compile(r"\b(?:contain\w*|isolat\w*|quarantin\w*|network[- ]contain\w*)\b", re.I), "host"),
    (re.compile(r"\bblock\w*\b", re.I), "indicator"),
    (re.compile(r"\b(?:disabl\w*|lock\w*\s+out|reset\w*|revok\w*)\b", re.I), "user"),
)
"""Verbs of a question about an action taken ("why did it contain that host?"), by the kind of target."""
_ACT_WORDS: dict[str, Kind] = {
    **dict.fromkeys(("contain", "contained", "containment", "isolate", "isolated", "isolation"), "host"),
    **dict.fromkeys(("quarantine", "quarantined"), "host"),
    **dict.fromkeys(("block", "blocked", "blocking"), "indicator"),
    **dict.fromkeys(("disable", "disabled", "revoke", "revoked", "reset"), "user"),
}
"""The same verbs spelt out, for near misses ("contian", "isloated", "blokced")."""
ACT_TYPO_CUTOFF = 80.0
"""Smallest rapidfuzz ratio for a misspelt action verb."""
_THAT_TARGET = re.compile(
    r"\b(?:that|this|the)\s+(?:(?P<host>host|machine|box|server|endpoint|laptop|workstation|"
    r"isolation|containment|quarantine)|(?P<indicator>ip|address|indicator|hash|file|domain|url|block)|"
    r"(?P<user>user|account)|action)\b",
    re.IGNORECASE,
)
"""A target pointed at, not named ("that host", "the IP", "the isolation"), by kind when it says one."""


def acted_kinds(text: str) -> set[Kind]:
    """The kinds of target a sentence's action verbs speak of, misspelt ones too ("contian" → host)."""
    kinds: set[Kind] = {kind for verb, kind in _ACTED if verb.search(text)}
    for word in re.findall(r"[a-z]{5,}", text.lower()):
        found = process.extractOne(word, list(_ACT_WORDS), scorer=fuzz.ratio, score_cutoff=ACT_TYPO_CUTOFF)
        if found:
            kinds.add(_ACT_WORDS[str(found[0])])
    return kinds


_POINTED: tuple[Kind, ...] = ("host", "indicator", "user")


def pointed_kinds(text: str) -> set[Kind]:
    """The kinds of target "that host", "the IP", "the isolation" point at (empty: nothing pointed at;
    "that action" and an action verb alone point at every acted kind)."""
    kinds: set[Kind] = set()
    for m in _THAT_TARGET.finditer(text):
        named: list[Kind] = [k for k in _POINTED if m.group(k)]
        kinds.update(named or acted_kinds(text) or {"host", "indicator", "user"})
    return kinds


RECENT_ACTED = 5
"""Targets listed when a top-level question points at "that host" without naming it."""
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_TOKEN = re.compile(r"[\w.:\\$@/\-]+")
_TRIM = "?!.,;:'\"()[]{}<>`*"
_VERBS = ("explain", "happened", "status", "oncall")
"""Words recognised with a typo ("expalin", "hapened")."""
STOPWORDS = frozenset(
    """a an and any are as at be been by can case cases could did do does done for from had has have he her
    him his host how i if in incident into is it its just me my of on or our please sent she so than that
    the their them then there these they this those to up us was we were what when where which who why will
    with would you your about after again all also am bot box contain contained containment isolate isolated
    blocked block machine server endpoint explain happened tell hey hi hello ok okay thanks thank alert ip
    user tp fp benign more here not no yes one was story going stuff thing things there pls please anything
    yet what's whats now today attack""".split()
)
"""Words never taken as a subject (too common to mean a host or a title)."""
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
MAX_CANDIDATES = 5
"""Candidates listed when a subject is ambiguous."""


def person_uuid(person_id: str) -> str:
    """The uuid a Webex person id stands for: REST ids are base64 of ``ciscospark://us/PEOPLE/<uuid>``,
    and some clients (Webex for iPhone) put the bare uuid in a mention's ``data-object-id``."""
    raw = person_id.strip()
    try:
        decoded = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return raw.lower()
    return decoded.rsplit("/", 1)[-1].lower() if decoded.startswith("ciscospark://") else raw.lower()


class _Mentions(HTMLParser):
    """The display text of every ``<spark-mention>`` of one person id."""

    def __init__(self, person_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.person_id = person_uuid(person_id)
        self.found: list[str] = []
        self._depth = 0
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "spark-mention":
            a = dict(attrs)
            if (
                self._depth
                or person_uuid(a.get("data-object-id") or "") == self.person_id
                or a.get("data-object-type") == "groupMention"
            ):
                self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "spark-mention" and self._depth:
            self._depth -= 1
            if not self._depth:
                self.found.append("".join(self._buf).strip())
                self._buf = []

    def handle_data(self, data: str) -> None:
        if self._depth:
            self._buf.append(data)


class _Quotes(HTMLParser):
    """The lines inside ``<blockquote>`` (a reply quoting an earlier message)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "blockquote":
            self.depth += 1
        elif self.depth and tag in ("p", "br", "div", "li"):
            self.buf.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote" and self.depth:
            self.depth -= 1
            self.buf.append("\n")

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.buf.append(data)


def quoted_lines(html: str | None) -> frozenset[str]:
    """The lines a message's ``html`` quotes (``<blockquote>``), whitespace folded: the quote is
    context, never the question."""
    if not html or "blockquote" not in html.lower():
        return frozenset()
    parser = _Quotes()
    parser.feed(html)
    return frozenset(q for line in "".join(parser.buf).splitlines() if (q := " ".join(line.split())))


def strip_mentions(text: str, html: str | None, bot_id: str | None, names: Iterable[str] = ()) -> str:
    """``text`` without the bot's mention, wherever it stands.

    Args:
        text: the message's plain text (Webex puts the mention's display text in it).
        html: the message's ``html``, whose ``<spark-mention data-object-id=...>`` marks the mention.
        bot_id: the bot's person id.
        names: the bot's names, used only when a message carries no markup (a 1:1 space, the preview).

    Returns:
        The text with each mention of the bot removed and the punctuation around it tidied.
    """
    shown: list[str] = []
    if html and bot_id:
        parser = _Mentions(bot_id)
        parser.feed(html)
        shown = [s for s in parser.found if s]
    if not shown:
        shown = [n for n in names if n]
    for name in sorted(set(shown), key=len, reverse=True):
        text = re.sub(rf"@?\b{re.escape(name)}\b[,:]?", " ", text, flags=re.IGNORECASE)
    # Lines stay lines: a reply's quoted lines ("> ...") are told from its own words afterwards.
    lines = (
        re.sub(r"\s+([,?.!])", r"\1", " ".join(line.split())).strip(" ,:;") for line in text.splitlines()
    )
    return "\n".join(line for line in lines if line).lstrip("/")


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

    def label(self) -> str:
        """How the subject reads in an answer."""
        if self.kind == "case":
            return f"{self.value} ({self.title})" if self.title else self.value
        return f"{self.kind} {self.value}"


@dataclass(frozen=True)
class Request:
    """One understood message: the command, its words (for grammar commands) and its subject."""

    command: str
    """A read-only command, a grammar command, or ``unknown``."""
    args: tuple[str, ...] = ()
    subject: Subject | None = None
    candidates: tuple[Subject, ...] = ()
    """When the subject is ambiguous: who it might be (the answer asks)."""
    text: str = ""


def _typo(word: str) -> str | None:
    found = process.extractOne(word.lower(), _VERBS, scorer=fuzz.ratio, score_cutoff=80.0)
    return str(found[0]) if found else None


def intent(text: str) -> tuple[str, tuple[str, ...]]:
    """The command a sentence asks for, and its words after the verb (for grammar commands).

    Returns:
        ``(command, args)``; ``command`` is ``unknown`` when nothing is asked.
    """
    words = text.split()
    if not words:
        return "help", ()
    verb = words[0].lower().strip(_TRIM)
    if verb in GRAMMAR:
        return verb, tuple(words[1:])
    if _HELP.search(text):
        return "help", ()
    if _MORE.search(text):
        return "more", tuple(words[1:])
    if _STATUS.search(text):
        return "status", ()
    if _ONCALL.search(text):
        named = [w.strip(_TRIM) for w in words if w.lower().strip(_TRIM) not in STOPWORDS | _ONCALL_WORDS]
        return "oncall", tuple(w for w in named if w)
    if _CASE.search(text):
        return "case", tuple(words[1:])
    if _QUESTION.search(text):
        return "explain", tuple(words)
    if _PENDING.search(text):
        return "pending", ()
    if _DECISION.search(text):
        return "explain", tuple(words)
    typos = {t for w in words[:3] if len(w) >= 5 and (t := _typo(w.strip(_TRIM)))}
    if "explain" in typos or "happened" in typos:
        return "explain", tuple(words)
    if "status" in typos:
        return "status", ()
    if "oncall" in typos:
        return "oncall", ()
    return "unknown", tuple(words)


@dataclass
class _Entry:
    kind: Kind
    value: str
    cases: dict[str, float] = field(default_factory=dict)


class Catalog:
    """What the record holds that a question may name: built from memory's case records.

    Args:
        memory: the case memory (its projection is read once per catalog).
    """

    def __init__(self, memory: Memory) -> None:
        self.entries: dict[tuple[Kind, str], _Entry] = {}
        self.by_text: dict[str, list[_Entry]] = {}
        self.titles: dict[str, str] = {}
        self.acted: list[tuple[float, Kind, str, str]] = []
        """Every action's target: ``(proposed at, target kind, target, case id)``."""
        for rec in memory.cases():
            at = rec.last_activity()
            self._add("case", rec.case_id, rec.case_id, at)
            if rec.alert is not None:
                self.titles[rec.case_id] = rec.alert.title
                for key in rec.alert.keys:
                    t, _, value = key.partition(":")
                    kind: Kind = "host" if t == "host" else "user" if t == "user" else "indicator"
                    self._add(kind, value, rec.case_id, at)
                for host in rec.alert.hosts:
                    self._add("host", host, rec.case_id, at)
            for a in rec.actions.values():
                self._add("action", a.action_id, rec.case_id, at)
                if a.target:
                    target_kind = _TARGET_KIND.get(a.kind, "host")
                    self._add(target_kind, a.target, rec.case_id, at)
                    when = a.proposed.at if a.proposed is not None else at
                    self.acted.append((when, target_kind, a.target, rec.case_id))

    def _add(self, kind: Kind, value: str, case_id: str, at: float) -> None:
        low = value.lower()
        if kind == "indicator" and ("host", low) in self.entries:
            kind = "host"
        entry = self.entries.get((kind, low))
        if entry is None:
            entry = self.entries[(kind, low)] = _Entry(kind, value)
            self.by_text.setdefault(low, []).append(entry)
            if kind == "host" and (short := _short_name(low)) != low:
                self.by_text.setdefault(short, []).append(entry)  # "web01" finds web01.corp.example
        elif entry.value == low and value != low:
            entry.value = value  # keys are lowercased; show the name as the alert spells it
        entry.cases[case_id] = max(at, entry.cases.get(case_id, 0.0))

    def subject(self, entry: _Entry) -> Subject:
        """An entry as a subject (its cases newest first)."""
        ids = tuple(sorted(entry.cases, key=lambda c: -entry.cases[c]))
        title = self.titles.get(entry.value, "") if entry.kind == "case" else ""
        return Subject(entry.kind, entry.value, ids, title)

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
        """Every subject the sentence names: exact (any case), else near misses, else case titles."""
        tokens = [t.strip(_TRIM) for t in _TOKEN.findall(refang(text))]
        tokens = [t[:-2] if t.lower().endswith("'s") else t for t in tokens if t]
        # "linux-server.lab.local" for Linux-Server, "10.0.2.8:443" for 10.0.2.8, "LAB\snell" for snell
        tokens += [v for t in tokens for v in _variants(t)]
        # "linux server" for Linux-Server: two words joined are tried as one name too.
        words = list(tokens)
        tokens += [
            f"{a}-{b}"
            for a, b in zip(words, words[1:], strict=False)
            if len(a) > 2 and a.lower() not in STOPWORDS
        ]
        found: dict[tuple[Kind, str], _Entry] = {}
        for token in tokens:
            for entry in self.by_text.get(token.lower(), ()):
                found[(entry.kind, entry.value.lower())] = entry
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
                    if _numbers(word) != _numbers(str(match)):
                        continue  # 10.0.2.7 is not 10.0.2.8, nor linux-server-02 Linux-Server
                    for entry in self.by_text[str(match)]:
                        found[(entry.kind, entry.value.lower())] = entry
        subjects = [self.subject(e) for e in found.values()]
        if not subjects:
            subjects = self._titled(words)
        return _collapse(subjects)

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


_NAMELIKE = re.compile(r"[A-Za-z0-9][\w.:\-]{2,}")
_NOT_A_NAME = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2})?|\d{4}-\d{2}-\d{2}(?:[t ]\d{1,2}:\d{2}\S*)?|\d+(?:\.\d+)?|"
    r"\d+(?:st|nd|rd|th|am|pm|h|m|s|min|mins|hours?|days?)",
    re.IGNORECASE,
)
"""Tokens with digits that name nothing: times, dates, counts ("at 10:02", "2026-03-16", "3rd")."""
_UNKNOWN_AFTER = re.compile(
    r"\b(?:contain\w*|isolat\w*|quarantin\w*|block\w*|disabl\w*|host|machine|server|box|endpoint|"
    r"ip|user|account|(?P<about>about))\s+([A-Za-z0-9][\w.:\-]{2,})",
    re.IGNORECASE,
)
"""Words a name follows ("contain fileserver", "host mailsrv", "tell me about X")."""
_PRONOUNISH = re.compile(r"(?:it|that|this|these|those|them|him|her|something|anything)", re.IGNORECASE)


def unknown_name(text: str, *, strict: bool = False) -> str | None:
    """The name a sentence asks about that the record does not hold: a word with a digit or a
    separator ("DC-01", "wazuh-server"), or the word after an action verb or "host" ("contain
    fileserver"); None when the sentence names nothing (a time or a date is not a name).

    Args:
        text: the sentence.
        strict: only what surely names a thing (an IPv4 address, the word after an action verb or
            "host"): in a case's thread, where "user-agent" or "T1190" are talk about the case.
    """
    plain = refang(text)
    for t in _NAMELIKE.findall(plain):
        t = t.rstrip(".:-")
        if _NOT_A_NAME.fullmatch(t):
            continue
        if _IPV4.match(t) or (not strict and (any(c.isdigit() for c in t) or re.search(r"\w[.\-_]\w", t))):
            return str(t)
    for m in _UNKNOWN_AFTER.finditer(plain):
        word = m.group(2)
        if strict and m.group("about"):
            continue
        if word.lower() not in STOPWORDS and not _PRONOUNISH.fullmatch(word):
            return str(word)
    return None


_REFANG = (
    (re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]", re.IGNORECASE), "."),
    (re.compile(r"\[:\]"), ":"),
    (re.compile(r"\[@\]|\[at\]", re.IGNORECASE), "@"),
    (re.compile(r"\bhxxp", re.IGNORECASE), "http"),
)


def refang(text: str) -> str:
    """Indicators as written, not as defanged: analysts paste ``10.0.2[.]8`` and ``hxxp://`` (the
    bot's own answers defang them) and mean the address."""
    for pattern, plain in _REFANG:
        text = pattern.sub(plain, text)
    return text


def _variants(token: str) -> list[str]:
    """Other spellings of one token that may name what the record holds: an address without its
    port or mask, a URL's host, an account without its domain (``LAB\\snell``, ``snell@lab.local``),
    a host's first DNS label."""
    out: list[str] = []
    if m := re.fullmatch(r"(\d{1,3}(?:\.\d{1,3}){3})/\d{1,2}|([A-Za-z0-9][\w.\-]*):\d{1,5}", token):
        out.append(m.group(1) or m.group(2))
    if "://" in token:
        host = urlsplit(token).hostname
        if host:
            out.append(host)
    if "\\" in token:
        out.append(token.rsplit("\\", 1)[-1])
    if "@" in token and not token.startswith("@"):
        out.append(token.split("@", 1)[0])
    short = _short_name(token)
    if short != token:
        out.append(short)
    return [o for o in out if o]


def _short_name(name: str) -> str:
    """A host's first DNS label ("linux-server" of "linux-server.lab.local"); an IP, a URL, a case
    id or a name without dots stays as it is."""
    if "." not in name or ":" in name or "/" in name or _IPV4.fullmatch(name):
        return name
    first = name.split(".", 1)[0]
    return first if len(first) >= 3 else name


def _numbers(name: str) -> tuple[int, ...]:
    """The numbers in a name, by value ("ws-042" and "WS-42" hold the same)."""
    return tuple(int(n) for n in re.findall(r"\d+", name))


def _collapse(subjects: list[Subject]) -> list[Subject]:
    """One subject per thing: a case named beside its own host narrows the host to that case."""
    cases = {s.value for s in subjects if s.kind == "case"}
    things = [s for s in subjects if s.kind != "case"]
    if cases and things:
        narrowed = [
            Subject(s.kind, s.value, tuple(c for c in s.case_ids if c in cases), s.title)
            for s in things
            if any(c in cases for c in s.case_ids)
        ]
        if narrowed:
            return narrowed
    return subjects


def understand(text: str, catalog: Catalog, thread_case: str | None, context: str = "") -> Request:
    """The request one message makes (mentions already removed).

    Args:
        text: the message without the bot's mention (and without what it quotes).
        catalog: what the record holds.
        thread_case: the case of the thread the message is in, if any.
        context: text the message quotes (a reply to a line of the bot's): it names the subject only
            when the message's own words do not.
    """
    command, args = intent(text)
    if command in GRAMMAR or command in ("help", "oncall"):
        return Request(command, args, text=text)
    if command == "status" and _BARE_STATUS.search(text):
        return Request(command, args, text=text)
    subjects = catalog.find(text)
    here = catalog.case(thread_case) if thread_case else None
    if command == "status":
        # "status of the Shellshock case", "what's the status?" in a case's thread: that case's status.
        if not subjects and here is None:
            return Request(command, (), text=text)
        command = "case"
    if command == "case" and not subjects and here is None and _OPEN.search(text):
        command = "pending"  # "what's still open?" at top level: everything open, not one case
    if command == "pending":
        if _MINE.search(text) or (not subjects and here is None):
            return Request(command, ("mine",) if _MINE.search(text) else (), text=text)
        command = "case"  # "what's pending here?", "anything pending on the Shellshock case?"
    if here is not None and subjects:
        mine = [s for s in subjects if thread_case in s.case_ids]
        if mine:
            subjects = [
                s if s.kind == "case" else Subject(s.kind, s.value, (here.value,), s.title) for s in mine
            ]
    pointed = pointed_kinds(text)
    if not subjects and here is not None and pointed:
        subjects = catalog.in_case(here.value, pointed)
    if not subjects and here is None and command == "explain" and pointed and (acted := acted_kinds(text)):
        # "why did it contain that host?", "who approved the isolation?" at top level: the latest
        # actions on that kind of target, to pick from.
        subjects = catalog.recently_acted(pointed & acted or pointed)
    if not subjects and context.strip():
        quoted = catalog.find(context)
        subjects = [s for s in quoted if here is None or here.value in s.case_ids] or quoted
    if not subjects and here is not None and unknown_name(text, strict=True):
        # "why did it contain DC-01?" in a case's thread: that name is not this case; say so.
        return Request(command if command != "unknown" else "explain", args, text=text)
    if not subjects and here is not None and (command != "unknown" or _PRONOUN.search(text) or not text):
        subjects = [here]
    if command == "unknown":
        if not subjects or _NEGATION.search(text):
            return Request("unknown", args, text=text)
        command = "explain"
    if len(subjects) > 1:
        return Request(command, args, candidates=tuple(subjects[:MAX_CANDIDATES]), text=text)
    return Request(command, args, subjects[0] if subjects else None, text=text)
