"""Garbage written straight into Redis where the gate keeps a key (a string where a sorted set, a
hash, a stream or the outbox counter belongs) fails no tick: the key is moved aside, named once in
the log and rebuilt, and every event is published once, in the order it was queued."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from aisoc.bus import Bus
from aisoc.errors import Unprocessable
from aisoc.events import ActionDecided, ActionReminded, Component, ProducedBy
from gate import Gate
from gate.errors import UnreadableRequest
from gate.store import ApprovalRequest
from gate.store_redis import RedisRequestStore, _glob
from gate.timers import TickReport
from tests.gate.factory import Clock, gate_events, gate_settings, publish_case
from tests.gate.store_contract import plant_event

GARBAGE = "garbage written around the gate"
"""What the tests write where the gate keeps a key."""


@pytest.fixture
def redis_bus(redis_url: str, namespace: str) -> Iterator[Bus]:
    """A Redis bus in a namespace of its own."""
    b = Bus(redis_url, namespace=namespace)
    yield b
    b.close()


def redis_store(gate: Gate) -> RedisRequestStore:
    store = gate.store
    assert isinstance(store, RedisRequestStore)
    return store


def write_garbage(store: RedisRequestStore, key: str) -> None:
    """Write :data:`GARBAGE` (a string) at ``key``, whatever it held, as something around the gate."""
    store._r.delete(key)
    store._r.set(key, GARBAGE)


def asides(store: RedisRequestStore, key: str) -> list[str]:
    """The names ``key`` was moved aside to."""
    return sorted(store._r.scan_iter(match=_glob(key) + ".aside-*", count=1000))


def moved_aside(caplog: pytest.LogCaptureFixture, key: str) -> list[str]:
    """The levels of the log records saying ``key`` (not a longer key it begins) was moved aside."""
    named = re.compile(re.escape(key) + r"(?![:\w])")
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    return [level for level, message in said if named.search(message) and "moved aside" in message]


def reminder(req: ApprovalRequest, n: int, minutes_ago: int) -> ActionReminded:
    return ActionReminded(
        case_id=req.case_id,
        produced_by=ProducedBy(role=Component.GATE),
        occurred_at=req.created_at - timedelta(minutes=minutes_ago),
        action_id=req.action_id,
        person="alice@example.com",
        reminder=n,
    )


@pytest.mark.redis
def test_an_outbox_order_of_another_type_is_rebuilt_in_queue_order_and_publishing_goes_on(
    redis_bus: Bus, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a gate on Redis with a pending request and, queued in its outbox but not yet published,
    an event queued by an earlier release (no place in the queue kept beside it) and then three
    reminders queued by three transitions whose times run backwards (a skewed clock: time cannot
    order them), and then garbage (a string) written straight into Redis where the outbox order (a
    sorted set) belongs, when the worker ticks on a frozen clock, then that very tick publishes all
    four in the order they were queued, the earlier release's first, each once, none set aside; the
    key is moved aside holding the garbage, one warning names it, and later ticks publish nothing."""
    gate = Gate(redis_bus, gate_settings(), clock=clock)
    case = publish_case(redis_bus)
    req = gate.submit(case.proposal)
    assert gate.tick() == TickReport()  # the first repair pass: nothing to repair
    store = redis_store(gate)
    earlier = reminder(req, 1, minutes_ago=0)  # the latest time, yet queued first
    plant_event(store, earlier.event_id, earlier.to_json())  # as a release without places wrote it
    queued = [earlier]
    for n in (2, 3, 4):
        event = reminder(req, n, minutes_ago=n)
        req = req.evolve(reminders=n)
        assert store.replace(req, [event])  # queued with the transition, not yet published
        queued.append(event)
    order = store._key("gate:outbox:order")
    write_garbage(store, order)
    with caplog.at_level("INFO"):
        assert gate.tick() == TickReport(published=4)
        assert gate.tick() == TickReport() and gate.tick() == TickReport()
    published = gate_events(redis_bus, case.case_id, ActionReminded)
    assert [e.event_id for e in published] == [e.event_id for e in queued]
    assert store.outbox() == [] and store.damaged_outbox() == []
    assert store._r.type(order) in ("zset", "none")
    (aside,) = asides(store, order)
    assert re.fullmatch(re.escape(order) + r"\.aside-\d{8}T\d{6}Z", aside) and store._r.get(aside) == GARBAGE
    assert moved_aside(caplog, order) == ["WARNING"]
    gate.close()


KEYS = [
    "gate:pending",
    "gate:all",
    "gate:case:{case}",
    "gate:outbox",
    "gate:outbox:order",
    "gate:outbox:seq",
    "gate:outbox:damaged",
]
"""Every key the gate's tick, its reminders, expiry, listings, outbox and pruning read or write
beside the ``req:*`` records (see ``test_a_request_key_of_another_type_is_kept_...``)."""


