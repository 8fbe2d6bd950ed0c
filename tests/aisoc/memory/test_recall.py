"""Recall: precedent by shared strong indicators and the rule, within the tenant, honest about time."""

from __future__ import annotations

from datetime import timedelta

from aisoc import Bus
from aisoc.events import Event, PrecedentRef
from aisoc.memory import KeyStoplist, Memory, UnknownCase, skip_private

from . import factory as f
from . import guide


def memory_of(*evs: Event, **kw: object) -> Memory:
    bus = Bus()
    for e in evs:
        bus.publish(e)
    return Memory(bus.audit, **kw)  # type: ignore[arg-type]


def ids(found: list[object]) -> list[str]:
    return [p.case_id for p in found]  # type: ignore[attr-defined]


def test_strong_indicators_outrank_hosts_and_users() -> None:
    """Given one prior case sharing an IP and one sharing a host, then the IP case ranks first."""
    mem = memory_of(
        f.alert("ip", rule="A", ind=[("ip", "203.0.113.9")], created=f.at(0)),
        f.alert("host", rule="B", hosts=["ws-1"], users=["bob"], created=f.at(10)),
        f.alert("q", rule="C", ind=[("ip", "203.0.113.9")], hosts=["ws-1"], users=["bob"], created=f.at(20)),
    )
    found = mem.recall_similar("test:q")
    assert ids(found) == ["test:ip", "test:host"]
    assert found[0].shared == ("ip:203.0.113.9",)
    assert set(found[1].shared) == {"host:ws-1", "user:bob"}


def test_the_same_rule_brings_precedent_and_its_history() -> None:
    """Given a rule that fired three times and closed benign twice, then precedent_for says so."""
    mem = memory_of(
        f.alert("1", rule="R9", created=f.at(0)),
        f.closed("test:1", "benign", when=f.at(1)),
        f.alert("2", rule="R9", created=f.at(10)),
        f.closed("test:2", "false_positive", when=f.at(11)),
        f.alert("3", rule="R9", created=f.at(20)),
        f.tier2("test:3", "escalate", when=f.at(21)),
        f.alert("other", rule="R1", created=f.at(25)),
    )
    q = f.alert("q", rule="R9", created=f.at(30))
    refs = mem.precedent_for(q, k=5)
    assert all(isinstance(r, PrecedentRef) for r in refs)
    assert [r.case_id for r in refs] == ["test:3", "test:2", "test:1"]
    assert all(r.same_rule and r.shared == [] for r in refs)
    assert refs[0].verdict == "escalate" and refs[0].decided_by == "tier2"
    assert refs[1].verdict == "false_positive" and refs[1].decided_by == "human:carol"
    assert refs[0].summary is not None and "fired 3 times before" in refs[0].summary
    assert "2 closed benign, 1 escalated" in refs[0].summary
    history = mem.rule_history(None, "R9")
    assert (history.fired, history.closed_benign, history.escalated, history.open) == (3, 2, 1, 0)


def test_recall_never_crosses_tenants() -> None:
    """Given the same IP and rule in another tenant, then recall finds nothing there."""
    mem = memory_of(
        f.alert("other", tenant="org2", ind=[("ip", "203.0.113.9")], created=f.at(0)),
        f.alert("q", tenant=None, ind=[("ip", "203.0.113.9")], created=f.at(10)),
    )
    assert mem.recall_similar("test:q") == []
    assert mem.rule_history(None, "R1").fired == 1


def test_recall_excludes_the_case_itself_and_ignores_its_outcome() -> None:
    """Given the query case labeled and closed in memory, then recall neither returns it nor changes."""
    prior = [
        f.alert("p", ind=[("domain", "evil.example")], created=f.at(0)),
        f.label("test:p", "benign", False),
    ]
    query = f.alert("q", ind=[("domain", "EVIL.example.")], created=f.at(10))
    plain = memory_of(*prior, query).recall_similar(query)
    told = memory_of(
        *prior, query, f.label("test:q", "true_positive", True), f.closed("test:q", "true_positive")
    ).recall_similar(query)
    assert ids(plain) == ids(told) == ["test:p"]
    assert plain == told


def test_before_hides_cases_created_later() -> None:
    """Given a later case sharing the IP, when recall is asked with before=, then only earlier cases count."""
    mem = memory_of(
        f.alert("early", ind=[("ip", "198.51.100.1")], created=f.at(0)),
        f.alert("late", ind=[("ip", "198.51.100.1")], created=f.at(100)),
    )
    q = f.alert("q", ind=[("ip", "198.51.100.1")], created=f.at(50))
    assert ids(mem.recall_similar(q, before=q.alert.created_at)) == ["test:early"]
    assert set(ids(mem.recall_similar(q))) == {"test:early", "test:late"}
    assert mem.rule_history(None, "R1", before=q.alert.created_at).fired == 1


