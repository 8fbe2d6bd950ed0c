"""The two-step pages: step one changes nothing, step two decides once, and every refusal is clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from flask import Flask

from aisoc.bus import Bus
from aisoc.events import ActionDecided, ActionExecuted, Decision
from gate import Gate, State, create_app
from gate.errors import ApprovalError
from gate.links import approval_url, request_url
from gate.store import ApprovalRequest
from gate.store_sqlite import SqliteRequestStore
from gate.tokens import LinkSigner
from tests.gate.factory import (
    LINK_KEYS,
    Case,
    Clock,
    close_case,
    csrf,
    gate_events,
    gate_settings,
    publish_case,
)
from tests.gate.store_contract import set_version


def path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def case(bus: Bus, gate: Gate) -> Case:
    """A case with one pending request to isolate WS-042 (IR Lead On-Call: Alice; approver group: Carol)."""
    c = publish_case(bus)
    gate.submit(c.proposal)
    return c


@pytest.fixture
def req(gate: Gate, case: Case) -> ApprovalRequest:
    return gate.get(case.proposal.event_id)


@pytest.fixture
def link(settings: Any, req: ApprovalRequest) -> str:
    """The signed step-one link a card would carry (as a path)."""
    return path(approval_url(settings, req))


def confirm(
    client: Any, link: str, *, target: str = "WS-042", reason: str = "contain", button: str = "approve"
) -> Any:
    page = client.get(link)
    assert page.status_code == 200, page.get_data(as_text=True)
    data = {
        "csrf_token": csrf(page.get_data(as_text=True)),
        "target": target,
        "reason": reason,
        button: button,
    }
    return client.post(link, data)


def decisions(bus: Bus, case: Case) -> list[ActionDecided]:
    return gate_events(bus, case.case_id, ActionDecided)


def text(resp: Any) -> str:
    return " ".join(resp.get_data(as_text=True).split())


def test_step_one_shows_everything_and_changes_nothing(
    person: Any, bus: Bus, case: Case, link: str, gate: Gate
) -> None:
    """Given the card link, when opened (even repeatedly), then it shows the case and decides nothing."""
    alice = person("alice@example.com")
    for _ in range(3):
        page = alice.get(link)
    html = text(page)
    assert page.status_code == 200
    for expected in (
        "Isolate host",
        "WS-042",
        "Mimikatz credential dumping",
        "risk-high",
        "IR Lead On-Call",
        "Alice Ng",
        "Carol Diaz",
        "LSASS memory read",
        "falcon: WS-042 wrote lsass.dmp",
        "Reasoning trace",
        "falcon_host_details",
        "Approving executes nothing",
        "Step 2",
    ):
        assert expected in html, expected
    assert decisions(bus, case) == [] and gate.get(case.proposal.event_id).is_pending
    anonymous = person(None).get(link)
    assert anonymous.status_code == 303 and "/login?next=" in anonymous.headers["Location"]


def test_step_two_approves_with_post_redirect_get(person: Any, bus: Bus, case: Case, link: str) -> None:
    """Given Alice on call, when she types target and reason, then one approval is recorded and shown."""
    alice = person("alice@example.com")
    resp = confirm(alice, link, reason="active credential theft")
    assert resp.status_code == 303 and resp.headers["Location"] == f"/r/{case.proposal.event_id}"
    state = alice.get(resp.headers["Location"])
    assert "Approved by Alice Ng at 2026-03-16 10:00 UTC" in text(state)
    assert "Nothing has been executed" in text(state)
    (d,) = decisions(bus, case)
    assert (d.decision, d.decided_by, d.identity_source, d.channel, d.reason, d.plan_digest) == (
        Decision.APPROVED,
        "alice@example.com",
        "sso-proxy",
        "gate",
        "active credential theft",
        case.plan.plan_digest,
    )


def test_rejecting_needs_no_typed_target(person: Any, bus: Bus, case: Case, link: str) -> None:
    """Given Carol in the approver group, when she rejects without typing the target, then it is rejected."""
    resp = confirm(person("carol@example.com"), link, target="", reason="pentest window", button="reject")
    assert resp.status_code == 303
    assert [d.decision for d in decisions(bus, case)] == [Decision.REJECTED]


def test_missing_csrf_token_is_refused(person: Any, bus: Bus, case: Case, link: str) -> None:
    """Given a forged POST without a CSRF token, when submitted, then it is refused and nothing is decided."""
    resp = person("alice@example.com").post(link, {"target": "WS-042", "reason": "x", "approve": "Approve"})
    assert resp.status_code == 400 and "Form expired or forged" in text(resp)
    assert decisions(bus, case) == []


def test_expired_link_is_refused(person: Any, bus: Bus, case: Case, link: str, settings: Any) -> None:
    """Given a link older than link_ttl_s, when opened or posted, then it is refused as expired."""
    alice = person("alice@example.com")
    token = csrf(alice.get(link).get_data(as_text=True))
    # An aware "now": a naive local time read as UTC lands hours early west of Greenwich, where the
    # signatures look newer than the clock and fail as "from the future", not as expired.
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=settings.link_ttl_s + 60)):
        page = alice.get(link)
        post = alice.post(
            link, {"csrf_token": token, "target": "WS-042", "reason": "x", "approve": "Approve"}
        )
    assert page.status_code == 410 and "This link has expired" in text(page)
    assert post.status_code == 410 and decisions(bus, case) == []


def test_tampered_and_foreign_links_are_refused(
    person: Any, bus: Bus, case: Case, link: str, req: ApprovalRequest, settings: Any
) -> None:
    """Given altered, unknown-key and other-request tokens, when opened, then each is refused clearly."""
    alice = person("alice@example.com")
    head, token = link.split("?t=")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert (
        "not valid" in text(alice.get(f"{head}?t={flipped}"))
        and alice.get(f"{head}?t={flipped}").status_code == 400
    )
    stranger = LinkSigner(["someone-elses-key"], 3600).sign(req.request_id, req.plan_digest)
    assert "not made by this gate" in text(alice.get(f"{head}?t={stranger}"))
    other = LinkSigner(LINK_KEYS, 3600).sign("another-request", req.plan_digest)
    resp = alice.get(f"{head}?t={other}")
    assert resp.status_code == 400 and "belongs to a different approval request" in text(resp)
    assert alice.get(head).status_code == 400  # no token at all
    assert decisions(bus, case) == []


def test_replayed_confirmation_is_refused(person: Any, bus: Bus, case: Case, link: str) -> None:
    """Given a confirmation that decided, when the same POST is replayed, then it is refused as a replay."""
    alice = person("alice@example.com")
    page = alice.get(link)
    data = {
        "csrf_token": csrf(page.get_data(as_text=True)),
        "target": "WS-042",
        "reason": "contain",
        "approve": "Approve",
    }
    assert alice.post(link, data).status_code == 303
    replay = alice.post(link, data)
    assert replay.status_code == 409 and "already confirmed a decision" in text(replay)
    assert len(decisions(bus, case)) == 1


def test_wrong_person_is_refused_and_told_who_may(person: Any, bus: Bus, case: Case, link: str) -> None:
    """Given Mallory (not on call, no approver), when she confirms, then she is refused with the reason."""
    mallory = person("mallory@example.com")
    page = mallory.get(link)
    assert "You cannot decide this request" in text(page) and 'id="approve"' not in page.get_data(
        as_text=True
    )
    data = {
        "csrf_token": csrf(page.get_data(as_text=True)),
        "target": "WS-042",
        "reason": "x",
        "approve": "Approve",
    }
    resp = mallory.post(link, data)
    assert resp.status_code == 403
    assert "Mallory Stone is not on call for IR Lead On-Call (Alice Ng is right now)" in text(resp)
    assert "Approver group: Carol Diaz" in text(resp) and decisions(bus, case) == []


def test_person_no_longer_on_call_is_refused(
    person: Any, bus: Bus, gate: Gate, clock: Clock, settings: Any
) -> None:
    """Given Alice on call at creation, when Bob's week starts before she confirms, then she is refused."""
    case = publish_case(bus, 7, expires_in=timedelta(days=10))
    req = gate.submit(case.proposal)
    link = path(approval_url(settings, req))
    alice = person("alice@example.com")
    page = alice.get(link)
    clock.now = datetime.fromisoformat("2026-03-23T09:00:00+00:00")  # Monday 09:00 London: Bob's turn
    data = {
        "csrf_token": csrf(page.get_data(as_text=True)),
        "target": "WS-042",
        "reason": "contain",
        "approve": "Approve",
    }
    resp = alice.post(link, data)
    assert resp.status_code == 403 and "no longer" in text(resp) and "Bob Ray is on call" in text(resp)
    assert decisions(bus, case) == [] and gate.get(req.request_id).approver == "alice"


