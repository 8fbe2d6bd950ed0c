"""The gate's exception tree (expected refusals are outcomes the pages explain, not bugs)."""

from __future__ import annotations

import re

from aisoc.errors import AisocError, Unprocessable


class GateError(AisocError):
    """Base class of every error the gate raises on purpose."""


class RosterError(GateError):
    """Raised when the on-call roster is inconsistent: an unknown person, duty or time zone."""


class ApprovalError(GateError):
    """Raised when an approval request cannot move as asked; ``code`` names the refusal for pages."""

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


class UnknownRequest(ApprovalError):
    """Raised when no approval request has the given id."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"no approval request {request_id!r}", "unknown")
        self.request_id = request_id


class UnreadableRequest(ApprovalError, Unprocessable):
    """Raised when the store holds a record under the given id that is not an approval request the gate
    can read (damaged, written by hand or by another program): nothing can be decided on it, and an
    event that needs it is dead-lettered at once (it is :class:`~aisoc.errors.Unprocessable`)."""

    def __init__(self, request_id: str, problem: str) -> None:
        super().__init__(
            f"The stored record of approval request {request_id!r} cannot be read ({problem}). "
            "Nothing was decided; whoever runs the gate must repair or remove it.",
            "unreadable",
        )
        self.request_id, self.problem = request_id, problem


class AlreadyDecided(ApprovalError):
    """Raised when a request already left ``pending``: the first decision won (``code`` is
    ``replayed`` when the same link made that decision); ``state`` is how it ended, when known."""

    def __init__(self, message: str, code: str = "decided", state: str | None = None) -> None:
        super().__init__(message, code)
        self.state = state


class NotAuthorized(ApprovalError):
    """Raised when a person may not decide (not on call, not in the approver group, not escalated to)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "forbidden")


class LinkError(GateError):
    """Raised when a signed link is expired, altered or foreign; ``code`` says which."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


_HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters a person does not type: NUL and the like, and the bidirectional overrides that
make recorded text read otherwise than it is stored (tab and line breaks are fine)."""


def check_plain(text: str | None, what: str) -> None:
    """Refuse recorded text (a reason, a note) holding invisible control characters.

    Raises:
        ApprovalError: it holds one (code ``text``); nothing is recorded.
    """
    found = _HIDDEN.search(text or "")
    if found is not None:
        raise ApprovalError(
            f"the {what} holds an invisible control character (U+{ord(found.group()):04X}); "
            "type it plainly: it is recorded in the audit trail as typed",
            "text",
        )
