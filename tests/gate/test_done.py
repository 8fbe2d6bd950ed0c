"""Who may record "done": whoever decided, the duty's approver group, or its executor group — nobody else,
on every store, on the page and through the service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aisoc.bus import Bus
from aisoc.events import ActionExecuted
from gate import Gate, NotAuthorized, State
from gate.app import create_app
from tests.gate.factory import Case, Clock, csrf, gate_events, gate_settings, publish_case


@pytest.fixture
def approved(store_bus: Bus) -> Iterator[tuple[Gate, Case]]:
    """A request Alice (on call for IR Lead) approved; Carol is the approver group, Bob the executors."""
    gate = Gate(store_bus, gate_settings(), clock=Clock())
    case = publish_case(store_bus)
    gate.submit(case.proposal)
    gate.decide(
        case.proposal.event_id, person_id="alice", decision="approved", reason="go", identity_source="t"
    )
    yield gate, case
    gate.close()


def executed(gate: Gate, case: Case) -> list[ActionExecuted]:
    return gate_events(gate.bus, case.case_id, ActionExecuted)


@pytest.mark.parametrize("person", ["dave", "erin", "mallory", "frank"])
def test_people_outside_the_decision_cannot_record_done(approved: tuple[Gate, Case], person: str) -> None:
    """Given an approved request, when someone who neither decided, nor approves, nor executes for the duty
    records it done, then it is refused naming who may, and nothing is published."""
    gate, case = approved
    with pytest.raises(NotAuthorized) as e:
        gate.record_executed(case.proposal.event_id, person_id=person, identity_source="sso-proxy")
    for named in ("Alice Ng", "Carol Diaz", "Bob Ray"):
        assert named in str(e.value)
    assert executed(gate, case) == [] and gate.get(case.proposal.event_id).executed_at is None


def test_strangers_by_email_are_refused_too(approved: tuple[Gate, Case]) -> None:
    """Given an identity the roster does not know, when it records done, then it is refused."""
    gate, case = approved
    with pytest.raises(NotAuthorized, match="not in the on-call roster"):
        gate.record_executed(case.proposal.event_id, person_id="zed@elsewhere.org", identity_source="webex")
    assert executed(gate, case) == []


@pytest.mark.parametrize(
    ("person", "basis"), [("alice", "decided"), ("carol", "approver"), ("bob", "executor")]
)
def test_the_decider_the_approvers_and_the_executors_may_record_done(
    approved: tuple[Gate, Case], person: str, basis: str
) -> None:
    """Given an approved request, when the decider, an approver or an executor records it (by roster id or
    email), then action.executed names them, once."""
    gate, case = approved
    email = gate.roster.person(person).email
    gate.record_executed(case.proposal.event_id, person_id=email, identity_source="webex", note=basis)
    (e,) = executed(gate, case)
    assert (e.executed_by, e.note) == (email, basis)
    assert gate.get(case.proposal.event_id).executed_by == person


def test_the_page_hides_done_from_others_and_refuses_their_post(approved: tuple[Gate, Case]) -> None:
    """Given an approved request, when Dave opens its page, then there is no "done" form but a sentence
    on who may; his POST is refused with 403; Bob (an executor) records it."""
    gate, case = approved
    app = create_app(gate.settings, gate=gate)
    rid = case.proposal.event_id
    dave, bob = app.test_client(), app.test_client()
    as_dave = {"X-Forwarded-Email": "dave@example.com"}
    page = dave.get(f"/r/{rid}", headers=as_dave)
    html = " ".join(page.get_data(as_text=True).split())
    assert page.status_code == 200 and 'id="record-done"' not in html
    assert 'id="done-who"' in html and "Alice Ng" in html and "Bob Ray" in html
    token = csrf(dave.get("/", headers=as_dave).get_data(as_text=True))
    refused = dave.post(f"/r/{rid}/done", data={"csrf_token": token, "note": "did it"}, headers=as_dave)
    assert refused.status_code == 403 and "Carol Diaz" in refused.get_data(as_text=True)
    assert executed(gate, case) == []
    as_bob = {"X-Forwarded-Email": "bob@example.com"}
    token = csrf(bob.get(f"/r/{rid}", headers=as_bob).get_data(as_text=True))
    assert bob.post(f"/r/{rid}/done", data={"csrf_token": token}, headers=as_bob).status_code == 303
    (e,) = executed(gate, case)
    assert e.executed_by == "bob@example.com" and gate.get(rid).state == State.APPROVED


def test_a_rejected_request_cannot_be_done_by_anyone(store_bus: Bus) -> None:
    """Given a rejected request, when even its decider records it done, then it is refused by state."""
    gate = Gate(store_bus, gate_settings(), clock=Clock())
    case = publish_case(store_bus)
    req = gate.submit(case.proposal)
    gate.decide(req.request_id, person_id="alice", decision="rejected", reason="no", identity_source="t")
    with pytest.raises(Exception, match="only an approved request"):
        gate.record_executed(req.request_id, person_id="alice", identity_source="t")
    assert executed(gate, case) == []
    gate.close()
