"""What a person means: the command and its subject, from a sentence, not from a command grammar.

People talk to the bot as to a colleague: "why did it contain that host?" inside a case's thread,
"explain the Shellshock case", "@AISOC Bot what happened to 10.0.2.8?". Three steps turn that into a
:class:`Request`:

1. :func:`bot.mentions.strip_mentions` removes the bot's mention wherever it stands, using the
   message's structured mention data (the ``html`` ``<spark-mention>`` markup), never a prefix string.
2. :func:`intent` finds the command. Commands that change something (``close``, ``done``, ``pause`` ...)
   keep their exact grammar: the verb comes first, so "don't close it" closes nothing. Questions are
   recognised anywhere in the sentence, typos included.
3. :class:`bot.catalog.Catalog` finds the subject against what the record holds (case ids, hosts, IPs,
   users, hashes, action ids, case titles), case-insensitively and with near-miss matching (rapidfuzz)
   that never crosses a number (:mod:`bot.names`); indicators are refanged and tried without port, mask
   or domain, hosts by their FQDN's first label. In a case's thread, "it", "here" or no subject at all
   mean that case, "that host", "the IP", "the isolation" its own targets; a name the record lacks is
   said so. What a message quotes (``> ...``, ``<blockquote>``) names the subject only when its own
   words do not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from rapidfuzz import fuzz, process

from bot import overview
from bot.catalog import MAX_CANDIDATES, Catalog, Kind, Subject
from bot.names import STOPWORDS, TRIM, unknown_name

GRAMMAR = frozenset(
    {"close", "reopen", "assign", "ack", "done", "pause", "resume", "approve", "reject", "deny", "takeover"}
)
"""Commands that change something: only their exact grammar (verb first) runs them."""
READ_ONLY = frozenset({"explain", "case", "more", "status", "oncall", "help", "pending", "cases"})
"""Commands that only read the record (the only ones a model may route to)."""

_QUESTION = re.compile(
    r"\b(why|explain\w*|what\s+happened|por\s*qu[eé]|pourquoi|warum|wieso|weshalb|perch[eé]|waarom|what\s+(?:did|was|were|has|have)\b|tell\s+me\s+about|how\s+come|"
    r"walk\s+me\s+through|what'?s\s+(?:going\s+on|up)|what\s+is\s+going\s+on|reason|summar\w*|story|"
    r"details?\s+(?:on|of|about)|info\s+(?:on|about)|^(?:more\s+|some\s+)?(?:context|background|details|info|timeline)\b|"
    # "y did it ...", "who approved the isolation?", "was it approved?": questions about a decision
    r"y\s+(?:did|was|were|is|are|has|had|do|does|would)\b|who\s+(?:\w+ed|ok'?d)\b|"
    # "what made you quarantine it", "y isolate": why, asked otherwise
    r"what\s+made\s+(?:you|u|it|us|them|him|her|the\s+\w+)\b|y\s+(?:contain|isolat|quarantin|block)\w*|"
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
_ONCALL = re.compile(
    r"\bon[- ]?cal{1,2}\b|\bwho(?:'s|\s+is)\s+(?:holding|covering)\b|\bon[- ]duty\b|\bpager\b|"
    r"\bwho\s+(?:do|should|can|shall)\s+(?:i|we)\s+(?:page|call|ping|escalate\s+to)\b|"
    # a who-question about people on a shift is an on-call one, never the shift's summary
    r"^\W*who(?:'?s|\s+is|\s+are|'?re)?\b(?=.*\b(?:shifts?|rota|roster|working|on\s+(?:today|tonight|now)))",
    re.IGNORECASE,
)
_BARE_STATUS = re.compile(
    r"^\W*(?:(?:soc|system|bot|roles?|agents?|pipeline)\s+)?(?:status|health)(?:\s*check)?\W*$|"
    r"\b(?:soc|system|bot|roles?|agents?|pipeline)\s+(?:status|health)\b|"
    r"\b(?:are|is)\s+(?:you|the\s+(?:roles|agents|soc|system|bot|pipeline)|all|every\s*(?:thing|one)|it\s+all)\b",
    re.IGNORECASE,
)
"""A status question about the SOC itself, never a case's ("status", "soc health", "are the roles up?")."""
_PENDING = re.compile(
    r"\b(?:pending|waiting|awaiting|outstanding|to\s+(?:approve|review|decide)|my\s+(?:queue|approvals?|plate)|"
    r"open\s+(?:approvals?|items?|requests?|reviews?)|sign[- ]?offs?|"
    r"needs?\s+(?:an?\s+)?(?:approv\w*|decision|review|sign\w*)|approvals)\b|^approval\W*$",
    re.IGNORECASE,
)
"""What waits on a person: approvals, reviews, approved actions not reported done."""
_OPEN = re.compile(r"\bwhat(?:'?s|\s+is)\s+(?:still\s+)?open\b", re.IGNORECASE)
_MINE = re.compile(r"\b(?:me|my|mine|i)\b", re.IGNORECASE)
_HELP = re.compile(
    r"^(?:(?:hi|hello|hey|yo)\b\W*)?(?:(?:can|could)\s+(?:you|u)\s+)?help\b|^what\s+can\s+(?:you|u)\s+do\b|"
    r"^commands\b|^[?？❓❔]+$",
    re.IGNORECASE,
)
_MORE = re.compile(r"^(?:more|show\s+more|full\s+record|the\s+rest)\b", re.IGNORECASE)
_ONCALL_WORDS = frozenset(
    """on call cal oncall oncal on-call on-cal who's whos now is who the today right currently atm moment
    tonight this week weekend shift duty holding covering working night day late early morning evening
    shifts rota roster are""".split()
)
"""Words of an on-call question that never name a duty ("who is on call right now?")."""
_NEGATION = re.compile(r"\b(?:don'?t|do\s+not|never|stop|no\s+need)\b", re.IGNORECASE)
_WH = re.compile(r"^(?:what|who|whom|whose|when|where|which|how|why)(?:'?s|'?re|'?d)?\b", re.IGNORECASE)
"""A question word opening the sentence: in a case's thread, a question about that case."""
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