def test_recency_breaks_ties_between_equal_overlaps() -> None:
    """Given two cases sharing the same IP, then the more recent one ranks first."""
    mem = memory_of(
        f.alert("old", rule="A", ind=[("ip", "198.51.100.1")], created=f.at(0)),
        f.alert("new", rule="B", ind=[("ip", "198.51.100.1")], created=f.at(60 * 24 * 60)),
    )
    q = f.alert("q", rule="C", ind=[("ip", "198.51.100.1")], created=f.at(60 * 24 * 61))
    found = mem.recall_similar(q)
    assert ids(found) == ["test:new", "test:old"]
    assert found[0].score > found[1].score


def test_stoplisted_and_private_indicators_do_not_link() -> None:
    """Given a stoplisted resolver IP and a private IP, then neither links cases."""
    evs = [
        f.alert(
            "1", rule="A", ind=[("ip", "8.8.8.8"), ("ip", "10.0.0.5")], private=["10.0.0.5"], created=f.at(0)
        ),
    ]
    q = f.alert(
        "q", rule="B", ind=[("ip", "8.8.8.8"), ("ip", "10.0.0.5")], private=["10.0.0.5"], created=f.at(5)
    )
    assert ids(memory_of(*evs).recall_similar(q)) == ["test:1"]
    stop = KeyStoplist(["ip:8.8.8.8"], private=True)
    assert memory_of(*evs, stoplist=stop).recall_similar(q) == []
    only_private = memory_of(*evs, stoplist=skip_private).recall_similar(q)
    assert only_private[0].shared == ("ip:8.8.8.8",)


def test_an_indicator_too_common_stops_linking() -> None:
    """Given an IP seen in more cases than the cap, then it no longer links but a rarer one still does."""
    evs: list[Event] = [
        f.alert(str(i), rule=f"R{i}", ind=[("ip", "192.0.2.53")], created=f.at(i)) for i in range(5)
    ]
    evs.append(f.alert("rare", rule="X", ind=[("ip", "192.0.2.53"), ("sha256", "ab" * 32)], created=f.at(9)))
    q = f.alert("q", rule="Y", ind=[("ip", "192.0.2.53"), ("sha256", "AB" * 32)], created=f.at(10))
    found = memory_of(*evs, max_indicator_cases=3).recall_similar(q)
    assert ids(found) == ["test:rare"]
    assert found[0].shared == ("sha256:" + "ab" * 32,)


def test_recall_of_an_unknown_case_raises() -> None:
    """Given an empty memory, when recall is asked about a case id, then UnknownCase is raised."""
    try:
        memory_of().recall_similar("test:nope")
    except UnknownCase as e:
        assert "test:nope" in str(e)
    else:
        raise AssertionError("UnknownCase expected")


def test_rule_stats_per_tenant_over_a_window() -> None:
    """Given rules firing in two tenants, then rule_stats counts each tenant's rules in the window."""
    mem = memory_of(
        f.alert("1", rule="R1", created=f.at(0)),
        f.closed("test:1", "benign"),
        f.alert("2", rule="R1", created=f.at(60)),
        f.alert("3", tenant="org2", rule="R1", created=f.at(60)),
    )
    stats = mem.rule_stats(None, all_tenants=False, since=f.at(30))
    assert [(s.tenant, s.rule, s.fired, s.open) for s in stats] == [(None, "R1", 1, 1)]
    everyone = mem.rule_stats()
    assert {(s.tenant, s.fired) for s in everyone} == {(None, 2), ("org2", 1)}
    assert everyone[0].to_stat().benign_rate == 0.5


def test_on_real_guide_incidents_the_earlier_outcome_predicts_the_grade() -> None:
    """Given the real GUIDE incidents, when each recalls only earlier cases, then the top precedent
    matches the analyst's grade for most incidents that have one."""
    bus = Bus()
    incidents = guide.incidents()
    for inc in incidents:
        a = guide.alert_of(inc)
        bus.publish(a)
        bus.publish(guide.label_of(inc, a.case_id, a.alert.created_at + timedelta(hours=1)))
    mem = Memory(bus.audit, auto_refresh=False)
    mem.refresh()
    with_precedent = agree = 0
    for inc in incidents:
        a = guide.alert_of(inc)
        found = mem.recall_similar(a, k=3, before=a.alert.created_at)
        assert all(p.created_at is not None and p.created_at < a.alert.created_at for p in found)
        if found:
            with_precedent += 1
            agree += found[0].verdict == guide.GRADES[inc.grade][0]
    assert with_precedent / len(incidents) > 0.4
    assert agree / with_precedent > 0.85
