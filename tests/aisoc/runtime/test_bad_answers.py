"""Bad model output through the OpenAI-compatible path (the fake server, real alerts): every
invocation ends with a validated answer, one repair, or a review request that says why."""

from __future__ import annotations

import json

import pytest

from aisoc import Bus, events, models
from aisoc.runtime import RoleTeam
from roles import Sentinel
from tests.aisoc.runtime.test_loop import real_alert
from tests.support.fake_openai import Reply, fake_openai

GOOD = {"verdict": "malicious", "confidence": 0.9, "priority": 9, "summary": "credential theft on WS-1"}
BENIGN = {"verdict": "benign", "confidence": 0.95, "priority": 2, "summary": "expected admin activity"}


def _sentinel(replies: list[Reply], mode: str = "json") -> tuple[list[events.Event], list[dict]]:
    with fake_openai() as fake:
        fake.script.extend(replies)
        team = RoleTeam(model=models.from_spec(f"openai+{fake.url}?mode={mode}"), bus=Bus(), roles=[Sentinel])
        return team.run_role("sentinel", real_alert(1)), fake.requests


def _repair_prompt(requests: list[dict]) -> str:
    return str(requests[1]["messages"][-1]["content"])


def test_two_json_objects_are_not_read_as_the_first_one() -> None:
    """Given an answer holding a benign close and then a malicious verdict (which did the model
    mean?), the case is not closed on the first: the model is asked once for one object, and its
    corrected answer is used."""
    out, requests = _sentinel(
        [Reply(content=json.dumps(BENIGN) + "\n" + json.dumps(GOOD)), Reply(content=json.dumps(GOOD))]
    )
    assert [e.type for e in out] == ["triage.verdict"] and out[0].verdict == "malicious"
    assert out[0].trace.repairs == 1 and "more than one JSON object" in _repair_prompt(requests)


def test_an_object_with_chatter_and_a_code_fence_is_still_one_answer() -> None:
    """Given one object in a code fence with a sentence around it, it is the answer (no repair)."""
    text = "Here is my triage:\n```json\n" + json.dumps(GOOD) + "\n```\nLet me know {if} you need more."
    out, requests = _sentinel([Reply(content=text)])
    assert out[0].type == "triage.verdict" and out[0].trace.repairs == 0 and len(requests) == 1


def test_deeply_nested_json_is_repaired_like_any_invalid_answer() -> None:
    """Given an answer nested thousands of levels deep (the JSON decoder's recursion limit), the
    model is shown the error and asked again, instead of the invocation failing as a model error."""
    out, requests = _sentinel([Reply(content='{"a":' * 5000), Reply(content=json.dumps(GOOD))])
    assert out[0].type == "triage.verdict" and out[0].trace.repairs == 1
    assert "nested" in _repair_prompt(requests)


@pytest.mark.parametrize("field", ["confidence", "priority"])
def test_true_or_false_is_no_number(field: str) -> None:
    """Given ``"confidence": true`` (read as 1.0, it would pass any confidence floor) or
    ``"priority": true``, the answer is refused and repaired, not read as 1."""
    bad = {**BENIGN, field: True}
    out, requests = _sentinel([Reply(content=json.dumps(bad)), Reply(content=json.dumps(GOOD))])
    assert [e.type for e in out] == ["triage.verdict"] and out[0].trace.repairs == 1
    assert field in _repair_prompt(requests)


def test_numbers_written_as_strings_are_read_as_numbers() -> None:
    """Given ``"0.9"`` and ``"9"``, the answer validates as 0.9 and 9 (no repair spent on quotes)."""
    out, _ = _sentinel([Reply(content=json.dumps({**GOOD, "confidence": "0.9", "priority": "9"}))])
    assert out[0].confidence == 0.9 and out[0].priority == 9 and out[0].trace.repairs == 0


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1.5", "-0.1"])
def test_a_confidence_outside_zero_to_one_is_repaired_then_reviewed(value: str) -> None:
    """Given a confidence of NaN, Infinity, 1.5 or -0.1 twice, no verdict is published: a person
    is asked, with the field named."""
    text = json.dumps(BENIGN).replace("0.95", value)
    out, _ = _sentinel([Reply(content=text), Reply(content=text)])
    (review,) = out
    assert review.type == "case.review_requested" and "confidence" in review.reason


def test_a_tool_name_longer_than_the_trace_allows_is_refused_and_recorded() -> None:
    """Given a call to a tool whose name is 100,000 characters long, the call is refused, recorded
    with the name cut, and the verdict still comes (the trace's bound no longer fails the run)."""
    calls = [{"name": "z" * 100_000, "arguments": "{}"}]
    out, _ = _sentinel([Reply(content="", tool_calls=calls), Reply(content=json.dumps(GOOD))], mode="tools")
    (verdict,) = out
    assert verdict.type == "triage.verdict"
    (rec,) = verdict.trace.tool_calls
    assert rec.refused and rec.name.startswith("zzz") and len(rec.name) <= 256


