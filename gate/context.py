"""What a running gate app holds: the Gate, its settings and link signer (one per Flask app)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_limiter import Limiter

from gate.service import Gate
from gate.settings import GateSettings
from gate.tokens import LinkSigner

EXTENSION = "aisoc_gate"
"""Key of the gate's state in ``app.extensions``."""


@dataclass
class GateContext:
    """The gate app's collaborators."""

    gate: Gate
    settings: GateSettings
    signer: LinkSigner
    limiter: Limiter


def gate_context() -> GateContext:
    """Return the current app's gate context."""
    ctx: GateContext = current_app.extensions[EXTENSION]
    return ctx