SMALL_TALK = frozenset({"thanks", "noted", "hello"})
"""What a message that only thanks, acknowledges or greets asks for: one short line, never the command
list (a space where every "thanks!" brings the help text is spammed)."""
_THANKS = frozenset(
    """thanks thank thankyou thanku thx thnx thnks thks thanx tnx tks ty tyvm tyty kthx kthxbye cheers
    ta merci danke gracias grazie obrigado appreciated appreciate kudos""".split()
)
_NOTED = frozenset(
    """ok okay k kk okey great cool nice perfect awesome noted roger got gotcha understood super sweet
    excellent brilliant fantastic lovely good fine alright right wonderful nvm nevermind np lol lmao rofl
    oops sorry ignore disregard""".split()
)
_GREETINGS = frozenset(
    """hi hello hey hiya heya yo howdy hallo hola bonjour salut ciao morning afternoon evening ping test
    testing""".split()
)
_FILLER = frozenset(
    """you u so much very a lot lots many again all it that this helps helped helpful bot team folks
    everyone guys there mate man job work well and for the info good much ok okay de nada mucho
    vielen dank beaucoup muchas mille never mind wrong chat room space thread me""".split()
)
"""Words said around a thanks or a greeting ("thanks a lot", "hello bot", "good morning team")."""
_ACK_EMOJI = frozenset("👍👌🙏✅✔☑🙂😊😀😃😄😁🎉💯❤🤝👏🆗🙌")
"""Emoji that acknowledge (skin tones and variation selectors are ignored)."""
_LAUGH = re.compile(r"(?:ha){2,}h?|(?:he){2,}|lo+l|lmf?ao+", re.IGNORECASE)
"""Laughter ("hahaha", "lool"): acknowledged like "ok"."""
_THERE = re.compile(
    r"^(?:are\s+)?(?:you|u|any\s*one|some\s*one|some\s*body)\s+(?:still\s+)?(?:there|here|around|awake)\W*$",
    re.IGNORECASE,
)
"""Is anybody there? Greeted back."""
_LETTERS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def small_talk(text: str) -> str | None:
    """``thanks``, ``noted`` or ``hello`` when the message only thanks ("great, thx", "🙏"),
    acknowledges ("ok", "👍") or greets ("hello bot"); None when it says anything else."""
    low = re.sub(r"\bnever\s+mind\b", "nevermind", text.lower())
    if _THERE.match(low.strip()):
        return "hello"
    words = {w for w in _LETTERS.findall(low) if not _LAUGH.fullmatch(w)}
    laughed = len(words) < len(set(_LETTERS.findall(low)))
    # punctuation of any language ("merci !", "¡gracias!") is not a word; skin tones (U+1F3FB-F),
    # variation selectors and joiners ride on an emoji
    symbols = [
        c
        for c in _LETTERS.sub(" ", low)
        if unicodedata.category(c)[0] not in "PZC"
        and not ("\U0001f3fb" <= c <= "\U0001f3ff" or c in "\ufe0f\u200d")
    ]
    if any(c not in _ACK_EMOJI for c in symbols) or not (words or symbols or laughed):
        return None
    thanked = words & _THANKS
    if not words - ({"help"} if thanked else set()) <= _THANKS | _NOTED | _GREETINGS | _FILLER:
        return None  # "thanks for the help" is thanks; "hi, help" asks for help
    if thanked:
        return "thanks"
    if words & _GREETINGS:
        return "hello"
    if words & _NOTED or symbols or laughed:
        return "noted"
    return None


