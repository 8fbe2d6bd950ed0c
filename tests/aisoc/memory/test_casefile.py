"""The case read model: a case file, where an action stands, a host's cases and a report window."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from aisoc import Bus
from aisoc import events as ev
from aisoc.memory import ActionStatus, CaseFile, CaseState, Memory, fold_cases

from . import factory as f


def published(bus: Bus, evs: list[ev.Event]) -> list[ev.Event]:
    for e in evs:
        bus.publish(e)
    return evs


def reminded(case_id: str | None, action_id: str, person: str, minutes: float) -> ev.ActionReminded:
    return ev.ActionReminded(
        action_id=action_id,
        person=person,
        reminder=1,
        case_id=case_id,
        produced_by=f.GATE,
        occurred_at=f.at(minutes),
    )


def escalated(case_id: str | None, action_id: str, to: str, minutes: float) -> ev.ActionEscalated:
    return ev.ActionEscalated(
        action_id=action_id,
        from_person="alice",
        to_person=to,
        level=1,
        reason="no answer in 15 min",
        case_id=case_id,
        produced_by=f.GATE,
        occurred_at=f.at(minutes),
    )


def test_a_case_file_answers_state_alert_plan_and_actions_from_memorys_fold() -> None:
    """Given a contained host, when its file is read, then state, alert, plan, proposal and decision
    are the events memory's record points at."""
    bus = Bus()
    evs = published(bus, f.contained("1", "ws-1"))
    file = Memory(bus.audit).case_file("test:1")
    assert file is not None and file.complete
    assert file.state == CaseState.CLOSED
    assert file.alert is not None and file.alert.hosts == ["ws-1"]
    assert file.plan() is evs[3] and file.output("tier2") is evs[2]
    assert file.proposals() == {"act-1": evs[4]} and file.decision("act-1") is evs[5]
    assert [s.event_id for s in file.statements() if s.lead] == [e.event_id for e in evs]
    assert Memory(bus.audit).case_file("test:nope") is None


def test_an_awaited_action_says_who_proposed_it_which_duty_decides_by_when_and_whom_it_asked() -> None:
    """Given a proposal reminded and escalated, when its state is asked, then it is awaited by the
    IR Lead duty until the deadline, now asking the escalation's person, each step citing its event."""
    bus = Bus()
    story = f.contained("1", "ws-1")[:5]
    later = [reminded("test:1", "act-1", "alice", 20), escalated(None, "act-1", "bob", 35)]
    published(bus, story + later)
    state = Memory(bus.audit).action("act-1")
    assert state is not None and state.case_id == "test:1"
    assert state.status == ActionStatus.AWAITING and state.awaiting
    assert state.duty == ev.Role.IR_LEAD and state.deadline == f.at(4) + timedelta(hours=1)
    assert state.asked == "bob"
    assert state.proposed is not None and state.proposed.by == "ir_lead"
    assert state.event_ids == (story[4].event_id, later[1].event_id)
    assert Memory(bus.audit).action("act-nope") is None


def test_a_decided_and_executed_action_names_the_people_and_the_case_state_follows() -> None:
    """Given approval then execution (the execution filed without a case id), when asked, then the
    action is executed by bob after alice approved, and the case is no longer awaiting a human."""
    bus = Bus()
    evs = f.contained("1", "ws-1")[:6] + [f.executed(None, "act-1")]
    published(bus, evs)
    mem = Memory(bus.audit)
    state = mem.action("act-1")
    assert state is not None and state.status == ActionStatus.EXECUTED
    assert (state.decided.by, state.executed.by) == ("alice", "bob")  # type: ignore[union-attr]
    assert state.event_ids[-2:] == (evs[5].event_id, evs[6].event_id)
    rec = mem.case("test:1")
    assert rec is not None and rec.state == CaseState.DECIDED


