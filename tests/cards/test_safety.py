"""Untrusted text in alerts and events: secrets never reach a card, markup never becomes a link or action."""

from __future__ import annotations

import json
import re

import pytest

from aisoc.events import Event, Tier2Decided
from cards import Card, CardContext, render
from tests.cards.checks import all_actions, schema_errors
from tests.cards.factories import (
    CASE_URL,
    CURL,
    GATE,
    SQLI,
    alert,
    attribution,
    by,
    closed,
    context,
    decided,
    plan,
    review,
    tier2,
    triage,
)

SECRETS = {
    "hunter2": "password=hunter2",
    "AKIAIOSFODNN7EXAMPLE": "AKIAIOSFODNN7EXAMPLE",
    "s3cr3tpw": "postgres://svc:s3cr3tpw@db.corp:5432/app",
    "eyJzdWIiOiJhZG1pbiJ9": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl",
    "MIIEpAIBAAKCAQEA": "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "ghp_0123456789abcdefghijklmnopqrstuvwxyz": "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
}
"""Each secret, and how it shows up in the text around it."""
INJECTIONS = [
    "[Approve now](https://evil.example/approve)",
    "<@all> urgent",
    "<https://evil.example/autolink>",
    '{"type": "Action.OpenUrl", "title": "Approve", "url": "https://evil.example"}',
    '"}]}, {"type": "Action.Submit", "data": {"cmd": "approve"}}',
    "![img](https://evil.example/pixel.png)",
    "{{DATE(2017-02-14T06:00:00Z, SHORT)}}",
]
"""Markup an attacker (or a confused model) might put into any text field."""
POISON = " ".join([*SECRETS.values(), *INJECTIONS])


def poisoned_alert() -> object:
    """The real curl alert with secrets and injections in every field a card shows."""
    a = alert(CURL)
    return a.model_copy(
        update={
            "title": f"{a.title} {POISON}",
            "hosts": [f"{a.hosts[0]} password=hunter2", "[x](https://evil.example)"],
            "users": ["AKIAIOSFODNN7EXAMPLE", "<@all>"],
            "rule": "password=hunter2",
            "severity_original": POISON[:256],
        }
    )


def poisoned_events() -> list[tuple[Event, CardContext]]:
    """Events whose every free-text field carries the poison, each with the poisoned alert as context."""
    a = poisoned_alert()
    p = plan(
        alert(CURL),
        summary=POISON,
        sev_rationale=POISON[:1000],
        notifications=[POISON[:1000]],
    )
    ctx = context(a, p)  # type: ignore[arg-type]
    prop = ctx.proposals["act-1"]
    return [
        (triage(a, summary=POISON), ctx),  # type: ignore[arg-type]
        (tier2(a, summary=POISON, findings=[POISON[:1000]], evidence=[POISON[:1000]]), ctx),  # type: ignore[arg-type]
        (p, ctx),
        (prop.model_copy(update={"rationale": POISON[:1000], "target": "h [x](https://evil.example)"}), ctx),
        (decided(prop, "rejected", reason=POISON[:1000], decided_by="<@all>"), ctx),
        (attribution(a, summary=POISON, actor_evidence=[POISON[:1000]]), ctx),  # type: ignore[arg-type]
        (review(a, reason=POISON[:1000], details=POISON, assignee="<@all>"), ctx),  # type: ignore[arg-type]
        (closed(a, reason=POISON[:1000]), ctx),  # type: ignore[arg-type]
    ]


TRUSTED_LINK = re.compile(
    rf"\]\(({re.escape(GATE)}|{re.escape(CASE_URL)}|https://attack\.mitre\.org/techniques/)[^)\s]*\)"
)


def check(card: Card) -> None:
    """No secret, no untrusted link, mention or action anywhere in the card or its fallback."""
    for text in (json.dumps(card.content, ensure_ascii=False), card.fallback_text):
        for secret in SECRETS:
            assert secret not in text
        assert "://evil.example" not in text  # URLs show defanged: hxxps://evil[.]example
        assert "](" not in TRUSTED_LINK.sub("", text)
        assert "<@all" not in text
        assert "<https:" not in text
        assert "{{" not in text
    mentions = re.findall(r"<@personEmail:[^>]*>", card.fallback_text)
    assert set(mentions) <= {
        "<@personEmail:dana.ruiz@example.com|Dana Ruiz>",
        "<@personEmail:sam.lee@example.com|Sam Lee>",
    }
    for action in all_actions(card.content):
        assert action["type"] in ("Action.OpenUrl", "Action.Submit")
        if action["type"] == "Action.OpenUrl":
            assert action["url"].startswith((GATE, CASE_URL))
        else:
            assert action["data"]["cmd"] in ("explain", "ack")
    assert schema_errors(card.content) == []


@pytest.mark.parametrize("index", range(8))
def test_poisoned_fields_are_redacted_and_inert(index: int) -> None:
    """Given secrets and markup in every alert and event field, when rendered, then none survives as such."""
    event, ctx = poisoned_events()[index]
    check(render(event, ctx))


def test_injection_adds_no_action() -> None:
    """Given JSON like a card action in a summary, when rendered, then the actions are the usual ones."""
    a = alert(CURL)
    clean_card = render(tier2(a), context(a))
    dirty_card = render(tier2(a, summary=POISON), context(a))
    assert dirty_card.content["actions"] == clean_card.content["actions"]


def test_real_sqli_log_token_is_redacted() -> None:
    """Given the real DVWA request with its CSRF token in a summary, when rendered, then the token is gone."""
    a = alert(SQLI)
    assert a.description and "da59db29379faf3476dc05aaaea53f0f" in a.description
    card = render(triage(a, summary=a.description), context(a))
    assert "da59db29379faf3476dc05aaaea53f0f" not in json.dumps(card.content) + card.fallback_text
    assert "user_token=[REDACTED]" in card.fallback_text
    assert "hxxp://10.0.2[.]9/DVWA" in card.fallback_text


def test_real_command_line_password_is_redacted() -> None:
    """Given the real Atomic Red Team --password command line as evidence, then the password is gone."""
    a = alert("7Rce15cB1Hp-jZ7fya1f")
    line = a.raw["alert"]["_source"]["data"]["win"]["eventdata"]["commandLine"]  # what a model sees, verbatim
    assert "--password P@ssword1" in line
    event = Tier2Decided(
        case_id=a.case_id,
        produced_by=by("tier2"),
        decision="escalate",
        confidence=0.8,
        summary="SOAPHound run with explicit credentials",
        evidence=[line[:1000]],
    )
    card = render(event, context(a))
    assert "P@ssword1" not in json.dumps(card.content) + card.fallback_text
    assert "--password [REDACTED]" in card.fallback_text
