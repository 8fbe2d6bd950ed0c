"""The statement model: every event says something, as structured fields, citing its event."""

from __future__ import annotations

import json
from typing import Any

from aisoc import Bus
from aisoc import events as ev
from aisoc.memory import Memory, statements
from aisoc.memory.statements import SAYINGS, TRACE_KINDS, Said, say, says

from . import factory as f


class PhishVerdict(ev.Event):
    """An event type a SOC's own role defines (no statements of its own)."""

    TYPE = "test.phish_verdict"
    STREAM = "cases"

    verdict: str
    score: float
    lures: list[str] = []
    summary: str = ""
    trace: ev.Trace | None = None


def phish(case_id: str) -> PhishVerdict:
    return PhishVerdict(
        verdict="phish",
        score=0.93,
        lures=["invoice", "urgent"],
        summary="spoofed CFO asking for a wire",
        case_id=case_id,
        produced_by=f.by("phish_desk"),
        occurred_at=f.at(2),
        trace=f.trace("phish_desk"),
    )


def test_each_event_has_one_lead_statement_and_everything_cites_its_event() -> None:
    """Given a whole story, when it is said, then each event has exactly one lead, first among its own."""
    evs = f.contained("1", "ws-1") + [f.review("test:1"), f.label("test:1", "true_positive", True)]
    said = statements(evs)
    for e in evs:
        own = [s for s in said if s.event_id == e.event_id]
        assert own and own[0].lead and not any(s.lead for s in own[1:]), e.type
        assert all(s.type == e.type and s.case_id == "test:1" for s in own)


def test_the_why_of_a_containment_is_in_structured_fields() -> None:
    """Given a contained host, then the alert's indicators, Sentinel's verdict, Tier 2's findings and
    evidence, the plan step, the precedent shown, the proposal, approval and execution are facts."""
    evs = f.contained("1", "ws-1", ind=[("ip", "203.0.113.9")])
    evs[1] = f.triage(
        "test:1",
        "malicious",
        routed="tier2",
        precedent=[ev.PrecedentRef(case_id="test:0", verdict="true_positive", shared=["ip:203.0.113.9"])],
    )
    said = statements(evs)
    by_kind: dict[str, list[Any]] = {}
    for s in said:
        by_kind.setdefault(s.kind, []).append(s)
    assert by_kind["alert"][0].facts["indicators"] == ("ip:203.0.113.9",)
    assert by_kind["alert"][0].facts["hosts"] == ("ws-1",)
    sentinel = next(s for s in by_kind["verdict"] if s.role == "sentinel")
    assert (sentinel.facts["verdict"], sentinel.facts["routed_to"], sentinel.verb) == (
        "malicious",
        "tier2",
        "judged",
    )
    assert [s.detail for s in by_kind["finding"]] == ["beaconing every 60 s"]
    assert [s.detail for s in by_kind["evidence"]] == ["EDR shows beacon"]
    (precedent,) = [s for s in by_kind["precedent"] if s.facts["case_id"]]
    assert precedent.facts["shared"] == ("ip:203.0.113.9",) and precedent.event_id == evs[1].event_id
    (step,) = [s for s in by_kind["step"] if s.action_id]
    assert step.facts["target"] == "ws-1" and step.action_id == "act-1"
    (proposal,) = by_kind["proposal"]
    assert proposal.facts["duty"] == "ir_lead" and proposal.cites == ("p",) and proposal.detail
    (decision,) = by_kind["decision"]
    assert (decision.person, decision.role, decision.verb) == ("alice", "human", "approved")
    (execution,) = by_kind["execution"]
    assert execution.person == "bob" and execution.action_id == "act-1"


def test_threat_intels_ratings_are_statements_of_their_own() -> None:
    """Given an attribution rating two indicators, then each rating is a statement with its facts."""
    intel = ev.IntelAttribution(
        actor=None,
        techniques=["T1071"],
        iocs=[
            ev.IocRating(type="ip", value="203.0.113.9", reputation="malicious", source="feed"),
            ev.IocRating(type="domain", value="ok.example", reputation="benign"),
        ],
        confidence=0.6,
        summary="C2 on a known bad address",
        case_id="test:1",
        produced_by=f.by("threat_intel"),
    )
    ratings = [s for s in say(intel) if s.kind == "rating"]
    assert [(s.facts["indicator"], s.facts["reputation"]) for s in ratings] == [
        ("ip:203.0.113.9", "malicious"),
        ("domain:ok.example", "benign"),
    ]


def test_an_event_type_nobody_registered_is_told_from_its_fields_and_trace() -> None:
    """Given an added role's own event type, when said, then its fields, free text and trace show,
    under the role's own title."""
    out = say(phish("test:1"))
    lead = out[0]
    assert lead.lead and lead.kind == "event" and lead.actor == "Phish Desk" and lead.role == "phish_desk"
    assert lead.facts["verdict"] == "phish" and lead.facts["lures"] == ("invoice", "urgent")
    assert lead.detail == "spoofed CFO asking for a wire" and "test.phish_verdict" in lead.brief
    assert "score 0.93" in lead.text
    assert {s.kind for s in out[1:]} <= TRACE_KINDS and any(s.kind == "model" for s in out)


def test_a_role_may_register_what_its_event_says() -> None:
    """Given a registered saying for an added type, then it is used instead of the generic one."""

    @says(PhishVerdict)
    def _phish(e: PhishVerdict, said: Said) -> None:
        said.say("verdict", "judged", f"judged it {e.verdict}", facts={"verdict": e.verdict})

    try:
        (s,) = say(phish("test:1"))
        assert (s.kind, s.text) == ("verdict", "judged it phish")
    finally:
        del SAYINGS[PhishVerdict.TYPE]


def test_explain_cites_an_added_roles_events_and_its_json_carries_the_fields() -> None:
    """Given a case with an added role's review and own event, when explained as JSON, then both are
    statements with their facts, citing their events."""
    bus = Bus()
    evs = f.contained("1", "ws-1")[:2] + [phish("test:1"), f.review("test:1", role="phish_desk")]
    for e in evs:
        bus.publish(e)
    data = json.loads(json.dumps(Memory(bus.audit).explain("test:1").to_dict()))
    cited = {s["event_id"]: s for s in data["statements"] if s["lead"]}
    assert cited[evs[2].event_id]["facts"]["verdict"] == "phish"
    review = cited[evs[3].event_id]
    assert review["actor"] == "Phish Desk" and review["kind"] == "review"
    assert review["facts"]["raised_by"] == "phish_desk"