def test_rejected_expired_and_cancelled_actions_keep_their_decision() -> None:
    """Given three proposals ending three ways, then each action's status is its decision."""
    bus = Bus()
    published(bus, f.contained("1", "ws-1")[:4])
    for n, decision in enumerate(["rejected", "expired", "cancelled"]):
        published(bus, [f.proposed("test:1", f"a{n}", "ws-1"), f.decided("test:1", f"a{n}", decision)])
    file = Memory(bus.audit).case_file("test:1")
    assert file is not None
    assert [(a.action_id, a.status.value) for a in file.actions()] == [
        ("a0", "rejected"),
        ("a1", "expired"),
        ("a2", "cancelled"),
    ]


def test_a_hosts_cases_put_the_one_that_acted_on_it_first(tmp_path: Path) -> None:
    """Given two cases naming WS-1, only one isolating it, and another tenant's case naming it, when
    asked (any case), the isolating case leads; a lookup stays in its tenant (the default one when
    none is given) unless every tenant is asked for."""
    bus = Bus()
    published(bus, [f.alert("seen", hosts=["WS-1"], created=f.at(100))])
    published(bus, f.contained("1", "ws-1"))
    published(bus, [f.alert("other", hosts=["ws-1"], tenant="org2", created=f.at(200))])
    mem = Memory(bus.audit)
    assert mem.cases_on_host("Ws-1", every_tenant=True) == ["test:1", "org2/test:other", "test:seen"]
    assert mem.cases_on_host("Ws-1") == mem.cases_on_host("ws-1", tenant="") == ["test:1", "test:seen"]
    assert mem.cases_on_host("ws-1", tenant="org2") == ["org2/test:other"]
    assert mem.explain_host("WS-1", tenant="org2").case_ids == ("org2/test:other",)
    assert "org2/test:other" not in mem.explain_host("WS-1").case_ids
    assert mem.cases_on_host("nobody") == []


def test_the_snapshot_keeps_the_actions_duty_deadline_and_nudge(tmp_path: Path) -> None:
    """Given a reminded proposal folded into a snapshot, when memory restarts from it, then the
    action's state is the same without folding the log again."""
    bus = Bus()
    published(bus, f.contained("1", "ws-1")[:5] + [reminded("test:1", "act-1", "alice", 20)])
    first = Memory(bus.audit, snapshot_path=tmp_path / "m.sqlite")
    before = first.action("act-1")
    first.close()
    again = Memory(bus.audit, snapshot_path=tmp_path / "m.sqlite", auto_refresh=False)
    assert again.refresh() == 0 and again.action("act-1") == before


def test_a_report_window_folds_only_what_happened_before_its_end() -> None:
    """Given a case closed after the window's end, when the window is folded, then the case is still
    awaiting its decision there, and the file holds only the events behind the record."""
    evs = f.contained("1", "ws-1") + f.contained("2", "ws-2", minutes=60)
    files = fold_cases(evs, until=f.at(5))
    assert list(files) == ["test:1"]
    (file,) = files.values()
    assert not file.complete and file.state == CaseState.AWAITING_HUMAN
    assert file.alert is not None and file.proposal("act-1") is evs[4] and file.decision("act-1") is None
    assert [e.type for e in file.events] == [e.type for e in evs[:5]]
    everything = fold_cases(evs)
    assert [c.state for c in everything.values()] == [CaseState.CLOSED, CaseState.CLOSED]


def test_a_window_files_a_decision_without_case_id_under_its_action() -> None:
    """Given a decision that carries no case id, when the window is folded, it lands in its case."""
    evs = f.contained("1", "ws-1")[:5] + [f.decided(None, "act-1")]
    (file,) = fold_cases(evs).values()
    assert file.decision("act-1") is evs[5]


def test_a_file_of_events_alone_equals_the_projections_record() -> None:
    """Given a story, when folded as a file and by the projection, then both records are equal."""
    bus = Bus()
    evs = published(bus, f.contained("1", "ws-1") + [f.review("test:1"), f.label("test:1", "benign", False)])
    assert CaseFile.of("test:1", evs).record == Memory(bus.audit).case("test:1")
