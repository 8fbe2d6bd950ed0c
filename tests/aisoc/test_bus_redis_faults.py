"""Failure tests on a real Redis of the test's own: killed consumers, restarts, scale."""

from __future__ import annotations

import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import pytest
from redis.exceptions import AskError, ClusterDownError, TryAgainError

from aisoc import Bus
from aisoc.errors import BusError
from tests.aisoc.bus_contract import alert_event, verdict_for
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]


def worker(url: str, consumer: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.bus_worker", url, "soc", consumer, *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def effects(bus: Bus) -> Counter[str]:
    return Counter(e.causation_id or "" for e in bus.audit if e.type == "triage.verdict")


def test_consumer_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    redis_server: RedisServer,
) -> None:
    """Given a consumer SIGKILLed after publishing an effect but before acking it, when another
    consumer takes over, then every event has exactly one effect."""
    bus = Bus(redis_server.url, visibility_timeout_ms=500)
    evs = [alert_event(i) for i in range(60)]
    for e in evs:
        bus.publish(e)
    victim = worker(redis_server.url, "victim", "--die-after", "7")
    assert victim.wait(30) == -9  # it really died by SIGKILL, holding a batch
    pending = [g for s in bus.stats().streams if s.name == "alerts" for g in s.groups]
    assert pending[0].pending > 0
    survivor = worker(redis_server.url, "survivor")
    survivor.wait(60)
    assert survivor.returncode == 0
    per_event = effects(bus)
    assert set(per_event) == {e.event_id for e in evs}
    assert set(per_event.values()) == {1}
    (alerts,) = [s for s in bus.stats().streams if s.name == "alerts"]
    assert alerts.groups[0].pending == 0


def test_no_published_event_is_lost_when_redis_is_killed_and_restarted(
    redis_server: RedisServer,
) -> None:
    """Given appendonly yes, when Redis is SIGKILLed and restarted, then every event whose publish
    returned is still in its stream and in the audit log, and the group carries on."""
    bus = Bus(redis_server.url, visibility_timeout_ms=300)
    published = [alert_event(i) for i in range(200)]
    for e in published:
        bus.publish(e)
    first = bus.consume("sentinel", "s1", types=["alert.received"], count=50)
    bus.ack_many(first[:25])
    redis_server.restart(kill=True)
    assert [e.event_id for e in bus.audit] == [e.event_id for e in published]
    time.sleep(0.4)
    seen = {d.event.event_id for d in first[:25]}
    while batch := bus.consume("sentinel", "s2", types=["alert.received"], count=100):
        seen |= {d.event.event_id for d in batch}
        bus.ack_many(batch)
    assert seen == {e.event_id for e in published}


def test_redis_restarting_empty_recreates_groups_and_consumers_carry_on(tmp_path: Path) -> None:
    """Given a Redis that keeps nothing on disk, when it restarts, then the next consume gets
    NOGROUP, recreates the group and delivers newly published events; calls made while it is down
    fail with a clear BusError."""
    server = RedisServer(tmp_path / "r", appendonly=False).start()
    try:
        bus = Bus(server.url)
        bus.publish(alert_event(1))
        bus.ack_many(bus.consume("sentinel", "s", types=["alert.received"]))
        server.kill()
        with pytest.raises(BusError, match="unreachable"):
            bus.publish(alert_event(2))
        server.start()
        fresh = alert_event(3)
        bus.publish(fresh)
        (d,) = bus.consume("sentinel", "s", types=["alert.received"])
        assert d.event == fresh
        d.ack()
        assert bus.audit.epoch  # a new log generation: memory snapshots know to rebuild
    finally:
        server.stop()


