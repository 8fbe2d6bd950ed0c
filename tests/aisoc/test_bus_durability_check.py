"""What durability=fsync asks of each Redis, decided from what the server reports.

The machine's Redis is 7.0 (no WAITAOF), so the 7.2+ branch is checked here against a server stub
that answers INFO and CONFIG GET as Redis documents them; the 7.0 branch also runs against real
servers in ``test_bus_redis_faults.py``.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from redis.exceptions import ResponseError

from aisoc.bus.redis_durability import check_durability
from aisoc.errors import BusError


class Server:
    """Answers ``INFO server`` and ``CONFIG GET append*`` (None: CONFIG is disabled)."""

    def __init__(self, version: str, config: dict[str, str] | None) -> None:
        self.version, self.config = version, config
        self.connection_pool = SimpleNamespace(connection_kwargs={"host": "redis.test", "port": 6379})

    def info(self, section: str) -> dict[str, Any]:
        return {"redis_version": self.version}

    def config_get(self, pattern: str) -> dict[str, str]:
        if self.config is None:
            raise ResponseError("unknown command 'CONFIG'")
        return self.config


def bus_on(server: Server) -> Any:
    return SimpleNamespace(_r=server, _call=lambda fn, *a, **kw: fn(*a, **kw))


AOF_EVERYSEC = {"appendonly": "yes", "appendfsync": "everysec"}


def test_redis_7_2_and_later_waits_for_the_fsync_of_each_publish() -> None:
    """Given Redis 7.2 with AOF (any appendfsync), fsync mode publishes with WAITAOF."""
    assert check_durability(bus_on(Server("7.2.4", AOF_EVERYSEC)), "fsync") is True
    assert check_durability(bus_on(Server("8.0.1", AOF_EVERYSEC)), "fsync") is True


def test_without_aof_fsync_is_refused_on_any_version() -> None:
    """appendonly no cannot keep anything across a restart: refused, naming the setting."""
    for version in ("7.0.15", "7.2.4"):
        with pytest.raises(BusError, match="appendonly no"):
            check_durability(bus_on(Server(version, {"appendonly": "no", "appendfsync": "always"})), "fsync")


def test_before_7_2_only_appendfsync_always_is_accepted() -> None:
    """Redis 7.0 has no WAITAOF: everysec is refused, always accepted without WAITAOF."""
    with pytest.raises(BusError, match="appendfsync everysec"):
        check_durability(bus_on(Server("7.0.15", AOF_EVERYSEC)), "fsync")
    ok = {"appendonly": "yes", "appendfsync": "always"}
    assert check_durability(bus_on(Server("7.0.15", ok)), "fsync") is False


def test_a_managed_redis_without_config_starts_with_a_clear_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Given CONFIG disabled, the settings cannot be read: the bus starts and the warning says what
    to check; fast mode asks nothing at all."""
    with caplog.at_level(logging.WARNING):
        assert check_durability(bus_on(Server("7.0.15", None)), "fsync") is False
    assert "appendonly yes and appendfsync always" in caplog.text
    assert check_durability(bus_on(Server("6.2.0", None)), "fast") is False
