"""The Gate: one request per proposal, cancellation, reminders/escalation/expiry, first decision wins."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest

from aisoc.bus import Bus
from aisoc.events import (
    ActionDecided,
    ActionEscalated,
    ActionExecuted,
    ActionReminded,
    Component,
    Decision,
    Role,
)
from aisoc.health import status
from gate import AlreadyDecided, ApprovalError, Gate, NotAuthorized, State, UnreadableRequest
from gate.server import GateWorker
from tests.gate.factory import T0, Clock, close_case, gate_events, gate_settings, publish_case, publish_plan
from tests.gate.store_contract import plant, set_version, unplant


def test_each_proposal_becomes_exactly_one_request(bus: Bus, gate: Gate) -> None:
    """Given a plan with two proposals, when each is handled twice, then there are two pending requests."""
    case = publish_case(bus, steps=2)
    for p in case.proposals * 2:
        gate.handle(p)
    pending = gate.store.pending()
    assert sorted(r.request_id for r in pending) == sorted(p.event_id for p in case.proposals)
    assert {(r.approver, r.required_role, r.plan_digest) for r in pending} == {
        ("alice", Role.IR_LEAD, case.plan.plan_digest)
    }
    assert gate_events(bus, case.case_id, ActionDecided) == []


def test_gate_process_consumes_proposals_as_group_gate(bus: Bus, gate: Gate) -> None:
    """Given proposals on the bus, when the gate worker consumes, then requests open, once each."""
    publish_case(bus, steps=2)
    worker = GateWorker(gate, consumer="gate-test", block_ms=0)
    assert worker.run_once() == 3  # the plan and two proposals
    assert worker.run_once() == 0
    assert len(gate.store.pending()) == 2
    assert {g.name for s in bus.stats().streams for g in s.groups} == {"gate"}


def test_a_proposal_whose_stored_record_is_unreadable_is_dead_lettered_at_once(
    store_bus: Bus, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Given garbage stored under a proposal's request id (a bad restore) beside a good proposal,
    when the gate's worker consumes them, then the good one opens a request, and the damaged one is
    logged once naming its id and filed as a dead letter on the first delivery (no redelivery loop);
    the garbage stays in the store for a person, and replaying the letter once they removed it opens
    the request."""
    gate = Gate(store_bus, gate_settings(), clock=clock)
    case = publish_case(store_bus, steps=2)
    bad, good = case.proposals
    plant(gate.store, bad.event_id, "not json", case_id=case.case_id)
    worker = GateWorker(gate, consumer="gate-test", block_ms=0)
    with caplog.at_level("INFO"):
        assert worker.run_once() == 3  # the plan and two proposals
        assert worker.run_once() == 0  # nothing comes back
    assert [r.request_id for r in gate.store.pending()] == [good.event_id]
    named = [r for r in caplog.records if bad.event_id in r.getMessage() and r.name == "aisoc.bus.delivery"]
    assert len(named) == 1, [r.getMessage() for r in named]
    assert "dead letter" in named[0].getMessage() and named[0].exc_info is None
    (letter,) = store_bus.dead_letters()
    assert (letter.event_id, letter.group, letter.delivery_count) == (bad.event_id, "gate", 1)
    assert bad.event_id in letter.reason and "cannot be read" in letter.reason
    with pytest.raises(UnreadableRequest):
        gate.store.get(bad.event_id)  # the record is left as it was, for a person to look at
    unplant(gate.store, bad.event_id)
    store_bus.replay_dead_letter(letter.id)
    assert worker.run_once() == 1 and store_bus.dead_letters() == []
    assert sorted(r.request_id for r in gate.store.pending()) == sorted([bad.event_id, good.event_id])
    gate.close()


