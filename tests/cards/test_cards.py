"""Every card: valid Adaptive Cards 1.3, and what each one tells a person (built from real Wazuh alerts)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest

from aisoc.events import ControlPaused, Role, duty_title
from cards import (
    CARD_VERSION,
    DIGEST_KIND,
    MAX_ACTIONS,
    Approver,
    CardContext,
    CardError,
    digest_card,
    render,
    supported_types,
)
from tests.cards.checks import all_actions, all_text, schema_errors
from tests.cards.factories import (
    CURL,
    DANA,
    GATE,
    SHELLSHOCK,
    SQLI,
    alert,
    context,
    decided,
    executed,
    plan,
    review,
    triage,
)
from tests.cards.report_factories import closures
from tests.cards.samples import sample_events

SAMPLES = sample_events()


def header(content: dict[str, Any]) -> dict[str, Any]:
    """The coloured header container of a card."""
    first: dict[str, Any] = content["body"][0]
    assert first["type"] == "Container"
    return first


@pytest.mark.parametrize(("name", "event", "ctx"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_every_card_is_valid_adaptive_cards_1_3(name: str, event: object, ctx: CardContext) -> None:
    """Given a real-data event of each kind, when rendered, then the card passes the official 1.3 schema."""
    card = render(event, ctx)  # type: ignore[arg-type]
    assert schema_errors(card.content) == []
    assert card.content["version"] == CARD_VERSION and card.content["type"] == "AdaptiveCard"
    assert "$schema" in card.content
    assert len(all_actions(card.content)) <= MAX_ACTIONS
    assert card.fallback_text.strip() and card.fallback_text.startswith("**")
    assert card.kind == event.type  # type: ignore[attr-defined]
    assert not card.trimmed


def test_every_catalogue_card_type_has_a_sample() -> None:
    """Given the dispatcher, when listing its types, then each one is covered by the sample events."""
    assert sorted({e.type for _, e, _ in SAMPLES}) == supported_types()


def test_unknown_event_type_is_a_clear_error() -> None:
    """Given an event without a card, when rendered, then CardError names the type and the supported ones."""
    event = ControlPaused(scope="all", by="alice", produced_by={"role": "human"})
    with pytest.raises(CardError, match="control.paused.*triage.verdict"):
        render(event)


@pytest.mark.parametrize(
    ("sev", "style"), [("SEV-1", "attention"), ("SEV-2", "attention"), ("SEV-3", "warning")]
)
def test_plan_header_colour_follows_the_sev(sev: str, style: str) -> None:
    """Given plans of each SEV, when rendered, then the header colour is attention, warning or default."""
    a = alert(CURL)
    assert header(render(plan(a, sev=sev), context(a)).content)["style"] == style
    assert header(render(plan(a, sev="SEV-4"), context(a)).content)["style"] == "default"


def test_plan_names_the_role_and_the_person_who_must_act() -> None:
    """Given a plan with approvals, when rendered, then a banner names duty and person; the text mentions."""
    a = alert(CURL)
    p = plan(a)
    card = render(p, context(a, p))
    banner = card.content["body"][1]
    assert banner["items"][0]["text"] == "Action required from: IR Lead On-Call — Dana Ruiz"
    assert "<@personEmail:dana.ruiz@example.com|Dana Ruiz>" in card.fallback_text
    assert "<@personEmail" not in all_text(card.content)  # card text notifies nobody; only the message does


def test_plan_asks_each_duty_its_proposals_name_and_ir_lead_without_them() -> None:
    """Given proposals for two duties, or none, when rendered, then one banner per duty, else IR Lead."""
    a = alert(CURL)
    p = plan(a)
    ctx = context(a, p)
    manager = ctx.proposals["act-2"].model_copy(update={"approver_role": Role.SOC_MANAGER})
    both = context(a, p, proposals={**ctx.proposals, "act-2": manager})
    text = all_text(render(p, both).content)
    assert "Action required from: IR Lead On-Call — Dana Ruiz" in text
    assert "Action required from: SOC Manager On-Call — nobody resolved" in text
    alone = all_text(render(p, context(a, p, proposals={})).content)
    assert alone.count("Action required from") == 1 and "Sam Lee" not in alone


def test_plan_without_a_resolved_approver_says_so() -> None:
    """Given nobody on call, when a plan is rendered, then the banner says to check the roster."""
    a = alert(CURL)
    p = plan(a)
    card = render(p, context(a, p, approvers={}))
    assert "nobody resolved; check `oncall ir_lead`" in all_text(card.content)


def test_plan_approval_buttons_open_the_gate_and_nothing_else_decides() -> None:
    """Given a plan with two actions, when rendered, then each opens its signed gate link; Explain follows."""
    a = alert(CURL)
    p = plan(a, actions=2)
    card = render(p, context(a, p))
    actions = card.content["actions"]
    assert [x["type"] for x in actions] == ["Action.OpenUrl", "Action.OpenUrl", "Action.Submit"]
    assert [x["url"] for x in actions[:2]] == [
        f"{GATE}/act-1?sig=signed-act-1",
        f"{GATE}/act-2?sig=signed-act-2",
    ]
    assert [x["title"] for x in actions[:2]] == ["Approve #1", "Approve #2"]  # short enough side by side
    assert "— **approval #2** (Disable account: Win11Client-1)" in all_text(card.content)
    assert actions[2]["data"] == {"cmd": "explain", "case_id": a.case_id}
    assert all("approve" not in str(x.get("data", "")).lower() for x in actions)
    assert "executes nothing" in all_text(card.content)


def test_plan_sections_notifications_and_precedent() -> None:
    """Given a plan, when rendered, then its phases, notifications and precedent cases appear in order."""
    a = alert(CURL)
    p = plan(a)
    text = all_text(render(p, context(a, p)).content)
    order = [
        text.index(h) for h in ("Containment", "Eradication", "Recovery", "Notifications", "Precedent cases")
    ]
    assert order == sorted(order)
    assert "wazuh:h5yT5pcBllEhiOW622x2" in text and "10.0.2[.]8" in text
    assert "Notify the desktop team lead" in text


def test_plan_approvals_beyond_the_button_limit_become_links_then_and_n_more() -> None:
    """Given 15 approval steps, when rendered, then 4 buttons + Explain, then 8 links, then "and 3 more"."""
    a = alert(SHELLSHOCK)
    p = plan(a, sev="SEV-1", actions=15)
    card = render(p, context(a, p))
    actions = card.content["actions"]
    assert len(actions) == MAX_ACTIONS
    assert [x["type"] for x in actions].count("Action.OpenUrl") == 4
    text = all_text(card.content)
    assert "More approvals" in text
    assert f"]({GATE}/act-5?sig=signed-act-5)" in text
    assert "and 3 more — open the case for the rest" in text
    assert f"{GATE}/act-13" not in text


def test_plan_approval_without_a_gate_link_gets_no_button() -> None:
    """Given a step the gate has not signed yet, when rendered, then it gets no button and a note says so."""
    a = alert(CURL)
    p = plan(a, actions=2)
    ctx = context(a, p, gate_links={"act-1": f"{GATE}/act-1?sig=x"})
    card = render(p, ctx)
    assert [x["type"] for x in card.content["actions"]] == ["Action.OpenUrl", "Action.Submit"]
    assert "1 approval link(s) not issued yet" in all_text(card.content)


def test_action_proposed_asks_the_approver_with_one_gate_button() -> None:
    """Given a proposed action, when rendered, then it names risk, approver, expiry and one gate button."""
    a = alert(CURL)
    p = plan(a)
    ctx = context(a, p)
    card = render(ctx.proposals["act-1"], ctx)
    assert header(card.content)["style"] == "attention"  # isolate_host is high risk
    text = all_text(card.content)
    assert "Isolate host: Win11Client" in text and "Dana Ruiz" in text and "2025-07-05 09:12 UTC" in text
    gate = [x for x in card.content["actions"] if x["type"] == "Action.OpenUrl"]
    assert [x["url"] for x in gate] == [f"{GATE}/act-1?sig=signed-act-1"]


@pytest.mark.parametrize(
    ("decision", "style", "says"),
    [
        ("approved", "good", "The approval executed nothing"),
        ("rejected", "attention", "nothing will be carried out"),
        ("expired", "warning", "nobody decided in time"),
        ("cancelled", "emphasis", "withdrawn"),
    ],
)
def test_action_decided_styles_each_outcome_and_says_who_when_why(
    decision: str, style: str, says: str
) -> None:
    """Given each decision, when rendered, then it has its own colour, who/when/why, and what it means."""
    a = alert(CURL)
    p = plan(a)
    ctx = context(a, p)
    card = render(decided(ctx.proposals["act-1"], decision), ctx)
    assert header(card.content)["style"] == style
    text = all_text(card.content)
    assert says in text
    assert "Isolate host: Win11Client" in text and "2025-07-05 08:20 UTC" in text
    assert ("dana.ruiz@example.com" in text) is (decision != "expired")
    assert not [x for x in card.content["actions"] if x["type"] == "Action.OpenUrl" and "gate" in x["url"]]


def test_action_executed_is_reported_by_a_person() -> None:
    """Given a person reports an action done, when rendered, then it says who, and that the AI did not."""
    a = alert(CURL)
    p = plan(a)
    ctx = context(a, p)
    text = all_text(render(executed(ctx.proposals["act-1"]), ctx).content)
    assert "dana.ruiz@example.com" in text and "the AI executes nothing" in text and "CHG-4411" in text


def test_review_card_names_the_duty_person_and_the_sla_and_can_be_acknowledged() -> None:
    """Given Tier 2 could not decide, when rendered, then the on-call analyst, deadline and ack show."""
    a = alert(CURL)
    card = render(review(a), context(a))
    text = all_text(card.content)
    assert "Review needed from: Tier 2 On-Call — Sam Lee" in text
    assert "30 min (by 08:37 UTC)" in text and "Tier 2 Analyst could not decide" in text
    assert card.content["actions"][0] == {
        "type": "Action.Submit",
        "title": "Acknowledge",
        "data": {"cmd": "ack", "case_id": a.case_id},
    }
    assert "<@personEmail:sam.lee@example.com|Sam Lee>" in card.fallback_text


def test_triage_card_shows_the_alert_from_context() -> None:
    """Given a verdict and the case's alert, when rendered, then title, hosts, users and verdict show."""
    a = alert(CURL)
    card = render(triage(a), context(a))
    assert header(card.content)["style"] == "attention"
    text = all_text(card.content)
    assert (
        a.title in text and "Win11Client" in text and "snell" in text and "Malicious (91% confidence)" in text
    )


