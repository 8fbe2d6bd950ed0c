"""A corpus of the malformed answers small models write, through the fake OpenAI-compatible server
(both modes) and a real alert: each is read as the answer it plainly is, or repaired once and then
reviewed with a reason that says what was wrong. Never a crash, never a verdict the model did not
plainly give."""

from __future__ import annotations

import json

import pytest

from aisoc import Bus, models
from aisoc.runtime import RoleTeam
from roles import Sentinel
from tests.aisoc.runtime.test_loop import real_alert
from tests.support.fake_openai import Reply, fake_openai

GOOD = {"verdict": "malicious", "confidence": 0.9, "priority": 9, "summary": "credential theft on WS-1"}
BENIGN = {"verdict": "benign", "confidence": 0.95, "priority": 2, "summary": "expected admin activity"}
WHOLE = json.dumps(GOOD)
PRETTY = json.dumps(GOOD, indent=2)

READ = {
    "a ```json fence": f"```json\n{PRETTY}\n```",
    "a bare fence with a sentence before": f"Here is my triage:\n```\n{WHOLE}\n```",
    "JSON, then prose": f"{WHOLE}\n\nThe logon came from a new country, so I rated it malicious.",
    "JSON, then prose with braces and quotes": WHOLE + '\nNote: the "summary" field is {short}, as asked.',
    "a trailing comma": WHOLE[:-1] + ",}",
    "trailing commas in a fence, pretty-printed": "```json\n" + PRETTY[:-2] + ",\n}\n```",
    "a field given twice with one value": WHOLE[:-1] + ', "verdict": "malicious"}',
}
"""Answers whose meaning is plain: each is read as ``GOOD``, no repair spent."""

REPAIRED = {
    "two JSON objects": (json.dumps(BENIGN) + "\n" + WHOLE, "more than one JSON object"),
    "two fenced objects": (
        f"```json\n{json.dumps(BENIGN)}\n```\n```json\n{WHOLE}\n```",
        "more than one JSON",
    ),
    "single quotes": (str(GOOD), "double quotes, not single quotes"),
    "a truncated object": (WHOLE[:70], "it was cut off"),
    "a truncated object in a fence": ("```json\n" + PRETTY[:60], "it was cut off"),
    "a field given twice with two values": (
        json.dumps(BENIGN)[:-1] + ', "verdict": "malicious"}',
        "gives 'verdict' twice with different values",
    ),
    "a trailing comma and a cut": (WHOLE[:40] + ",", "not valid JSON"),
    "no JSON at all": ("The alert looks malicious to me.", "no JSON object"),
}
"""Answers whose meaning is not plain: one repair that names the fault, then a review naming it."""


def _sentinel(replies: list[str], mode: str) -> tuple[list, list[dict]]:
    with fake_openai() as fake:
        fake.script.extend(Reply(content=text) for text in replies)
        team = RoleTeam(model=models.from_spec(f"openai+{fake.url}?mode={mode}"), bus=Bus(), roles=[Sentinel])
        return team.run_role("sentinel", real_alert(1)), fake.requests


@pytest.mark.parametrize("mode", ["json", "tools"])
@pytest.mark.parametrize("text", READ.values(), ids=READ.keys())
def test_an_answer_whose_meaning_is_plain_is_read(text: str, mode: str) -> None:
    """Given a fenced object, an object with prose after it, a trailing comma or a field repeated
    with the same value, the verdict is exactly the model's, with no repair spent."""
    out, requests = _sentinel([text], mode)
    (verdict,) = out
    assert verdict.type == "triage.verdict" and verdict.trace.repairs == 0 and len(requests) == 1
    assert json.loads(verdict.trace.validated_output or "{}") == GOOD


@pytest.mark.parametrize("mode", ["json", "tools"])
@pytest.mark.parametrize(("text", "fault"), REPAIRED.values(), ids=REPAIRED.keys())
def test_an_answer_whose_meaning_is_not_plain_is_repaired_once_then_reviewed(
    text: str, fault: str, mode: str
) -> None:
    """Given two objects, single quotes, a truncated object or a field given twice with two values,
    the model is asked once, told the fault; the same answer again asks a person, who is told it."""
    out, requests = _sentinel([text, text], mode)
    (review,) = out
    assert review.type == "case.review_requested" and len(requests) == 2 and review.trace.repairs == 1
    assert fault in str(requests[1]["messages"][-1]["content"])
    assert review.reason.startswith("invalid output after one repair: ") and fault in review.reason


@pytest.mark.parametrize(("text", "fault"), REPAIRED.values(), ids=REPAIRED.keys())
def test_a_good_repair_of_an_unclear_answer_is_the_verdict(text: str, fault: str) -> None:
    """Given any answer of the repaired kind and then a whole object, the whole object is the verdict."""
    out, _ = _sentinel([text, WHOLE], "tools")
    (verdict,) = out
    assert verdict.type == "triage.verdict" and verdict.trace.repairs == 1
    assert json.loads(verdict.trace.validated_output or "{}") == GOOD


def test_a_comma_inside_a_string_is_kept_when_a_trailing_one_is_dropped() -> None:
    """Given a trailing comma and a summary that itself holds ``,}`` and an escaped quote, only the
    trailing comma goes: the summary is read as written."""
    summary = 'odd marker ",}" and ,] in the command line'
    text = json.dumps({**GOOD, "summary": summary})[:-1] + ",\n}"
    out, _ = _sentinel([text], "tools")
    assert out[0].type == "triage.verdict" and out[0].summary == summary and out[0].trace.repairs == 0
