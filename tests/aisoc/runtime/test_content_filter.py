"""An answer the model's provider filtered (``finish_reason`` ``content_filter``, as OpenAI-compatible
servers and Azure OpenAI send it) through the fake server and real alerts: the backup leg is asked
once when there is one; otherwise a person reviews the case, told the provider filtered the answer
(not that the model failed), and the trace records it."""

from __future__ import annotations

import json

import pytest

from aisoc import Bus, events, models
from aisoc.memory import Memory
from aisoc.runtime import RoleTeam
from aisoc.runtime.loop import FILTERED
from cards import render
from roles import Sentinel
from tests.aisoc.runtime.test_loop import GOOD, real_alert
from tests.aisoc.runtime.test_model_server import _spec
from tests.support.fake_openai import Reply, fake_openai

PARTIAL = json.dumps(GOOD)[:30]
"""What is left of an answer the filter cut."""


def _filtered(content: str = "") -> Reply:
    return Reply(content=content, finish_reason="content_filter")


def _run(team: RoleTeam, n: int = 1) -> events.Event:
    (out,) = team.run_role("sentinel", real_alert(n))
    return out


@pytest.mark.parametrize("mode", ["json", "tools"])
@pytest.mark.parametrize("content", ["", PARTIAL], ids=["empty", "partial"])
def test_a_filtered_answer_on_the_only_leg_asks_a_person_naming_the_filter(mode: str, content: str) -> None:
    """Given one leg whose provider filters the answer (empty or cut; with ``mode=json`` the OpenAI
    client's parser refuses it), no repair is asked (the filter would meet the same case): the
    review's reason, shown on the card, says the provider filtered it; the trace keeps the call."""
    with fake_openai() as fake:
        fake.script.append(_filtered(content))
        team = RoleTeam(
            model=models.from_spec(_spec(fake.url).replace("json", mode)), bus=Bus(), roles=[Sentinel]
        )
        review = _run(team)
    assert review.type == "case.review_requested" and len(fake.requests) == 1
    assert review.reason == FILTERED and review.reason.startswith("the model's provider filtered the answer")
    assert "model error" not in review.reason and "invalid output" not in review.reason
    assert review.trace.repairs == 0 and review.trace.raw_output == content
    (call,) = review.trace.model_calls
    assert call.error is None and call.failed_legs == []
    card = json.dumps(render(review).content)
    assert "provider filtered the answer" in card


def test_a_filtered_answer_that_would_validate_is_still_not_taken() -> None:
    """Given a filtered answer whose text is a whole valid verdict, no verdict is published: the
    provider withheld part of what the model wrote, so a person looks."""
    with fake_openai() as fake:
        fake.script.append(_filtered(json.dumps(GOOD)))
        review = _run(RoleTeam(model=models.from_spec(_spec(fake.url)), bus=Bus(), roles=[Sentinel]))
    assert review.type == "case.review_requested" and review.reason == FILTERED


def test_the_backup_leg_answers_what_the_primary_s_provider_filtered() -> None:
    """Given a primary whose provider filters the answer and a backup that answers, the verdict is
    the backup's; the call records the primary's filtered answer among its failed legs, explain
    tells it, and the primary (up, not failed) serves the next alert."""
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.append(_filtered())
        bus = Bus()
        model = models.from_spec(_spec(primary.url), backup=_spec(backup.url))
        team = RoleTeam(model=model, bus=bus, roles=[Sentinel])
        team.subscribe()
        alert = real_alert(1)
        bus.publish(alert)
        bus.drain()
        later = _run(team, 2)
    assert alert.case_id is not None
    (verdict,) = [e for e in bus.audit if e.type == "triage.verdict"]
    assert verdict.trace.repairs == 0
    (call,) = verdict.trace.model_calls
    (failed,) = call.failed_legs
    assert call.leg == "backup" and failed.leg == "primary" and failed.error == "content_filter"
    assert failed.status is None and 0 <= failed.duration_ms <= call.duration_ms
    assert later.type == "triage.verdict" and later.trace.legs == ["primary"]
    assert len(primary.requests) == 2 and len(backup.requests) == 1
    said = [s.text for s in Memory(bus.audit).explain(alert.case_id).statements if s.verb == "failed over"]
    assert len(said) == 1 and "model leg primary failed a call (content_filter" in said[0]


def test_both_legs_filtering_ask_a_person_once_each() -> None:
    """Given a primary and a backup whose providers both filter the answer, each is asked once, and
    the review says the backup filtered it too."""
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.append(_filtered())
        backup.script.append(_filtered(PARTIAL))
        model = models.from_spec(_spec(primary.url), backup=_spec(backup.url))
        review = _run(RoleTeam(model=model, bus=Bus(), roles=[Sentinel]))
    assert review.type == "case.review_requested" and review.reason.startswith(FILTERED)
    assert "the backup leg, asked after the primary leg, filtered it too" in review.reason
    assert len(primary.requests) == len(backup.requests) == 1
    (call,) = review.trace.model_calls
    assert call.leg == "backup" and [f.error for f in call.failed_legs] == ["content_filter"]


def test_a_backup_that_fails_after_a_filter_leaves_the_filter_to_a_person() -> None:
    """Given a filtered primary answer and a backup answering 503, the case is not redelivered
    (the primary is up and would filter again): a person reviews it, told of both."""
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.append(_filtered())
        backup.script.append(Reply(status=503, body=b'{"error": {"message": "overloaded"}}'))
        model = models.from_spec(_spec(primary.url), backup=_spec(backup.url))
        review = _run(RoleTeam(model=model, bus=Bus(), roles=[Sentinel]))
    assert review.type == "case.review_requested" and review.reason.startswith(FILTERED)
    assert "the backup leg failed the call" in review.reason
    (call,) = review.trace.model_calls
    assert call.leg == "primary" and [(f.leg, f.status) for f in call.failed_legs] == [("backup", 503)]


def test_a_filtered_repair_names_the_filter_and_the_first_error() -> None:
    """Given an invalid first answer and a repair the provider filters, the review names the filter
    and what was wrong with the first answer."""
    with fake_openai() as fake:
        fake.script.extend([Reply(content=json.dumps({**GOOD, "confidence": 1.5})), _filtered()])
        review = _run(RoleTeam(model=models.from_spec(_spec(fake.url)), bus=Bus(), roles=[Sentinel]))
    assert review.type == "case.review_requested" and review.trace.repairs == 1
    assert review.reason.startswith(FILTERED) and "asked to repair: confidence" in review.reason
