"""WSGI entry for a production server: ``gunicorn 'gate.wsgi:application()'``.

Each worker process builds its own Gate over the shared store (decisions are compare-and-set, so
several processes are safe); run ``aisoc gate worker`` once beside them to consume and tick.
"""

from __future__ import annotations

from flask import Flask

from gate.app import create_app
from gate.settings import load_gate_settings


def application() -> Flask:
    """Build the gate app from ``aisoc.toml`` / ``$AISOC_CONFIG`` and ``AISOC_*`` variables."""
    return create_app(load_gate_settings())