def test_decided_request_says_who_decided_and_when(
    person: Any, bus: Bus, case: Case, link: str, gate: Gate, settings: Any, req: ApprovalRequest
) -> None:
    """Given Carol already approved, when Alice clicks the card later, then she sees who decided and when."""
    alice = person("alice@example.com")
    page = alice.get(link)
    gate.decide(
        req.request_id, person_id="carol", decision="approved", reason="ok", identity_source="sso-proxy"
    )
    later = alice.get(link)
    assert "Already decided: approved by Carol Diaz at 2026-03-16 10:00 UTC" in text(later)
    data = {
        "csrf_token": csrf(page.get_data(as_text=True)),
        "target": "WS-042",
        "reason": "x",
        "reject": "Reject",
    }
    resp = alice.post(path(approval_url(settings, req)), data)
    assert resp.status_code == 409 and "already approved by Carol Diaz" in text(resp)
    assert len(decisions(bus, case)) == 1


def test_a_link_for_another_plan_version_is_refused(
    person: Any, case: Case, req: ApprovalRequest, bus: Bus
) -> None:
    """Given a token bound to another plan digest, when opened or posted, then the plan change is named."""
    alice = person("alice@example.com")
    token = LinkSigner(LINK_KEYS, 3600).sign(req.request_id, "f" * 64)
    resp = alice.get(f"/a/{req.request_id}?t={token}")
    assert resp.status_code == 409 and "another version of the plan" in text(resp)


