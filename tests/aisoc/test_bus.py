"""The bus contract, run against every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from aisoc import Bus
from aisoc.bus.memory import MemoryBus
from aisoc.bus.sqlite import SqliteBus
from aisoc.errors import BusError
from tests.aisoc.bus_contract import BusContract, alert_event


class TestMemoryBus(BusContract):
    def create_bus(self, **options: object) -> Bus:
        return Bus(**options)  # type: ignore[arg-type]


class TestSqliteBus(BusContract):
    @pytest.fixture(autouse=True)
    def _dir(self, tmp_path: Path) -> None:
        self.path = tmp_path / "soc.db"

    def create_bus(self, **options: object) -> Bus:
        return Bus(f"sqlite:///{self.path}", **options)  # type: ignore[arg-type]

    def test_log_survives_a_restart(self) -> None:
        """A new process on the same file sees the audit log, the groups and the marks."""
        bus = self.create_bus()
        e = alert_event(1)
        bus.publish(e)
        bus.publish_many([], once=("sentinel", e.event_id))
        epoch = bus.audit.epoch
        bus.close()
        again = self.create_bus()
        assert [x.event_id for x in again.audit] == [e.event_id]
        assert again.seen("sentinel", e.event_id) and again.audit.epoch == epoch
        (d,) = again.consume("g", "c", types=["alert.received"])
        assert d.event == e
        again.close()


@pytest.mark.redis
class TestRedisBus(BusContract):
    @pytest.fixture(autouse=True)
    def _redis(self, redis_url: str, namespace: str) -> None:
        self.url, self.ns = redis_url, namespace

    def create_bus(self, **options: object) -> Bus:
        return Bus(self.url, namespace=self.ns, **options)  # type: ignore[arg-type]


def test_bus_factory_picks_the_backend_from_the_url(tmp_path: Path) -> None:
    """Bus() is in-memory, sqlite:/// is SQLite; an unknown scheme names the accepted ones."""
    assert isinstance(Bus(), MemoryBus) and isinstance(Bus("memory://"), MemoryBus)
    assert isinstance(Bus(f"sqlite:///{tmp_path}/x.db"), SqliteBus)
    with pytest.raises(BusError, match="expected memory://, sqlite:///PATH or redis://"):
        Bus("kafka://localhost")
    with pytest.raises(BusError, match="namespace"):
        Bus(namespace="a:b")


def test_a_backend_registers_its_schemes_by_subclassing() -> None:
    """Given a Bus subclass that lists a scheme, Bus(url) of that scheme builds it; the built-in
    schemes stay lazily imported and the error lists every registered form."""
    from aisoc.bus import backend_for, register_scheme
    from aisoc.bus.base import _FORMS, _SCHEMES

    class EchoBus(MemoryBus):
        schemes = ("echo-test",)

    try:
        register_scheme("echo-test", EchoBus, "echo-test://")
        assert type(Bus("echo-test://x")) is EchoBus and backend_for("memory://") is MemoryBus
        with pytest.raises(BusError, match="echo-test://"):
            Bus("nope://")
    finally:
        _SCHEMES.pop("echo-test", None)
        _FORMS.pop("echo-test", None)
