"""Answers as Webex markdown: untrusted text made inert, and every answer within one message.

Untrusted text (alerts, model output, people's reasons) is cleaned the way cards clean it: secrets
redacted, links and mentions made inert, backticks kept from ending a code span. An answer over
Webex's message size loses whole lines from its end, and a code block cut open is closed again.
"""

from __future__ import annotations

from aisoc.memory import Statement
from aisoc.memory.statements import WITH_REASON
from cards import MAX_TEXT_BYTES
from cards.text import clean, utf8_clip


def code(value: object, limit: int) -> str:
    """Untrusted text for an inline code span: cleaned, its backticks made quotes (they would end the
    span and let the rest render as markdown)."""
    return clean(value, limit, oneline=True).replace("`", "'")


def code_block(text: str, limit: int = 5500) -> str:
    """Untrusted multi-line text as an inert markdown code block (redacted, no mentions or fences)."""
    safe = clean(text, limit).replace("```", "'''")
    return f"```\n{safe}\n```"


def fit(markdown: str, limit: int = MAX_TEXT_BYTES) -> str:
    """Cut an answer to Webex's 7,439-byte message limit, keeping its markdown well-formed: a code
    block cut open is closed again (whatever the text's characters)."""
    if len(markdown.encode("utf-8")) <= limit:
        return markdown
    close = "\n```"
    cut = utf8_clip(markdown, limit - len(close.encode("utf-8")))
    return cut + close if cut.count("```") % 2 else cut


MORE_HINT = "Reply `more` in this thread for the full record."
"""How an answer offers the rest (a follow-up in Webex, never a CLI)."""


def fit_answer(body: str, tail: str, limit: int = MAX_TEXT_BYTES) -> str:
    """``body`` then ``tail``, whole lines dropped from the end of the body until both fit one message."""
    lines = body.split("\n")
    size = len(tail.encode("utf-8")) + 1
    kept: list[str] = []
    for line in lines:
        n = len(line.encode("utf-8")) + 1
        if size + n > limit:
            if not kept:
                kept.append(fit(line, limit - size))
            kept.append("…")
            break
        kept.append(line)
        size += n
    return "\n".join(kept) + "\n\n" + tail


def md_line(s: Statement) -> str:
    """One statement as a line of an answer: who, what, and its reason (cleaned, one line)."""
    why = f" — {clean(s.detail, 160, oneline=True)}" if s.detail and s.kind in WITH_REASON else ""
    return f"{clean(s.actor, 120, oneline=True)}: {clean(s.brief, 300, oneline=True)}{why}"
