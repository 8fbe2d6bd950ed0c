"""Webex's limits: at most 5 actions, card and text size enforced with huge inputs, lists capped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from aisoc.events import (
    Alert,
    CampaignDetected,
    DetectionTuning,
    Event,
    HuntProposal,
    IntelAttribution,
    IrPlan,
    PlanStep,
    PrecedentRef,
    ShiftSummary,
    Tier2Decided,
    Trace,
    plan_digest,
)
from cards import (
    MAX_ACTIONS,
    MAX_CARD_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_TEXT_BYTES,
    Card,
    CardContext,
    CardError,
    digest_card,
    render,
)
from cards.draft import TRIMMED_NOTICE, Draft
from cards.model import LADDER
from tests.cards.checks import all_actions, all_text, schema_errors
from tests.cards.factories import CURL, alert, at, by, context, plan, triage, wazuh_records
from tests.cards.report_factories import closures

LONG = "Ж" * 1020 + "end"  # non-ASCII doubles and triples in escaped JSON: the worst case for size
SHORT = "x" * 250


def huge_alert() -> Alert:
    """The real curl alert, blown up to the contract's limits (100 hosts and users of 256 characters)."""
    a = alert(CURL)
    return a.model_copy(
        update={
            "title": "T" * 512,
            "hosts": [f"host-{i}-{SHORT}"[:256] for i in range(100)],
            "users": [f"user-{i}-{SHORT}"[:256] for i in range(100)],
        }
    )


def huge_events(a: Alert) -> list[Event]:
    """One event of each heavy kind, every list and text at its contract maximum."""
    steps = [
        PlanStep(
            phase=("containment", "eradication", "recovery")[i % 3],
            description=LONG,
            kind="isolate_host",
            target=f"target-{i}-{SHORT}"[:256],
            action_id=f"act-{i}",
        )
        for i in range(40)
    ]
    precedent = [
        PrecedentRef(
            case_id=f"wazuh:p{i}", shared=[f"ip:10.0.{i}.{j}" for j in range(50)], summary=LONG, score=0.5
        )
        for i in range(50)
    ]
    window = {"window_start": at(0) - timedelta(hours=8), "window_end": at(0)}
    return [
        Tier2Decided(
            case_id=a.case_id,
            produced_by=by("tier2"),
            decision="escalate",
            confidence=0.9,
            summary=LONG * 7,
            findings=[LONG] * 50,
            evidence=[LONG] * 50,
        ),
        IrPlan(
            case_id=a.case_id,
            produced_by=by("ir_lead"),
            sev="SEV-1",
            sev_rationale=LONG,
            summary=LONG * 7,
            steps=steps,
            notifications=[LONG] * 50,
            plan_digest=plan_digest("SEV-1", steps),
            trace=Trace(role="ir_lead", prompt_version="v1", precedent=precedent),
        ),
        IntelAttribution(
            case_id=a.case_id,
            produced_by=by("threat_intel"),
            actor="A" * 256,
            actor_evidence=[LONG] * 50,
            techniques=[f"T{1000 + i}.{i:03d}" for i in range(100)],
            iocs=[{"type": "url", "value": "http://e.example/" + "p" * 2000, "reputation": "malicious"}]
            * 200,
            confidence=0.5,
            summary=LONG * 7,
        ),
        ShiftSummary(
            produced_by=by("soc_manager"),
            **window,
            alerts_received=10**6,
            open_approvals=[
                {
                    "action_id": f"a{i}",
                    "case_id": f"c{i}-{SHORT}"[:256],
                    "kind": "isolate_host",
                    "target": SHORT,
                    "approver_role": "ir_lead",
                    "age_s": i,
                }
                for i in range(200)
            ],
            notable_cases=[{"case_id": f"wazuh:c{i}", "title": LONG, "status": SHORT} for i in range(50)],
            summary=LONG * 7,
        ),
        DetectionTuning(
            produced_by=by("detection_engineer"),
            **window,
            rules=[
                {
                    "rule": f"r{i}-{SHORT}"[:256],
                    "title": LONG,
                    "fired": 47,
                    "closed_benign": 41,
                    "escalated": 6,
                    "benign_rate": 41 / 47,
                    "suggestion": LONG,
                }
                for i in range(200)
            ],
            summary=LONG * 7,
        ),
        HuntProposal(
            produced_by=by("threat_hunter"),
            **window,
            findings=[
                {
                    "kind": "campaign",
                    "summary": LONG,
                    "hypothesis": LONG,
                    "case_ids": [f"wazuh:{j}-{SHORT}"[:256] for j in range(500)],
                    "indicators": [f"domain:{j}.evil.example" for j in range(100)],
                }
                for _ in range(100)
            ],
            summary=LONG * 7,
        ),
        CampaignDetected(
            produced_by=by("threat_hunter"),
            campaign_id="C" * 256,
            status="grown",
            case_ids=[f"wazuh:{j}-{SHORT}"[:256] for j in range(500)],
            indicators=[f"url:http://{j}.evil.example/{SHORT}"[:256] for j in range(100)],
            first_seen=at(0),
            last_seen=at(10),
            summary=LONG,
        ),
    ]


