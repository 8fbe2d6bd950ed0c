"""The bundled model in-process keeps each role's evaluated prefix, and bench-model measures it.

Marked ``model`` (``make test-model``): it loads the real GGUF with llama-cpp-python.
"""

from __future__ import annotations

import pytest

from aisoc import Bus, models
from aisoc.models.reference import measure
from aisoc.runtime import RoleTeam
from aisoc.runtime.loop import grammar_schema
from aisoc.runtime.prompt import extract_json
from roles import Sentinel, Tier2
from tests.support.prompts import role_prompt

pytestmark = pytest.mark.model


def test_a_role_taking_its_turn_again_reuses_its_system_prefix_and_answers_in_its_schema() -> None:
    """Given Sentinel, then Tier 2, then Sentinel again on another alert, the third call takes its
    system prefix from the kept context and gives a valid Sentinel answer, as a model without kept
    contexts does. The two answers are not compared byte for byte: llama.cpp evaluates the rest of
    the prompt in other batches after a restore, and on this small model the float differences can
    change a greedy answer (seen in CI: same verdict, other wording and confidence)."""
    model = models.from_spec("local")
    team = RoleTeam(model=models.from_spec("stub"), bus=Bus(), roles=[Sentinel, Tier2])
    fmt = {"type": "json_object", "schema": grammar_schema(Sentinel.schema.model_json_schema())}
    sentinel = model.bind(response_format=fmt)
    tier2 = model.bind(
        response_format={"type": "json_object", "schema": grammar_schema(Tier2.schema.model_json_schema())}
    )
    sentinel.invoke(role_prompt(team, "sentinel", 1))
    tier2.invoke(role_prompt(team, "tier2", 1))
    again = sentinel.invoke(role_prompt(team, "sentinel", 2))
    system_tokens = len(team.system_messages["sentinel"]) // 6  # well under the prefix's real length
    assert again.usage_metadata["input_token_details"]["cache_read"] > system_tokens

    fresh = models.from_spec("local")
    fresh.keep_prefixes = False  # type: ignore[attr-defined]
    cold = fresh.bind(response_format=fmt).invoke(role_prompt(team, "sentinel", 2))
    # Without kept contexts only the chat template's first tokens can match what llama.cpp last saw.
    assert cold.usage_metadata["input_token_details"]["cache_read"] < system_tokens
    for answer in (again, cold):
        Sentinel.schema.model_validate(extract_json(str(answer.content)))  # as the runtime reads answers


def test_bench_model_measures_the_bundled_model() -> None:
    """The measurement yields positive speeds and an uncached reference call of about 1,000 tokens:
    at most the chat template's opening and a chance match of the random tag's first characters
    (up to 10 tokens seen in CI) come from llama.cpp's context, never a real prefix."""
    speed = measure(models.from_spec("local"))
    ref = speed.reference
    assert speed.prompt_tps > 0 and speed.output_tps > 0
    assert 700 <= ref.prompt_tokens <= 1400 and ref.cached_tokens <= 0.03 * ref.prompt_tokens
