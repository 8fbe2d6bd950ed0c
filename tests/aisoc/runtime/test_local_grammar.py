"""The lazy grammar check with llama.cpp's real grammar sampler: synthetic logits, then real answers.

Marked ``model`` (``make test-model``): it loads the bundled GGUF (its vocabulary only, for the
synthetic part) with llama-cpp-python.
"""

from __future__ import annotations

import ctypes
import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from aisoc import Bus, models
from aisoc.models.grammar import GrammarStats, grammar_sampler
from aisoc.models.local import bundled_model_path
from aisoc.runtime import RoleTeam
from aisoc.runtime.constrained import grammar_schema
from aisoc.runtime.prompt import extract_json
from roles import Sentinel, Tier2
from tests.aisoc.runtime.test_loop import real_alert
from tests.support.prompts import role_prompt

pytestmark = pytest.mark.model


def _candidates(lib: Any, logits: np.ndarray) -> tuple[Any, Any]:
    n = len(logits)
    buf = (lib.llama_token_data * n)()
    view = np.frombuffer(
        buf,
        dtype=np.dtype(
            {"names": ["id", "logit"], "formats": ["<i4", "<f4"], "offsets": [0, 4], "itemsize": 12}
        ),
    )
    view["id"], view["logit"] = np.arange(n), logits
    data = ctypes.cast(buf, ctypes.POINTER(lib.llama_token_data))
    return lib.llama_token_data_array(data=data, size=n, selected=-1, sorted=False), buf


def test_the_lazy_chain_picks_what_the_whole_vocabulary_chain_picks_with_llama_cpp_s_grammar() -> None:
    """Given Sentinel's answer grammar in llama.cpp, advanced token by token along a valid answer,
    and at every state random logits whose highest value sits on a token the grammar allows, on one
    it refuses, on a tie of both, or on 100 refused tokens (more than the shortlist), when the lazy
    chain and llama-cpp-python's [grammar, greedy] chain pick from the same logits, then they pick
    the same token every time, and each of the lazy chain's three paths was taken."""
    from llama_cpp import Llama, LlamaGrammar, _internals
    from llama_cpp import llama_cpp as lib

    llm = Llama(model_path=str(bundled_model_path()), vocab_only=True, verbose=False)
    schema = grammar_schema(Sentinel.schema.model_json_schema())
    grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    stats = GrammarStats()
    lazy = grammar_sampler(llm, grammar, "lazy", stats)
    probe = lazy._aisoc_refs[2]
    full = _internals.LlamaSampler()
    full.add_grammar(llm._model, grammar)
    full.add_greedy()
    answer = (
        '{"verdict": "malicious", "confidence": 0.8, "priority": 7, '
        '"summary": "PowerShell ran an encoded command on WS-01."}'
    )
    tokens = llm.tokenize(answer.encode(), add_bos=False, special=False)
    n = llm.n_vocab()
    rng = np.random.default_rng(18)
    compared = 0
    for step, token in enumerate(tokens):
        zeros, keep = _candidates(lib, np.zeros(n, dtype=np.float32))
        refused_now = np.flatnonzero(probe.filtered(probe.candidates.view(zeros)) == -np.inf)
        for case in range(4):
            logits = rng.normal(0, 1, n).astype(np.float32)
            refused = int(rng.choice(refused_now))
            if case == 0:  # the top logit on the answer's next token: the grammar allows it
                logits[token] = 50.0
            elif case == 1:  # on a refused token: the shortlist holds the pick (or not)
                logits[refused] = 50.0
            elif case == 2:  # a tie: a refused token and the answer's next token
                logits[[refused, token]] = 50.0
            else:  # more refused tokens on top than the shortlist holds: the whole vocabulary
                logits[rng.choice(refused_now, 100, replace=False)] = 50.0
            a, keep_a = _candidates(lib, logits)
            b, keep_b = _candidates(lib, logits)
            lib.llama_sampler_apply(lazy.sampler, ctypes.byref(a))
            lib.llama_sampler_apply(full.sampler, ctypes.byref(b))
            assert a.data[a.selected].id == b.data[b.selected].id, (step, case)
            compared += 1
        lib.llama_sampler_accept(lazy.sampler, token)
        lib.llama_sampler_accept(full.sampler, token)
    assert compared == 4 * len(tokens)
    assert stats.filtered >= len(tokens)  # every fourth case filtered the whole vocabulary
    assert 0 < stats.shortlisted and stats.shortlisted + stats.filtered < stats.picks


def test_on_real_answers_every_lazy_pick_equals_the_whole_vocabulary_pick() -> None:
    """Given the bundled model in ``check`` mode (the whole-vocabulary chain picks; every step also
    computes the lazy pick from the same logits), when Sentinel and Tier 2 answer real alerts, then
    every pick was checked and none differed."""
    model = models.from_spec("local")
    model.grammar = "check"  # type: ignore[attr-defined]
    team = RoleTeam(model=models.from_spec("stub"), bus=Bus(), roles=[Sentinel, Tier2])
    for role, schema in (("sentinel", Sentinel.schema), ("tier2", Tier2.schema)):
        fmt = {"type": "json_object", "schema": grammar_schema(schema.model_json_schema())}
        out = model.bind(response_format=fmt).invoke(role_prompt(team, role, 1))
        schema.model_validate(extract_json(str(out.content)))  # as the runtime reads answers
    stats = model.grammar_stats  # type: ignore[attr-defined]
    assert stats.checked == stats.picks > 20
    assert stats.disagreements == 0


