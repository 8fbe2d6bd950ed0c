"""WSGI entry for a production server: ``gunicorn 'gate.wsgi:application()'``.

Each worker process builds its own Gate over the shared store (decisions are compare-and-set, so
several processes are safe); run ``aisoc gate worker`` once beside them to consume and tick.
"""

from __future__ import annotations

from flask import Flask

from aisoc.resolve import import_team
from aisoc.settings import KernelSettings, load_settings
from gate.app import create_app
from gate.settings import load_gate_settings


def application() -> Flask:
    """Build the gate app from ``aisoc.toml`` / ``$AISOC_CONFIG`` and ``AISOC_*`` variables."""
    import_team(load_settings(KernelSettings).team)  # the events added roles define decode here too
    return create_app(load_gate_settings())