def test_wrong_typed_target_and_missing_reason_redisplay_the_form(
    person: Any, bus: Bus, case: Case, link: str
) -> None:
    """Given a mistyped hostname or no reason, when confirming, then the form returns, nothing decided."""
    alice = person("alice@example.com")
    wrong = confirm(alice, link, target="WS-043")
    assert wrong.status_code == 422 and "Type the target exactly as shown (WS-042)" in text(wrong)
    assert confirm(alice, link, reason="").status_code == 422
    assert decisions(bus, case) == []


def test_a_form_with_neither_button_says_what_is_missing(
    person: Any, bus: Bus, case: Case, link: str
) -> None:
    """Given a step-two POST with target and reason but neither Approve nor Reject, when sent, then
    the form returns (422) saying to choose one, and nothing is decided."""
    alice = person("alice@example.com")
    page = alice.get(link)
    data = {"csrf_token": csrf(page.get_data(as_text=True)), "target": "WS-042", "reason": "contain"}
    resp = alice.post(link, data)
    assert resp.status_code == 422 and "Choose Approve or Reject" in text(resp)
    assert decisions(bus, case) == []


def test_a_form_too_large_gets_the_gates_page(person: Any, bus: Bus, case: Case, link: str) -> None:
    """Given a step-two POST larger than the gate accepts, when sent, then the gate's own page says so
    with 413 and nothing is decided."""
    resp = person("alice@example.com").post(link, {"reason": "x" * 70_000})
    assert resp.status_code == 413 and 'id="refused"' in resp.get_data(as_text=True)
    assert "Nothing was decided" in text(resp) and decisions(bus, case) == []


