"""The bus contract, run against every backend."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import cast

import pytest

from aisoc import Bus, events
from aisoc.bus.memory import MemoryBus
from aisoc.bus.sqlite import SqliteBus
from aisoc.errors import BusError
from tests.aisoc.bus_contract import BusContract, alert_event
from tests.aisoc.bus_contract_groups import RedisIdle
from tests.aisoc.bus_contract_hostile import RawAuditContract, UntypedEntryContract
from tests.support.redis_cluster import RedisCluster


def inject_redis_raw(url: str, bus: Bus, stream: str, event_type: str, payload: bytes | None) -> None:
    """XADD an entry straight into a Redis bus's stream (a node or a cluster URL)."""
    from aisoc.redisconn import connect

    fields: dict[str, bytes | str] = {"t": event_type}
    if payload is not None:
        fields["d"] = payload
    client = connect(url, decode=False)
    client.xadd(bus.key(stream), fields)  # type: ignore[attr-defined]
    client.close()


def inject_redis_audit(url: str, bus: Bus, event_type: str, payload: bytes | None, case_id: str) -> None:
    """XADD an audit entry straight into a Redis bus's log and index it under ``case_id``."""
    from aisoc.redisconn import connect

    fields: dict[str, bytes | str] = {"t": event_type, "s": "alerts"}
    if payload is not None:
        fields["d"] = payload
    client = connect(url, decode=False)
    entry_id = client.xadd(bus.key("audit"), fields)  # type: ignore[attr-defined]
    client.rpush(bus.key(f"case:{case_id}"), entry_id)  # type: ignore[attr-defined]
    client.close()


def inject_redis_targeted(url: str, bus: Bus, stream: str, event: events.Event, group: str) -> None:
    """XADD a work entry whose ``g`` field names the one group it is for."""
    from aisoc.redisconn import connect

    client = connect(url, decode=False)
    client.xadd(bus.key(stream), {"t": event.type, "d": event.to_json(), "g": group})  # type: ignore[attr-defined]
    client.close()


def inject_redis_untyped(url: str, bus: Bus, stream: str, payload: bytes) -> None:
    """XADD a work entry with a payload and no ``t`` field."""
    from aisoc.redisconn import connect

    client = connect(url, decode=False)
    client.xadd(bus.key(stream), {"d": payload})  # type: ignore[attr-defined]
    client.close()


class TestMemoryBus(BusContract):
    def create_bus(self, **options: object) -> Bus:
        return Bus(**options)  # type: ignore[arg-type]

    def inject_raw(self, bus: Bus, stream: str, event_type: str, payload: bytes | None) -> None:
        """Append to the stream's entry list directly (what a bug in a bridge could leave)."""
        from aisoc.bus.memory import _Entry

        mem = cast(MemoryBus, bus)
        stored: str | bytes | None = payload
        if payload is not None and payload.isascii():
            stored = payload.decode()  # text, as a bridge would store it
        with mem._lock:
            mem._streams[stream].entries.append(_Entry(mem._next(), event_type, stored, None))

    def inject_targeted(self, bus: Bus, stream: str, event: events.Event, group: str) -> None:
        from aisoc.bus.memory import _Entry

        mem = cast(MemoryBus, bus)
        with mem._lock:
            mem._streams[stream].entries.append(_Entry(mem._next(), event.type, event.to_json(), group))


