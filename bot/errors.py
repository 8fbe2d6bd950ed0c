"""The bot's exception tree: what Webex answered, and what a command could not do."""

from __future__ import annotations

from aisoc.errors import AisocError


class BotError(AisocError):
    """Base of every error the bot raises on purpose."""


class WebexError(BotError):
    """Raised when a Webex call failed; ``status`` is the HTTP status (0 when nothing was answered)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(WebexError):
    """Raised when Webex answered 429: nothing was done; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(f"{message} (Retry-After {retry_after:g}s)", 429)
        self.retry_after = max(1.0, float(retry_after))


class Refused(WebexError):
    """Raised when Webex refused a request for good (4xx other than 429): retrying will not help."""


class Unavailable(WebexError):
    """Raised when Webex could not be reached or failed (5xx, timeout): retrying later may help."""


class CommandError(BotError):
    """Raised by a chat command for an expected failure: the message is the answer the person sees."""