_VERBS = ("explain", "happened", "status", "oncall", "pending")
"""Words recognised with a typo ("expalin", "hapened")."""


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
    question: Request | None = None
    """A read-only question asked in the same message after an ``ack`` ("ack, why did it contain
    that host?"): answered after the ack's own line."""


def _typo(word: str) -> str | None:
    found = process.extractOne(word.lower(), _VERBS, scorer=fuzz.ratio, score_cutoff=80.0)
    return str(found[0]) if found else None


_POLITE = re.compile(
    r"^(?:(?:ok(?:ay)?|so|hey|hi|yes|yeah|yep)\W+)?"
    r"(?:(?:(?:can|could|would|will)\s+(?:you|u|ya)|please|pls|plz|kindly|just|go\s+ahead\s+and)\W+)+",
    re.IGNORECASE,
)
"""What people put before a command verb ("can you close it", "please ack", "ok pls close this")."""
_ACK = re.compile(r"^(?:ack(?:'?d|ed|s|ing|n)?|akc|acknowled?ge?(?:d|s)?|acknowledging|aknowledged?)$", re.I)
"""``ack`` as people type it: "ack", "ack'd", "acked", "acknowledged", "aknowledge"."""
_OWN = re.compile(r"^(?:i'?ll|i\s+will|let\s+me|i'?m\s+(?:going\s+to|gonna)|gonna)\s+(?=\S)", re.IGNORECASE)
"""A person saying they take something themselves ("I'll ack this")."""
ASKED = frozenset({"close", "reopen", "assign", "done", "pause", "resume"})
"""Commands that change something and are never run from a sentence ending in "?" that begins with
the verb ("reopen?", "close it as fp?": the person asks; a request, "can you close it as fp?", is
run)."""
_BARE_ASK = re.compile(r"\S+(?:\s+(?:it|this|that|one|pls|please|now))*\s*\?+\W*", re.IGNORECASE)
"""An ``ack`` asked about and nothing more ("ack?", "ack this one?": should I?), never run; an ack with a
question after it ("ack, why did it contain that host?") is one."""
ACK_TYPO_CUTOFF = 85.0
"""Smallest rapidfuzz ratio for a misspelt "acknowledged" ("acknowleged", "ackowledged")."""


