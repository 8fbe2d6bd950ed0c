"""The in-process gate of the embedded demo (``aisoc demo`` resolves ``gate:demo_gate``).

It uses the settings file's ``[gate]`` and ``[roster]`` in demo mode when they exist, and otherwise
a small built-in roster, so every proposal of the demo resolves to a named person.
"""

from __future__ import annotations

import logging
from typing import Any

from aisoc.bus import Bus
from aisoc.errors import ConfigError
from gate.service import Gate
from gate.settings import GateSettings, RosterSettings, load_gate_settings

log = logging.getLogger(__name__)

DEMO_ROSTER: dict[str, Any] = {
    "people": {
        "dana": {"name": "Dana Ruiz", "email": "dana@example.com"},
        "lee": {"name": "Lee Chen", "email": "lee@example.com"},
        "sam": {"name": "Sam Okafor", "email": "sam@example.com"},
        "kim": {"name": "Kim Novak", "email": "kim@example.com"},
    },
    "duties": {
        "ir_lead": {
            "rotations": [
                {"people": ["dana", "lee"], "start": "2026-01-05", "handover": "09:00", "period": "weekly"}
            ],
            "approvers": ["sam"],
            "escalation": ["soc_manager"],
        },
        "soc_manager": {
            "rotations": [{"people": ["sam"], "start": "2026-01-05", "handover": "08:00", "period": "daily"}],
        },
        "tier2": {
            "rotations": [
                {"people": ["kim", "lee"], "start": "2026-01-05", "handover": "09:00", "period": "daily"}
            ],
            "escalation": ["ir_lead"],
        },
    },
}
"""Who is on call in the demo when the settings file has no ``[roster]``."""


def demo_settings(**overrides: Any) -> GateSettings:
    """Demo-mode gate settings: the settings file's ``[gate]``/``[roster]`` if usable, else built-ins."""
    try:
        settings = load_gate_settings(None, demo=True, **overrides)
    except ConfigError as e:
        log.warning("demo gate: settings file not usable (%s); using the built-in demo roster", e)
        settings = GateSettings(demo=True, **overrides)
    if not settings.roster.duties:
        settings = settings.model_copy(update={"roster": RosterSettings(**DEMO_ROSTER)})
    return settings


def demo_gate(bus: Bus, settings: GateSettings | None = None) -> Gate:
    """Return a Gate over ``bus`` for the embedded demo (hand it to ``team.on_action_proposed``)."""
    return Gate(bus, settings or demo_settings())
