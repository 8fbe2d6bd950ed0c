"""The lazy grammar pick equals the whole-vocabulary pick, and every role's answer has a length bound.

The pick logic runs here on synthetic logits with a synthetic grammar (a set of allowed tokens);
``test_local_grammar.py`` (marked ``model``) runs it with llama.cpp's real grammar sampler.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from aisoc.models.grammar import answer_chars, full_pick, lazy_pick
from aisoc.runtime import AgentRole
from aisoc.runtime.loop import grammar_schema
from roles import STANDARD_TEAM
from roles.ir_lead import IrAnswer


def _picks(logits: np.ndarray, allowed: np.ndarray) -> tuple[int, int, int]:
    masked = np.where(allowed, logits, -np.inf).astype(np.float32)
    probes: list[int] = []

    def allows(i: int) -> bool:
        probes.append(i)
        return bool(allowed[i])

    return lazy_pick(logits, allows, lambda: masked), full_pick(masked), len(probes)


def test_the_lazy_pick_is_the_whole_vocabulary_pick_on_random_logits_and_grammars() -> None:
    """Given 2,000 random logit vectors (with many ties: logits drawn from 8 values) and random
    allowed sets of every density, when both picks run, then they are the same token every time,
    and the lazy pick asks the grammar about one token only."""
    rng = np.random.default_rng(18)
    for _ in range(2000):
        n = int(rng.integers(2, 300))
        logits = rng.integers(0, 8, n).astype(np.float32)
        allowed = rng.random(n) < rng.random()
        if not allowed.any():
            allowed[int(rng.integers(n))] = True
        lazy, full, probes = _picks(logits, allowed)
        assert lazy == full
        assert probes == 1


def test_ties_go_to_the_first_candidate_in_both_picks() -> None:
    """Given three candidates tied at the top, the first allowed, when both pick, then both take
    index 0; with the first refused, both take the second (llama.cpp's greedy takes the first)."""
    logits = np.array([1.0, 5.0, 5.0, 5.0, 2.0], dtype=np.float32)
    assert _picks(logits, np.array([1, 1, 1, 1, 1], bool))[:2] == (1, 1)
    assert _picks(logits, np.array([1, 0, 1, 1, 1], bool))[:2] == (2, 2)
    assert _picks(logits, np.array([1, 0, 0, 0, 1], bool))[:2] == (4, 4)


def _longest(schema: dict, defs: dict) -> object:  # type: ignore[type-arg]
    """The longest value a schema's grammar allows, as far as length goes (one branch per choice)."""
    if "$ref" in schema:
        return _longest(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return max((_longest(s, defs) for s in schema["anyOf"]), key=lambda v: len(json.dumps(v)))
    if "enum" in schema:
        return max(schema["enum"], key=lambda v: len(json.dumps(v)))
    kind = schema.get("type")
    if kind == "object":
        return {k: _longest(v, defs) for k, v in schema["properties"].items()}
    if kind == "array":
        return [_longest(schema["items"], defs)] * schema["maxItems"]
    if kind == "string":
        return "x" * schema["maxLength"]
    return None


@pytest.mark.parametrize("role", [r for r in STANDARD_TEAM if issubclass(r, AgentRole)], ids=lambda r: r.name)
def test_every_role_s_answer_has_a_bound_that_its_longest_answer_meets(role: type) -> None:
    """Given each standard role's constrained answer schema, when its length is bounded, then there
    is a bound, the longest answer the grammar allows (one space after every element) fits in it,
    and it leaves room in the local model's 4,096-token context for a prompt of 2,000 tokens."""
    schema = grammar_schema(role.schema.model_json_schema())  # type: ignore[attr-defined]
    bound = answer_chars(schema)
    assert bound is not None
    longest = json.dumps(_longest(schema, schema.get("$defs", {})), separators=(", ", ": "))
    assert len(longest) + longest.count(", ") + 2 <= bound
    assert bound <= 4096 - 2000


def test_ir_lead_is_asked_for_a_short_answer_but_a_longer_one_still_validates() -> None:
    """Given IR Lead's schema, the answer asked for is at most 1,400 characters in all (it used to
    exceed the local model's 320 tokens and be cut), and an answer beyond those asked bounds (five
    steps, 300-character descriptions) still validates: other models are not held to them."""
    assert (answer_chars(grammar_schema(IrAnswer.model_json_schema())) or 0) <= 1400
    step = {"phase": "containment", "description": "d" * 300, "action": "isolate_host", "target": "h" * 200}
    IrAnswer.model_validate(
        {"sev": "SEV-2", "sev_rationale": "r" * 500, "summary": "s" * 500, "steps": [step] * 5}
    )
