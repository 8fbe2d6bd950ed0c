"""Step one's view of a case: memory's statements arranged as findings, trace boxes and a timeline."""

from __future__ import annotations

from aisoc.bus import Bus
from aisoc.events import CaseClosed, ClosedBy, Event, ProducedBy, ReviewRequested, Trace
from gate.evidence import case_view
from gate.service import Gate
from gate.store import State
from tests.gate.factory import publish_case


class Escalation(Event):
    """An event type a SOC's own role defines (the gate knows nothing of it)."""

    TYPE = "test.pager_escalation"
    STREAM = "cases"

    paged: str
    summary: str
    trace: Trace | None = None


def test_step_one_shows_each_roles_finding_with_its_trace_and_the_decisions_since(
    bus: Bus, gate: Gate
) -> None:
    """Given an escalated case with a plan, when step one is built, then Sentinel, Tier 2 and IR Lead
    are findings with their evidence and trace, and the plan step of the request is marked."""
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    view = case_view(bus, req)
    assert [f.who for f in view.findings] == ["Sentinel", "Tier 2 Analyst", "IR Lead"]
    tier2 = view.findings[1]
    assert tier2.summary == "Credential theft in progress."
    assert "evidence: falcon: WS-042 wrote lsass.dmp" in tier2.items
    assert tier2.trace is not None and tier2.trace.tool_calls == ['falcon_host_alerts({"host": "WS-042"})']
    assert "Confirmed credential theft on one host." in view.findings[2].summary
    assert [line.this for line in view.plan_lines] == [True, False] and view.superseded_by is None
    assert view.alert is not None and view.alert.hosts == ["WS-042"] and view.timeline == []


def test_step_one_shows_an_added_roles_review_and_own_event_and_its_closure(bus: Bus, gate: Gate) -> None:
    """Given an added role's review, its own event type and its closure of the case, when step one is
    built, then the first two are findings in its name and the closure (which cancelled the request)
    is on the timeline."""
    case = publish_case(bus)
    req = gate.submit(case.proposal)
    added = ProducedBy(role="pager_duty", prompt_version="pager_duty/1")
    bus.publish(
        ReviewRequested(
            role="pager_duty", reason="nobody answered the page", case_id=case.case_id, produced_by=added
        )
    )
    bus.publish(
        Escalation(paged="dana", summary="paged the IR Lead twice", case_id=case.case_id, produced_by=added)
    )
    closed = CaseClosed(
        disposition="benign",
        reason="pentest window",
        closed_by=ClosedBy(role="pager_duty"),
        case_id=case.case_id,
        produced_by=added,
    )
    bus.publish(closed)
    assert [r.state for r in gate.handle(closed)] == [State.CANCELLED]
    view = case_view(bus, gate.get(req.request_id))
    mine = [f for f in view.findings if f.who == "Pager Duty"]
    assert [f.summary for f in mine] == ["nobody answered the page", "paged the IR Lead twice"]
    assert "test.pager_escalation" in mine[1].headline
    assert any(t.endswith("Pager Duty: closed the case as benign: pentest window") for t in view.timeline)
    assert view.timeline[-1].endswith("case closed (benign) by pager_duty: pentest window")