class TestSqliteBus(BusContract, RawAuditContract):
    @pytest.fixture(autouse=True)
    def _dir(self, tmp_path: Path) -> None:
        self.path = tmp_path / "soc.db"

    def create_bus(self, **options: object) -> Bus:
        return Bus(f"sqlite:///{self.path}", **options)  # type: ignore[arg-type]

    def inject_raw(self, bus: Bus, stream: str, event_type: str, payload: bytes | None) -> None:
        """INSERT through a connection of its own: a row without payload, or bytes stored as TEXT."""
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute(
            "INSERT INTO entries (stream, type, payload) VALUES (?, ?, CAST(? AS TEXT))",
            (stream, event_type, payload),
        )
        db.close()

    def inject_targeted(self, bus: Bus, stream: str, event: events.Event, group: str) -> None:
        """INSERT a work entry whose target column names the one group it is for."""
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute(
            "INSERT INTO entries (stream, type, payload, target) VALUES (?, ?, ?, ?)",
            (stream, event.type, event.to_json(), group),
        )
        db.close()

    def inject_raw_audit(self, bus: Bus, event_type: str, payload: bytes | None, case_id: str) -> None:
        """INSERT an audit row through a connection of its own (bytes stored as TEXT)."""
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute(
            "INSERT INTO audit (type, case_id, payload) VALUES (?, ?, CAST(? AS TEXT))",
            (event_type, case_id, payload or b""),
        )
        db.close()

    def test_a_dead_letter_or_heartbeat_row_written_around_the_bus_hides_nothing(self) -> None:
        """Given a dead-letter row holding bytes that are not UTF-8, a count and a time that do not
        parse, and heartbeat rows that are not JSON or not UTF-8, written through a connection of
        their own, when the letters and heartbeats are read, then every letter is listed (the broken
        one with its bytes as base64) and the live heartbeat is reported."""
        bus = self.create_bus()
        bus.dead_letter("unreadable record", "{}")
        bus.heartbeat("sentinel-1", {"role": "sentinel"})
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute(
            "INSERT INTO dlq (stream, grp, entry_id, reason, payload, count, failed_at, encoding) "
            "VALUES ('alerts', 'g', '1', 'r', CAST(X'FFFE' AS TEXT), 'many', 'noon', 'utf-8')"
        )
        db.execute("INSERT INTO heartbeats VALUES ('broken', 9999999999, 'not json')")
        db.execute("INSERT INTO heartbeats VALUES ('bytes', 9999999999, CAST(X'FFFE' AS TEXT))")
        db.close()
        first, second = bus.dead_letters()
        assert first.reason == "unreadable record" and first.payload == "{}"
        assert (second.reason, second.encoding, second.payload, second.delivery_count) == (
            "r",
            "base64",
            "//4=",
            0,
        )
        assert bus.heartbeats() == {"sentinel-1": {"role": "sentinel"}}
        bus.close()

    def test_a_damaged_bus_file_is_refused_with_its_name_and_the_way_to_restore(self) -> None:
        """Given a bus file cut to a third of its size (or overwritten), when a process opens it, then
        a BusError names the file and the restore and recover steps, instead of a raw sqlite3 error."""
        bus = self.create_bus()
        for n in range(300):
            bus.publish(alert_event(n))
        bus.close()
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        data = self.path.read_bytes()
        for damaged in (data[: len(data) // 3], b"garbage" * 10):
            self.path.write_bytes(damaged)
            with pytest.raises(BusError, match=r"soc\.db is damaged .*Backups and restore.*\.recover"):
                self.create_bus()

    def test_an_older_file_whose_dead_letters_refused_null_payloads_is_migrated(self) -> None:
        """Given a file made by the previous release (dlq.payload NOT NULL), when a bus opens it,
        then the old dead letters are kept and a letter without payload can be filed."""
        db = sqlite3.connect(self.path)
        db.executescript(
            "CREATE TABLE dlq (id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT, grp TEXT, "
            "entry_id TEXT, type TEXT, event_id TEXT, reason TEXT NOT NULL, payload TEXT NOT NULL, "
            "count INTEGER, failed_at TEXT);"
            "INSERT INTO dlq VALUES (1, 'alerts', 'ingest', '-', NULL, NULL, 'old', '{}', 0, "
            "'2026-01-01T00:00:00+00:00');"
        )
        db.close()
        bus = self.create_bus()
        self.inject_raw(bus, "alerts", "alert.received", None)
        assert bus.consume("sentinel", "s", types=["alert.received"]) == []
        assert [(d.reason, d.payload) for d in bus.dead_letters()] == [
            ("old", "{}"),
            ("cannot decode: the entry has no payload", None),
        ]
        bus.close()

    def test_an_older_file_without_entry_times_is_migrated_and_its_entries_are_not_judged(self) -> None:
        """Given a file made before work entries carried the time they were added, when a bus opens
        it, then new entries carry it (the mark-window guard applies) and an old entry is never
        judged past the window (its age is unknown)."""
        db = sqlite3.connect(self.path)
        db.execute(
            "CREATE TABLE entries (id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, "
            "type TEXT NOT NULL, payload TEXT, audit_id INTEGER, target TEXT)"
        )
        db.execute(
            "INSERT INTO entries (stream, type, payload) VALUES ('alerts', 'alert.received', ?)",
            (alert_event(1).to_json(),),
        )
        db.commit()
        db.close()
        bus = self.create_bus(mark_ttl_s=3600, visibility_timeout_ms=60_000)
        bus.publish(alert_event(2))
        old, new = bus.consume("g", "c", types=["alert.received"])
        old.fail("model down")
        new.fail("model down")
        later = time.time() + 2 * 3600
        old, new = bus.consume("g", "c", types=["alert.received"])
        assert old.delivery_count == new.delivery_count == 2
        assert not bus.past_mark_window(old, now=later) and bus.past_mark_window(new, now=later)
        bus.close()

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
class TestRedisBus(RedisIdle, BusContract, RawAuditContract, UntypedEntryContract):
    @pytest.fixture(autouse=True)
    def _redis(self, redis_url: str, namespace: str) -> None:
        self.url, self.ns = redis_url, namespace

    def create_bus(self, **options: object) -> Bus:
        return Bus(self.url, namespace=self.ns, **options)  # type: ignore[arg-type]

    def inject_raw(self, bus: Bus, stream: str, event_type: str, payload: bytes | None) -> None:
        """XADD through a client of its own (no payload field at all for None)."""
        inject_redis_raw(self.url, bus, stream, event_type, payload)

    def inject_raw_audit(self, bus: Bus, event_type: str, payload: bytes | None, case_id: str) -> None:
        inject_redis_audit(self.url, bus, event_type, payload, case_id)

    def inject_untyped(self, bus: Bus, stream: str, payload: bytes) -> None:
        inject_redis_untyped(self.url, bus, stream, payload)

    def inject_targeted(self, bus: Bus, stream: str, event: events.Event, group: str) -> None:
        inject_redis_targeted(self.url, bus, stream, event, group)


@pytest.mark.redis
class TestRedisClusterBus(RedisIdle, BusContract, RawAuditContract, UntypedEntryContract):
    """The whole contract on a real 3-master, 3-replica cluster through ``redis+cluster://``."""

    @pytest.fixture(autouse=True)
    def _cluster(self, redis_cluster: RedisCluster, cluster_namespace: str) -> None:
        self.url, self.ns = redis_cluster.url, cluster_namespace

    def create_bus(self, **options: object) -> Bus:
        return Bus(self.url, namespace=self.ns, **options)  # type: ignore[arg-type]

    def inject_raw(self, bus: Bus, stream: str, event_type: str, payload: bytes | None) -> None:
        inject_redis_raw(self.url, bus, stream, event_type, payload)

    def inject_raw_audit(self, bus: Bus, event_type: str, payload: bytes | None, case_id: str) -> None:
        inject_redis_audit(self.url, bus, event_type, payload, case_id)

    def inject_untyped(self, bus: Bus, stream: str, payload: bytes) -> None:
        inject_redis_untyped(self.url, bus, stream, payload)

    def inject_targeted(self, bus: Bus, stream: str, event: events.Event, group: str) -> None:
        inject_redis_targeted(self.url, bus, stream, event, group)


def test_bus_factory_picks_the_backend_from_the_url(tmp_path: Path) -> None:
    """Bus() is in-memory, sqlite:/// is SQLite; an unknown scheme names the accepted ones."""
    assert isinstance(Bus(), MemoryBus) and isinstance(Bus("memory://"), MemoryBus)
    assert isinstance(Bus(f"sqlite:///{tmp_path}/x.db"), SqliteBus)
    assert (Bus().scheme, Bus(f"sqlite:///{tmp_path}/x.db").scheme) == ("memory", "sqlite")
    with pytest.raises(
        BusError, match="expected memory://, sqlite:///PATH, redis://HOST:PORT/DB or redis\\+cluster://"
    ):
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


def test_settings_configure_the_bus(tmp_path: Path) -> None:
    """Given settings with a visibility timeout, delivery limit, mark retention and durability, the
    bus every process opens from them carries those values."""
    from aisoc.bus import open_bus
    from aisoc.settings import KernelSettings

    settings = KernelSettings(
        bus=f"sqlite:///{tmp_path}/soc.db",
        visibility_timeout_s=2.5,
        max_deliveries=3,
        mark_retention_days=1,
        durability="fsync",
    )
    bus = open_bus(settings)
    assert (bus.visibility_timeout_ms, bus.max_deliveries, bus.mark_ttl_s, bus.durability) == (
        2500,
        3,
        86400,
        "fsync",
    )
    bus.close()
