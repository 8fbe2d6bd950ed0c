"""The case record: states, the authoritative verdict, idempotent last-writer-wins folding."""

from __future__ import annotations

import tempfile
from pathlib import Path

import time_machine

from aisoc import Bus
from aisoc.bus import AuditEntry
from aisoc.events import Event
from aisoc.memory import CaseFile, CaseState, Memory

from . import factory as f


def memory_of(*evs: Event) -> Memory:
    bus = Bus()
    for e in evs:
        bus.publish(e)
    mem = Memory(bus.audit)
    mem.refresh()
    return mem


def test_states_follow_the_case_through_its_life() -> None:
    """Given a true-positive story, when each event is folded, then the state walks received -> closed."""
    story = f.contained("1", "ws-1")
    bus = Bus()
    mem = Memory(bus.audit)
    seen = []
    for e in story:
        bus.publish(e)
        rec = mem.case("test:1")
        assert rec is not None
        seen.append(rec.state)
    assert seen == [
        CaseState.RECEIVED,
        CaseState.TRIAGED,
        CaseState.ESCALATED,
        CaseState.PLANNED,
        CaseState.AWAITING_HUMAN,
        CaseState.DECIDED,
        CaseState.DECIDED,
        CaseState.CLOSED,
    ]


def test_sentinel_closing_and_tier2_review_give_their_states() -> None:
    """Given Sentinel closing one case and Tier 2 asking for review, then closed and awaiting human."""
    mem = memory_of(
        f.alert("1"),
        f.triage("test:1", "benign", routed="closed"),
        f.alert("2"),
        f.triage("test:2", "suspicious", routed="tier2"),
        f.tier2("test:2", "human_review"),
    )
    assert mem.case("test:1").state == CaseState.CLOSED  # type: ignore[union-attr]
    assert mem.case("test:2").state == CaseState.AWAITING_HUMAN  # type: ignore[union-attr]


def test_a_review_after_closing_reopens_the_case() -> None:
    """Given a closed case, when someone requests review later, then it awaits a human again."""
    mem = memory_of(
        f.alert("1"),
        f.closed("test:1", "benign", when=f.at(5)),
        f.review("test:1", role="human", when=f.at(9)),
    )
    assert mem.case("test:1").state == CaseState.AWAITING_HUMAN  # type: ignore[union-attr]


def _same_instant(*steps: str) -> tuple[CaseState, CaseState, CaseState]:
    """The state of a closed-or-reviewed case whose ``steps`` (``review`` / ``close`` / ``plan``) all
    happened at one frozen instant, in that log order: as memory folds the log, as a snapshot restored
    and folded on holds it, and as the case file folds the case's events."""
    now = f.at(9)
    made = {
        "review": lambda: f.review("test:1", when=now),
        "close": lambda: f.closed("test:1", "benign", when=now),
        "plan": lambda: f.plan("test:1", "ws-1", "a1", when=now),
    }
    with time_machine.travel(now, tick=False), tempfile.TemporaryDirectory() as tmp:
        bus = Bus()
        bus.publish(f.alert("1", created=f.at(0)))
        snap = Path(tmp) / "mem.sqlite"
        mem = Memory(bus.audit, snapshot_path=snap)
        for step in steps:
            bus.publish(made[step]())
            mem.refresh()  # folded one at a time, saved each time
        mem.close()
        restored = Memory(bus.audit, snapshot_path=snap)
        logged = [e.event for e in bus.audit.scan() if isinstance(e, AuditEntry)]
        rec, again = memory_of(*logged).case("test:1"), restored.case("test:1")
        file = CaseFile.read(bus.audit, "test:1")
        assert rec is not None and again is not None and file is not None
        restored.close()
        return rec.state, again.state, file.state


def test_a_close_recorded_after_a_review_at_the_same_instant_closes_the_case() -> None:
    """Given a frozen clock, when a review is requested and the case closed in that same instant (the
    close logged after it), then the case is closed, not waiting on a person."""
    assert _same_instant("review", "close") == (CaseState.CLOSED,) * 3


def test_a_review_recorded_after_a_close_at_the_same_instant_reopens_the_case() -> None:
    """Given a frozen clock, when a case is closed and a review requested in that same instant (the
    review logged after it), then the case awaits a human again, as a review after closing does."""
    assert _same_instant("close", "review") == (CaseState.AWAITING_HUMAN,) * 3


