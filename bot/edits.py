"""Edited messages: a question is answered again, a command that changed something is not run again.

Webex lets a person edit a message the bot already acted on, and an edit notifies nobody. A question
edited is asked again (answered once per edit, see :mod:`bot.inbound`); but a state-changing command
(``close``, ``reopen``, ``assign``, ``ack``, ``takeover``, ``done``, ``pause``, ``resume``) whose
message already changed something is never run again by an edit: the same command is answered that it
already ran, and a changed one (``close X fp`` edited into ``close X tp``) is answered with what it
would do and asked for as a new message, so every change the bot makes has a message of its own that the
space saw arrive. A ``close`` that ran, edited into a close of the same case without a label (``close X
fp`` into ``close X`` or "can you close it?"), would change nothing as a new message either: it is
answered with the label that message closed the case as, and how to change it. What ran is kept in the
bot's store by message id (:meth:`bot.store.BotStore.ran`). A message whose first command changed
nothing (refused, or a question) runs the command its edit asks for, once.
"""

from __future__ import annotations

from bot.lifecycle import LABELS
from bot.markup import code
from bot.understand import Request

CHANGES = frozenset({"close", "reopen", "assign", "ack", "takeover", "done", "pause", "resume"})
"""Commands that change something (an edit never runs one twice for one message)."""

_WOULD = {
    "close": "closes the case with that label (recorded as ground truth; a later label supersedes an "
    "earlier one)",
    "reopen": "asks Tier 2 On-Call to review the case again",
    "assign": "hands the case to that person",
    "ack": "takes the review",
    "takeover": "takes over the review",
    "done": "records the action as carried out by you",
    "pause": "stops that work (the kill switch)",
    "resume": "restarts that work",
}
"""What each command does, said to a person whose edit asked for it."""


def command_line(req: Request) -> str | None:
    """How a state-changing request reads as a command, its case resolved (``close wazuh:1001 fp
    scanner``); None for any other request."""
    if req.command not in CHANGES:
        return None
    return " ".join([req.command, *(a for a in req.args if a)])


def not_again(ran: str, line: str) -> str:
    """The answer to an edit whose message already ran ``ran`` and that now says ``line``: nothing
    runs; a changed command is to be sent as a new message."""
    if " ".join(ran.split()).casefold() == " ".join(line.split()).casefold():
        return f"`{code(ran, 300)}` already ran when you sent this message; an edit does not run it again."
    if (closed := _closed_again(ran, line)) is not None:
        return closed
    verb = line.split(" ", 1)[0]
    return (
        f"Nothing was changed: `{code(ran, 300)}` already ran when you sent this message, and an edit "
        f"does not run a command again. Send `{code(line, 300)}` as a new message if you mean it: it "
        f"{_WOULD.get(verb, 'runs')}."
    )


def _closed_again(ran: str, line: str) -> str | None:
    """The answer to a ``close`` that ran, edited into a close of the same case (or of no case)
    without a label, or None for any other edit: the label it closed the case as, and how to change
    it (a new message with another label; the later label supersedes)."""
    was, now = ran.split(), line.split()
    if len(was) < 3 or was[0] != "close" or now[0] != "close" or len(now) > 2:
        return None
    case = was[1]
    if len(now) == 2 and now[1].casefold() != case.casefold():
        return None
    label = LABELS.get(was[2].lower().strip(".,;:!"))
    shown = label.value.replace("_", " ") if label is not None else code(was[2], 40)
    return (
        f"`{code(case, 120)}` was already closed as {shown} by this message (`{code(ran, 300)}`), and an "
        f"edit does not close it again. To change the label, send `close {code(case, 120)} tp|fp|benign "
        "[reason]` as a new message: the later label is recorded as ground truth, superseding this one."
    )