def test_four_consumer_processes_over_10000_events_handle_each_once(
    redis_server: RedisServer,
) -> None:
    """Four consumer processes in one group over 10,000 events: each event handled once, none lost."""
    bus = Bus(redis_server.url)
    evs = [alert_event(i) for i in range(10_000)]
    pipe_bus = bus
    for e in evs:
        pipe_bus.publish(e)
    procs = [worker(redis_server.url, f"s-{k}", "--idle-exit", "3") for k in range(4)]
    handled = [int((p.communicate(timeout=300)[0] or "0").strip()) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(handled) == 10_000 and all(h > 0 for h in handled)
    per_event = effects(bus)
    assert len(per_event) == 10_000 and set(per_event.values()) == {1}


def test_redelivered_event_after_effects_is_acked_without_rerunning(redis_url: str, namespace: str) -> None:
    """An event whose effects were published but not acked is only acked on redelivery."""
    bus = Bus(redis_url, namespace=namespace, visibility_timeout_ms=200)
    cause = alert_event(1)
    bus.publish(cause)
    (d,) = bus.consume("sentinel", "a", types=["alert.received"])
    assert bus.publish_many([verdict_for(d.event)], once=("sentinel", d.event.event_id))
    time.sleep(0.3)
    (again,) = bus.consume("sentinel", "b", types=["alert.received"])
    assert bus.seen("sentinel", again.event.event_id)
    assert bus.publish_many([verdict_for(again.event)], once=("sentinel", cause.event_id)) is False
    again.ack()
    assert effects(bus)[cause.event_id] == 1


def test_a_caught_up_group_shows_no_lag_even_when_redis_counters_are_stale(
    redis_url: str, namespace: str
) -> None:
    """Given a group that has read everything but whose Redis entries-read counter is stale (as a
    restart from the AOF left it in the chaos drill: 985 "behind" with nothing to read), stats()
    reports lag 0; a group that really is behind still shows its lag."""
    bus = Bus(redis_url, namespace=namespace)
    for i in range(300):
        bus.publish(alert_event(i))
    while batch := bus.consume("sentinel", "s", types=["alert.received"], count=100):
        bus.ack_many(batch)
    bus.consume("tier2-like", "t", types=["alert.received"], count=100)
    key = bus.key("alerts")
    last = bus.client.xinfo_stream(key)["last-generated-id"]
    bus.client.execute_command("XGROUP", "SETID", key, "sentinel", last, "ENTRIESREAD", 15)
    claimed = {g["name"]: g["lag"] for g in bus.client.xinfo_groups(key)}
    assert claimed["sentinel"] == 285  # what Redis itself now claims
    groups = {g.name: g for s in bus.stats().streams if s.name == "alerts" for g in s.groups}
    assert groups["sentinel"].lag == 0 and groups["tier2-like"].lag == 200
    assert bus.consume("sentinel", "s", types=["alert.received"], count=100) == []


def test_fail_and_release_after_redis_restarted_empty_raise_a_clear_bus_error(tmp_path: Path) -> None:
    """Given deliveries taken before Redis restarted without its data, fail() and release() raise a
    BusError that says the group is gone (not a raw NOGROUP), and the group carries on afterwards."""
    server = RedisServer(tmp_path / "r", appendonly=False).start()
    try:
        bus = Bus(server.url)
        bus.publish(alert_event(1))
        bus.publish(alert_event(2))
        first, second = bus.consume("sentinel", "s", types=["alert.received"], count=2)
        server.restart(kill=True)
        with pytest.raises(BusError, match="group no longer exists"):
            first.fail("model down")
        with pytest.raises(BusError, match="group no longer exists"):
            second.release()
        fresh = alert_event(3)
        bus.publish(fresh)
        (d,) = bus.consume("sentinel", "s", types=["alert.received"])
        assert d.event == fresh
    finally:
        server.stop()


def test_a_process_started_while_redis_is_down_waits_for_it_in_fsync_mode(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Given durability=fsync and Redis down (or still loading) as a process starts, the bus starts
    and says the check waits, instead of the process exiting (systemd would give up after a few
    restarts); a publish fails as unreachable until Redis is back, then the check runs first: a Redis
    that keeps the promise takes it, one that cannot is refused by name and nothing is published."""
    strict = RedisServer(tmp_path / "strict", appendonly=True)
    with caplog.at_level("WARNING", logger="aisoc.bus.redis"):
        bus = Bus(strict.url, durability="fsync")
    assert "checked before the first publish" in caplog.text
    with pytest.raises(BusError, match="unreachable"):
        bus.publish(alert_event(1))
    strict.start()
    try:
        assert bus.publish(alert_event(1)) and len(bus.audit) == 1
    finally:
        strict.stop()
    none = RedisServer(tmp_path / "none", appendonly=False)
    late = Bus(none.url, durability="fsync")
    none.start()
    try:
        with pytest.raises(BusError, match="appendonly no"):
            late.publish(alert_event(2))
        assert len(late.audit) == 0
    finally:
        none.stop()


def test_fsync_durability_is_refused_where_redis_cannot_keep_it(tmp_path: Path, redis_url: str) -> None:
    """Given durability=fsync, a Redis without AOF and one with appendfsync everysec are refused at
    start with the reason and the fix; appendfsync always is accepted; fast accepts anything."""
    lax = RedisServer(tmp_path / "lax", appendonly=True, appendfsync="everysec").start()
    none = RedisServer(tmp_path / "none", appendonly=False).start()
    strict = RedisServer(tmp_path / "strict", appendonly=True).start()
    try:
        with pytest.raises(BusError, match="appendfsync everysec.*appendfsync always"):
            Bus(lax.url, durability="fsync")
        with pytest.raises(BusError, match="appendonly no"):
            Bus(none.url, durability="fsync")
        bus = Bus(strict.url, durability="fsync")
        assert bus.publish(alert_event(1)) and len(bus.audit) == 1
        assert Bus(lax.url, durability="fast").publish(alert_event(2))
        with pytest.raises(BusError, match="durability 'paranoid'"):
            Bus(strict.url, durability="paranoid")
        with pytest.raises(BusError, match="in-memory bus keeps nothing"):
            Bus(durability="fsync")
    finally:
        for s in (lax, none, strict):
            s.stop()


def test_idle_consumers_without_pending_work_are_forgotten(redis_url: str, namespace: str) -> None:
    """Given a consumer gone for good with nothing pending and one that still holds an entry, only
    the first is removed after the idle time."""
    bus = Bus(redis_url, namespace=namespace)
    bus.publish(alert_event(1))
    bus.publish(alert_event(2))
    bus.ack_many(bus.consume("sentinel", "gone", types=["alert.received"], count=1))
    bus.consume("sentinel", "holding", types=["alert.received"], count=1)
    time.sleep(0.3)
    assert bus.forget_idle_consumers(0.2) == 1
    consumers = bus.client.xinfo_consumers(bus.key("alerts"), "sentinel")
    assert [c["name"] for c in consumers] == ["holding"]


def test_retention_drops_the_per_case_index_keys(redis_url: str, namespace: str) -> None:
    """Given cases whose events all fall before a retention cut, their index keys are gone after
    trim_audit; a case with later events keeps only those ids."""
    bus = Bus(redis_url, namespace=namespace)
    old, kept = alert_event(1), alert_event(2)
    bus.publish(old)
    bus.publish(kept)
    cut = bus.audit.last_id() or ""
    bus.publish(verdict_for(kept))
    bus.trim_audit(cut)
    assert not bus.client.exists(bus.key(f"case:{old.case_id}"))
    assert bus.client.llen(bus.key(f"case:{kept.case_id}")) == 1


def test_a_compressed_payload_that_does_not_inflate_is_dead_lettered(redis_url: str, namespace: str) -> None:
    """Given an entry whose compressed payload is garbage, the group dead-letters it (raw bytes kept)
    and the next alert arrives."""
    bus = Bus(redis_url, namespace=namespace)
    bus.client.xadd(bus.key("alerts"), {"t": "alert.received", "z": b"\x78\x01not zlib"})
    good = alert_event(1)
    bus.publish(good)
    (d,) = bus.consume("sentinel", "s", types=["alert.received"], count=5)
    assert d.event == good
    (dl,) = bus.dead_letters()
    assert dl.encoding == "base64" and "not UTF-8" in dl.reason


@pytest.mark.parametrize(
    "stored",
    [b"\x09" + zlib.compress(b"{}"), b"\x01not deflate", b"", b"\x01" + zlib.compress(b"{}")[:3]],
    ids=["unknown dictionary", "garbage", "empty", "truncated"],
)
def test_a_dictionary_payload_that_does_not_inflate_is_dead_lettered(
    redis_url: str, namespace: str, stored: bytes
) -> None:
    """Given an entry compressed with a dictionary this release lacks (a newer release wrote it), or
    garbage, the group dead-letters it with its raw bytes and the next alert arrives."""
    bus = Bus(redis_url, namespace=namespace)
    bus.client.xadd(bus.key("alerts"), {"t": "alert.received", "y": stored})
    good = alert_event(1)
    bus.publish(good)
    (d,) = bus.consume("sentinel", "s", types=["alert.received"], count=5)
    assert d.event == good
    (dl,) = bus.dead_letters()
    assert dl.stream == "alerts" and dl.event_type == "alert.received"


def test_entries_of_the_previous_release_still_decode(redis_url: str, namespace: str) -> None:
    """Given an alert stored as the previous release stored it (plain zlib in field ``z``), it is
    delivered and read from the audit log as it was written."""
    bus = Bus(redis_url, namespace=namespace)
    old = verdict_for(alert_event(7))
    packed = zlib.compress(old.to_json().encode(), 1)
    bus.client.xadd(bus.key("cases"), {"t": old.type, "z": packed})
    bus.client.xadd(bus.key("audit"), {"t": old.type, "z": packed, "s": "cases"})
    (d,) = bus.consume("tier2", "t", types=[old.type], count=5)
    assert d.event == old
    assert [e.event_id for e in bus.audit] == [old.event_id]


def test_large_events_are_stored_with_the_dictionary_and_read_back_exactly(
    redis_url: str, namespace: str
) -> None:
    """An event of 1 KB or more is stored in field ``y`` (dictionary 1), smaller than plain zlib,
    and every reader gets it back byte for byte."""
    from aisoc.bus import zdict
    from aisoc.redisconn import connect

    bus = Bus(redis_url, namespace=namespace)
    small = alert_event(3)
    big = type(small).model_validate(
        {**small.model_dump(), "alert": {**small.alert.model_dump(), "raw": {"x": "y" * 3000}}}
    )
    bus.publish(big)
    raw_client = connect(redis_url, decode=False)
    ((_, fields),) = raw_client.xrange(bus.key("alerts"))
    raw_client.close()
    assert set(fields) == {b"t", b"y"}
    stored = fields[b"y"]
    assert stored[0] == zdict.CURRENT and zdict.decompress(stored) == big.to_json().encode()
    assert len(stored) < len(zlib.compress(big.to_json().encode(), 1))
    (d,) = bus.consume("sentinel", "s", types=["alert.received"], count=5)
    assert d.event == big and [e.to_json() for e in bus.audit] == [big.to_json()]


def test_a_payload_that_inflates_past_the_limit_is_dead_lettered_not_inflated(
    redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given valid alerts padded with blanks so they inflate past the bus's limit (a deflate bomb
    written around the bus, in field ``y`` and in the previous release's ``z``), when the group
    consumes, then both are dead letters holding their compressed bytes, the next alert arrives, and
    publishing an event over the limit is refused with nothing written."""
    from aisoc.bus import zdict
    from aisoc.errors import ContractError

    monkeypatch.setattr(zdict, "MAX_SIZE", 1 << 20)
    bus = Bus(redis_url, namespace=namespace)
    padded = (alert_event(1).to_json() + " " * (4 << 20)).encode()
    bus.client.xadd(bus.key("alerts"), {"t": "alert.received", "y": zdict.compress(padded)})
    bus.client.xadd(bus.key("alerts"), {"t": "alert.received", "z": zlib.compress(padded)})
    good = alert_event(2)
    bus.publish(good)
    (d,) = bus.consume("sentinel", "s", types=["alert.received"], count=5)
    assert d.event == good
    letters = bus.dead_letters()
    assert [dl.encoding for dl in letters] == ["base64", "base64"]
    assert all(len(dl.payload or "") < 100_000 for dl in letters)
    big = alert_event(3)
    big = type(big).model_validate(
        {**big.model_dump(), "alert": {**big.alert.model_dump(), "raw": {"x": "y" * (2 << 20)}}}
    )
    written = len(bus.audit)
    with pytest.raises(ContractError, match="over the bus's limit"):
        bus.publish(big)
    assert len(bus.audit) == written


def test_garbage_in_the_dead_letter_and_heartbeat_keys_does_not_hide_the_rest(
    redis_url: str, namespace: str
) -> None:
    """Given a dead-letter entry and a heartbeat not written by the bus (missing fields, bytes that are
    not UTF-8, a time that does not parse, a value that is not JSON), when the dead letters and the
    heartbeats are read, then every letter is listed (the broken one with what it holds) and the live
    heartbeat is reported."""
    bus = Bus(redis_url, namespace=namespace)
    bus.client.xadd(bus.key("dlq"), {"foo": "bar"})
    bus.client.xadd(
        bus.key("dlq"),
        {"stream": "alerts", "group": "g", "reason": "r", "at": "noon", "count": "many", "d": b"\xff\xfe"},
    )
    bus.dead_letter("unreadable record", "{}")
    first, second, third = bus.dead_letters()
    assert first.reason == "a dead-letter entry without stream, group, reason (fields: foo)"
    assert (second.encoding, second.delivery_count, second.reason) == ("base64", 0, "r")
    assert third.reason == "unreadable record" and third.payload == "{}"
    bus.client.hset(bus.key("heartbeats"), "broken", "not json")
    bus.heartbeat("sentinel-1", {"role": "sentinel"})
    assert bus.heartbeats() == {"sentinel-1": {"role": "sentinel"}}


def test_a_key_of_the_wrong_type_raises_a_bus_error_that_names_it(redis_url: str, namespace: str) -> None:
    """Given a string where the bus keeps the actions stream (written around the bus), when a group
    consumes it, then a BusError names the key (workers back off from a BusError and log it)."""
    bus = Bus(redis_url, namespace=namespace)
    bus.client.set(bus.key("actions"), "not a stream")
    with pytest.raises(BusError, match=r"\{" + namespace + r"\}:actions holds another type"):
        bus.consume("gate", "g", types=["action.proposed"])


def test_a_damaged_case_key_dead_letters_that_alert_and_ingest_goes_on(
    redis_url: str, namespace: str
) -> None:
    """Given a string written at one case's index key (around the bus), when a batch of three alerts is
    ingested, then that case's alert is a dead letter naming the key, the other two are published, and a
    role's publish for that case raises a StorageConflict naming the key and the case; a conflict on a
    shared key (the alerts stream) stops the pass with a StorageConflict naming it."""
    from aisoc.errors import StorageConflict
    from aisoc.sources import ingest
    from tests.support.sources import ListSource

    bus = Bus(redis_url, namespace=namespace)
    alerts = [alert_event(i).alert for i in range(3)]
    damaged = bus.key(f"case:{alerts[1].case_id}")
    bus.client.set(damaged, "garbage")
    stats = ingest(ListSource(alerts), bus)
    assert (stats.published, stats.rejected) == (2, 1)
    (letter,) = bus.dead_letters()
    assert damaged in letter.reason and "only case" in letter.reason
    with pytest.raises(StorageConflict) as caught:
        bus.publish_many([verdict_for(alert_event(1))], once=("sentinel", "e1"))
    assert caught.value.key == damaged and caught.value.case_id == alerts[1].case_id
    bus.client.delete(bus.key("alerts"))
    bus.client.set(bus.key("alerts"), "garbage")
    with pytest.raises(StorageConflict, match=r"alerts holds a string.*every publish"):
        ingest(ListSource([alert_event(5).alert]), bus)


def test_a_case_index_holding_garbage_neither_hides_the_case_nor_stops_retention(
    redis_url: str, namespace: str
) -> None:
    """Given one case's index list holding a value that is not an entry id (at its head) and another
    case's index key overwritten with a string (both written around the bus), when the cases are read
    and retention trims the whole log, then the first case's events are read, retention completes, and
    a third, healthy case's index is emptied with it."""
    bus = Bus(redis_url, namespace=namespace)
    a, b, c = alert_event(1), alert_event(2), alert_event(3)
    for e in (a, verdict_for(a), b, c):
        bus.publish(e)
    bus.client.lpush(bus.key(f"case:{a.case_id}"), "not-an-id")
    bus.client.delete(bus.key(f"case:{b.case_id}"))
    bus.client.set(bus.key(f"case:{b.case_id}"), "garbage")
    assert [e.type for e in bus.audit.for_case(a.case_id or "")] == ["alert.received", "triage.verdict"]
    assert bus.trim_audit(bus.audit.last_id() or "") == 4
    assert not bus.client.exists(bus.key(f"case:{c.case_id}"))
    assert bus.client.lrange(bus.key(f"case:{a.case_id}"), 0, 0) == ["not-an-id"]  # left as it was


def test_a_lock_key_without_expiry_written_around_the_bus_does_not_hold_forever(
    redis_url: str, namespace: str
) -> None:
    """Given the retention lock's key overwritten with a value (or a hash) that has no expiry, when the
    scheduler asks for the lock, then it gets it (a lock the bus sets always expires), and a lock the
    bus holds is still refused to a second caller."""
    bus = Bus(redis_url, namespace=namespace)
    bus.client.set(bus.key("lock:retention"), "garbage")
    assert bus.lock("retention", 5)
    assert 0 < bus.client.pttl(bus.key("lock:retention")) <= 5000
    assert not bus.lock("retention", 5)
    bus.client.delete(bus.key("lock:retention"))
    bus.client.hset(bus.key("lock:retention"), "x", "y")
    assert bus.lock("retention", 5) and not bus.lock("retention", 5)


@pytest.mark.parametrize(
    "error",
    [
        ClusterDownError("CLUSTERDOWN The cluster is down"),
        TryAgainError("TRYAGAIN Multiple keys request during rehashing of slot"),
        AskError("3999 127.0.0.1:6381"),
    ],
    ids=["clusterdown", "tryagain", "ask"],
)
def test_a_cluster_error_that_is_a_response_error_is_retried_not_raised_raw(
    redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """Given a cluster answering CLUSTERDOWN (TRYAGAIN, ASK) for a while, when the bus calls it, then the
    call is tried again until the cluster settles (redis-py's errors of these kinds are ResponseErrors
    too, and were re-raised raw: a worker's heartbeat then ended the process); past the settle time it
    is a BusError, which the worker's loop waits out."""
    bus = Bus(redis_url, namespace=namespace)
    answers: list[object] = [error, error, "ok"]

    def flaky() -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(time, "sleep", lambda s: None)
    assert bus._call(flaky) == "ok" and answers == []

    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(time, "monotonic", lambda: float(next(clock)))

    def down() -> object:
        raise error

    with pytest.raises(BusError, match="did not settle"):
        bus._call(down)
    bus.close()