def test_an_unexpected_failure_is_the_gates_500_page(
    settings: Any, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the store failing in a way nobody planned for, when the list page is opened (not in
    testing mode, as deployed), then the answer is the gate's own 500 page, not a bare error."""

    def broken() -> list[ApprovalRequest]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(gate.store, "pending", broken)
    client = create_app(settings, gate=gate).test_client()
    resp = client.get("/", headers={"X-Forwarded-Email": "alice@example.com"})
    assert resp.status_code == 500 and "Something went wrong" in text(resp)
    assert "disk on fire" not in text(resp) and 'id="refused"' in resp.get_data(as_text=True)


def test_a_case_closed_meanwhile_is_said_on_step_one_and_refused_on_step_two(
    person: Any, bus: Bus, case: Case, link: str, gate: Gate
) -> None:
    """Given step one loaded, then the case closed on the bus (the gate's worker has not caught up),
    when Alice reloads step one, then it says the request is moot and offers no form (changing
    nothing); when she posts the form she had, then 409 says it was cancelled, and nothing is approved."""
    alice = person("alice@example.com")
    page = alice.get(link)
    close_case(bus, case.case_id)
    again = alice.get(link)
    assert again.status_code == 200 and "the case was closed" in text(again)
    assert 'id="approve"' not in again.get_data(as_text=True) and gate.get(case.proposal.event_id).is_pending
    data = {"csrf_token": csrf(page.get_data(as_text=True)), "target": "WS-042", "reason": "go now"}
    resp = alice.post(link, {**data, "approve": "Approve"})
    assert resp.status_code == 409 and "cancelled" in text(resp) and "authorized pentest" in text(resp)
    assert [d.decision for d in decisions(bus, case)] == [Decision.CANCELLED]


def test_a_request_past_its_deadline_offers_no_form_before_the_worker_expires_it(
    person: Any, bus: Bus, case: Case, link: str, gate: Gate, clock: Clock
) -> None:
    """Given step one loaded, then the request's deadline passing before the gate's worker ticked, when
    Alice reloads step one or its state page, then both say it expired with no decision and offer no
    form (changing nothing); when she posts the form she had, then 409 "This request expired"."""
    alice = person("alice@example.com")
    page = alice.get(link)
    clock.advance(hours=3)
    again, state = alice.get(link), alice.get(f"/r/{case.proposal.event_id}")
    assert again.status_code == 200 and "expired at 2026-03-16 12:00 UTC with no decision" in text(again)
    assert 'id="approve"' not in again.get_data(as_text=True) and "Review and decide" not in text(state)
    assert "Expired at 2026-03-16 12:00 UTC with no decision" in text(state)
    assert gate.get(case.proposal.event_id).is_pending
    data = {"csrf_token": csrf(page.get_data(as_text=True)), "target": "WS-042", "reason": "go now"}
    resp = alice.post(link, {**data, "approve": "Approve"})
    assert resp.status_code == 409 and "This request expired" in text(resp)
    assert [d.decision for d in decisions(bus, case)] == [Decision.EXPIRED]


def test_the_list_shows_a_request_past_its_deadline_as_expired_before_the_worker_ticks(
    person: Any, case: Case, gate: Gate, clock: Clock
) -> None:
    """Given a pending request listed under "Pending", when its deadline passes before the gate's
    worker ticked, then the list no longer shows it pending: it is under "Recent" as expired, the
    audit lists it as expired by the gate, and its own page's heading says expired, exactly as after
    the worker's tick; the store still holds it pending until then."""
    rid = case.proposal.event_id
    carol, frank = person("carol@example.com"), person("frank@example.com")

    def pending_section() -> str:
        return text(carol.get("/")).split("<h2>Pending</h2>")[1].split("<h2>Recent</h2>")[0]

    def recent_section() -> str:
        return text(carol.get("/")).split("<h2>Recent</h2>")[1]

    assert f"/r/{rid}" in pending_section() and "isolate_host WS-042</a>: pending" in recent_section()
    clock.advance(hours=3)
    assert gate.get(rid).is_pending
    before = (pending_section(), recent_section())
    assert f"/r/{rid}" not in before[0] and "Nothing waits for a decision" in before[0]
    assert "isolate_host WS-042</a>: expired" in before[1]
    audit = text(frank.get("/audit"))
    assert f"/r/{rid}" in audit and 'class="state-expired">expired' in audit and "the gate" in audit
    state = text(carol.get(f"/r/{rid}"))
    assert 'id="state">expired</span>' in state and "Expired at 2026-03-16 12:00 UTC" in state
    assert gate.tick().expired == 1 and not gate.get(rid).is_pending
    assert (pending_section(), recent_section()) == before


def test_a_decision_form_with_both_buttons_or_a_repeated_field_decides_nothing(
    person: Any, bus: Bus, case: Case, link: str, gate: Gate
) -> None:
    """Given Alice's step-one form, when it is sent with both Approve and Reject (a browser sends the
    button clicked only), or with a field twice (a second reason holding a right-to-left override,
    a second target, a second token), then the form comes back (422) saying what is wrong and
    nothing is decided; the plain form then approves."""
    from werkzeug.datastructures import MultiDict

    alice = person("alice@example.com")
    token = csrf(alice.get(link).get_data(as_text=True))
    base = [("csrf_token", token), ("target", "WS-042"), ("reason", "contain it")]
    both = alice.post(link, MultiDict([*base, ("approve", "Approve"), ("reject", "Reject")]))
    assert both.status_code == 422 and "Choose Approve or Reject, not both" in text(both)
    for extra in (("reason", "contain \u202egnp.exe"), ("target", "WS-043"), ("csrf_token", token)):
        resp = alice.post(link, MultiDict([*base, extra, ("approve", "Approve")]))
        assert resp.status_code == 422, (extra, text(resp))
        assert f"The form holds {extra[0]} more than once" in text(resp)
    assert decisions(bus, case) == [] and gate.get(case.proposal.event_id).is_pending
    assert alice.post(link, MultiDict([*base, ("approve", "Approve")])).status_code == 303


def test_a_refused_method_names_the_allowed_ones(person: Any, case: Case, link: str) -> None:
    """Given the gate's pages, when asked with a method they do not serve (HEAD or GET on "done",
    PUT on step one), then 405 carries ``Allow`` (RFC 9110) on the gate's page; OPTIONS lists them."""
    alice, rid = person("alice@example.com"), case.proposal.event_id
    for method, url, allowed in (
        ("HEAD", f"/r/{rid}/done", {"OPTIONS", "POST"}),
        ("GET", f"/r/{rid}/done", {"OPTIONS", "POST"}),
        ("PUT", link, {"GET", "HEAD", "OPTIONS", "POST"}),
        ("DELETE", "/", {"GET", "HEAD", "OPTIONS"}),
    ):
        resp = alice.client.open(url, method=method, headers=alice.headers, environ_base=alice.environ)
        assert resp.status_code == 405, (method, url)
        assert set(resp.headers.get("Allow", "").split(", ")) == allowed, (method, url)
    opts = alice.client.options(link, headers=alice.headers, environ_base=alice.environ)
    assert opts.status_code == 200 and set(opts.headers["Allow"].split(", ")) == {
        "GET",
        "HEAD",
        "OPTIONS",
        "POST",
    }


def test_done_for_an_unknown_request_is_a_404_page(person: Any, case: Case, link: str) -> None:
    """Given Bob's form, when posted to a request id nobody knows, then 404 says so; nothing recorded."""
    bob = person("bob@example.com")
    token = csrf(bob.get(f"/r/{case.proposal.event_id}").get_data(as_text=True))
    resp = bob.post("/r/nope/done", {"csrf_token": token, "note": "x"})
    assert resp.status_code == 404 and "Unknown request" in text(resp)


def test_one_unreadable_record_breaks_no_page_but_its_own(
    person: Any, bus: Bus, case: Case, link: str, gate: Gate
) -> None:
    """Given garbage written straight into the gate's SQLite store beside a good request, when the
    list, audit and good request's pages are opened and it is approved, then all work; the damaged
    record's own page is a clear 503 page naming it; the gate's tick still runs."""
    store = gate.store
    assert isinstance(store, SqliteRequestStore)
    with store._tx() as db:
        db.execute(
            "INSERT INTO gate_requests VALUES ('damaged', ?, 'pending', 1, 0, 'not json')", (case.case_id,)
        )
    alice = person("alice@example.com")
    assert alice.get("/").status_code == 200
    assert confirm(alice, link).status_code == 303
    assert person("frank@example.com").get("/audit").status_code == 200
    damaged = alice.get("/r/damaged")
    assert damaged.status_code == 503 and "This request cannot be read" in text(damaged)
    assert "request &#39;damaged&#39;" in text(damaged) and "Nothing was decided" in text(damaged)
    assert gate.tick().expired == 0 and [d.decision for d in decisions(bus, case)] == [Decision.APPROVED]


def test_a_request_whose_stored_version_is_not_its_own_is_a_damaged_record_page(
    person: Any, bus: Bus, case: Case, link: str, gate: Gate
) -> None:
    """Given Alice's step-one form, when the request's stored version is written straight into the
    store as another number than its record's before she confirms, then her confirmation is the
    503 page naming the record as unreadable (not "kept changing; try again", which no retry cures),
    the link says the same, and nothing is decided."""
    alice = person("alice@example.com")
    page = alice.get(link)
    set_version(gate.store, case.proposal.event_id, 9)
    form = {"csrf_token": csrf(page.get_data(as_text=True)), "target": "WS-042", "reason": "go"}
    resp = alice.post(link, {**form, "approve": "approve"})
    assert resp.status_code == 503 and "This request cannot be read" in text(resp), text(resp)
    assert f"request &#39;{case.proposal.event_id}&#39;" in text(resp) and "Nothing was decided" in text(resp)
    assert alice.get(link).status_code == 503 and decisions(bus, case) == []


def test_identity_header_is_trusted_only_from_configured_proxies(person: Any, link: str) -> None:
    """Given the identity header from an untrusted address or for a stranger, then it is refused."""
    spoofed = person("alice@example.com", remote_addr="10.9.8.7").get(link)
    assert spoofed.status_code == 403 and "not a trusted proxy" in text(spoofed)
    stranger = person("zed@example.com").get(link)
    assert stranger.status_code == 403 and "zed@example.com, who is not in the on-call roster" in text(
        stranger
    )


def test_done_publishes_action_executed(person: Any, bus: Bus, case: Case, link: str) -> None:
    """Given an approved request, when Bob records it done with a note, then action.executed names him."""
    resp = confirm(person("alice@example.com"), link)
    bob = person("bob@example.com")
    state = bob.get(resp.headers["Location"])
    form = {"csrf_token": csrf(state.get_data(as_text=True)), "note": "isolated in Falcon, INC-42"}
    done = bob.post(f"/r/{case.proposal.event_id}/done", form)
    assert done.status_code == 303
    assert "Carried out by Bob Ray" in text(bob.get(done.headers["Location"]))
    (e,) = gate_events(bus, case.case_id, ActionExecuted)
    assert (e.executed_by, e.identity_source, e.note) == (
        "bob@example.com",
        "sso-proxy",
        "isolated in Falcon, INC-42",
    )
    again = bob.post(f"/r/{case.proposal.event_id}/done", form)
    assert again.status_code == 409 and len(gate_events(bus, case.case_id, ActionExecuted)) == 1


def test_a_reason_or_note_with_invisible_control_characters_is_refused(
    person: Any, bus: Bus, case: Case, link: str, gate: Gate
) -> None:
    """Given a reason holding a right-to-left override (text that would read otherwise in the audit
    trail) or a NUL, when confirming, then the form returns (422) naming the character and nothing is
    decided; the same for a "done" note, and for both through the service (the bot's path)."""
    alice = person("alice@example.com")
    for reason in ("contain \u202egnp.exe", "contain\x00 now"):
        resp = confirm(alice, link, reason=reason)
        assert resp.status_code == 422 and "invisible control character" in text(resp), reason
    assert decisions(bus, case) == []
    with pytest.raises(ApprovalError, match="U\\+202E"):
        gate.decide(
            case.proposal.event_id,
            person_id="alice",
            decision="approved",
            reason="ok \u202e",
            identity_source="t",
        )
    resp = confirm(alice, link, reason="contain:\tline one\r\nline two")  # tabs and line breaks are fine
    assert resp.status_code == 303
    bob = person("bob@example.com")
    form = {"csrf_token": csrf(bob.get(resp.headers["Location"]).get_data(as_text=True))}
    done = bob.post(f"/r/{case.proposal.event_id}/done", {**form, "note": "INC-42 \u2066hidden"})
    assert done.status_code == 422 and "invisible control character (U+2066)" in text(done)
    with pytest.raises(ApprovalError, match="the note holds"):
        gate.record_executed(case.proposal.event_id, person_id="bob", identity_source="t", note="\x07")
    assert gate_events(bus, case.case_id, ActionExecuted) == []


def test_audit_page_is_for_authorized_users_only(person: Any, case: Case, link: str) -> None:
    """Given a decision, when an auditor, a stranger and nobody open /audit, then only the auditor reads."""
    confirm(person("alice@example.com"), link)
    page = person("frank@example.com").get("/audit")
    assert page.status_code == 200 and "Alice Ng" in text(page) and "approved" in text(page)
    assert person("mallory@example.com").get("/audit").status_code == 403
    assert person(None).get("/audit").status_code == 303


def test_pages_carry_security_headers_and_strict_cookies(person: Any, link: str) -> None:
    """Given any page, when served, then CSP forbids scripts and framing and the session cookie is strict."""
    resp = person("alice@example.com").get(link)
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["Cache-Control"] == "no-store"
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert cookie.startswith("__Host-aisoc_gate=")
    assert "<script" not in resp.get_data(as_text=True)


def test_confirmations_are_rate_limited(bus: Bus, clock: Clock) -> None:
    """Given a limit of 3 POSTs a minute, when a client posts 4 times, then the 4th is refused with 429."""
    settings = gate_settings(rate_limit="3 per minute")
    gate = Gate(bus, settings, clock=clock)
    case = publish_case(bus)
    gate.submit(case.proposal)
    client = create_app(settings, gate=gate).test_client()
    url = path(approval_url(settings, gate.get(case.proposal.event_id)))
    headers = {"X-Forwarded-Email": "mallory@example.com"}
    token = csrf(client.get(url, headers=headers).get_data(as_text=True))
    codes = [
        client.post(
            url, data={"csrf_token": token, "reason": "x", "approve": "1"}, headers=headers
        ).status_code
        for _ in range(4)
    ]
    assert codes == [403, 403, 403, 429]
    carol = {"X-Forwarded-Email": "carol@example.com"}  # the same proxy address, another person
    token = csrf(client.get(url, headers=carol).get_data(as_text=True))
    data = {"csrf_token": token, "target": "WS-042", "reason": "contain", "approve": "1"}
    assert client.post(url, data=data, headers=carol).status_code == 303


def test_healthz_and_index(person: Any, case: Case, app: Flask) -> None:
    """Given a running gate, when probed and when a roster person opens /, then both answer."""
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}
    index = person("carol@example.com").get("/")
    assert index.status_code == 200 and "WS-042" in text(index)