def test_the_in_process_gate_dead_letters_a_proposal_whose_stored_record_is_unreadable_at_once(
    store_bus: Bus, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Given the embedded gate hooked into a RoleTeam (the demo's path) and garbage stored under one
    proposal's request id beside a good proposal, when the bus drains, then the good one opens a
    request and the damaged one is filed as a dead letter on its first delivery, logged once as an
    error naming it, with no traceback (the worker's path does the same); replayed after the record
    was removed, it opens the request."""
    from aisoc.models import StubChatModel
    from aisoc.runtime import RoleTeam

    gate = Gate(store_bus, gate_settings(), clock=clock)
    RoleTeam(model=StubChatModel(), bus=store_bus, roles=[]).on_action_proposed(gate=gate)
    case = publish_case(store_bus, steps=2)
    bad, good = case.proposals
    plant(gate.store, bad.event_id, "not json", case_id=case.case_id)
    with caplog.at_level("INFO"):
        store_bus.drain()
    assert [r.request_id for r in gate.store.pending()] == [good.event_id]
    named = [r for r in caplog.records if bad.event_id in r.getMessage() and r.name == "aisoc.bus.delivery"]
    assert len(named) == 1 and named[0].exc_info is None, [r.getMessage() for r in named]
    (letter,) = store_bus.dead_letters()
    assert (letter.event_id, letter.group, letter.delivery_count) == (bad.event_id, "gate", 1)
    assert bad.event_id in letter.reason and "cannot be read" in letter.reason
    unplant(gate.store, bad.event_id)
    store_bus.replay_dead_letter(letter.id)
    store_bus.drain()
    assert store_bus.dead_letters() == [] and gate.get(bad.event_id).is_pending
    gate.close()


def test_a_request_whose_stored_version_is_not_its_own_fails_once_and_decides_nothing(
    store_bus: Bus, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a pending request whose stored version was written straight into the store as another
    number than its record's (a hand edit, a bad restore), when Alice decides it, then she is told
    the record cannot be read, naming it (not "kept changing; try again"); when the worker ticks past
    its deadline again and again, then nothing expires and the record is logged once, as an error
    naming it; it stays as it is for a person."""
    gate = Gate(store_bus, gate_settings(), clock=clock)
    case = publish_case(store_bus)
    req = gate.submit(case.proposal)
    set_version(gate.store, req.request_id, req.version + 3)
    with pytest.raises(UnreadableRequest, match="stored version 4 is not the version 1") as caught:
        gate.decide(req.request_id, person_id="alice", decision="approved", reason="go", identity_source="t")
    assert caught.value.code == "unreadable" and req.request_id in str(caught.value)
    clock.now = req.expires_at + timedelta(minutes=1)
    with caplog.at_level("INFO"):
        assert [gate.tick().expired for _ in range(3)] == [0, 0, 0]
    named = [r for r in caplog.records if req.request_id in r.getMessage()]
    assert [r.levelname for r in named] == ["ERROR"], [r.getMessage() for r in named]
    assert gate_events(store_bus, case.case_id, ActionDecided) == []
    set_version(gate.store, req.request_id, req.version)  # a person repairs it
    assert gate.tick().expired == 1
    gate.close()


@pytest.mark.parametrize("column", ["approved", "garbage"])
def test_a_pending_request_whose_sqlite_state_column_says_otherwise_is_still_reminded_and_expired(
    tmp_path: Any, clock: Clock, caplog: pytest.LogCaptureFixture, column: str
) -> None:
    """Given a pending request whose SQLite ``state`` column was written straight into the store as
    something else, when the worker ticks, then the record decides: it is listed pending, reminded,
    escalated and expired on time, and the disagreement is logged once, as a warning naming it."""
    bus = Bus(f"sqlite:///{tmp_path}/soc.db")
    gate = Gate(bus, gate_settings(), clock=clock)
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    with gate.store._tx() as db:  # type: ignore[attr-defined]
        db.execute("UPDATE gate_requests SET state = ? WHERE request_id = ?", (column, req.request_id))
    with caplog.at_level("INFO"):
        assert [r.request_id for r in gate.store.pending()] == [req.request_id]
        clock.advance(minutes=gate.settings.remind_after_s / 60 + 1)
        assert gate.tick().reminded == 1
        clock.now = req.expires_at + timedelta(minutes=1)
        assert gate.tick().expired == 1
    named = [r for r in caplog.records if req.request_id in r.getMessage() and r.name == "gate.store"]
    assert [r.levelname for r in named] == ["WARNING"], [r.getMessage() for r in named]
    assert repr(column) in named[0].getMessage()
    (decided,) = gate_events(bus, case.case_id, ActionDecided)
    assert decided.decision == Decision.EXPIRED and gate.store.pending() == []
    gate.close()


def test_an_ended_request_whose_sqlite_state_column_says_pending_is_not_listed_and_is_pruned(
    tmp_path: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Given an approved request whose SQLite ``state`` column was written back to ``pending``
    straight into the store, when the worker ticks again and again, then it is not listed pending,
    the disagreement is logged once, and once the retention has passed the request is forgotten."""
    bus = Bus(f"sqlite:///{tmp_path}/soc.db")
    gate = Gate(bus, gate_settings(), clock=clock)
    req = gate.submit(publish_case(bus).proposal)
    gate.decide(req.request_id, person_id="alice", decision="approved", reason="go", identity_source="t")
    with gate.store._tx() as db:  # type: ignore[attr-defined]
        db.execute("UPDATE gate_requests SET state = 'pending' WHERE request_id = ?", (req.request_id,))
    with caplog.at_level("INFO"):
        for _ in range(3):
            assert gate.store.pending() == [] and gate.tick().expired == 0
    named = [r for r in caplog.records if req.request_id in r.getMessage() and r.name == "gate.store"]
    assert [r.levelname for r in named] == ["WARNING"], [r.getMessage() for r in named]
    clock.advance(days=gate.settings.ended_retention_days + 1)
    assert gate.tick().pruned == 1 and gate.store.recent() == []
    gate.close()


def test_runtime_hook_feeds_the_gate_in_process(bus: Bus, gate: Gate) -> None:
    """Given a RoleTeam with the gate hooked in, when the bus drains, then the proposal is a request."""
    from aisoc.models import StubChatModel
    from aisoc.runtime import RoleTeam

    team = RoleTeam(model=StubChatModel(), bus=bus, roles=[])
    team.on_action_proposed(gate=gate)
    case = publish_case(bus)
    bus.drain()
    assert gate.get(case.proposal.event_id).is_pending


def test_closing_the_case_cancels_its_pending_requests_only(bus: Bus, gate: Gate) -> None:
    """Given two requests, one approved, when the case closes, then only the pending one is cancelled."""
    case = publish_case(bus, steps=2)
    first, second = (gate.submit(p) for p in case.proposals)
    gate.decide(first.request_id, person_id="alice", decision="approved", reason="go", identity_source="test")
    closed = close_case(bus, case.case_id)
    gate.handle(closed)
    assert gate.get(first.request_id).state == State.APPROVED
    assert gate.get(second.request_id).state == State.CANCELLED
    cancelled = [e for e in gate_events(bus, case.case_id, ActionDecided) if e.decision == Decision.CANCELLED]
    assert len(cancelled) == 1 and cancelled[0].causation_id == closed.event_id
    assert cancelled[0].produced_by.role == Component.GATE and "authorized pentest" in cancelled[0].reason


def test_a_newer_plan_supersedes_the_old_plans_requests(bus: Bus, gate: Gate) -> None:
    """Given requests of plan 1, when plan 2 of the case arrives, then plan 1's requests are cancelled."""
    case = publish_case(bus)
    old = gate.submit(case.proposal)
    newer = publish_plan(
        bus, case.case_id, None, case.plan.event_id, [], expires_at=T0 + timedelta(hours=2), salt="v2"
    )
    for e in (newer.plan, *newer.proposals):
        gate.handle(e)
    assert gate.get(old.request_id).state == State.CANCELLED
    assert gate.get(newer.proposal.event_id).is_pending
    (cancelled,) = gate_events(bus, case.case_id, ActionDecided)
    assert cancelled.causation_id == newer.plan.event_id and "superseded" in cancelled.reason


def test_a_decision_after_the_case_closed_cancels_instead_even_before_the_gate_consumed_it(
    bus: Bus, gate: Gate
) -> None:
    """Given a pending request whose case was closed on the bus but not yet handled by the gate (its
    worker lags or is down), when Alice approves, then nothing is approved: the request is cancelled
    with the closure's reason, once, and she is told so."""
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    closed = close_case(bus, case.case_id)  # on the bus; gate.handle(closed) has not run
    with pytest.raises(AlreadyDecided, match="cancelled .*authorized pentest"):
        gate.decide(req.request_id, person_id="alice", decision="approved", reason="go", identity_source="t")
    assert gate.get(req.request_id).state == State.CANCELLED
    gate.handle(closed)  # the worker catches up: nothing more happens
    (cancelled,) = gate_events(bus, case.case_id, ActionDecided)
    assert cancelled.decision == Decision.CANCELLED and cancelled.causation_id == closed.event_id


def test_a_decision_after_a_newer_plan_cancels_instead(bus: Bus, gate: Gate) -> None:
    """Given a pending request whose plan a newer plan replaced on the bus (not yet handled by the gate),
    when Carol approves through the page's checks, then it is cancelled as superseded, not approved."""
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    publish_plan(
        bus, case.case_id, None, case.plan.event_id, [], expires_at=T0 + timedelta(hours=2), salt="v2"
    )
    with pytest.raises(AlreadyDecided, match="superseded"):
        gate.check_decision(gate.get(req.request_id), "carol")
    (cancelled,) = gate_events(bus, case.case_id, ActionDecided)
    assert cancelled.decision == Decision.CANCELLED and gate.get(req.request_id).state == State.CANCELLED


def test_a_publish_that_fails_after_a_decision_neither_hides_nor_loses_it(
    bus: Bus, gate: Gate, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the bus failing right after a decision is stored, when Alice approves, then decide returns
    the decision (the page can say so instead of failing), and the next tick publishes it once."""
    case = publish_case(bus)
    req = gate.submit(case.proposal)

    def down(*args: Any, **kwargs: Any) -> int:
        raise ConnectionError("bus down")

    with monkeypatch.context() as m:
        m.setattr(bus, "publish_many", down)
        done = gate.decide(
            req.request_id, person_id="alice", decision="approved", reason="go", identity_source="t"
        )
    assert done.state == State.APPROVED and gate_events(bus, case.case_id, ActionDecided) == []
    assert gate.tick().published == 1 and gate.tick().published == 0
    (decided,) = gate_events(bus, case.case_id, ActionDecided)
    assert decided.decision == Decision.APPROVED and decided.decided_by == "alice@example.com"


def test_late_deliveries_respect_audit_order(bus: Bus, gate: Gate) -> None:
    """Given a close and a newer plan already in the log, when old events arrive late, then order decides."""
    closed_first = publish_case(bus, 1)
    close_case(bus, closed_first.case_id)
    assert gate.submit(closed_first.proposal).state == State.CANCELLED
    case = publish_case(bus, 2)
    newer = publish_plan(
        bus, case.case_id, None, case.plan.event_id, [], expires_at=T0 + timedelta(hours=2), salt="v2"
    )
    gate.submit(newer.proposal)
    assert gate.submit(case.proposal).state == State.CANCELLED  # its plan was superseded before it arrived
    gate.handle(case.plan)  # the old plan, redelivered, cancels nothing newer
    assert gate.get(newer.proposal.event_id).is_pending


def test_unanswered_requests_remind_escalate_and_expire_with_no_action(
    bus: Bus, gate: Gate, clock: Clock
) -> None:
    """Given a pending request, when time passes, then it reminds, escalates along the chain, then expires."""
    case = publish_case(bus, expires_in=timedelta(minutes=50))
    gate.submit(case.proposal)
    steps: list[tuple[int, int, int]] = []
    for minute in (4, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55):
        clock.now = T0 + timedelta(minutes=minute)
        r = gate.tick()
        steps.append((r.reminded, r.escalated, r.expired))
    assert steps == [
        (0, 0, 0),
        (1, 0, 0),
        (1, 0, 0),
        (0, 1, 0),
        (1, 0, 0),
        (1, 0, 0),
        (0, 1, 0),
        (1, 0, 0),
        (1, 0, 0),
        (0, 0, 0),
        (0, 0, 1),
        (0, 0, 0),
    ]
    reminded = [(e.person, e.reminder) for e in gate_events(bus, case.case_id, ActionReminded)]
    assert reminded == [
        ("alice@example.com", 1),
        ("alice@example.com", 2),
        ("carol@example.com", 1),
        ("carol@example.com", 2),
        ("dave@example.com", 1),
        ("dave@example.com", 2),
    ]
    escalated = [
        (e.from_person, e.to_person, e.level) for e in gate_events(bus, case.case_id, ActionEscalated)
    ]
    assert escalated == [
        ("alice@example.com", "carol@example.com", 1),
        ("carol@example.com", "dave@example.com", 2),
    ]
    (expired,) = gate_events(bus, case.case_id, ActionDecided)
    assert (
        expired.decision == Decision.EXPIRED
        and expired.decided_by is None
        and "no action taken" in expired.reason
    )
    assert gate.get(case.proposal.event_id).state == State.EXPIRED


def test_nobody_on_call_escalates_at_once(bus: Bus) -> None:
    """Given nobody on call for the duty, when the gate ticks, then it escalates to the chain immediately."""
    clock = Clock(datetime.fromisoformat("2026-03-01T12:00:00+00:00"))  # before the rotation starts
    gate = Gate(bus, gate_settings(), clock=clock)
    case = publish_case(bus, at=clock.now)
    assert gate.submit(case.proposal).approver is None
    assert gate.tick().escalated == 1
    (e,) = gate_events(bus, case.case_id, ActionEscalated)
    assert e.from_person is None and e.to_person == "carol@example.com" and "nobody is on call" in e.reason


def test_first_decision_wins_and_is_recorded_as_a_human_event(bus: Bus, gate: Gate) -> None:
    """Given a pending request, when Alice approves and Carol then rejects, then Alice's decision stands."""
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    done = gate.decide(
        req.request_id,
        person_id="alice",
        decision="approved",
        reason="contain now",
        identity_source="sso-proxy",
        typed_target="WS-042",
    )
    with pytest.raises(AlreadyDecided, match="approved by Alice Ng at 2026-03-16 10:00 UTC"):
        gate.decide(req.request_id, person_id="carol", decision="rejected", reason="no", identity_source="x")
    (e,) = gate_events(bus, case.case_id, ActionDecided)
    assert (e.decision, e.decided_by, e.identity_source, e.channel, e.plan_digest, e.produced_by.role) == (
        Decision.APPROVED,
        "alice@example.com",
        "sso-proxy",
        "gate",
        case.plan.plan_digest,
        Role.HUMAN,
    )
    assert e.causation_id == case.proposal.event_id and done.authorized_as == "on call"


def test_decisions_are_checked_against_the_roster_at_decision_time(
    bus: Bus, gate: Gate, clock: Clock
) -> None:
    """Given Alice on call at creation, when Bob takes over first, then she is refused and he may decide."""
    case = publish_case(bus, expires_in=timedelta(days=10))
    req = gate.submit(case.proposal)
    assert req.approver == "alice"
    clock.now = datetime.fromisoformat("2026-03-23T09:00:00+00:00")  # Monday 09:00 GMT: Bob's week
    with pytest.raises(NotAuthorized, match="no longer.*Bob Ray is on call"):
        gate.decide(req.request_id, person_id="alice", decision="approved", reason="x", identity_source="t")
    with pytest.raises(NotAuthorized, match="Mallory Stone is not on call"):
        gate.decide(req.request_id, person_id="mallory", decision="approved", reason="x", identity_source="t")
    assert (
        gate.decide(
            req.request_id, person_id="bob", decision="rejected", reason="false alarm", identity_source="t"
        ).state
        == State.REJECTED
    )


def test_bad_decisions_are_refused_without_any_event(bus: Bus, gate: Gate, clock: Clock) -> None:
    """Given a pending request, when target, digest or outcome is wrong or it lapsed, then no decision."""
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    kw = {"person_id": "alice", "reason": "x", "identity_source": "t"}
    with pytest.raises(ApprovalError, match="typed target"):
        gate.decide(req.request_id, decision="approved", typed_target="WS-043", **kw)
    with pytest.raises(ApprovalError, match="plan changed"):
        gate.decide(req.request_id, decision="approved", plan_digest="0" * 64, **kw)
    with pytest.raises(ApprovalError, match="gate's"):
        gate.decide(req.request_id, decision="expired", **kw)
    assert gate_events(bus, case.case_id, ActionDecided) == []
    clock.advance(hours=3)
    with pytest.raises(AlreadyDecided, match="expired"):
        gate.decide(req.request_id, decision="approved", **kw)
    assert [e.decision for e in gate_events(bus, case.case_id, ActionDecided)] == [Decision.EXPIRED]


def test_a_page_asks_the_gate_the_same_checks_decide_makes(bus: Bus, gate: Gate, clock: Clock) -> None:
    """Given a pending request, when a page asks whether a person may decide it through a link, then
    the gate answers with decide's own refusals (plan, authority, replay, first decision), each
    with the code the page maps, and changes nothing."""
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    assert gate.check_decision(req, "alice", nonce="n1", plan_digest=req.plan_digest).allowed
    with pytest.raises(ApprovalError, match="plan changed") as plan:
        gate.check_decision(req, "alice", nonce="n1", plan_digest="0" * 64)
    assert plan.value.code == "plan"
    with pytest.raises(NotAuthorized, match="Mallory Stone is not on call"):
        gate.check_decision(req, "mallory", nonce="n1", plan_digest=req.plan_digest)
    assert gate_events(bus, case.case_id, ActionDecided) == []
    kw = {"person_id": "alice", "reason": "x", "identity_source": "t", "plan_digest": req.plan_digest}
    done = gate.decide(req.request_id, decision="approved", typed_target="WS-042", nonce="n1", **kw)
    with pytest.raises(AlreadyDecided, match="already confirmed a decision: approved by Alice Ng") as replay:
        gate.check_decision(done, "alice", nonce="n1", plan_digest=req.plan_digest)
    assert replay.value.code == "replayed"
    with pytest.raises(AlreadyDecided, match="already approved by Alice Ng") as other:
        gate.check_decision(done, "alice", nonce="n2", plan_digest=req.plan_digest)
    assert other.value.code == "decided"
    with pytest.raises(AlreadyDecided) as again:
        gate.decide(req.request_id, decision="approved", typed_target="WS-042", nonce="n1", **kw)
    assert again.value.code == "replayed"


def test_the_person_it_was_escalated_to_may_decide(bus: Bus, gate: Gate, clock: Clock) -> None:
    """Given a request escalated to Dave (not on call, not an approver), when Dave decides, then it counts."""
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    for minute in range(5, 31, 5):
        clock.now = T0 + timedelta(minutes=minute)
        gate.tick()
    assert gate.get(req.request_id).assignee == "dave"
    done = gate.decide(
        req.request_id, person_id="dave", decision="approved", reason="ok", identity_source="t"
    )
    assert done.authorized_as == "escalated to"


def test_executed_is_recorded_once_after_approval(bus: Bus, gate: Gate) -> None:
    """Given an approved request, when someone records it done, then action.executed is published once."""
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    with pytest.raises(ApprovalError, match="only an approved request"):
        gate.record_executed(req.request_id, person_id="bob", identity_source="t")
    approved = gate.decide(
        req.request_id, person_id="carol", decision="approved", reason="ok", identity_source="t"
    )
    gate.record_executed(
        req.request_id, person_id="bob", identity_source="sso-proxy", note="isolated in Falcon"
    )
    with pytest.raises(AlreadyDecided, match="Already recorded as done by Bob Ray"):
        gate.record_executed(req.request_id, person_id="alice", identity_source="t")
    (e,) = gate_events(bus, case.case_id, ActionExecuted)
    assert (e.executed_by, e.note, e.causation_id, e.produced_by.role) == (
        "bob@example.com",
        "isolated in Falcon",
        approved.decision_event_id,
        Role.HUMAN,
    )


def test_a_crash_before_publishing_is_repaired_exactly_once(
    bus: Bus, gate: Gate, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a decision stored but not yet published (crash), when a gate ticks, then it is published once."""
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    monkeypatch.setattr(gate, "flush", lambda: 0)
    gate.decide(req.request_id, person_id="alice", decision="rejected", reason="x", identity_source="t")
    assert gate_events(bus, case.case_id, ActionDecided) == []
    restarted = Gate(bus, gate.settings, store=gate.store, clock=clock)
    assert restarted.tick().published == 1
    assert restarted.tick().published == 0 and restarted.flush() == 0
    (e,) = gate_events(bus, case.case_id, ActionDecided)
    assert e.decision == Decision.REJECTED and gate.store.outbox() == []


def test_max_open_caps_how_long_a_request_stays_open(bus: Bus, clock: Clock) -> None:
    """Given max_open_s of 10 minutes, when a 2-hour proposal arrives, then it expires after 10 minutes."""
    gate = Gate(bus, gate_settings(max_open_s=600), clock=clock)
    req = gate.submit(publish_case(bus).proposal)
    assert req.expires_at == T0 + timedelta(minutes=10)


def test_an_event_published_but_not_cleared_is_not_published_again(
    bus: Bus, gate: Gate, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a crash after publishing but before clearing, when a gate flushes, then no duplicate."""
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    with monkeypatch.context() as m:
        m.setattr(gate.store, "clear_outbox", lambda ids: None)
        gate.decide(req.request_id, person_id="alice", decision="approved", reason="x", identity_source="t")
    assert len(gate.store.outbox()) == 1
    assert Gate(bus, gate.settings, store=gate.store, clock=clock).flush() == 0
    assert len(gate_events(bus, case.case_id, ActionDecided)) == 1 and gate.store.outbox() == []


def _eventually(check: Any) -> bool:
    for _ in range(500):
        if check():
            return True
        threading.Event().wait(0.01)
    return False


def test_gate_worker_thread_consumes_ticks_and_beats(bus: Bus, clock: Clock) -> None:
    """Given the gate loop in a thread, when proposals arrive, then it opens, expires and heartbeats."""
    gate = Gate(bus, gate_settings(tick_s=0.01), clock=clock)
    worker = GateWorker(gate, consumer="gate-thread", block_ms=10).start()
    try:
        case = publish_case(bus, expires_in=timedelta(minutes=1))
        assert _eventually(lambda: gate.store.get(case.proposal.event_id) is not None)
        clock.advance(minutes=2)
        assert _eventually(lambda: gate.get(case.proposal.event_id).state == State.EXPIRED)
        assert "gate-thread" in bus.heartbeats()
        (beat,) = [p for p in status(bus).others if p.name == "gate-thread"]
        assert beat.role == "gate" and beat.alive, beat  # `aisoc status` ages it by its `at`
    finally:
        worker.stop()


def test_tick_only_worker_for_the_embedded_demo(bus: Bus, clock: Clock) -> None:
    """Given a tick-only worker (the demo feeds the gate in-process), when time passes, then it reminds."""
    gate = Gate(bus, gate_settings(tick_s=0.01), clock=clock)
    gate.submit(publish_case(bus).proposal)
    worker = GateWorker(gate, consume=False).start()
    try:
        clock.advance(minutes=5)
        assert _eventually(lambda: gate.store.pending()[0].reminders == 1)
        assert bus.stats().streams[0].groups == []  # it never joined a consumer group
    finally:
        worker.stop()


def test_demo_gate_resolves_and_names_an_approver(
    bus: Bus, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given `aisoc demo` resolving gate:demo_gate with no settings file, when proposed, then Dana decides."""
    from aisoc.resolve import resolve

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AISOC_CONFIG", raising=False)
    gate = resolve("gate:demo_gate")(bus)
    gate.clock = Clock(datetime.fromisoformat("2026-01-05T10:00:00+00:00"))  # Dana's first week
    case = publish_case(bus, at=gate.clock())
    gate.handle(case.proposal)
    req = gate.get(case.proposal.event_id)
    assert req.approver == "dana" and gate.settings.demo and gate.roster.title("ir_lead") == "IR Lead On-Call"


def test_a_tick_forgets_requests_that_ended_before_the_retention_in_batches(
    bus: Bus, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given 25 requests that expired (nobody decided) and one still open, when the gate ticks past
    the retention, then every expired request is forgotten in one tick (several store batches),
    the open one stays, and a late redelivery of an expired proposal is not reopened."""
    import gate.service as service

    monkeypatch.setattr(service, "PRUNE_BATCH", 10)
    g = Gate(bus, gate_settings(max_open_s=600, ended_retention_days=1), clock=clock)
    cases = [publish_case(bus, n) for n in range(1, 26)]
    for c in cases:
        g.submit(c.proposal)
    clock.advance(minutes=11)
    assert g.tick().expired == 25
    late = publish_case(bus, 99)
    g.submit(late.proposal)
    clock.advance(days=1, minutes=1)
    report = g.tick()
    assert report.pruned == 25
    assert [r.request_id for r in g.store.recent(100)] == [late.proposal.event_id]
    redelivered = cases[0].proposal.model_copy(update={"occurred_at": T0})  # proposed at T0 (test clock)
    assert g.handle(redelivered) == []  # proposed before the retention and forgotten: not reopened
    assert g.store.get(cases[0].proposal.event_id) is None
