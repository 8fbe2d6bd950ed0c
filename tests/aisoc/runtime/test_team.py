"""The team over the bus: failover, exactly-once under redelivery, the whole chain, workers."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict

import pytest

from aisoc import Bus, events, models
from aisoc.errors import ModelError
from aisoc.models import CooldownFailoverChatModel
from aisoc.runtime import RoleTeam
from aisoc.runtime.worker import Worker
from integrations.samples import demo_source
from roles import STANDARD_TEAM, Sentinel
from tests.aisoc.runtime.test_loop import GOOD, real_alert
from tests.support.fake_model import ScriptedChatModel

TERMINAL = {"case.closed", "case.review_requested", "ir.plan"}


class Refused(ConnectionRefusedError):
    """What a dead llama.cpp server looks like to the client."""


# --- failover ---------------------------------------------------------------------------------


def test_failover_serves_from_the_backup_with_a_cooldown_then_flips_back() -> None:
    """Given a dead primary, the backup serves and the trace says so; during the cooldown the primary
    is not tried again (one timeout, not one per call); once it recovers, it serves again."""
    primary = ScriptedChatModel(scripts={"sentinel": [Refused("primary down")]}, leg="p")
    backup = ScriptedChatModel(scripts={"sentinel": [GOOD]}, leg="b")
    model = CooldownFailoverChatModel(primary=primary, secondary=backup, cooldown_s=600)
    team = RoleTeam(model=model, bus=Bus(), roles=[Sentinel])
    first = team.run_role("sentinel", real_alert(1))[0]
    assert first.trace.legs == ["backup"] and first.produced_by.model_leg == "backup"
    team.run_role("sentinel", real_alert(2))
    assert len(primary.calls) == 1 and len(backup.calls) == 2  # cooldown: primary skipped
    assert model.active == "backup"
    primary.scripts["sentinel"] = [GOOD]
    model._state.down_until = 0.0  # the cooldown is over (no sleeping on a busy machine)
    again = team.run_role("sentinel", real_alert(3))[0]
    assert again.trace.legs == ["primary"] and model.active == "primary"


def test_model_unreachable_makes_the_delivery_wait_not_fail() -> None:
    """Given no leg answering, no verdict is invented and nothing is dead-lettered: the delivery
    waits with the reason, and nothing else is published."""
    model = ScriptedChatModel(scripts={"sentinel": [Refused("all down")]})
    bus = Bus(max_deliveries=1)
    team = RoleTeam(model=model, bus=bus, roles=[Sentinel])
    team.subscribe()
    bus.publish(real_alert())
    bus.drain()
    (waiting,) = bus.waiting("sentinel")
    assert "model unreachable" in waiting.reason and waiting.attempts == 1
    assert bus.dead_letters() == [] and [e.type for e in bus.audit] == ["alert.received"]
    assert len(model.calls) == 1 and team.model_backoff_s() == 1
    team.unserved = 20  # a long outage: the worker still finds the server back within 10 s
    assert team.model_backoff_s() == 10


def test_from_spec_names_what_it_expected() -> None:
    """A malformed model spec is refused with the accepted forms."""
    with pytest.raises(ModelError, match="expected 'stub', 'local' or 'openai"):
        models.from_spec("gpt")
    with pytest.raises(ModelError, match="mode must be"):
        models.from_spec("openai+http://127.0.0.1:1/v1?mode=fast")
    caps = models.capabilities(models.from_spec("openai+http://127.0.0.1:1/v1?mode=json"))
    assert caps.json_schema and not caps.tools


# --- exactly once -----------------------------------------------------------------------------


def test_redelivery_after_a_crash_between_publish_and_ack_publishes_nothing_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given a worker that dies after publishing its effects but before acking, the redelivered event
    is acked without running the model again: one verdict, one model call."""
    bus = Bus(visibility_timeout_ms=100)
    model = ScriptedChatModel(scripts={"sentinel": [GOOD]})
    team = RoleTeam(model=model, bus=bus, roles=[Sentinel])
    bus.publish(real_alert())
    (d,) = bus.consume("sentinel", "dies", types=["alert.received"])

    def killed(*args: object) -> None:
        raise SystemExit("killed between publish and ack")

    monkeypatch.setattr(bus, "_ack", killed)
    with pytest.raises(SystemExit):
        team.process("sentinel", d)
    monkeypatch.undo()
    time.sleep(0.15)
    (again,) = bus.consume("sentinel", "survivor", types=["alert.received"])
    assert again.delivery_count == 2
    team.process("sentinel", again)
    assert Counter(e.type for e in bus.audit)["triage.verdict"] == 1
    assert len(model.calls) == 1
    assert bus.consume("sentinel", "survivor", types=["alert.received"]) == []


# --- the whole chain --------------------------------------------------------------------------


def outcomes(bus: Bus) -> dict[str, list[str]]:
    by_case: dict[str, list[str]] = defaultdict(list)
    for e in bus.audit:
        if e.case_id:
            by_case[e.case_id].append(e.type)
    return dict(by_case)


