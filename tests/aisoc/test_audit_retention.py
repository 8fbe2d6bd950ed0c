"""Retention under crashes: a pass stopped between any two of its steps is finished by the next one,
nothing is archived twice, and no per-case index of trimmed entries stays behind on Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aisoc import Bus, audit, events
from aisoc.bus.redis import RedisBus
from tests.aisoc.bus_contract_events import alert_event, verdict_for


class Crash(Exception):
    """A process dying between two steps of a retention pass."""


def crash(*args: Any, **kwargs: Any) -> Any:
    """Stand in for a step: the process dies there."""
    raise Crash


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def any_bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    """A durable bus of each kind."""
    if request.param == "redis":
        b = Bus(request.getfixturevalue("redis_url"), namespace=request.getfixturevalue("namespace"))
    else:
        b = Bus(f"sqlite:///{tmp_path}/soc.db")
    yield b
    b.close()


@pytest.fixture(params=["single", "cluster"])
def redis_bus(request: pytest.FixtureRequest) -> Iterator[RedisBus]:
    """A Redis bus in a namespace of its own, on one server and on a Redis Cluster."""
    if request.param == "cluster":
        url = request.getfixturevalue("redis_cluster").url
        b = Bus(url, namespace=request.getfixturevalue("cluster_namespace"))
    else:
        b = Bus(request.getfixturevalue("redis_url"), namespace=request.getfixturevalue("namespace"))
    assert isinstance(b, RedisBus)
    yield b
    b.close()


def publish_cases(bus: Bus) -> dict[str, list[events.Event]]:
    """Cases a and b whose events all come first, case c with one event among them and one after,
    and case d after: the first five audit entries are a's, b's and c's first."""
    a, b, c, d = (alert_event(n) for n in (1, 2, 3, 4))
    order = [a, verdict_for(a), b, c, verdict_for(b), verdict_for(c), d]
    for e in order:
        bus.publish(e)
    return {"a": order[0:2], "b": [order[2], order[4]], "c": [order[3], order[5]], "d": [order[6]]}


def archived_ids(folder: Path) -> list[str]:
    """The event ids of every archive in ``folder``, in file order (a repeat is an entry archived twice)."""
    return [e.event_id for path in sorted(folder.glob("audit-*.jsonl.gz")) for e in audit.read_export(path)]


def case_keys(bus: RedisBus) -> list[str]:
    """The per-case index keys of ``bus`` (counted with SCAN; bytes that are not UTF-8 escaped)."""
    found = bus._rb.scan_iter(match=bus.key("case:*").encode(), count=1000)
    return sorted(k.decode("utf-8", "backslashreplace") for k in found)