def test_an_answer_longer_than_any_valid_one_is_refused_unread() -> None:
    """Given a 1 MB answer of nested braces that never close (searching it for a JSON object took
    about 40 s of one core, holding the worker), it is refused by its length and repaired."""
    block = '{"a":' * 900 + "1]"
    text = block * (1_000_000 // len(block))
    out, requests = _sentinel([Reply(content=text), Reply(content=json.dumps(GOOD))])
    assert out[0].type == "triage.verdict" and out[0].trace.repairs == 1
    assert "characters long" in _repair_prompt(requests)
    assert len(out[0].trace.messages[2].content) < 70_000  # the trace keeps a bounded copy


ODD_USAGE = {
    "negative": {"prompt_tokens": -5, "completion_tokens": -1, "total_tokens": -6},
    "a word": {"prompt_tokens": "lots", "completion_tokens": 1, "total_tokens": 1},
    "beyond any context": {"prompt_tokens": 10**30, "completion_tokens": 10**30, "total_tokens": 1},
}


@pytest.mark.parametrize("usage", ODD_USAGE.values(), ids=ODD_USAGE.keys())
def test_token_counts_a_server_misreports_never_cost_the_answer(usage: dict) -> None:
    """Given a valid answer whose usage counts are negative, a word or beyond any context window,
    the verdict is published (the answer was lost to a review before); the counts are left out."""
    out, requests = _sentinel([Reply(content=json.dumps(GOOD), envelope={"usage": usage})])
    (verdict,) = out
    assert verdict.type == "triage.verdict" and len(requests) == 1
    assert verdict.trace.model_calls[0].input_tokens is None  # the misreported count is left out
    assert verdict.trace.usage is None or verdict.trace.usage.input_tokens == 0


def test_an_answer_sent_as_content_parts_is_read_as_its_text() -> None:
    """Given a server that sends the answer as a list of text parts (as the Chat Completions API
    allows), the answer is their text: no repair is spent on it."""
    parts = [{"type": "text", "text": json.dumps(GOOD)[:30]}, {"type": "text", "text": json.dumps(GOOD)[30:]}]
    message = {"role": "assistant", "content": parts}
    envelope = {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
    out, requests = _sentinel([Reply(envelope=envelope)])
    assert out[0].type == "triage.verdict" and out[0].trace.repairs == 0 and len(requests) == 1


def test_an_invalid_answer_after_the_deadline_is_not_said_to_be_repaired() -> None:
    """Given an invalid answer that arrives after the role's time limit, no repair is asked for,
    and the review's reason says so instead of claiming one was tried."""
    with fake_openai(delay_s=0.3) as fake:
        fake.script.append(Reply(content="not an answer"))
        team = RoleTeam(
            model=models.from_spec(f"openai+{fake.url}?mode=json"), bus=Bus(), roles=[Sentinel], timeout_s=0.1
        )
        (review,) = team.run_role("sentinel", real_alert(1))
    assert review.type == "case.review_requested" and len(fake.requests) == 1
    assert "no time left to repair" in review.reason and "after one repair" not in review.reason


def test_a_refusal_is_named_in_the_review() -> None:
    """Given a model that refuses twice (OpenAI's ``refusal`` field, no content), the review's reason
    quotes the refusal instead of saying the answer held no JSON."""
    message = {"role": "assistant", "content": None, "refusal": "I can't help with malware analysis."}
    envelope = {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
    out, _ = _sentinel([Reply(envelope=envelope), Reply(envelope=envelope)])
    (review,) = out
    assert review.type == "case.review_requested" and "I can't help with malware analysis" in review.reason


NOT_OBJECTS = {"an array": "[1, 2]", "a string": '"host"', "null": "null", "a number": "1", "a bool": "true"}


@pytest.mark.parametrize("arguments", NOT_OBJECTS.values(), ids=NOT_OBJECTS.keys())
def test_tool_arguments_that_are_json_but_no_object_are_refused_and_the_model_told(arguments: str) -> None:
    """Given a call to an allowed tool whose arguments are JSON but no object (``[1, 2]``, ``"host"``,
    ``null``...), the call is refused and recorded with why, the model is given the refusal as the
    call's result, and its next answer is the verdict (this was a "model error" review)."""
    calls = [{"name": "case_lookup", "arguments": arguments}]
    out, requests = _sentinel(
        [Reply(content="", tool_calls=calls), Reply(content=json.dumps(GOOD))], mode="tools"
    )
    (verdict,) = out
    assert verdict.type == "triage.verdict" and len(requests) == 2
    (rec,) = verdict.trace.tool_calls
    assert rec.refused and rec.name == "case_lookup" and rec.arguments == arguments
    assert rec.error is not None and "must be a JSON object" in rec.error
    asked, told = requests[1]["messages"][-2:]
    assert asked["tool_calls"][0]["id"] == told["tool_call_id"] == "call_0"
    assert asked["tool_calls"][0]["function"]["arguments"] == arguments
    assert told["role"] == "tool" and "must be a JSON object" in told["content"]


def test_a_call_with_arguments_that_are_no_json_is_refused_and_the_model_told() -> None:
    """Given a call whose arguments are no JSON at all beside a good call, the good call is made, the
    bad one refused with LangChain's reason and recorded, and the model is told of both."""
    calls = [
        {"name": "case_lookup", "arguments": json.dumps({"case_id": "wazuh:nope"})},
        {"name": "case_lookup", "arguments": "{case_id: nope"},
    ]
    out, requests = _sentinel(
        [Reply(content="", tool_calls=calls), Reply(content=json.dumps(GOOD))], mode="tools"
    )
    (verdict,) = out
    made, refused = verdict.trace.tool_calls
    assert not made.refused and "no case" in made.result
    assert refused.refused and refused.error is not None and "not valid JSON" in refused.error
    results = [m for m in requests[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in results] == ["call_0", "call_1"]
    assert "not valid JSON" in results[1]["content"]


def test_bad_arguments_without_end_exhaust_the_budget_and_then_ask_a_person() -> None:
    """Given a model that calls a tool with an array for arguments every time, each call costs its
    budget; the eleventh ends the invocation in a review request, "budget exhausted", naming them."""
    bad = Reply(content="", tool_calls=[{"name": "case_lookup", "arguments": "[1]"}])
    out, requests = _sentinel([bad] * 11, mode="tools")
    (review,) = out
    assert review.type == "case.review_requested" and review.reason == "budget exhausted"
    assert len(requests) == 11 and len(review.trace.tool_calls) == Sentinel.budget
    assert all(c.refused for c in review.trace.tool_calls) and "(refused)" in (review.details or "")


def _cut(text: str) -> Reply:
    return Reply(content=text, finish_reason="length")


CUT_TEXT = json.dumps(GOOD)[:40]


@pytest.mark.parametrize("mode", ["json", "tools"])
def test_an_answer_cut_at_max_tokens_is_repaired_with_a_shorter_one(mode: str) -> None:
    """Given an answer cut at ``max_tokens`` (with a response format the OpenAI client refuses to
    parse it; without one it is cut JSON), the model is asked once for a shorter answer, told it was
    cut, and the repair counts as one; its answer is the verdict (a review at once, before)."""
    out, requests = _sentinel([_cut(CUT_TEXT), Reply(content=json.dumps(GOOD))], mode=mode)
    (verdict,) = out
    assert verdict.type == "triage.verdict" and verdict.trace.repairs == 1 and len(requests) == 2
    prompt = _repair_prompt(requests)
    assert "cut at the token limit" in prompt and "shorter" in prompt
    assert verdict.trace.messages[2].content == CUT_TEXT  # the cut answer is in the trace


def test_an_answer_cut_twice_asks_a_person_saying_it_was_cut() -> None:
    """Given an answer cut at ``max_tokens`` and a repair cut again, the review names the cut."""
    out, requests = _sentinel([_cut(CUT_TEXT), _cut(CUT_TEXT)])
    (review,) = out
    assert review.type == "case.review_requested" and len(requests) == 2 and review.trace.repairs == 1
    assert review.reason.startswith("invalid output after one repair: the answer was cut at the token limit")


def test_a_cut_answer_whose_repair_fails_otherwise_still_names_the_cut() -> None:
    """Given a cut answer and then a repair with a confidence of 1.5, the review names the field and
    that the first answer was cut."""
    out, _ = _sentinel([_cut(CUT_TEXT), Reply(content=json.dumps({**GOOD, "confidence": 1.5}))])
    (review,) = out
    assert "confidence" in review.reason and "cut at the token limit" in review.reason


def test_a_cut_answer_that_still_validates_stands() -> None:
    """Given an answer that stopped at ``max_tokens`` in the chatter after a whole valid object, it is
    the answer: no repair is spent on words after it."""
    out, requests = _sentinel([_cut(json.dumps(GOOD) + "\nI hope this hel")], mode="tools")
    assert out[0].type == "triage.verdict" and out[0].trace.repairs == 0 and len(requests) == 1
