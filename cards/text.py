"""Making untrusted text safe to show, and formatting numbers, times and lists for people.

Everything a card shows that came from an alert, a model or a person is *untrusted*: it goes through
``clean`` (invisible characters dropped, secrets redacted, markdown links and mentions neutralized, URLs
defanged, then clipped). Text the cards package writes itself and that must keep its markdown (a link
to the gate or to ATT&CK) is wrapped in ``Markup`` and passes through untouched, in the manner of
markupsafe: plain ``str`` is untrusted by default.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import TypeVar

from aisoc.redact import redact

T = TypeVar("T")

ELLIPSIS = "…"
"""Marks text cut to fit."""


class Markup(str):
    """Text the cards package built itself (may hold trusted markdown links); never cleaned again."""

    __slots__ = ()


# Control characters (except newline and tab), bidi overrides and zero-width characters: they hide
# text from the reader (and from the redaction patterns), so they go before anything else.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_MD_LINK = re.compile(r"\]\s*\(")
_SCHEME = re.compile(r"\b(h)(?:tt|xx)(ps?)(://)", re.IGNORECASE)
_AUTOLINK = re.compile(r"<(?=[A-Za-z][A-Za-z0-9+.-]{1,31}:)")
_URL = re.compile(r"\b[hH](?:tt|xx)[pP][sS]?://(?:[^\s<>()\[\]\"']|\[\.\])+")
_WWW = re.compile(r"\b(www)\.", re.IGNORECASE)
_MENTION = re.compile(r"<\s*@")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with an ellipsis when it was cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def neutralize(text: str) -> str:
    """Make markdown in untrusted text inert: no links, no clickable URLs, no Webex mentions.

    ``[label](url)`` loses its link syntax, ``<scheme:...>`` is no autolink any more, a URL is defanged
    (``hxxps://evil[.]example/x``, the SOC convention for a URL nobody should click), ``www.`` becomes
    ``www[.]``, ``{{DATE(...)}}`` is no card function and ``<@...>`` can no longer mention anyone.
    """
    text = _MD_LINK.sub("] (", text)
    text = _URL.sub(lambda m: defang(m.group(0)), text)
    text = _AUTOLINK.sub("< ", text)
    text = _WWW.sub(r"\1[.]", text)
    text = text.replace("{{", "{ {")  # Adaptive Cards' {{DATE(...)}}/{{TIME(...)}} functions
    return _MENTION.sub("< @", text)


def clean(value: object, limit: int, *, oneline: bool = False) -> str:
    """Turn untrusted text into text a card may show.

    Order matters: invisible characters go first (they could split a secret and hide it from the
    patterns), secrets are redacted on the full text (a cut could split one too), markup is
    neutralized, and only then is the text clipped.

    Args:
        value: the untrusted value (``None`` gives ``""``; ``Markup`` is returned as it is).
        limit: the most characters to keep.
        oneline: fold newlines into spaces (names, titles, list entries).
    """
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    text = unicodedata.normalize("NFC", str(value))
    text = _INVISIBLE.sub("", text.replace("\t", " ").replace("\r\n", "\n").replace("\r", "\n"))
    text = neutralize(redact(text))
    if oneline:
        text = " ".join(text.split())
    else:
        text = _BLANK_LINES.sub("\n\n", text).strip()
    return clip(text, limit)


def defang(value: str) -> str:
    """Defang an indicator the SOC way: ``hxxps://evil[.]example``, ``1.2.3[.]4``, ``a[@]b[.]c``."""
    text = _SCHEME.sub(lambda m: f"{m.group(1)}xx{m.group(2)}{m.group(3)}", value)
    if "[.]" in text:
        return text
    head, sep, rest = text.partition("://")
    host_part = rest if sep else head
    host, slash, path = host_part.partition("/")
    if "." in host:
        i = host.rfind(".")
        host = f"{host[:i]}[.]{host[i + 1 :]}"
    if not sep:  # an e-mail address; in a URL the "@" ends the user-info and stays
        host = host.replace("@", "[@]")
    host_part = f"{host}{slash}{path}"
    return f"{head}{sep}{host_part}" if sep else host_part


DEFANGED_TYPES = frozenset({"url", "domain", "ip", "email"})
"""Indicator types shown defanged (never clickable)."""


def indicator(kind: str, value: str, limit: int) -> str:
    """Show an indicator value: secrets redacted first, then defanged (for network types), then cleaned."""
    value = redact(value)
    if kind in DEFANGED_TYPES:
        value = defang(value)
    return clean(value, limit, oneline=True)


def link_text(text: str) -> str:
    """Make cleaned text safe as the label of a markdown link (no brackets)."""
    return text.replace("[", "(").replace("]", ")")


def cap(items: Sequence[T], limit: int) -> tuple[list[T], int]:
    """Return the first ``limit`` items and how many were left out."""
    limit = max(0, limit)
    return list(items[:limit]), max(0, len(items) - limit)


def more(n: int) -> str:
    """``"and 3 more"``, the tail of a capped list."""
    return f"and {n} more"


def join_capped(values: Sequence[str], limit: int, sep: str = ", ") -> str:
    """Join at most ``limit`` values, ending with "and N more" when some were left out."""
    shown, rest = cap(values, limit)
    text = sep.join(shown)
    if rest:
        text = f"{text} {more(rest)}" if text else more(rest)
    return text


def pct(x: float) -> str:
    """``0.875`` -> ``"88%"``."""
    return f"{round(x * 100)}%"


def when(dt: datetime, tz: tzinfo) -> str:
    """A time as people in the SOC read it: ``2025-07-04 16:05 UTC``."""
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z").strip()


def span(start: datetime, end: datetime, tz: tzinfo) -> str:
    """A window: ``2025-07-04 06:00 – 14:00 UTC``, or both dates when it crosses midnight."""
    a, b = start.astimezone(tz), end.astimezone(tz)
    if a.date() == b.date():
        return f"{a:%Y-%m-%d %H:%M} – {clock(b, tz)}"
    return f"{a:%Y-%m-%d %H:%M} – {when(b, tz)}"


def clock(dt: datetime, tz: tzinfo) -> str:
    """The time of day only: ``16:05 UTC``."""
    return dt.astimezone(tz).strftime("%H:%M %Z").strip()


def duration(seconds: float) -> str:
    """``252`` -> ``"4m 12s"``; ``7500`` -> ``"2h 05m"``; ``200000`` -> ``"2d 07h"``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def label(slug: str) -> str:
    """``"isolate_host"`` -> ``"Isolate host"``."""
    words = slug.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def utf8_clip(text: str, max_bytes: int) -> str:
    """Cut ``text`` so its UTF-8 encoding fits ``max_bytes``, never splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    marker = f"\n{ELLIPSIS} (cut to fit)"
    if len(marker.encode("utf-8")) * 2 > max_bytes:
        marker = ""
    room = max(0, max_bytes - len(marker.encode("utf-8")))
    return data[:room].decode("utf-8", errors="ignore").rstrip() + marker