def test_a_pass_stopped_after_its_archive_is_finished_by_the_next_without_archiving_twice(
    any_bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a pass that crashed after writing its archive and before trimming, and two more events
    published after it, when retention runs again, then it trims what that archive holds, archives
    only what came due since into a second archive, every trimmed event is in exactly one archive,
    and the journal is gone; a third run does nothing."""
    cases = publish_cases(any_bus)
    folder = tmp_path / "archive"
    monkeypatch.setattr(any_bus, "trim_audit", crash)
    with pytest.raises(Crash):
        audit.retain(any_bus, None, folder, max_entries=2)
    monkeypatch.undo()
    assert len(any_bus.audit) == 7
    later = [alert_event(5), alert_event(6)]
    for e in later:
        any_bus.publish(e)
    second = audit.retain(any_bus, None, folder, max_entries=2)
    assert second is not None and second.count == 2
    whole = [*cases["a"], cases["b"][0], cases["c"][0], cases["b"][1], cases["c"][1], *cases["d"], *later]
    assert archived_ids(folder) == [e.event_id for e in whole[:7]]
    assert [e.event_id for e in any_bus.audit] == [e.event_id for e in later]
    assert not (folder / audit.JOURNAL).exists()
    assert audit.retain(any_bus, None, folder, max_entries=2) is None
    assert len(list(folder.iterdir())) == 2


@pytest.mark.redis
def test_a_crash_between_the_two_steps_of_a_redis_trim_leaves_no_key_behind(
    redis_bus: RedisBus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a Redis pass that crashed between its two steps on the log (trimming the audit stream,
    dropping the trimmed entries' ids from the per-case indexes; whichever comes first ran), when
    retention runs again, then the log is trimmed, the keys of the cases whose events all went are
    gone, the case with an event left lists it alone, nothing is archived twice, and running it
    once more changes nothing."""
    cases = publish_cases(redis_bus)
    folder = tmp_path / "archive"
    ran: list[str] = []

    def first_step_only(name: str, real: Any) -> Any:
        def step(*args: Any, **kwargs: Any) -> Any:
            if ran:
                raise Crash
            ran.append(name)
            return real(*args, **kwargs)

        return step

    monkeypatch.setattr(redis_bus._r, "xtrim", first_step_only("xtrim", redis_bus._r.xtrim))
    monkeypatch.setattr(redis_bus, "_drop_case_ids", first_step_only("drop", redis_bus._drop_case_ids))
    with pytest.raises(Crash):
        audit.retain(redis_bus, None, folder, max_entries=2)
    monkeypatch.undo()
    assert len(ran) == 1
    assert audit.retain(redis_bus, None, folder, max_entries=2) is None
    kept = [cases["c"][1], *cases["d"]]
    assert [e.event_id for e in redis_bus.audit] == [e.event_id for e in kept]
    assert case_keys(redis_bus) == [redis_bus.key(f"case:{e.case_id}") for e in kept]
    assert redis_bus.audit.for_case(cases["c"][1].case_id or "") == [cases["c"][1]]
    trimmed = [*cases["a"], cases["b"][0], cases["c"][0], cases["b"][1]]
    assert archived_ids(folder) == [e.event_id for e in trimmed]
    assert audit.retain(redis_bus, None, folder, max_entries=2) is None
    assert archived_ids(folder) == [e.event_id for e in trimmed] and len(redis_bus.audit) == 2


@pytest.mark.redis
def test_index_entries_an_earlier_trim_left_behind_are_removed_and_damaged_keys_left_alone(
    redis_bus: RedisBus, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a log trimmed without its case indexes (what a crash of an earlier release, which
    trimmed first, left), beside index keys written around the bus (a string, a hash, a list with a
    value that is not an entry id at its head, a key moved aside, a name that is not UTF-8), when a
    retention pass that has nothing to archive runs, then the keys of the cases whose events all
    went are gone, the case with an event left lists it alone, the damaged keys are as they were,
    and both are logged; a second pass removes nothing more and archives nothing."""
    cases = publish_cases(redis_bus)
    first_left = list(redis_bus.audit.scan())[5].id
    redis_bus._r.xtrim(redis_bus.key("audit"), minid=first_left, approximate=False)
    r, key = redis_bus._r, redis_bus.key
    r.set(key("case:junk-string"), "x")
    r.hset(key("case:junk-hash"), "f", "v")
    r.rpush(key("case:junk-list"), "not-an-id", "1-0")
    r.rpush(key("case:old.aside-20260101T000000Z"), "1-0")
    redis_bus._rb.rpush(key("case:").encode() + b"\xff\xfe", b"1-0")
    damaged = {k: r.type(k) for k in (key("case:junk-string"), key("case:junk-hash"), key("case:junk-list"))}
    folder = tmp_path / "archive"
    with caplog.at_level("WARNING"):
        assert audit.retain(redis_bus, None, folder, max_entries=10) is None
        assert audit.retain(redis_bus, None, folder, max_entries=10) is None
    kept = [cases["c"][1], *cases["d"]]
    assert [e.event_id for e in redis_bus.audit] == [e.event_id for e in kept]
    live = [redis_bus.key(f"case:{e.case_id}") for e in kept]
    aside, not_utf8 = key("case:old.aside-20260101T000000Z"), key("case:") + "\\xff\\xfe"
    assert case_keys(redis_bus) == sorted([*live, *damaged, aside, not_utf8])
    assert redis_bus.audit.for_case(cases["c"][1].case_id or "") == [cases["c"][1]]
    assert {k: r.type(k) for k in damaged} == damaged
    assert r.lrange(key("case:junk-list"), 0, -1) == ["not-an-id", "1-0"]
    assert redis_bus._rb.lrange(key("case:").encode() + b"\xff\xfe", 0, -1) == [b"1-0"]
    removed = [m for m in (r.getMessage() for r in caplog.records) if "index entries" in m]
    assert removed == ["retention: removed 5 per-case index entries of audit entries no longer in the log"]
    assert sum("3 per-case index keys" in r.getMessage() for r in caplog.records) == 2
    assert not folder.exists() or archived_ids(folder) == []
