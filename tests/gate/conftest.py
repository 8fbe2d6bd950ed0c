"""Fixtures for the gate: an in-memory bus, an injected clock, a Gate, the Flask app and clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aisoc.bus import Bus
from gate import Gate
from gate.settings import GateSettings
from tests.gate.factory import Clock, gate_settings


@pytest.fixture
def clock() -> Clock:
    """The gate's clock, starting Monday 2026-03-16 10:00 UTC (Alice on call for IR Lead)."""
    return Clock()


STORES = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]
"""The gate's store backends (the one next to each bus): in-memory SQLite, a SQLite file, Redis."""


@pytest.fixture(params=STORES)
def store_bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    """A bus whose gate store is each backend in turn (attacks are checked on every store)."""
    if request.param == "memory":
        b = Bus()
    elif request.param == "sqlite":
        b = Bus(f"sqlite:///{tmp_path}/soc.db")
    else:
        b = Bus(request.getfixturevalue("redis_url"), namespace=request.getfixturevalue("namespace"))
    yield b
    b.close()


@pytest.fixture
def settings() -> GateSettings:
    """Production-like gate settings with the test roster."""
    return gate_settings()


@pytest.fixture
def gate(bus: Bus, settings: GateSettings, clock: Clock) -> Iterator[Gate]:
    """A Gate over the memory bus (in-memory SQLite store) with the injected clock."""
    g = Gate(bus, settings, clock=clock)
    yield g
    g.close()


@pytest.fixture
def app(settings: GateSettings, gate: Gate) -> Flask:
    """The gate's Flask app around ``gate``."""
    from gate.app import create_app

    flask_app = create_app(settings, gate=gate)
    flask_app.testing = True
    return flask_app


class As:
    """A test client acting as one person (the SSO proxy's identity header, from a trusted address)."""

    def __init__(self, app: Flask, email: str | None, remote_addr: str = "127.0.0.1") -> None:
        self.client: FlaskClient = app.test_client()
        self.headers = {"X-Forwarded-Email": email} if email else {}
        self.environ = {"REMOTE_ADDR": remote_addr}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers, environ_base=self.environ, **kw)

    def post(self, url: str, data: dict[str, str], **kw: Any) -> Any:
        return self.client.post(url, data=data, headers=self.headers, environ_base=self.environ, **kw)


@pytest.fixture
def person(app: Flask) -> Any:
    """``person("alice@example.com")`` returns a client acting as that person."""
    return lambda email, **kw: As(app, email, **kw)