def test_context_alert_of_another_case_is_refused() -> None:
    """Given the wrong case's alert in context, when rendered, then CardError (never another case's hosts)."""
    with pytest.raises(CardError, match="context alert is for case"):
        render(triage(alert(CURL)), context(alert(SQLI)))


def test_intel_card_lists_techniques_as_attack_links_and_iocs_worst_first() -> None:
    """Given an attribution, when rendered, then ATT&CK ids link to MITRE; IOCs are defanged, worst first."""
    _, event, ctx = next(s for s in SAMPLES if s[0] == "intel_attribution")
    text = all_text(render(event, ctx).content)
    assert "[T1059.001](https://attack.mitre.org/techniques/T1059/001/)" in text
    assert "hxxp://10.0.2[.]8/payload.exe" in text and "http://10.0.2.8" not in text
    assert text.index("**malicious**") < text.index("**suspicious**") < text.index("**unknown**")
    assert "No actor attributed" in text


def test_digest_rolls_up_the_real_closures() -> None:
    """Given Sentinel's closures of the 37 real FP alerts, when digested, then one card counts them."""
    events, alerts = closures()
    card = digest_card(events, alerts=alerts)
    assert card.kind == DIGEST_KIND and schema_errors(card.content) == []
    text = all_text(card.content)
    assert "Sentinel closed 37 alert(s)" in text
    assert "Benign 10 · False positive 27" in text
    assert "Least confident closures" in text and "and 29 more" in text


