"""Jump-forward decoding without a model: the plan of every deciding role's answer schema, when a
value is settled, and the decoder against a scripted model (one character per token)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from aisoc.models.jump import Arr, Decoder, Obj, Stopped, Value, decode, looped, plan, settled
from aisoc.runtime.constrained import grammar_schema
from roles import IrLead, Sentinel, ThreatIntel, Tier2


def _schema(role: Any) -> dict[str, Any]:
    return grammar_schema(role.schema.model_json_schema())  # type: ignore[no-any-return]


def _keys(node: Obj) -> tuple[list[str], list[str]]:
    return [k for k, _ in node.required], [k for k, _ in node.optional]


def test_each_deciding_role_s_answer_plans_its_keys_in_the_grammar_s_order() -> None:
    """Given the answer schemas of Sentinel, Tier 2, IR Lead and Threat Intel, when planned, then
    every key comes in llama-cpp-python's grammar order (required ones in schema order, then
    optional ones), a list of objects is an Arr with the schema's item bounds, and enums carry
    their literal texts."""
    sentinel = plan(_schema(Sentinel))
    assert sentinel is not None
    assert _keys(sentinel) == (["verdict", "confidence", "priority", "summary"], [])
    verdict = dict(sentinel.required)["verdict"]
    assert isinstance(verdict, Value)
    assert verdict.literals == ('"malicious"', '"suspicious"', '"benign"', '"false_positive"')
    confidence = dict(sentinel.required)["confidence"]
    assert isinstance(confidence, Value) and confidence.literals is not None
    assert "0.7" in confidence.literals and "1.0" in confidence.literals
    summary = dict(sentinel.required)["summary"]
    assert isinstance(summary, Value) and summary.literals is None

    tier2 = plan(_schema(Tier2))
    assert tier2 is not None
    assert _keys(tier2) == (["decision", "confidence", "summary"], ["findings", "evidence", "disposition"])
    disposition = dict(tier2.optional)["disposition"]
    assert isinstance(disposition, Value)
    assert disposition.literals == ('"benign"', '"false_positive"', "null")

    ir = plan(_schema(IrLead))
    assert ir is not None
    assert _keys(ir) == (["sev", "sev_rationale", "summary", "steps"], ["notifications"])
    steps = dict(ir.required)["steps"]
    assert isinstance(steps, Arr) and (steps.min_items, steps.max_items) == (1, 3)
    assert _keys(steps.item) == (["phase", "description"], ["action", "target", "approver", "risk"])

    intel = plan(_schema(ThreatIntel))
    assert intel is not None
    assert _keys(intel)[0] == ["confidence", "summary"]
    assert isinstance(dict(intel.optional)["iocs"], Arr)


def test_a_schema_the_decoder_does_not_walk_is_left_to_the_whole_answer_s_grammar() -> None:
    """Given schemas with additional properties, a tuple, a union of objects or a root that is not
    an object, when planned, then there is no plan (the answer is decoded token by token)."""
    obj = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert plan({**obj, "additionalProperties": True}) is None
    assert (
        plan({"type": "object", "properties": {"t": {"type": "array", "prefixItems": [{"type": "string"}]}}})
        is None
    )
    assert plan({"type": "object", "properties": {"u": {"anyOf": [obj, {"type": "null"}]}}}) is None
    assert plan({"type": "string"}) is None
    assert plan({"type": "object", "properties": {"r": {"$ref": "#/$defs/Missing"}}}) is None


@pytest.mark.parametrize(
    ("text", "literals", "expected"),
    [
        ('"sus', ('"malicious"', '"suspicious"'), '"suspicious"'),  # one literal left: the rest is written
        ('"', ('"malicious"', '"suspicious"'), None),  # two still fit
        ("1", tuple(str(n) for n in range(1, 11)), None),  # 1 or 10
        ("1 ", tuple(str(n) for n in range(1, 11)), "1"),  # a space ended it
        ("10", tuple(str(n) for n in range(1, 11)), "10"),
        ("0.", ("0.0", "0.5", "1.0"), None),
        (", ", (', "findings": ', ', "evidence": ', "}"), None),
        (', "e', (', "findings": ', ', "evidence": ', "}"), ', "evidence": '),
        ('"PowerShell ran', None, None),  # an open string
        ('"PowerShell ran."', None, '"PowerShell ran."'),
        ('"a\nb"', None, '"a\nb"'),  # a raw newline: read leniently, as answers are
        ('"say \\"hi\\"', None, None),  # an escaped quote does not close the string
        ('["a", "b"]', None, '["a", "b"]'),
        ("12", None, None),  # a number may go on
        ("12 ", None, "12"),
        ("null", None, "null"),
    ],
)
def test_a_value_is_settled_when_nothing_else_can_follow(
    text: str, literals: tuple[str, ...] | None, expected: str | None
) -> None:
    """Given what the model picked so far, when asked whether the value is settled, then it is
    exactly when one literal is left, or when the text is a complete value that cannot go on."""
    assert settled(text, literals) == expected


class ScriptedModel:
    """One character per token; it "picks" the next characters of a scripted answer after whatever
    text it was given (the decoder's forced text must agree with the script, or it picks garbage)."""

    EOG = -1

    def __init__(self, prompt: str, answer: str) -> None:
        self.prompt, self.answer = prompt, answer
        self.calls: list[tuple[Any, str]] = []
        self.evaluated_in_batches: list[int] = []
        self.n_evaluated = 0

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return [ord(c) for c in text.decode()]

    def detokenize(self, tokens: list[int]) -> bytes:
        return "".join(chr(t) for t in tokens).encode()

    def generate(self, tokens: list[int], temp: float, grammar: Any, reset: bool) -> Iterator[int]:
        assert temp == 0.0 and reset
        shared = min(self.n_evaluated, len(tokens))
        self.evaluated_in_batches.append(len(tokens) - shared)  # the suffix: one batch
        text = self.detokenize(tokens).decode()
        assert text.startswith(self.prompt)
        written = text[len(self.prompt) :]
        self.calls.append((grammar, written))
        assert self.answer.startswith(written), f"the decoder wrote {written!r}"
        self.n_evaluated = len(tokens)
        for c in self.answer[len(written) :]:
            yield ord(c)
            self.n_evaluated += 1  # evaluated before the next pick
        yield self.EOG


def _decode(answer: str, schema: dict[str, Any], budget: int = 1000) -> tuple[Decoder, ScriptedModel]:
    root = plan(schema)
    assert root is not None
    model = ScriptedModel("PROMPT:", answer)
    decoder = Decoder(
        llm=model,
        tokens=model.tokenize(b"PROMPT:"),
        budget=budget,
        is_eog=lambda t: t == ScriptedModel.EOG,
        grammar=lambda what, tail: (what, tail),
    )
    decode(decoder, root)
    return decoder, model


SENTINEL = '{"verdict": "suspicious", "confidence": 0.6, "priority": 5, "summary": "Shellshock probe."}'


def test_the_decoder_writes_the_keys_and_the_model_picks_the_values() -> None:
    """Given Sentinel's schema and a model that would answer SENTINEL, when decoded, then the
    answer is SENTINEL exactly, the model picked only the values (and each forced text's last
    character, healed), and every forced run reached the model as one batch."""
    decoder, model = _decode(SENTINEL, _schema(Sentinel))
    assert decoder.text == SENTINEL
    json.loads(decoder.text)
    assert decoder.used == len(SENTINEL)
    assert decoder.picked + decoder.forced >= decoder.used
    # Picked: ' "s' (then one literal is left: "uspicious\"" is written), ' 0.6', ' 5', the summary.
    assert decoder.picked == len(' "s') + len(" 0.6") + len(" 5") + len(' "Shellshock probe."')
    assert decoder.forced > len('{"verdict":, "confidence":, "priority":, "summary":}') - 4
    assert len(model.calls) == 4  # one pick per value
    tails = [tail for ((_, tail), _) in model.calls]
    assert tails == [" ", " ", " ", " "]  # the space before each value is the model's to pick
    assert max(model.evaluated_in_batches[1:]) > 10  # forced runs went in one batch each


def test_optional_keys_and_lists_of_objects_are_the_model_s_choice() -> None:
    """Given IR Lead's schema and a model that writes two steps, the first with optional keys, the
    second without, and no notifications, when decoded, then the answer is the model's exactly:
    the choices (another step or the end, an optional key or the end) were its own."""
    answer = (
        '{"sev": "SEV-2", "sev_rationale": "Probe.", "summary": "Web probe.", "steps": ['
        '{"phase": "containment", "description": "Block the source.", "action": "block_indicator", '
        '"target": "203.0.113.9"}, {"phase": "recovery", "description": "Check logs."}]}'
    )
    decoder, _ = _decode(answer, _schema(IrLead))
    assert decoder.text == answer
    assert IrLead.schema.model_validate_json(decoder.text).steps[1].action is None


def test_an_answer_over_its_budget_stops_and_says_so() -> None:
    """Given a budget smaller than the answer, when decoded, then decoding stops with Stopped and
    the text so far is kept (the caller reports a cut answer and the repair path takes it)."""
    with pytest.raises(Stopped):
        _decode(SENTINEL, _schema(Sentinel), budget=40)


@pytest.mark.parametrize(
    ("value", "prose", "expected"),
    [
        (
            '"This is a malicious alert. This is a suspicious alert. This is ',
            "text",
            '"This is a malicious alert."',
        ),
        ('"Tier 2 decision. Tier 2 decision. Tier 2 decision', "text", '"Tier 2 decision."'),
        ('"This is a malicious alert. This is a', "text", None),  # "a" may still grow ("an", "alert")
        ('"a b a b a b', "text", None),  # the runs overlap: "a b a" then "b a b"
        ('"from 10.0.0.1 to 10.0.0.2, then 10.0.0.1 to 10.0.0.3', "text", None),  # no run of three twice
        (
            '"at (10.0.2.8) (10.0.2.8) (10.0.2.8) (10.0.2.8) (10.0.2.8) (10.0.2.8) ',
            "text",
            '"at (10.0.2.8) (10.0.2.8) (10.0.2.8)"',
        ),
        ('"user_id_1000000000000000000', "text", '"user_id_1"'),  # one character 16 times in a row
        ('"user_id_2_1_1_1_1_1_1_1_1_1', "text", '"user_id_2"'),  # "_1" again and again over 16 characters
        ('"sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 ', "text", None),
        ('"GUID 00000000-0000-0000-0000-000000000000 seen', "text", None),  # 8 in a row is data
        ('"x \\u000000000000000000000', "text", '"x"'),  # an escape the cut would split is dropped
        ('"Block 203.0.113.9 at the edge; isolate WS-01; reset the password of CORP\\\\ann.', "text", None),
        ('[ "Tier 2 decision", "Tier 2 decision", ', "list", '[ "Tier 2 decision"]'),
        ('["port scan", "login failure", "port scan"', "list", '["port scan", "login failure"]'),
        ('["port scan", "login failure", "port sc', "list", None),
        ("null", "text", None),
        ('"0000000000000000000', "text", None),  # nothing would be left: an empty string may not validate
        ('" 0000000000000000000', "text", None),
    ],
)
def test_a_free_text_value_that_repeats_itself_is_cut_before_the_repetition(
    value: str, prose: Any, expected: str | None
) -> None:
    """Given a string or a list of strings as picked so far, when checked for a loop, then it is
    cut and closed before a run of three words it writes again (not overlapping the first), before
    a unit of up to four characters repeated over 16, or before an item equal to an earlier one, and
    left alone otherwise; what is left is a valid JSON string or list."""
    assert looped(value, prose) == expected
    if expected is not None:
        json.loads(expected)


def test_the_decoder_cuts_a_looping_summary_and_closes_the_answer() -> None:
    """Given a model whose Sentinel summary loops, when decoded, then the summary is cut before
    the repeated run, the answer is closed and valid, and the cut is counted."""
    loop = (
        '{"verdict": "malicious", "confidence": 1.0, "priority": 10, '
        '"summary": "This is a malicious alert. This is a suspicious alert. This is a benign alert."}'
    )
    decoder, _ = _decode(loop, _schema(Sentinel))
    cut = (
        '{"verdict": "malicious", "confidence": 1.0, "priority": 10, "summary": "This is a malicious alert."}'
    )
    assert decoder.text == cut
    Sentinel.schema.model_validate_json(cut)
    assert decoder.stats.loops_cut == 1


def test_a_cut_never_leaves_less_than_the_schema_s_minimum() -> None:
    """Given a summary with a minLength of 40 and a model that repeats itself early, when decoded,
    then the summary is not cut to the 10 characters before the repetition (the grammar would not
    allow them): the model's whole value is kept, and no cut is counted."""
    schema = {
        "type": "object",
        "properties": {"summary": {"type": "string", "minLength": 40, "maxLength": 120}},
        "required": ["summary"],
    }
    root = plan(schema)
    assert root is not None
    summary = dict(root.required)["summary"]
    assert isinstance(summary, Value) and (summary.prose, summary.floor) == ("text", 40)
    answer = '{"summary": "This is a. This is a. This is a. And then the rest of it."}'
    decoder, _ = _decode(answer, schema)
    assert decoder.text == answer
    assert decoder.stats.loops_cut == 0