_TALKED = re.compile(
    r"\b(?P<verb>clos(?:e|ing)|reopen(?:ing)?|ack(?:ing)?|acknowledg(?:e|ing)|paus(?:e|ing)|resum(?:e|ing)|"
    r"approv(?:e|ing)|reject(?:ing)?|deny(?:ing)?|assign(?:ing)?|take\s*over)\b",
    re.IGNORECASE,
)
"""A state-changing command's verb said anywhere in a sentence (its base form or its -ing form)."""
_TALK_VERB = {"clos": "close", "paus": "pause", "resum": "resume", "approv": "approve", "acknowledg": "ack"}
_HEDGE = re.compile(
    r"\b(?:not|never|no|don'?t|dont|doesn'?t|isn'?t|wouldn'?t|shouldn'?t|couldn'?t|can'?t|won'?t|"
    r"would|should|could|might|may|maybe|perhaps|if|unless|whether|yet|i'?d|we'?d|"
    r"said|says|say|told|tells|suggest\w*|wants?|wanted|thinks?|thinking|mentioned|asked|proposed)\b",
    re.IGNORECASE,
)
"""What makes a sentence talk about a command instead of giving it: a negation, a modal or a condition,
a report of someone's words ("don't close it", "we might close it", "if it were benign I'd close it",
"someone said close as fp")."""
_PREDICATE = re.compile(
    r"^(?:would|wouldn'?t|could|couldn'?t|should|shouldn'?t|might|may|must|will|won'?t|is|isn'?t|was|"
    r"wasn'?t|seems|sounds|feels|looks)$",
    re.IGNORECASE,
)
"""A finite verb whose subject is the command said before it ("closing this as fp would be wrong")."""
_SUBJECTS = frozenset("it this that he she they we i you which who there".split())
"""Who a verb after the command's object may have as its subject ("close as fp it is noise")."""
_CLAUSE = frozenset("since because cause cuz coz bc so and but when while after given".split())
"""Words that open the reason's own clause ("close as fp since it is the scanner")."""
_CONDITION = frozenset("if unless provided assuming".split())
"""Words that make what follows the command its condition ("close as benign if nobody objects")."""
_APART = re.compile(r"[,;:!.\u2013\u2014-]$|^[\u2013\u2014-]+$")
"""Punctuation that sets a reason apart from the command ("close as fp - scanner noise")."""


def talked_about(text: str) -> str | None:
    """The state-changing command a sentence talks ABOUT without giving it, or None: the command is
    the subject of a verb ("closing this as fp would be wrong"), or the sentence negates it, hedges
    it, makes it a condition or reports it ("don't close it", "we might close it", "if it were benign
    I'd close it", "someone said close as fp"). A command given with its reason set apart ("close as
    fp - scanner noise") and a question ("why would it close it?") are None."""
    asked = _POLITE.match(text) or _OWN.match(text)  # "could you close it": asking, not hedging
    said = text[asked.end() :] if asked else text
    found = _TALKED.search(said)
    if found is None:
        return None
    stem = re.sub(r"(?:e|ing)$", "", re.sub(r"\s+", "", found.group("verb").lower()))
    verb = {"deny": "reject", "takeover": "takeover"}.get(stem, _TALK_VERB.get(stem, stem))
    if found.start() > 0:
        questioned = _WH.match(said) or _QUESTION.search(said)
        return verb if _HEDGE.search(said) and not questioned else None
    words = said[found.end() :].split()
    if any(word.lower().strip(TRIM) in _CONDITION for word in words):
        return verb  # "close as benign if nobody objects": a condition, not yet a command
    for i, (before, word) in enumerate(zip(["", *words], words, strict=False)):
        if _APART.search(before) or word.lower().strip(TRIM) in _CLAUSE:
            break  # the reason is set apart: what follows is the reason, not the sentence's verb
        subject = i > 1 and before.lower().strip(TRIM) in _SUBJECTS  # "... fp it is noise"
        likened = words[i + 1 : i + 2] == ["like"]  # "close as fp looks like the scanner": the reason
        if _PREDICATE.match(word.strip(TRIM)) and not subject and not likened:
            return verb  # the command is the subject of a verb: talked about
    return None


def _verb(word: str) -> str:
    """A command verb as typed, read as the grammar's (``acknowledged`` → ``ack``, ``closing`` →
    ``close``: a close without its label only asks for one)."""
    verb = word.lower().strip(TRIM)
    if verb in GRAMMAR:
        return verb
    if verb == "closing":
        return "close"
    if _ACK.match(verb) or (
        len(verb) >= 8
        and process.extractOne(
            verb, ("acknowledge", "acknowledged"), scorer=fuzz.ratio, score_cutoff=ACK_TYPO_CUTOFF
        )
    ):
        return "ack"
    return verb


