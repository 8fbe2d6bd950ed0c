"""The bounded window: a worker's memory holds a fixed number of cases in RAM, and answers as if it
held them all (evicted cases are found again in the snapshot's cold tier)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aisoc import Bus
from aisoc.events import Event
from aisoc.memory import Memory

from . import factory as f

RULES = ("R1", "R2", "R3")


def history(n: int) -> list[Event]:
    """``n`` cases over three rules; every 7th shares one IP, every 5th is closed benign, every
    11th escalated, and one old case proposed an action decided later without a case id."""
    out: list[Event] = []
    for i in range(n):
        ind = [("ip", "198.51.100.7")] if i % 7 == 0 else [("domain", f"d{i}.example")]
        out.append(f.alert(str(i), rule=RULES[i % 3], ind=ind, hosts=[f"ws-{i % 13}"], created=f.at(i)))
        if i % 5 == 0:
            out.append(f.closed(f"test:{i}", "benign", when=f.at(i + 0.5)))
        elif i % 11 == 0:
            out.append(f.tier2(f"test:{i}", "escalate", when=f.at(i + 0.5)))
    return out


def published(evs: list[Event]) -> Bus:
    bus = Bus()
    for e in evs:
        bus.publish(e)
    return bus


def answers(mem: Memory, q: Event) -> tuple[object, ...]:
    refs = mem.precedent_for(q, k=8)  # type: ignore[arg-type]
    return (
        [(r.case_id, r.shared, r.same_rule, r.score, r.verdict, r.summary) for r in refs],
        [
            (h.fired, h.closed_benign, h.escalated, h.open, h.first_seen, h.last_seen)
            for h in (mem.rule_history(None, r) for r in RULES)
        ],
    )


def test_the_window_holds_a_fixed_number_of_cases(tmp_path: Path) -> None:
    """Given 1,200 cases and a window of 100, then memory holds at most 100 + one eviction batch in
    RAM at every step, and every other case is in the cold tier."""
    bus = Bus()
    mem = Memory(bus.audit, snapshot_path=tmp_path / "m.sqlite", max_cases=100)
    peak = 0
    for e in history(1200):
        bus.publish(e)
        mem.refresh()
        peak = max(peak, mem.held)
    assert peak <= 100 + 5
    assert mem.held >= 100
    assert mem.held + mem.cold == 1200
    mem.close()


def test_evicted_precedent_is_still_found_and_answers_do_not_change(tmp_path: Path) -> None:
    """Given the same log in a bounded and an unbounded memory, then precedent (cases, scores,
    verdicts, rule history in the summary) and rule history are the same, though the shared IP's
    oldest cases left RAM long ago."""
    evs = history(600)
    bus = published(evs)
    full = Memory(bus.audit)
    bounded = Memory(bus.audit, snapshot_path=tmp_path / "m.sqlite", max_cases=60)
    bounded.refresh()
    assert bounded.held < 100 and bounded.cold > 500
    for q in (
        f.alert("q1", rule="R1", ind=[("ip", "198.51.100.7")], created=f.at(700)),
        f.alert("q2", rule="R2", ind=[("domain", "d3.example")], created=f.at(700)),
        f.alert("q3", rule="R3", ind=[("ip", "198.51.100.7")], created=f.at(40)),
    ):
        assert answers(bounded, q) == answers(full, q)
    old = bounded.recall_similar(
        f.alert("q4", rule="none", ind=[("domain", "d3.example")], created=f.at(700))
    )
    assert [p.case_id for p in old] == ["test:3"]
    assert bounded.case("test:5") is not None and bounded.case("test:5").state.value == "closed"  # type: ignore[union-attr]


def test_an_event_about_an_evicted_case_brings_it_back(tmp_path: Path) -> None:
    """Given an old case evicted to the cold tier, when a late label or decision arrives for it,
    then memory folds it into that case (not a new empty one) and rule history counts it once."""
    evs = history(300)
    bus = published(evs)
    mem = Memory(bus.audit, snapshot_path=tmp_path / "m.sqlite", max_cases=40)
    mem.refresh()
    assert mem.case("test:2") is not None and mem.held < 300
    before = mem.rule_history(None, "R3")
    bus.publish(f.closed("test:2", "benign", when=f.at(900)))
    after = mem.rule_history(None, "R3")
    assert after.fired == before.fired
    assert after.closed_benign == before.closed_benign + 1
    rec = mem.case("test:2")
    assert rec is not None and rec.alert is not None and rec.state.value == "closed"
    full = Memory(bus.audit)
    assert after == full.rule_history(None, "R3")


def test_the_window_survives_a_restart(tmp_path: Path) -> None:
    """Given a bounded memory that saved its snapshot, when the process restarts, then it loads only
    the held window and still answers from the cold tier as before."""
    bus = published(history(400))
    path = tmp_path / "m.sqlite"
    first = Memory(bus.audit, snapshot_path=path, max_cases=50)
    q = f.alert("q", rule="R1", ind=[("ip", "198.51.100.7")], created=f.at(999))
    expected = answers(first, q)
    held = first.held
    first.close()
    again = Memory(bus.audit, snapshot_path=path, max_cases=50, auto_refresh=False)
    assert again.held == held and again.cold == 400 - held
    assert answers(again, q) == expected


def test_age_bound_and_bad_bounds(tmp_path: Path) -> None:
    """Given a 0.1-day (144-minute) window, then only cases within it of the newest stay in RAM; a
    bound without a snapshot, or a bound that is not positive, is refused with a clear error."""
    bus = published(history(400))
    mem = Memory(bus.audit, snapshot_path=tmp_path / "m.sqlite", max_age_days=0.1)
    mem.refresh()
    assert 145 <= mem.held <= 145 + 100  # evictions come in batches
    with pytest.raises(ValueError, match="snapshot"):
        Memory(bus.audit, max_cases=10)
    with pytest.raises(ValueError, match="positive"):
        Memory(bus.audit, snapshot_path=tmp_path / "n.sqlite", max_cases=0)
