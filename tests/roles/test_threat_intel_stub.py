"""The canned Threat Intel answers within its own schema, whatever the alert maps to."""

from __future__ import annotations

from roles import ThreatIntel
from roles.threat_intel import MAX_TECHNIQUES, IntelAnswer


def test_an_alert_mapped_to_more_techniques_than_an_answer_holds_still_gets_a_valid_answer() -> None:
    """Given an incident mapped to 61 techniques (one GUIDE incident is), the canned answer validates."""
    techniques = [f"T{1000 + i}" for i in range(61)]
    answer = IntelAnswer.model_validate(ThreatIntel().stub_answer({"alert": {"techniques": techniques}}))
    assert answer.techniques == techniques[:MAX_TECHNIQUES]
