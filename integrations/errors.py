"""The integrations package's exception tree."""

from __future__ import annotations

from aisoc.errors import AisocError


class IntegrationError(AisocError):
    """Raised when a vendor adapter cannot do what was asked (bad settings, vendor refused, bad reply)."""


class ReadOnlyViolation(IntegrationError):
    """Raised before any byte leaves when an adapter is asked for an operation not on its read allowlist."""


class SourceError(IntegrationError):
    """Raised when an alert source cannot be opened or polled (missing file, unreachable API)."""
