"""The bot's mention and what a message quotes: what is left is the person's own words.

Webex marks a mention in the message's ``html`` (``<spark-mention data-object-id=...>``); people
shorten the name, and some clients put the bare uuid where the REST id should be. A reply quotes the
message it answers (``> ...`` in the text, ``<blockquote>`` in the html): the quote is context, never
the question.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from html.parser import HTMLParser


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
    """The display text of every ``<spark-mention>`` of one person id (None: of everyone)."""

    def __init__(self, person_id: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.person_id = person_uuid(person_id) if person_id is not None else None
        self.found: list[str] = []
        self._depth = 0
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "spark-mention":
            a = dict(attrs)
            if (
                self._depth
                or self.person_id is None
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


def strip_mentions(
    text: str, html: str | None, bot_id: str | None, names: Iterable[str] = (), *, everyone: bool = False
) -> str:
    """``text`` without the bot's mention, wherever it stands.

    Args:
        text: the message's plain text (Webex puts the mention's display text in it).
        html: the message's ``html``, whose ``<spark-mention data-object-id=...>`` marks the mention.
        bot_id: the bot's person id.
        names: the bot's names, used only when a message carries no markup (a 1:1 space, the preview).
        everyone: remove every person's mention, not only the bot's ("@Alice @AISOC thanks!" is a
            thanks to the bot too).

    Returns:
        The text with each mention of the bot removed and the punctuation around it tidied.
    """
    shown: list[str] = []
    if html and bot_id:
        parser = _Mentions(None if everyone else bot_id)
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


_QUOTED = re.compile(r"^\s*>")


def split_quote(text: str, quotes: frozenset[str] = frozenset()) -> tuple[str, str]:
    """A message's own words and the lines it quotes (``> ...`` in its text, or ``quotes``: the lines
    of its html's ``<blockquote>``), each folded to one line: the quote is context, never the question."""
    own: list[str] = []
    quoted: list[str] = []
    for line in text.splitlines():
        if _QUOTED.match(line):
            quoted.append(line.lstrip(" >"))
        elif quotes and " ".join(line.split()) in quotes:
            quoted.append(line)
        else:
            own.append(line)
    return " ".join(" ".join(own).split()), " ".join(" ".join(quoted).split())


_DASHES = re.compile(r"(?<=\w)[\u2010\u2011\u2012\u2013\u2212](?=\w)")
"""A hyphen as a phone, a word processor or autocorrect types it inside a name (``WS\u20110142``)."""
_MARKS = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201b\u2032\u00b4", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2212", "-"),
        **dict.fromkeys("\u2014\u2015", " - "),
        **dict.fromkeys("\u00a0\u2007\u202f", " "),
        "\u200b": "",
    }
)
"""Typographic quotes, dashes and spaces as the plain ones people mean (a dash between words stays
between words: ``FIN-LAP-7—why?``)."""
_EMPHASIS = re.compile(r"(?<![\w*`])(\*{1,2}|_{1,2}|~~|`)(?=\S)(.+?)(?<=\S)\1(?![\w*`])")
"""Markdown emphasis and code typed around words (``**WS-0142**``, ``*that* host``, a code span)."""


def plain(text: str) -> str:
    """A message's words as typed, without what the client or the keyboard made of them: smart quotes
    and apostrophes as ``'`` and ``"``, a dash inside a word as its hyphen and any other as ``-``,
    markdown emphasis and code marks dropped (the words inside kept)."""
    text = _DASHES.sub("-", text).translate(_MARKS)
    while (stripped := _EMPHASIS.sub(r"\2", text)) != text:
        text = stripped
    return text