def assert_fits(card: Card) -> None:
    """The card is valid, within every Webex limit, and says so exactly when it was trimmed."""
    assert schema_errors(card.content) == []
    assert card.card_bytes <= MAX_CARD_BYTES
    assert len(card.fallback_text.encode("utf-8")) <= MAX_TEXT_BYTES
    assert len(str(card.message()).encode("utf-8")) <= MAX_MESSAGE_BYTES
    assert len(all_actions(card.content)) <= MAX_ACTIONS
    assert card.trimmed is (TRIMMED_NOTICE in all_text(card.content))


@pytest.mark.parametrize(
    ("index", "trimmed"),
    [(0, True), (1, True), (2, True), (3, True), (4, True), (5, True), (6, False)],
    ids=["tier2", "plan", "intel", "shift", "tuning", "hunt", "campaign"],
)
def test_huge_events_are_cut_to_fit_and_say_so(index: int, trimmed: bool) -> None:
    """Given an event with every list and text at its maximum, when rendered, then it fits and says so."""
    a = huge_alert()
    event = huge_events(a)[index]
    ctx = context(a, event) if isinstance(event, IrPlan) else context(a)
    if event.case_id is None:
        ctx = CardContext()
    card = render(event, ctx)
    assert_fits(card)
    assert card.trimmed is trimmed  # a campaign's lists are capped anyway: it fits without trimming


def test_digest_of_thousands_of_closures_fits() -> None:
    """Given 3,000 closures over distinct alerts, when digested, then one card fits and counts them all."""
    base, _ = wazuh_records()[0]
    alerts = {}
    events = []
    for i in range(3000):
        a = base.model_copy(update={"source_id": f"gen-{i}", "title": f"{LONG[:200]} {i}"})
        alerts[a.case_id] = a
        events.append(triage(a, routed="closed", verdict="benign", n=i, confidence=0.5 + (i % 50) / 100))
    card = digest_card(events, alerts=alerts)
    assert_fits(card)
    assert card.trimmed
    assert "Sentinel closed 3000 alert(s)" in all_text(card.content)


def test_real_cards_are_not_trimmed() -> None:
    """Given the real closures, when digested, then no trimming was needed (limits bite on huge input)."""
    events, alerts = closures()
    assert not digest_card(events, alerts=alerts).trimmed


def test_tighter_budget_falls_back_to_the_essentials() -> None:
    """Given a tiny size budget, when a big plan is rendered, then only header, banner and buttons stay."""
    a = huge_alert()
    event = huge_events(a)[1]
    assert isinstance(event, IrPlan)
    card = render(event, context(a, event), max_bytes=3000)
    assert card.card_bytes <= 3000 and card.trimmed
    text = all_text(card.content)
    assert "Action required from: IR Lead On-Call — Dana Ruiz" in text
    assert "Containment" not in text
    assert len(card.content["actions"]) == MAX_ACTIONS


def test_impossible_budget_is_an_error_not_a_broken_card() -> None:
    """Given a budget smaller than any card, when rendered, then CardError rather than an oversized card."""
    a = alert(CURL)
    with pytest.raises(CardError, match="even the essentials"):
        render(triage(a), context(a), max_bytes=200)


def test_a_sixth_action_is_refused() -> None:
    """Given a draft with five actions, when a sixth is added, then CardError (Webex shows at most five)."""
    d = Draft("triage.verdict", LADDER[0], "wazuh:x")
    for i in range(MAX_ACTIONS):
        d.submit(f"b{i}", {"cmd": "explain", "case_id": "wazuh:x"})
    assert d.room == 0
    with pytest.raises(CardError, match="more than 5 actions"):
        d.submit("one too many", {})
    d.explain()  # no room: silently skipped, never a sixth
    assert len(d.finish().content["actions"]) == MAX_ACTIONS


def test_forty_approvals_keep_five_actions() -> None:
    """Given the largest plan (40 approval steps), when rendered, then exactly five actions remain."""
    a = alert(CURL)
    p = plan(a, actions=38)
    card = render(p, context(a, p))
    assert len(all_actions(card.content)) == MAX_ACTIONS
    assert "and 26 more — open the case for the rest" in all_text(card.content)


@pytest.mark.parametrize(("n", "tail"), [(3, None), (8, None), (9, "and 1 more"), (50, "and 42 more")])
def test_long_lists_end_with_and_n_more(n: int, tail: str | None) -> None:
    """Given a Tier 2 decision with n findings, when rendered, then at most 8 show; the rest are counted."""
    a = alert(CURL)
    findings = [f"finding {i}" for i in range(n)]
    event: Any = Tier2Decided(
        case_id=a.case_id,
        produced_by=by("tier2"),
        decision="close",
        confidence=0.5,
        summary="s",
        findings=findings,
    )
    body = render(event, context(a)).content["body"]
    heading = next(i for i, e in enumerate(body) if e.get("text") == "Findings")
    lines = body[heading + 1]["text"].split("\n")
    assert lines[: min(n, 8)] == [f"- finding {i}" for i in range(min(n, 8))]
    assert lines[8:] == ([f"- {tail}"] if tail else [])