def check_chain(bus: Bus) -> dict[str, list[str]]:
    """Every case reached exactly one terminal outcome, every role result carries its trace, and
    each plan has Threat Intel's attribution after it."""
    paths = outcomes(bus)
    assert len(paths) == 12
    for case_id, types in paths.items():
        assert sum(t in TERMINAL for t in types) == 1, (case_id, types)
        assert types.count("triage.verdict") == 1
        if "ir.plan" in types:
            assert types.count("intel.attribution") == 1 and types.count("tier2.decision") == 1
    for e in bus.audit:
        if hasattr(e, "trace") and e.type != "case.review_requested":
            assert e.trace is not None and e.trace.role == e.produced_by.role
    return paths


def test_whole_chain_on_the_in_memory_bus_with_real_alerts() -> None:
    """Twelve real Wazuh alerts go Sentinel -> Tier 2 -> IR Lead -> Threat Intel -> proposals."""
    bus = Bus()
    team = RoleTeam(model=models.from_spec("stub"), bus=bus)
    stats = team.consume(demo_source())
    assert stats.published == 12
    paths = check_chain(bus)
    kinds = Counter(t for types in paths.values() for t in types)
    assert kinds["ir.plan"] >= 3 and kinds["action.proposed"] >= kinds["ir.plan"]
    assert kinds["case.closed"] >= 1  # the canned floor escalates what is medium or mapped to ATT&CK
    plan = next(e for e in bus.audit if isinstance(e, events.IrPlan))
    proposals = [
        e for e in bus.audit if isinstance(e, events.ActionProposed) and e.plan_event_id == plan.event_id
    ]
    assert {p.action_id for p in proposals} == {s.action_id for s in plan.steps if s.action_id}
    assert all(p.plan_digest == plan.plan_digest for p in proposals)


@pytest.mark.redis
def test_whole_chain_on_redis_with_one_worker_per_role(redis_url: str, namespace: str) -> None:
    """The same alerts on Redis, one Worker per role (separate bus connections, as separate
    processes would have): the same outcome per case as in memory."""
    expected_bus = Bus()
    RoleTeam(model=models.from_spec("stub"), bus=expected_bus).consume(demo_source())
    expected = {c: sorted(t) for c, t in outcomes(expected_bus).items()}

    stop = threading.Event()
    threads = []
    for role in ("sentinel", "tier2", "ir_lead", "threat_intel"):
        team = RoleTeam(model=models.from_spec("stub"), bus=Bus(redis_url, namespace=namespace))
        w = Worker(team, role, block_ms=100, stop=stop)
        threads.append(threading.Thread(target=w.run, daemon=True))
    for t in threads:
        t.start()
    bus = Bus(redis_url, namespace=namespace)
    from aisoc.sources import ingest

    ingest(demo_source(), bus)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if {c: sorted(t) for c, t in outcomes(bus).items()} == expected:
            break
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(10)
    assert {c: sorted(t) for c, t in outcomes(bus).items()} == expected
    beats = bus.heartbeats()
    assert {b["role"] for b in beats.values()} == {"sentinel", "tier2", "ir_lead", "threat_intel"}


def test_worker_finishes_the_current_event_when_stopped() -> None:
    """Given a stop request while an event is being handled, that event completes and is acked; the
    worker then exits without taking new work."""
    bus = Bus()
    started, release = threading.Event(), threading.Event()

    class Slow(ScriptedChatModel):
        def _generate(self, *a, **kw):  # type: ignore[no-untyped-def]
            started.set()
            release.wait(5)
            return super()._generate(*a, **kw)

    team = RoleTeam(model=Slow(scripts={"sentinel": [GOOD]}), bus=bus, roles=[Sentinel])
    for n in range(3):
        bus.publish(real_alert(n))
    worker = Worker(team, "sentinel", block_ms=50)
    t = threading.Thread(target=worker.run)
    t.start()
    assert started.wait(5)
    worker.stop.set()
    release.set()
    t.join(10)
    assert not t.is_alive() and worker.handled == 1
    assert Counter(e.type for e in bus.audit)["triage.verdict"] == 1
    (alerts,) = [s for s in bus.stats().streams if s.name == "alerts"]
    assert alerts.groups[0].pending == 0  # nothing held: the rest waits for the next worker


def test_every_standard_role_file_is_small_and_declares_its_contract() -> None:
    """Each role is one small class with its metadata (slug, triggers, outputs, budget, schema)."""
    import inspect

    for cls in STANDARD_TEAM:
        lines = len(inspect.getsource(inspect.getmodule(cls)).splitlines())  # type: ignore[arg-type]
        assert lines < 300, (cls.__name__, lines)
        assert cls.name in {r.value for r in events.Role} and cls.emits
    agents = {c.name: c for c in STANDARD_TEAM if hasattr(c, "budget")}
    assert {n: c.budget for n, c in agents.items()} == {
        "sentinel": 10,
        "tier2": 30,
        "ir_lead": 15,
        "threat_intel": 12,
    }


