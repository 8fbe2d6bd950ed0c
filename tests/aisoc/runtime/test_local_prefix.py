"""The bundled model in-process keeps each case's evaluated context, and bench-model measures it.

Marked ``model`` (``make test-model``): it loads the real GGUF with llama-cpp-python.
"""

from __future__ import annotations

import pytest

from aisoc import Bus, models
from aisoc.models.local import stable_prefix
from aisoc.models.reference import measure
from aisoc.runtime import RoleTeam
from aisoc.runtime.constrained import grammar_schema
from aisoc.runtime.prompt import extract_json
from roles import Sentinel, Tier2
from tests.support.prompts import role_prompt

pytestmark = pytest.mark.model


def test_a_case_s_next_role_goes_on_from_the_case_s_kept_context_and_answers_in_its_schema() -> None:
    """Given Sentinel on alert 1, Sentinel on alert 2, then Tier 2 on alert 1, the Tier 2 call takes
    the system message and alert 1's block from alert 1's kept context and gives a valid Tier 2
    answer; a model without kept contexts goes on from alert 2's prompt, which shares the system
    message only. The answers are not compared byte for byte: llama.cpp evaluates the rest of the
    prompt in other batches after a restore, and on this small model the float differences can
    change a greedy answer (seen in CI: same verdict, other wording and confidence)."""
    team = RoleTeam(model=models.from_spec("stub"), bus=Bus(), roles=[Sentinel, Tier2])
    fmt = {"type": "json_object", "schema": grammar_schema(Sentinel.schema.model_json_schema())}
    t2_fmt = {"type": "json_object", "schema": grammar_schema(Tier2.schema.model_json_schema())}
    answers = []
    for keep in (True, False):
        model = models.from_spec("local")
        model.keep_prefixes = keep  # type: ignore[attr-defined]
        model.bind(response_format=fmt).invoke(role_prompt(team, "sentinel", 1))
        model.bind(response_format=fmt).invoke(role_prompt(team, "sentinel", 2))
        answers.append(model.bind(response_format=t2_fmt).invoke(role_prompt(team, "tier2", 1)))
    llm = model._load()  # type: ignore[attr-defined]
    prompt = role_prompt(team, "tier2", 1)
    chat = [{"role": m.type, "content": str(m.content)} for m in prompt]
    system = len(llm.tokenize(str(prompt[0].content).encode(), add_bos=True))
    case = len(llm.tokenize(stable_prefix(chat).replace("\x00", "\n\n").encode(), add_bos=True))
    kept, cold = (a.usage_metadata["input_token_details"]["cache_read"] for a in answers)
    # The chat template adds a few tokens around the messages; the case's block is hundreds more.
    assert kept >= case - 10 and system - 10 <= cold < case - 100
    for answer in answers:
        Tier2.schema.model_validate(extract_json(str(answer.content)))  # as the runtime reads answers


def test_bench_model_measures_the_bundled_model() -> None:
    """The measurement yields positive speeds and an uncached reference call of about 1,000 tokens:
    at most the chat template's opening and a chance match of the random tag's first characters
    (up to 10 tokens seen in CI) come from llama.cpp's context, never a real prefix."""
    speed = measure(models.from_spec("local"))
    ref = speed.reference
    assert speed.prompt_tps > 0 and speed.output_tps > 0
    assert 700 <= ref.prompt_tokens <= 1400 and ref.cached_tokens <= 0.03 * ref.prompt_tokens


def test_an_answer_cut_at_max_tokens_says_so_for_the_runtime_s_shorter_answer_repair() -> None:
    """Given a constrained Sentinel answer allowed 8 tokens, the answer reports ``finish_reason``
    ``length`` (the loop's repair then asks for a shorter answer); a whole answer reports ``stop``."""
    team = RoleTeam(model=models.from_spec("stub"), bus=Bus(), roles=[Sentinel])
    fmt = {"type": "json_object", "schema": grammar_schema(Sentinel.schema.model_json_schema())}
    model = models.from_spec("local").bind(response_format=fmt)
    cut = model.invoke(role_prompt(team, "sentinel", 1), max_tokens=8)
    whole = model.invoke(role_prompt(team, "sentinel", 1))
    assert cut.response_metadata["finish_reason"] == "length"
    assert whole.response_metadata["finish_reason"] == "stop"
