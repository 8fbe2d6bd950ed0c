"""The lazy grammar pick (top token, then a shortlist, then the whole vocabulary) equals the
whole-vocabulary pick, and every role's answer has a length bound.

The pick logic runs here on synthetic logits with a synthetic grammar (a set of allowed tokens);
``test_local_grammar.py`` (marked ``model``) runs it with llama.cpp's real grammar sampler.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from aisoc.models.grammar import GrammarStats, answer_chars, full_pick, lazy_pick, shortlist
from aisoc.runtime import AgentRole
from aisoc.runtime.constrained import grammar_schema
from roles import STANDARD_TEAM
from roles.ir_lead import IrAnswer


def _picks(
    logits: np.ndarray, allowed: np.ndarray, stats: GrammarStats | None = None
) -> tuple[int, int, int]:
    """(lazy pick, whole-vocabulary pick, grammar questions the lazy pick asked: one per token asked
    about alone, one per shortlist, one per whole-vocabulary filter)."""
    masked = np.where(allowed, logits, -np.inf).astype(np.float32)
    asked: list[str] = []

    def allows(i: int) -> bool:
        asked.append("one")
        return bool(allowed[i])

    def among(indices: np.ndarray) -> np.ndarray:
        asked.append("shortlist")
        return masked[indices]

    def everything() -> np.ndarray:
        asked.append("all")
        return masked

    lazy = lazy_pick(logits, allows, among, stats, size=64)
    if lazy is None:  # the shortlist held no allowed token: the whole vocabulary is filtered
        lazy = full_pick(everything())
    return lazy, full_pick(masked), len(asked)


def test_the_lazy_pick_is_the_whole_vocabulary_pick_on_random_logits_and_grammars() -> None:
    """Given 3,000 random logit vectors (many ties: logits drawn from 8 values; vocabularies smaller
    and larger than the shortlist) and random allowed sets of every density, down to a single token,
    when both picks run (a shortlist of 64), then they are the same token every time, and the lazy
    pick asks the grammar one, two or three questions (the top token, the shortlist, the whole
    vocabulary), each path taken."""
    rng = np.random.default_rng(18)
    stats = GrammarStats()
    paths = set()
    for _ in range(3000):
        n = int(rng.integers(2, 600))
        logits = rng.integers(0, 8, n).astype(np.float32)
        allowed = rng.random(n) < rng.random() ** 4
        if not allowed.any():
            allowed[int(rng.integers(n))] = True
        lazy, full, asked = _picks(logits, allowed, stats)
        assert lazy == full
        assert asked in (1, 2, 3)
        paths.add(asked)
    assert paths == {1, 2, 3}
    assert 0 < stats.filtered < stats.shortlisted


def test_a_shortlist_holds_every_logit_tied_at_its_threshold_in_vocabulary_order() -> None:
    """Given 100 logits where 70 share the top value, when 64 are shortlisted, then all 70 are in it,
    in vocabulary order; given fewer logits than the shortlist, all of them are."""
    logits = np.zeros(100, dtype=np.float32)
    top = np.sort(np.random.default_rng(1).choice(100, 70, replace=False))
    logits[top] = 3.0
    assert list(shortlist(logits, 64)) == list(top)
    assert list(shortlist(np.ones(5, dtype=np.float32), 64)) == [0, 1, 2, 3, 4]


def test_a_refused_top_token_with_the_pick_just_below_it_is_found_in_the_shortlist() -> None:
    """Given a refused top token and an allowed token tied with a refused one just below it (a
    forced quote under the model's favourite word), when the lazy chain picks, then it takes the
    first of the tie that is allowed, from the shortlist, without filtering the whole vocabulary."""
    logits = np.array([0.0] * 200 + [9.0, 5.0, 5.0] + [1.0] * 200, dtype=np.float32)
    allowed = np.zeros(len(logits), bool)
    allowed[[202, 5, 300]] = True
    stats = GrammarStats()
    assert _picks(logits, allowed, stats)[:2] == (202, 202)
    assert (stats.shortlisted, stats.filtered) == (1, 0)


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