def test_drain_handler_contract_for_gate_hook() -> None:
    """on_action_proposed hands every proposal (and cancelling events) to an in-process gate."""
    seen: list[str] = []
    bus = Bus()
    team = RoleTeam(model=models.from_spec("stub"), bus=bus)
    team.on_action_proposed(gate=lambda e: seen.append(e.type))
    team.consume(demo_source())
    counts = Counter(e.type for e in bus.audit)
    assert seen.count("action.proposed") == counts["action.proposed"] > 0
    assert seen.count("case.closed") == counts["case.closed"]


def test_model_garbage_is_deterministic_and_ends_in_reviews() -> None:
    """The canned model's fault injection answers a stable share of prompts with garbage; each of
    those ends in a review request, never in an invented verdict."""

    def run(spec: str) -> Counter[str]:
        bus = Bus()
        RoleTeam(model=models.from_spec(spec), bus=bus).consume(demo_source())
        return Counter(e.type for e in bus.audit)

    everything = run("stub?garbage=1")
    assert everything["triage.verdict"] == 0 and everything["case.review_requested"] == 12
    assert run("stub?garbage=0.3") == run("stub?garbage=0.3") != run("stub")
    with pytest.raises(ModelError, match="garbage"):
        models.from_spec("stub?garbage=lots")


def _crash_after_publish(monkeypatch: pytest.MonkeyPatch, bus: Bus, team: RoleTeam) -> None:
    """Sentinel publishes its verdict with its mark, then dies before the ack."""
    (d,) = bus.consume("sentinel", "dies", types=["alert.received"])

    def killed(*args: object) -> None:
        raise SystemExit("killed between publish and ack")

    with monkeypatch.context() as m:
        m.setattr(bus, "_ack", killed)
        with pytest.raises(SystemExit):
            team.process("sentinel", d)


def _redelivered_after_the_mark_window(monkeypatch: pytest.MonkeyPatch, bus: Bus) -> None:
    """Two hours pass (the marks' TTL is one hour) and the pending entry is taken over."""
    later = time.time() + 7200
    monkeypatch.setattr(time, "time", lambda: later)


@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_redelivery_older_than_the_mark_window_is_dead_lettered_not_run_twice(
    backend: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Given a worker that died between publishing and acking, when its entry is redelivered after
    the idempotency marks' TTL (the mark is gone), then the event is filed as a dead letter with the
    reason instead of running again: still one verdict and one model call; a replay runs it."""
    if backend == "redis":
        url, ns = request.getfixturevalue("redis_url"), request.getfixturevalue("namespace")
        bus = Bus(url, namespace=ns, visibility_timeout_ms=100, mark_ttl_s=3600)
    else:
        bus = Bus(visibility_timeout_ms=100, mark_ttl_s=3600)
    model = ScriptedChatModel(scripts={"sentinel": [GOOD, GOOD]})
    team = RoleTeam(model=model, bus=bus, roles=[Sentinel])
    alert = real_alert()
    bus.publish(alert)
    _crash_after_publish(monkeypatch, bus, team)
    assert bus.seen("sentinel", alert.event_id)
    _redelivered_after_the_mark_window(monkeypatch, bus)
    if backend == "redis":  # Redis expires keys on its own clock: drop the mark as it would
        bus.client.delete(bus.key(f"mark:sentinel:{alert.event_id}"))  # type: ignore[attr-defined]
    assert not bus.seen("sentinel", alert.event_id)
    time.sleep(0.15)  # the visibility timeout (monotonic clock)
    (again,) = bus.consume("sentinel", "survivor", types=["alert.received"])
    assert again.delivery_count == 2 and bus.past_mark_window(again)
    team.process("sentinel", again)
    assert Counter(e.type for e in bus.audit)["triage.verdict"] == 1
    assert len(model.calls) == 1
    (dl,) = bus.dead_letters()
    assert "idempotency mark window" in dl.reason and dl.event_id == alert.event_id
    bus.replay_dead_letter(dl.id)
    (replayed,) = bus.consume("sentinel", "survivor", types=["alert.received"])
    assert not bus.past_mark_window(replayed)
    team.process("sentinel", replayed)
    assert Counter(e.type for e in bus.audit)["triage.verdict"] == 2  # on purpose: a person replayed it


def test_a_redelivery_within_the_mark_window_is_not_dead_lettered() -> None:
    """Given a failed first try (no mark), when redelivered well within the marks' TTL, then it
    simply runs again (the window guard only acts past the TTL)."""
    bus = Bus(visibility_timeout_ms=100, mark_ttl_s=3600)
    model = ScriptedChatModel(scripts={"sentinel": [GOOD]})
    team = RoleTeam(model=model, bus=bus, roles=[Sentinel])
    team.subscribe()
    bus.publish(real_alert())
    (first,) = bus.consume("sentinel", "sentinel-local", types=["alert.received"])
    first.fail("the worker's handler crashed")  # a failed first try: no mark
    bus.drain()
    assert bus.dead_letters() == []
    assert Counter(e.type for e in bus.audit)["triage.verdict"] == 1
