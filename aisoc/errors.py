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


class StorageConflict(BusError):
    """Raised when a key the bus writes holds another type than the bus keeps there (something wrote
    around the bus): what touches it fails until an operator removes the key, which the message names.

    ``case_id`` is the case whose own key it is (its per-case index), or None when the key is shared
    (a stream, the audit log): then nothing can be written until it is repaired.
    """

    def __init__(self, message: str, *, key: str | None = None, case_id: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.case_id = case_id


class Unprocessable(AisocError):
    """Raised by a handler when its event cannot be handled until a person repairs something it
    reads (a damaged stored record): another try would read the same damage, so the delivery is
    filed as a dead letter at once with this message (see :func:`aisoc.bus.delivery.settle_failed`),
    and replaying the letter after the repair handles it."""


class Unavailable(AisocError):
    """Raised by a handler when a dependency it needs cannot serve now (a model server restarting,
    overloaded, or answering 429): nothing is wrong with the event, so the delivery waits and is
    retried later, never dead-lettered for it, and the later events of its case wait behind it
    (see :meth:`aisoc.bus.Delivery.retry_later`).

    ``retry_after_s`` is how long the dependency asked to be left alone (its ``Retry-After``), or
    None when it did not say.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ConfigError(AisocError):
    """Raised when settings are missing or wrong; the message names the setting and what was expected."""


class ModelError(AisocError):
    """Raised when a chat model cannot be built from its spec or cannot be reached at all."""


class ResolveError(AisocError, ImportError):
    """Raised when an import string (``package.module:attribute``) cannot be resolved."""