def test_freshly_loaded_models_answer_the_same_prompt_alike_with_either_grammar_check() -> None:
    """Given one Sentinel prompt and two freshly loaded models, one with the lazy grammar check and
    one with llama-cpp-python's whole-vocabulary check, when each answers it, then the answers are
    identical. Only freshly loaded models given the very same prompt are compared: after a kept
    prefix llama.cpp evaluates in other batches, and its float differences can change a greedy
    answer (docs/models.md, "Are answers repeatable?")."""
    team = RoleTeam(model=models.from_spec("stub"), bus=Bus(), roles=[Sentinel])
    prompt = role_prompt(team, "sentinel", 3)
    fmt = {"type": "json_object", "schema": grammar_schema(Sentinel.schema.model_json_schema())}
    answers = []
    for mode in ("lazy", "full"):
        model = models.from_spec("local")
        model.grammar = mode  # type: ignore[attr-defined]
        answers.append(str(model.bind(response_format=fmt).invoke(prompt).content))
    assert answers[0] == answers[1]
    Sentinel.schema.model_validate(extract_json(answers[0]))


def test_jump_forward_answers_are_in_the_whole_answer_s_grammar_with_fewer_model_passes() -> None:
    """Given the bundled model with jump-forward decoding (the default), when Sentinel and Tier 2
    answer real alerts and IR Lead and Threat Intel take one, then every answer is in the language of
    llama.cpp's grammar for the whole answer (each of its tokens allowed in turn, the end allowed
    after the last), it validates as the runtime reads it, and the model picked fewer tokens than
    the answers hold (the rest was written and evaluated in batches)."""
    from llama_cpp import LlamaGrammar
    from llama_cpp import llama_cpp as lib

    from aisoc.models.grammar import GrammarProbe, _Candidates
    from roles import IrLead, ThreatIntel

    model = models.from_spec("local")
    assert model.jump_forward  # type: ignore[attr-defined]
    team = RoleTeam(model=models.from_spec("stub"), bus=Bus(), roles=[Sentinel, Tier2, IrLead, ThreatIntel])
    prompts: list[tuple[str, Any, list[Any]]] = [
        (role, schema, role_prompt(team, role, n))
        for n in (1, 4)
        for role, schema in (("sentinel", Sentinel.schema), ("tier2", Tier2.schema))
    ]
    alert = real_alert(2).alert.model_dump_json(exclude_none=True)
    plan_it = f"Tier 2 escalated this alert as a true positive. Plan the response.\n{alert}"
    ir_prompt = [
        SystemMessage(content=team.system_message),
        HumanMessage(content=f"{team.briefs['ir_lead'].marker}\n{plan_it}"),
    ]
    prompts.append(("ir_lead", IrLead.schema, ir_prompt))
    rate_it = f"Rate the indicators and techniques of this alert.\n{alert}"
    intel_prompt = [
        SystemMessage(content=team.system_message),
        HumanMessage(content=f"{team.briefs['threat_intel'].marker}\n{rate_it}"),
    ]
    prompts.append(("threat_intel", ThreatIntel.schema, intel_prompt))
    prompts.append(("ir_lead narrowed", IrLead.schema, ir_prompt))  # targets: the case's entities
    case = SimpleNamespace(alert=real_alert(2).alert)
    entities = {*case.alert.hosts, *case.alert.users, *(i.value for i in case.alert.indicators), None}
    answer_tokens = 0
    llm = model._load()  # type: ignore[attr-defined]
    for role, schema, prompt in prompts:
        fmt = {"type": "json_object", "schema": grammar_schema(schema.model_json_schema())}
        if role == "ir_lead narrowed":
            fmt["schema"] = IrLead().answer_schema(case, fmt["schema"])  # type: ignore[arg-type]
        out = model.bind(response_format=fmt).invoke(prompt)
        text = str(out.content)
        answer = schema.model_validate(extract_json(text))
        if role == "ir_lead narrowed":
            assert {s.target for s in answer.steps} <= entities, text
        answer_tokens += int(out.usage_metadata["output_tokens"])  # type: ignore[index]
        whole = LlamaGrammar.from_json_schema(json.dumps(fmt["schema"]), verbose=False)
        sampler = lib.llama_sampler_init_grammar(
            llm._model.vocab, whole._grammar.encode(), whole._root.encode()
        )
        probe = GrammarProbe(lib, sampler, _Candidates(lib))
        for token in llm.tokenize(text.encode(), add_bos=False, special=False):
            assert probe.allows(token), (role, text)
            lib.llama_sampler_accept(sampler, token)
        assert probe.allows(llm.token_eos()), (role, text)
        lib.llama_sampler_free(sampler)
    stats = model.grammar_stats  # type: ignore[attr-defined]
    assert stats.forced > 0
    assert stats.picks < answer_tokens


def test_a_schema_llama_cpp_s_converter_refuses_is_answered_by_the_whole_answer_s_grammar() -> None:
    """Given an answer schema with a string pattern llama-cpp-python's converter refuses (it wants
    ``^...$``), when the model answers, then jump-forward steps aside (nothing is forced) and the
    answer is JSON, as before (llama-cpp-python falls back to its JSON grammar)."""
    model = models.from_spec("local")
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "[A-Z]+"}, "ok": {"type": "boolean"}},
        "required": ["code", "ok"],
    }
    prompt = [
        SystemMessage(content="Answer in JSON."),
        HumanMessage(content="Give a code and whether it is ok."),
    ]
    out = model.bind(response_format={"type": "json_object", "schema": schema}, max_tokens=60).invoke(prompt)
    assert model.grammar_stats.forced == 0  # type: ignore[attr-defined]
    assert model.grammar_stats.picks > 0  # type: ignore[attr-defined]
    assert str(out.content).lstrip().startswith("{")