@pytest.mark.redis
@pytest.mark.parametrize("name", KEYS)
def test_garbage_in_any_key_the_tick_reads_is_moved_aside_and_every_event_goes_out_once(
    redis_bus: Bus, clock: Clock, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    """Given a gate on Redis past its first repair pass with a pending request and a damaged outbox
    entry, and then garbage (a string) written straight into Redis at one of the gate's keys, when
    the worker ticks on a frozen clock, a person approves and the gate ticks on past the retention,
    then no tick fails and nothing is half stored: the request is reminded and its reminder and the
    decision are each published once, the damaged entry is set aside once, the request is pruned; the
    key is moved aside holding the garbage and named once in the log (an error for the outbox, whose
    queued events the garbage replaced; else a warning)."""
    gate = Gate(redis_bus, gate_settings(), clock=clock)
    case = publish_case(redis_bus)
    req = gate.submit(case.proposal)
    assert gate.tick() == TickReport()
    store = redis_store(gate)
    plant_event(store, "damaged-1", "not an event")
    key = store._key(name.format(case=case.case_id))
    write_garbage(store, key)
    with caplog.at_level("INFO"):
        clock.advance(seconds=gate.settings.remind_after_s + 60)
        assert gate.tick().reminded == 1
        gate.decide(req.request_id, person_id="alice", decision="approved", reason="go", identity_source="t")
        assert len(gate_events(redis_bus, case.case_id, ActionDecided)) == 1  # published as it was stored
        assert gate.tick() == TickReport()
        clock.advance(days=gate.settings.ended_retention_days + 1)
        assert gate.tick().pruned == 1
    assert len(gate_events(redis_bus, case.case_id, ActionReminded)) == 1
    assert len(gate_events(redis_bus, case.case_id, ActionDecided)) == 1
    assert [e.event_id for e in store.damaged_outbox()] == ["damaged-1"]
    assert store.outbox() == [] and store.recent() == [] and store.pending() == []
    (aside,) = asides(store, key)
    assert store._r.get(aside) == GARBAGE
    assert moved_aside(caplog, key) == ["ERROR" if name == "gate:outbox" else "WARNING"]
    failed = [r.getMessage() for r in caplog.records if r.name == "gate.service" and r.levelname == "ERROR"]
    assert failed == []
    gate.close()


class _PauseAtRebuild:
    """A redis-py client that runs ``meanwhile`` once, when the outbox rebuild first reads the outbox
    (HSCAN): what another gate process does while this one rebuilds a damaged outbox order."""

    def __init__(self, client: object, meanwhile: Callable[[], object]) -> None:
        self._client, self._meanwhile, self.paused = client, meanwhile, False

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def execute_command(self, *args: object, **options: object) -> object:
        if args[0] == "HSCAN" and not self.paused:
            self.paused = True
            self._meanwhile()
        return self._client.execute_command(*args, **options)  # type: ignore[attr-defined]


@pytest.mark.redis
def test_a_second_gate_process_never_publishes_ahead_of_an_outbox_order_being_rebuilt(
    redis_url: str, namespace: str, clock: Clock
) -> None:
    """Given three reminders queued in a gate's outbox (not yet published) and garbage written where
    their order (a sorted set) belongs, when one gate process's tick meets the garbage and, while it
    rebuilds the order, a second gate process (its own connection) stores a person's decision and
    publishes, then the bus gets the three reminders and then the decision, each once: the order is
    moved aside and rebuilt in one step, so no newer event goes out before older ones are back."""
    first_bus, second_bus = Bus(redis_url, namespace=namespace), Bus(redis_url, namespace=namespace)
    first, second = (
        Gate(first_bus, gate_settings(), clock=clock),
        Gate(second_bus, gate_settings(), clock=clock),
    )
    case = publish_case(first_bus)
    req = first.submit(case.proposal)
    assert first.tick() == TickReport()
    store = redis_store(first)
    queued = []
    for n in (1, 2, 3):
        event = reminder(req, n, minutes_ago=0)
        req = req.evolve(reminders=n)
        assert store.replace(req, [event])
        queued.append(event.event_id)
    write_garbage(store, store._key("gate:outbox:order"))

    def meanwhile() -> None:
        second.decide(
            req.request_id, person_id="alice", decision="approved", reason="go", identity_source="t"
        )

    paused = _PauseAtRebuild(store._r, meanwhile)
    store._keys._r = paused
    first.tick()
    assert paused.paused
    published = [
        e for e in first_bus.audit.for_case(case.case_id) if isinstance(e, ActionReminded | ActionDecided)
    ]
    (decided,) = gate_events(first_bus, case.case_id, ActionDecided)
    assert [e.event_id for e in published] == [*queued, decided.event_id]
    assert store.outbox() == [] and store.damaged_outbox() == []
    first.close(), second.close()
    first_bus.close(), second_bus.close()


@pytest.mark.redis
@pytest.mark.parametrize("garbage", ["list", "hash"])
def test_a_proposal_whose_request_key_holds_another_type_is_unreadable_not_a_redis_error(
    redis_bus: Bus, clock: Clock, garbage: str
) -> None:
    """Given a request key holding a Redis list (or a hash without the record) where the gate keeps a
    request, when the proposal is delivered again, then the gate raises UnreadableRequest naming the
    key (an Unprocessable error, filed as a dead letter at once), not a WRONGTYPE error retried until
    max_deliveries nor "no approval request"; the key is kept as it was."""
    gate = Gate(redis_bus, gate_settings(), clock=clock)
    case = publish_case(redis_bus)
    store = redis_store(gate)
    key = store._key(f"gate:req:{case.proposal.event_id}")
    if garbage == "list":
        store._r.rpush(key, GARBAGE)
    else:
        store._r.hset(key, "note", GARBAGE)
    with pytest.raises(UnreadableRequest, match=re.escape(key)) as refused:
        gate.handle(case.proposal)
    assert isinstance(refused.value, Unprocessable)
    assert store._r.type(key) == garbage and gate_events(redis_bus, case.case_id, ActionDecided) == []
    gate.close()
