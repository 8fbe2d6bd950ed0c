"""How people spell the names the record holds, and the names it does not hold.

Analysts paste indicators defanged (``10.0.2[.]8``, ``hxxp://``), with a port or a mask, accounts with
their domain (``LAB\\snell``), hosts by their FQDN; a near miss never crosses a number (``10.0.2.7``
is not ``10.0.2.8``). A word with a digit or a separator that the record lacks is named back to the
person ("Nothing is recorded about DC-01"); a time or a date is not a name.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
TOKEN = re.compile(r"[\w.:\\$@/\-]+")
"""One word of a sentence as a name may be spelt (dots, colons, slashes, ``DOMAIN\\user``)."""
TRIM = "?!.,;:'\"()[]{}<>`*"
"""Punctuation around a word that is not part of a name."""
STOPWORDS = frozenset(
    """a an and any are as at be been by can case cases could did do does done for from had has have he her
    him his host how i if in incident into is it its just me my of on or our please sent she so than that
    the their them then there these they this those to up us was we were what when where which who why will
    with would you your about after again all also am bot box contain contained containment isolate isolated
    blocked block machine server endpoint explain happened tell hey hi hello ok okay thanks thank alert ip
    user tp fp benign more here not no yes one was story going stuff thing things there pls please anything
    yet what's whats now today attack still down online offline back running being getting got really
    actually even""".split()
)
"""Words never taken as a subject (too common to mean a host or a title)."""


_NAMELIKE = re.compile(r"[A-Za-z0-9](?:[\w.%\-]*/(?=[\w\-]+:))?[\w.:\-]{2,}")
"""A word that may name something; a case id keeps its tenant (``globex/wazuh:1001``)."""
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
        if IPV4.match(t) or (not strict and (any(c.isdigit() for c in t) or re.search(r"\w[.\-_]\w", t))):
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


def variants(token: str) -> list[str]:
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
    short = short_name(token)
    if short != token:
        out.append(short)
    return [o for o in out if o]


def short_name(name: str) -> str:
    """A host's first DNS label ("linux-server" of "linux-server.lab.local"); an IP, a URL, a case
    id or a name without dots stays as it is."""
    if "." not in name or ":" in name or "/" in name or IPV4.fullmatch(name):
        return name
    first = name.split(".", 1)[0]
    return first if len(first) >= 3 else name


def numbers(name: str) -> tuple[int, ...]:
    """The numbers in a name, by value ("ws-042" and "WS-42" hold the same)."""
    return tuple(int(n) for n in re.findall(r"\d+", name))