def intent(text: str) -> tuple[str, tuple[str, ...]]:
    """The command a sentence asks for, and its words after the verb (for grammar commands).

    Returns:
        ``(command, args)``; ``command`` is ``unknown`` when nothing is asked.
    """
    words = text.split()
    if not words:
        return "help", ()
    verb = _verb(words[0])
    if (talked := talked_about(text)) is not None:
        # "closing this as fp would be wrong", "don't close it": a command talked about changes nothing
        return "talked", (talked,)
    if (verb in ASKED and text.rstrip().endswith("?")) or (
        verb in ("ack", "takeover") and _BARE_ASK.fullmatch(text)
    ):
        # "reopen the discussion tomorrow?", "close it as fp?": a command asked about, not given
        return "unknown", tuple(words)
    if verb in GRAMMAR:
        return verb, tuple(words[1:])
    if (own := _OWN.match(text)) is not None and (verb := _verb(text[own.end() :].split()[0])) in (
        "ack",
        "takeover",
    ):
        # "I'll ack this", "let me ack it": taking a review is the speaker's own act
        return verb, tuple(text[own.end() :].split()[1:])
    if (polite := _POLITE.match(text)) is not None:
        # "can you close it", "please ack": the verb still comes first once the asking is taken off,
        # so "can you not close it" or "please don't close it" closes nothing
        rest = text[polite.end() :].split()
        if rest and (verb := _verb(rest[0])) in GRAMMAR:
            return verb, tuple(rest[1:])
    if said := small_talk(text):
        return said, ()
    if _HELP.search(text):
        return "help", ()
    if _MORE.search(text):
        return "more", tuple(words[1:])
    if _STATUS.search(text):
        return "status", ()
    if _ONCALL.search(text):
        filler = STOPWORDS | _ONCALL_WORDS | _THANKS | _GREETINGS | _FILLER  # "good morning, who's on call?"
        named = [w.strip(TRIM) for w in words if w.lower().strip(TRIM) not in filler]
        return "oncall", tuple(w for w in named if w)
    if _CASE.search(text):
        return "case", tuple(words[1:])
    if _QUESTION.search(text):
        return "explain", tuple(words)
    if _PENDING.search(text):
        return "pending", ()
    if _DECISION.search(text):
        return "explain", tuple(words)
    typos = {t for w in words[:3] if len(w) >= 5 and (t := _typo(w.strip(TRIM)))}
    if "explain" in typos or "happened" in typos:
        return "explain", tuple(words)
    if "status" in typos:
        return "status", ()
    if "oncall" in typos:
        return "oncall", ()
    if "pending" in typos:
        return "pending", ()
    return "unknown", tuple(words)


def _own_addresses(subjects: list[Subject]) -> list[Subject]:
    """Without an address found as an indicator when only its own host's alerts name it (a logon to
    Win11Client names Win11Client's address): the address is that host."""
    hosts = {s.via.lower(): set(s.case_ids) for s in subjects if s.via_kind == "address"}
    return [
        s
        for s in subjects
        if not (s.kind == "indicator" and set(s.case_ids) <= hosts.get(s.value.lower(), set()))
    ]


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
    if command in GRAMMAR or command in SMALL_TALK or command in ("help", "oncall", "talked"):
        return Request(command, args, text=text)
    if command == "status" and _BARE_STATUS.search(text):
        return Request(command, args, text=text)
    subjects = catalog.find(text)
    here = catalog.case(thread_case) if thread_case else None
    if not subjects and not _NEGATION.search(text) and (glance := overview.ask(text)) is not None:
        # "any open incidents?", "what happened overnight?": the SOC at a glance, no one case. In a
        # case's thread only when the words name cases, incidents, alerts or a shift.
        if here is None or glance.explicit:
            return Request("cases", text=text)
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
            subjects = [s if s.kind == "case" else replace(s, case_ids=(here.value,)) for s in mine]
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
    if (
        not subjects
        and here is not None
        and (command != "unknown" or _PRONOUN.search(text) or _WH.match(text) or not text)
    ):
        subjects = [here]
    if command == "unknown":
        if not subjects or _NEGATION.search(text):
            return Request("unknown", args, text=text)
        command = "explain"
    acted = acted_kinds(text)
    if len(subjects) > 1 and acted:
        # "why was 10.0.2.9 isolated?": the host at that address, not the case naming the address;
        # "was 10.0.2.9 blocked?": the address as an indicator
        subjects = [s for s in subjects if s.kind in acted] or subjects
    subjects = _own_addresses(subjects)
    if len(subjects) > 1:
        return Request(command, args, candidates=tuple(subjects[:MAX_CANDIDATES]), text=text)
    subject = subjects[0] if subjects else None
    if subject is not None and subject.kind in acted:
        subject = catalog.acted_first(subject)  # the case where it was isolated, then the rest
    return Request(command, args, subject, text=text)
