"""The kernel's exception tree.

Expected outcomes (a role that could not decide, an exhausted tool budget) are events, not exceptions;
these are raised when a caller asked for something the kernel cannot do.
"""

from __future__ import annotations


class AisocError(Exception):
    """Base class of every error the kernel raises on purpose."""


class ContractError(AisocError, ValueError):
    """Raised when a payload does not match the event contract (unknown type, missing or bad field)."""


class BusError(AisocError):
    """Raised when the bus cannot do what was asked: bad URL, unreachable backend, misuse of the API."""


class ConfigError(AisocError):
    """Raised when settings are missing or wrong; the message names the setting and what was expected."""


class ModelError(AisocError):
    """Raised when a chat model cannot be built from its spec or cannot be reached at all."""


class ResolveError(AisocError, ImportError):
    """Raised when an import string (``package.module:attribute``) cannot be resolved."""