def test_fresh_link_for_authorized_people_only(person: Any, req: ApprovalRequest, settings: Any) -> None:
    """Given the state page, when Carol asks for a decide link, then she gets one; Mallory is refused."""
    resp = person("carol@example.com").get(f"/r/{req.request_id}/link")
    assert resp.status_code == 303 and resp.headers["Location"].startswith(f"/a/{req.request_id}?t=")
    assert person("mallory@example.com").get(f"/r/{req.request_id}/link").status_code == 403
    assert request_url(settings, req.request_id) == f"http://gate.test/r/{req.request_id}"


def test_dev_login_exists_only_in_demo_mode(bus: Bus, clock: Clock) -> None:
    """Given demo mode, when someone uses the dev login, then pages are bannered and say dev-login."""
    with pytest.raises(ValueError, match="only allowed with demo = true"):
        gate_settings(auth=["dev"])
    with pytest.raises(ValueError, match="secure_cookies = false"):
        gate_settings(secure_cookies=False)
    prod = create_app(gate_settings(), gate=Gate(bus, gate_settings(), clock=clock)).test_client()
    alice = {"X-Forwarded-Email": "alice@example.com"}
    token = csrf(prod.get("/", headers=alice).get_data(as_text=True))
    assert (
        prod.post("/login/dev", data={"csrf_token": token, "person": "alice"}, headers=alice).status_code
        == 404
    )
    settings = gate_settings(demo=True, auth=["dev"])
    gate = Gate(bus, settings, clock=clock)
    case = publish_case(bus)
    gate.submit(case.proposal)
    client = create_app(settings, gate=gate).test_client()
    url = path(approval_url(settings, gate.get(case.proposal.event_id)))
    login = client.get(url, follow_redirects=True)
    assert "DEMO MODE" in text(login) and "Dev login" in text(login)
    nxt = client.post(
        f"/login/dev?next={url}", data={"csrf_token": csrf(login.get_data(as_text=True)), "person": "alice"}
    )
    assert nxt.status_code == 303 and nxt.headers["Location"] == url
    page = client.get(url)
    assert "Alice Ng <small>(dev-login)</small>" in text(page)
    data = {
        "csrf_token": csrf(page.get_data(as_text=True)),
        "target": "WS-042",
        "reason": "demo",
        "approve": "1",
    }
    assert client.post(url, data=data).status_code == 303
    (d,) = gate_events(bus, case.case_id, ActionDecided)
    assert d.identity_source == "dev-login" and gate.get(case.proposal.event_id).state == State.APPROVED
