"""Campaigns: cases linked by shared strong infrastructure, with ids that stay stable as they grow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aisoc import Bus
from aisoc.events import CampaignDetected, Event
from aisoc.memory import KeyStoplist, Memory

from . import factory as f

HUNTER = f.by("threat_hunter")
C2 = ("domain", "c2.example")


def bus_with(*evs: Event) -> Bus:
    bus = Bus()
    for e in evs:
        bus.publish(e)
    return bus


def boxes(n: int, start: int = 0, **kw: object) -> list[Event]:
    """``n`` workstations phoning the same C2, an hour apart."""
    return [
        f.alert(f"b{i}", hosts=[f"ws-{i}"], ind=[C2, ("ip", f"198.51.100.{i}")], created=f.at(60 * i), **kw)  # type: ignore[arg-type]
        for i in range(start, start + n)
    ]


def test_boxes_phoning_the_same_c2_form_one_campaign() -> None:
    """Given four boxes sharing a C2 domain and one unrelated case, then one new cluster of four is found."""
    bus = bus_with(*boxes(4), f.alert("lone", ind=[("domain", "fine.example")], created=f.at(30)))
    clusters = Memory(bus.audit).find_campaign_clusters()
    assert len(clusters) == 1
    c = clusters[0]
    assert c.status == "new" and c.is_news
    assert c.case_ids == ("test:b0", "test:b1", "test:b2", "test:b3") == c.added
    assert c.indicators == ("domain:c2.example",)
    assert (c.first_seen, c.last_seen) == (f.at(0), f.at(180))
    assert "4 cases of tenant none share domain:c2.example" in c.summary()


def test_hosts_and_users_do_not_link_a_campaign() -> None:
    """Given cases sharing only a host and a user, then they form no campaign."""
    bus = bus_with(
        f.alert("1", hosts=["ws-1"], users=["bob"], created=f.at(0)),
        f.alert("2", hosts=["ws-1"], users=["bob"], created=f.at(5)),
    )
    assert Memory(bus.audit).find_campaign_clusters() == []


def test_tenants_stoplist_and_commonness_cap_stop_links() -> None:
    """Given a shared C2 across tenants, a stoplisted one and a very common one, then none of them link."""
    bus = bus_with(
        *boxes(2),
        *boxes(2, start=5, tenant="org2"),
        f.alert("x1", ind=[("ip", "8.8.8.8")], created=f.at(1)),
        f.alert("x2", ind=[("ip", "8.8.8.8")], created=f.at(2)),
    )
    clusters = Memory(bus.audit).find_campaign_clusters()
    assert {(c.tenant, c.case_ids) for c in clusters} == {
        (None, ("test:b0", "test:b1")),
        ("org2", ("org2/test:b5", "org2/test:b6")),
        (None, ("test:x1", "test:x2")),
    }
    stopped = Memory(bus.audit, stoplist=KeyStoplist(["ip:8.8.8.8"])).find_campaign_clusters()
    assert [c.case_ids for c in stopped] == [("test:b0", "test:b1"), ("org2/test:b5", "org2/test:b6")]
    capped = Memory(bus.audit, max_indicator_cases=1).find_campaign_clusters()
    assert capped == []


def test_the_window_bounds_the_cluster() -> None:
    """Given six boxes over six hours, when the window is the last three hours, then only those cluster."""
    bus = bus_with(*boxes(6))
    clusters = Memory(bus.audit).find_campaign_clusters(timedelta(hours=3), end=f.at(5 * 60 + 1))
    assert [c.case_ids for c in clusters] == [("test:b3", "test:b4", "test:b5")]


def test_the_campaign_id_stays_stable_as_the_cluster_grows() -> None:
    """Given a reported campaign, when more boxes join, then the same id comes back as grown with the news."""
    bus = bus_with(*boxes(2, start=3))
    mem = Memory(bus.audit)
    first = mem.find_campaign_clusters()[0]
    assert mem.find_campaign_clusters()[0].campaign_id == first.campaign_id, "deterministic before reporting"
    bus.publish(first.to_event(HUNTER))
    assert mem.find_campaign_clusters()[0].status == "unchanged"
    for e in boxes(3, start=0):  # earlier boxes are found later: the earliest case changes
        bus.publish(e)
    grown = mem.find_campaign_clusters()[0]
    assert grown.campaign_id == first.campaign_id
    assert grown.status == "grown"
    assert grown.added == ("test:b0", "test:b1", "test:b2")
    event = grown.to_event(HUNTER)
    assert isinstance(event, CampaignDetected) and event.status == "grown"
    assert event.case_ids[:3] == ["test:b0", "test:b1", "test:b2"]
    bus.publish(event)
    again = mem.find_campaign_clusters()[0]
    assert again.status == "unchanged"
    with pytest.raises(ValueError, match="unchanged"):
        again.to_event(HUNTER)


def test_a_reported_campaign_keeps_its_id_after_a_rebuild(tmp_path: object) -> None:
    """Given a reported campaign, when memory is rebuilt from the log, then the id is the same."""
    bus = bus_with(*boxes(3))
    mem = Memory(bus.audit)
    c = mem.find_campaign_clusters()[0]
    bus.publish(c.to_event(HUNTER))
    bus.publish(f.alert("b9", ind=[C2], created=f.at(600)))
    fresh = Memory(bus.audit)
    fresh.rebuild()
    found = fresh.find_campaign_clusters()[0]
    assert (found.campaign_id, found.status, found.added) == (c.campaign_id, "grown", ("test:b9",))


def test_two_reported_campaigns_that_merge_keep_the_bigger_ones_id() -> None:
    """Given two reported campaigns, when a case bridges them, then the one with more cases keeps its id."""
    a = [f.alert(f"a{i}", ind=[("ip", "203.0.113.1")], created=f.at(i)) for i in range(3)]
    b = [f.alert(f"z{i}", ind=[("ip", "203.0.113.2")], created=f.at(10 + i)) for i in range(2)]
    bus = bus_with(*a, *b)
    mem = Memory(bus.audit)
    reported = {c.case_ids[0]: c for c in mem.find_campaign_clusters()}
    for c in reported.values():
        bus.publish(c.to_event(HUNTER))
    bus.publish(f.alert("bridge", ind=[("ip", "203.0.113.1"), ("ip", "203.0.113.2")], created=f.at(20)))
    merged = mem.find_campaign_clusters()
    assert len(merged) == 1
    assert merged[0].campaign_id == reported["test:a0"].campaign_id
    assert set(merged[0].added) == {"test:z0", "test:z1", "test:bridge"}