def test_digest_refuses_events_that_are_not_sentinel_closures() -> None:
    """Given an escalated verdict, when digested, then CardError: only closures belong in the digest."""
    with pytest.raises(CardError, match="routed to tier2"):
        digest_card([triage(alert(CURL))])


def test_context_checks_urls_and_zones() -> None:
    """Given a javascript: gate link or an unknown zone, when building a context, then CardError."""
    with pytest.raises(CardError, match="not an absolute http"):
        CardContext(gate_links={"a": "javascript:alert(1)"})
    with pytest.raises(CardError, match="unknown zone"):
        CardContext(timezone="Mars/Olympus")
    ctx = CardContext(approvers={"ir_lead": Approver(Role.IR_LEAD, "Dana Ruiz")})  # type: ignore[dict-item]
    who = ctx.approver(Role.IR_LEAD)  # a slug key is accepted and normalized to the Role
    assert who is not None and who.label == "IR Lead On-Call: Dana Ruiz"


def test_message_body_fits_webex() -> None:
    """Given any card, when made into a Webex message, then it has one attachment of the card content type."""
    a = alert(CURL)
    p = plan(a)
    message = render(p, context(a, p)).message()
    assert list(message) == ["markdown", "attachments"]
    assert len(message["attachments"]) == 1
    assert message["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert DANA.email in message["markdown"]


def test_cards_import_only_the_kernel_and_the_standard_library() -> None:
    """Given the cards package, when its imports are listed, then only aisoc, cards and stdlib appear."""
    allowed = {"aisoc", "cards", *sys.stdlib_module_names}
    package = Path(__file__).resolve().parents[2] / "cards"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            assert {n.split(".")[0] for n in names} <= allowed, f"{path.name} imports {names}"


def test_duties_are_named_as_the_roster_names_them() -> None:
    """Given duties with and without a roster title, when named, then the gate's default or the roster's."""
    assert duty_title(Role.TIER2) == "Tier 2 On-Call"
    assert duty_title(Role.THREAT_INTEL) == "Threat Intel On-Call"
    assert duty_title("second_opinion") == "Second Opinion On-Call"  # an added role's duty
    a = alert(CURL)
    night = Approver(Role.TIER2, "Sam Lee", "sam.lee@example.com", title="Night Shift Tier 2")
    text = all_text(render(review(a), context(a, approvers={Role.TIER2: night})).content)
    assert "Review needed from: Night Shift Tier 2 — Sam Lee" in text
