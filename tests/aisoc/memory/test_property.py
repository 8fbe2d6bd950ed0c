"""Property: rebuilding from the whole log equals incremental folding, whatever the splits and duplicates."""

from __future__ import annotations

import tempfile
from pathlib import Path
from random import Random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aisoc import Bus
from aisoc.events import CampaignDetected, Event
from aisoc.memory import Memory

from . import factory as f

STEPS = (
    "triage_benign",
    "triage_malicious",
    "tier2_escalate",
    "tier2_close",
    "tier2_review",
    "plan",
    "propose",
    "decide",
    "execute",
    "close_human",
    "close_sentinel",
    "label_tp",
    "label_benign",
    "review",
    "campaign",
    "realert",
)


def _step(kind: str, cid: str, sid: str, minute: int, case_ids: list[str]) -> Event:
    when = f.at(minute)
    act = f"act-{sid}"
    if kind.startswith("triage"):
        verdict = kind.split("_")[1]
        return f.triage(cid, verdict, routed="closed" if verdict == "benign" else "tier2", when=when)
    if kind.startswith("tier2"):
        return f.tier2(cid, {"review": "human_review"}.get(kind[6:], kind[6:]), when=when)
    if kind == "plan":
        return f.plan(cid, "ws-1", act, when=when)
    if kind == "propose":
        return f.proposed(cid, act, "ws-1", when=when)
    if kind == "decide":
        return f.decided(cid, act, when=when)
    if kind == "execute":
        return f.executed(cid, act, when=when)
    if kind == "close_human":
        return f.closed(cid, "true_positive", when=when)
    if kind == "close_sentinel":
        return f.closed(cid, "benign", role="sentinel", person=None, when=when)
    if kind.startswith("label"):
        tp = kind == "label_tp"
        return f.label(cid, "true_positive" if tp else "benign", tp, when=when)
    if kind == "review":
        return f.review(cid, when=when)
    if kind == "realert":
        return f.alert(sid, ind=[("ip", "203.0.113.1")], created=f.at(minute))
    return CampaignDetected(
        campaign_id=f"camp-{minute % 3}",
        status="new",
        tenant=None,
        case_ids=case_ids[: 1 + minute % 3],
        indicators=["ip:203.0.113.1"],
        first_seen=f.T0,
        last_seen=f.T0,
        produced_by=f.by("threat_hunter"),
        occurred_at=when,
    )


@st.composite
def logs(draw: st.DrawFn) -> tuple[list[Event], list[int]]:
    """A log of a few random case stories with duplicates re-published later, and split points."""
    events: list[Event] = []
    case_ids: list[str] = []
    for i in range(draw(st.integers(1, 5))):
        sid = str(i)
        ind = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["ip", "domain", "host", "user", "sha256"]), st.sampled_from("abc")
                ),
                max_size=4,
            )
        )
        a = f.alert(
            sid,
            tenant=draw(st.sampled_from(["org1", "org2"])),
            rule=draw(st.sampled_from(["R1", "R2", None])),
            ind=ind,
            created=f.at(draw(st.integers(0, 100))),
        )
        events.append(a)
        case_ids.append(a.case_id)
        for kind in draw(st.lists(st.sampled_from(STEPS), max_size=6)):
            events.append(_step(kind, a.case_id, sid, draw(st.integers(0, 60)), case_ids))
    events = [e.model_copy(update={"event_id": f"e{n}"}) for n, e in enumerate(events)]
    for src in draw(st.lists(st.integers(0, len(events) - 1), max_size=6)):
        pos = draw(st.integers(src + 1, len(events)))
        events.insert(pos, events[src])
    splits = sorted(draw(st.lists(st.integers(0, len(events)), max_size=4)))
    return events, splits


def rebuilt(events: list[Event]) -> dict[str, object]:
    bus = Bus()
    for e in events:
        bus.publish(e)
    mem = Memory(bus.audit, auto_refresh=False)
    mem.refresh()
    return mem.dump()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), st.booleans())
def test_rebuild_equals_incremental_folding(log: tuple[list[Event], list[int]], restart: bool) -> None:
    """Given any log, splits and duplicates, when folded in steps with restarts, then it equals rebuild."""
    events, splits = log
    bus = Bus()
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "mem.sqlite"
        mem = Memory(bus.audit, snapshot_path=snap, auto_refresh=False, batch_size=3)
        done = 0
        for cut in [*splits, len(events)]:
            for e in events[done:cut]:
                bus.publish(e)
            done = max(done, cut)
            mem.refresh()
            if restart:
                mem.close()
                mem = Memory(bus.audit, snapshot_path=snap, auto_refresh=False, batch_size=3)
        incremental = mem.dump()
        mem.close()
    assert incremental == rebuilt(events)


def shuffled_keeping_ties(events: list[Event], rnd: Random) -> list[Event]:
    """``events`` shuffled, except that events of one instant keep their order: each instant's events
    take the places the shuffle gave that instant, in the order they had (the log's order decides
    only between events of one instant)."""
    out = list(events)
    rnd.shuffle(out)
    by_instant: dict[object, list[Event]] = {}
    for e in events:
        by_instant.setdefault(e.occurred_at, []).append(e)
    for same in by_instant.values():
        same.reverse()
    return [by_instant[e.occurred_at].pop() for e in out]


@settings(max_examples=100, deadline=None)
@given(logs(), st.randoms(use_true_random=False))
def test_duplicates_and_order_do_not_change_the_state(
    log: tuple[list[Event], list[int]], rnd: Random
) -> None:
    """Given any log, when duplicates are dropped and events shuffled (those of one instant kept in
    their order), then the state is the same."""
    events, _ = log
    unique = list({e.event_id: e for e in events}.values())
    assert rebuilt(events) == rebuilt(unique) == rebuilt(shuffled_keeping_ties(unique, rnd))


def test_the_log_order_decides_between_a_review_and_a_close_of_one_instant() -> None:
    """Given a review and a close of one instant, when they are logged in either order, then the state
    follows the log (so a shuffle that swaps events of one instant may change it: the property above
    keeps their order)."""
    a = f.alert("1")
    review, close = f.review(a.case_id, when=f.at(5)), f.closed(a.case_id, "benign", when=f.at(5))
    states = [rebuilt([a, *order])["states"] for order in ([review, close], [close, review])]
    assert states == [{a.case_id: "closed"}, {a.case_id: "awaiting_human"}]