def test_work_recorded_after_a_review_at_the_same_instant_answers_it() -> None:
    """Given a frozen clock, when a review is requested and a plan logged after it in that instant,
    then the case is planned; the plan logged first leaves the review open."""
    assert _same_instant("review", "plan") == (CaseState.PLANNED,) * 3
    assert _same_instant("plan", "review") == (CaseState.AWAITING_HUMAN,) * 3


def test_final_verdict_is_the_latest_authoritative_not_the_most_severe() -> None:
    """Given Sentinel malicious then Tier 2 close, then Tier 2 decides; a human label overrides both."""
    mem = memory_of(
        f.alert("1"),
        f.triage("test:1", "malicious", routed="tier2", when=f.at(1)),
        f.tier2("test:1", "close", when=f.at(2)),
    )
    fv = mem.case("test:1").final()  # type: ignore[union-attr]
    assert fv is not None and (fv.verdict, fv.decided_by, fv.malicious) == ("close", "tier2", False)
    bus_events = [f.triage("test:1", "malicious", routed="tier2", when=f.at(30))]
    mem2 = memory_of(f.alert("1"), f.tier2("test:1", "close", when=f.at(2)), *bus_events)
    fv2 = mem2.case("test:1").final()  # type: ignore[union-attr]
    assert fv2 is not None and fv2.decided_by == "tier2", "a later Sentinel verdict does not outrank Tier 2"
    mem3 = memory_of(
        f.alert("1"),
        f.tier2("test:1", "escalate", when=f.at(2)),
        f.label("test:1", "benign", False, when=f.at(3)),
    )
    fv3 = mem3.case("test:1").final()  # type: ignore[union-attr]
    assert fv3 is not None and (fv3.verdict, fv3.decided_by, fv3.malicious) == ("benign", "human:dana", False)


def test_a_later_label_supersedes_an_earlier_one() -> None:
    """Given two labels of one case, then the later one is the truth, whatever order they were logged in."""
    early, late = (
        f.label("test:1", "benign", False, when=f.at(1)),
        f.label("test:1", "true_positive", True, when=f.at(2)),
    )
    for order in ([early, late], [late, early]):
        rec = memory_of(f.alert("1"), *order).case("test:1")
        assert rec is not None and rec.truth is not None
        assert (rec.truth.label, rec.truth.escalated) == ("true_positive", True)


def test_folding_an_event_twice_changes_nothing() -> None:
    """Given a story, when every event is published twice, then memory holds exactly the same state."""
    story = f.contained("1", "ws-1", ind=[("ip", "203.0.113.9")])
    once = memory_of(*story).dump()
    twice = memory_of(*story, *story).dump()
    assert once == twice


def test_a_late_duplicate_of_an_older_event_does_not_override_a_newer_one() -> None:
    """Given Tier 2 escalating then closing, when the old escalation is re-delivered, then close stands."""
    first, second = f.tier2("test:1", "escalate", when=f.at(2)), f.tier2("test:1", "close", when=f.at(3))
    rec = memory_of(f.alert("1"), first, second, first).case("test:1")
    assert rec is not None and rec.output("tier2").outcome == "close"  # type: ignore[union-attr]


def test_action_events_without_a_case_id_reach_their_case_through_the_action_id() -> None:
    """Given a decision event lacking case_id, then it is folded into the case that proposed the action."""
    mem = memory_of(
        f.alert("1"),
        f.proposed("test:1", "a1", "ws-1"),
        f.decided(None, "a1", "rejected"),
    )
    act = mem.case("test:1").actions["a1"]  # type: ignore[union-attr]
    assert act.decided is not None and act.decided.value == "rejected"
    assert mem.case("test:1").state == CaseState.DECIDED  # type: ignore[union-attr]


def test_events_before_the_alert_still_land_in_the_case() -> None:
    """Given a label imported before the alert arrives, then the case has both once the alert comes."""
    mem = memory_of(f.label("test:1", "benign", False), f.alert("1", ind=[("ip", "198.51.100.7")]))
    rec = mem.case("test:1")
    assert rec is not None and rec.truth is not None and rec.alert is not None
    assert mem.cases_with("ip:198.51.100.7", tenant=None) == ["test:1"]
