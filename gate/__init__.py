"""The human gate: agents propose, a person decides, nothing executes.

    from gate import Gate, create_app, load_gate_settings
    settings = load_gate_settings()            # [gate] and [roster] of aisoc.toml
    gate = Gate(bus, settings)                 # approval requests, reminders, escalation, expiry
    app = create_app(settings, gate=gate)      # the two-step confirmation pages
    from gate.links import approval_url        # the signed link a card opens

Flask is imported only when ``create_app`` is first used, so the roster and ``aisoc oncall`` work
without the web extras.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gate.errors import (
    AlreadyDecided,
    ApprovalError,
    GateError,
    LinkError,
    NotAuthorized,
    RosterError,
    UnknownRequest,
    UnreadableRequest,
)
from gate.roster import Authorization, OnCall, Person, Roster, mention
from gate.service import GATE_EVENT_TYPES, Gate
from gate.settings import GateSettings, RosterSettings, load_gate_settings
from gate.store import ApprovalRequest, RequestStore, State, open_store
from gate.timers import TickReport

if TYPE_CHECKING:
    from gate.app import create_app
    from gate.demo import demo_gate


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from gate.app import create_app

        return create_app
    if name == "demo_gate":
        from gate.demo import demo_gate

        return demo_gate
    raise AttributeError(f"module 'gate' has no attribute {name!r}")


__all__ = [
    "GATE_EVENT_TYPES",
    "AlreadyDecided",
    "ApprovalError",
    "ApprovalRequest",
    "Authorization",
    "Gate",
    "GateError",
    "GateSettings",
    "LinkError",
    "NotAuthorized",
    "OnCall",
    "Person",
    "RequestStore",
    "Roster",
    "RosterError",
    "RosterSettings",
    "State",
    "TickReport",
    "UnknownRequest",
    "UnreadableRequest",
    "create_app",
    "demo_gate",
    "load_gate_settings",
    "mention",
    "open_store",
]
