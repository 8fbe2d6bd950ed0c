"""``open_bus(settings)``: the one way a deployable process opens its bus.

Every process — workers, scheduler, gate, bot, ingest, replay, audit import — opens the bus here, so
the configured redaction, durability, mark retention and delivery limits apply to everything any of
them stores (people's words typed into the gate or the bot included).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from aisoc.bus.base import Bus


class BusSettings(Protocol):
    """What opening a bus needs of a process's settings (``KernelSettings`` has it)."""

    @property
    def bus(self) -> str:
        """The bus URL."""

    @property
    def redact_patterns(self) -> Sequence[str]:
        """Regular expressions whose matches are replaced before any event is stored."""

    @property
    def redact_presets(self) -> Sequence[str]:
        """Named pattern sets."""

    def bus_options(self) -> dict[str, Any]:
        """The ``Bus(...)`` keyword options (namespace, durability, limits)."""


def open_bus(settings: BusSettings) -> Bus:
    """Connect to the bus the settings name, with the configured redaction and options.

    Raises:
        ConfigError: a redaction pattern or preset is invalid.
        BusError: the bus URL or an option is invalid, or the backend refuses the durability.
    """
    from aisoc.redact import Redactor

    redactor = Redactor(settings.redact_patterns, settings.redact_presets)
    return Bus(settings.bus, redactor=redactor or None, **settings.bus_options())
