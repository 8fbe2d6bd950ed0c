"""Constrained greedy answers for the in-process model: which token to pick, and how long an answer is.

**The pick.** llama-cpp-python's sampler chain for a greedy, grammar-constrained answer is
``[grammar, greedy]``: before every token the grammar checks every candidate of the vocabulary
(262,144 for Gemma 3) and the greedy step takes the first candidate of highest logit. The lazy chain
is ``[probe, grammar, greedy]``: the probe finds the unconstrained pick ``u`` (the first candidate
of highest logit) and asks the grammar about ``u`` alone; when allowed, the candidates shrink to
``u``; when refused, the grammar filters the whole vocabulary as before. It picks the same token:

    Let ``A`` be the tokens the grammar allows and ``u`` the first index of the highest logit. If
    ``u`` is in ``A``, no candidate has a higher logit than ``u`` and none before ``u`` an equal
    one, so ``u`` is also the first index of the highest logit within ``A``: the whole-vocabulary
    chain's pick. If ``u`` is not in ``A``, both chains filter the whole vocabulary. The grammar
    judges each candidate on its own (the token's text against the grammar's state), so asking
    about ``u`` alone gives the answer it gives for ``u`` among all candidates.

When ``u`` is refused, the grammar is asked next about a **shortlist**: every candidate whose logit
is at least the :data:`SHORTLIST`-th highest (ties at that value included), as one small candidate
array. If it allows any of them, the pick is the first highest logit among those allowed:

    Let ``t`` be the shortlist's threshold and ``s`` an allowed shortlisted token. Every candidate
    outside the shortlist has a logit below ``t <= logit(s)``, so the highest allowed logit, and
    every allowed candidate that has it, are in the shortlist; the shortlist is in vocabulary order,
    so its first highest allowed logit is also the first in the whole vocabulary.

Only when the shortlist holds no allowed token does the grammar filter the whole vocabulary. A
refused top token is mostly a token the grammar forces (a key, a quote, a comma), which the model
rates highly as well, so the whole vocabulary is seldom filtered.

This holds for the same logits. It needs greedy decoding with no penalty and no logits processor
(they change logits by the history; :class:`GrammarLlama` falls back to llama-cpp-python's own chain
for any of them). ``check`` mode proves it on real answers: the whole-vocabulary chain picks, and
every step also computes the lazy pick from the same logits and counts disagreements.

**The length.** :func:`answer_chars` bounds the characters of any answer the grammar built from a
JSON Schema allows (llama-cpp-python's converter, one optional space after each element). Every
token writes at least one character, except a non-ASCII character or an escape split over several
tokens, so the bound is also the answer's length in tokens in practice: a ``max_tokens`` at least as
large never cuts a constrained answer short.
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from aisoc.errors import ModelError

GrammarMode = Literal["lazy", "full", "check"]
"""``lazy``: probe the most likely token first (the default); ``full``: llama-cpp-python's
whole-vocabulary check before every token; ``check``: pick as ``full``, count where ``lazy``
would have picked otherwise (a proof run: slower than either)."""


@dataclass
class GrammarStats:
    """Counts over the constrained greedy picks of one model (summed over answers)."""

    picks: int = 0
    shortlisted: int = 0
    """Picks where the grammar refused the most likely token and the shortlist held the pick."""
    filtered: int = 0
    """Picks where the grammar refused the most likely token and the whole shortlist, so the whole
    vocabulary was filtered."""
    checked: int = 0
    """Picks computed both ways (``check`` mode)."""
    disagreements: int = 0
    """Checked picks where the lazy pick was another token than the whole-vocabulary pick."""
    forced: int = 0
    """Answer tokens the jump-forward decoder wrote (keys, punctuation, the rest of a settled enum)
    and the model evaluated in batches instead of picking (:mod:`aisoc.models.jump`)."""
    loops_cut: int = 0
    """Free-text values cut where they began to repeat themselves (:func:`aisoc.models.jump.looped`)."""


SHORTLIST = 1024
"""Candidates of highest logit the grammar is asked about, as one array, when it refuses the top one."""


def shortlist(logits: np.ndarray, size: int = SHORTLIST) -> np.ndarray:
    """The indices, in vocabulary order, of every logit at least the ``size``-th highest."""
    if size >= len(logits):
        return np.arange(len(logits))
    threshold = np.partition(logits, len(logits) - size)[len(logits) - size]
    return np.flatnonzero(logits >= threshold)


def lazy_pick(
    logits: np.ndarray,
    allows: Callable[[int], bool],
    among: Callable[[np.ndarray], np.ndarray],
    stats: GrammarStats | None = None,
    size: int = SHORTLIST,
) -> int | None:
    """The index the lazy chain picks without filtering the whole vocabulary: the first highest
    logit when the grammar allows it, else the first highest allowed logit of the :func:`shortlist`
    of ``size`` (``among(indices)``: their logits with the refused ones at -inf). ``None`` when the
    shortlist holds no allowed token: then the whole vocabulary is filtered (:func:`full_pick`)."""
    best = int(np.argmax(logits))
    if allows(best):
        return best
    indices = shortlist(logits, size)
    kept = among(indices)
    if len(kept) and kept.max() > -np.inf:
        if stats is not None:
            stats.shortlisted += 1
        return int(indices[int(np.argmax(kept))])
    if stats is not None:
        stats.filtered += 1
    return None


def full_pick(allowed: np.ndarray) -> int:
    """The index the whole-vocabulary chain picks: llama.cpp's greedy step takes the first highest."""
    return int(np.argmax(allowed))


class _Candidates:
    """A numpy view of llama.cpp's candidate array (``llama_token_data``: id, logit, p)."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self.item = ctypes.sizeof(lib.llama_token_data)
        self.dtype = np.dtype(
            {
                "names": ["id", "logit", "p"],
                "formats": ["<i4", "<f4", "<f4"],
                "offsets": [0, 4, 8],
                "itemsize": self.item,
            }
        )

    def view(self, cur: Any) -> np.ndarray:
        n = int(cur.size)
        address = ctypes.addressof(cur.data.contents)
        raw: Any = (ctypes.c_char * (n * self.item)).from_address(address)
        view: np.ndarray = np.frombuffer(raw, dtype=self.dtype)
        return view


class GrammarProbe:
    """Ask one grammar sampler about one token, or about a copy of all candidates, without advancing it."""

    def __init__(self, lib: Any, sampler: Any, candidates: _Candidates) -> None:
        self.lib, self.sampler, self.candidates = lib, sampler, candidates
        self.one = lib.llama_token_data()
        self.single = lib.llama_token_data_array(
            data=ctypes.pointer(self.one), size=1, selected=-1, sorted=False
        )

    def allows(self, token: int) -> bool:
        """Whether the grammar, in its current state, lets ``token`` come next."""
        self.one.id, self.one.logit, self.one.p = token, 0.0, 0.0
        self.single.size, self.single.selected, self.single.sorted = 1, -1, False
        self.lib.llama_sampler_apply(self.sampler, ctypes.byref(self.single))
        return bool(self.one.logit != float("-inf"))

    def filtered(self, view: np.ndarray) -> np.ndarray:
        """The logits of a copy of ``view`` after the grammar set the refused tokens to -inf."""
        n = len(view)
        copy = (self.lib.llama_token_data * n)()
        ctypes.memmove(copy, view.ctypes.data, n * self.candidates.item)
        arr = self.lib.llama_token_data_array(
            data=ctypes.cast(copy, ctypes.POINTER(self.lib.llama_token_data)),
            size=n,
            selected=-1,
            sorted=False,
        )
        self.lib.llama_sampler_apply(self.sampler, ctypes.byref(arr))
        return np.array(self.candidates.view(arr)["logit"])


def grammar_sampler(llm: Any, grammar: Any, mode: GrammarMode, stats: GrammarStats) -> Any:
    """A greedy sampler chain for ``llm`` constrained by ``grammar`` (a ``LlamaGrammar``).

    ``lazy``: [probe, grammar, greedy] (module docstring). ``check``: [probe, grammar, compare,
    greedy] — the grammar filters the whole vocabulary and greedy picks, as llama-cpp-python does;
    the probe notes the lazy pick from the same logits and the compare step counts a disagreement
    when the filtered logits' first highest is another token. The chain owns the grammar sampler and
    accepts each pick into it.

    Raises:
        ModelError: llama.cpp could not build the grammar.
    """
    from llama_cpp import _internals
    from llama_cpp import llama_cpp as lib

    sampler_chain: Any = _internals.LlamaSampler  # untyped when installed, missing in lint's venv
    chain = sampler_chain()
    sampler = lib.llama_sampler_init_grammar(
        llm._model.vocab, grammar._grammar.encode(), grammar._root.encode()
    )
    if not sampler:
        raise ModelError("llama.cpp could not build the answer's grammar")
    candidates = _Candidates(lib)
    probe = GrammarProbe(lib, sampler, candidates)
    noted: list[int] = []

    def lazy(cur_p: Any) -> None:
        cur = cur_p.contents
        view = candidates.view(cur)
        ids, logits = view["id"], view["logit"]
        stats.picks += 1

        def allows(i: int) -> bool:
            return probe.allows(int(ids[i]))

        def among(indices: np.ndarray) -> np.ndarray:
            return probe.filtered(np.ascontiguousarray(view[indices]))

        pick = lazy_pick(logits, allows, among, stats)
        if mode == "check":  # note the lazy pick; the grammar and greedy steps pick as usual
            if pick is None:
                pick = full_pick(probe.filtered(view))
            noted[:] = [int(ids[pick])]
            return
        if pick is not None:  # else the grammar filters the whole vocabulary
            chosen = cur.data[pick]
            cur.data[0] = lib.llama_token_data(chosen.id, chosen.logit, chosen.p)
            cur.size, cur.selected, cur.sorted = 1, -1, False

    def compare(cur_p: Any) -> None:
        view = candidates.view(cur_p.contents)
        picked = int(view["id"][full_pick(view["logit"])])
        if not noted:
            return
        stats.checked += 1
        if noted.pop() != picked:
            stats.disagreements += 1

    chain.add_custom(lazy)
    lib.llama_sampler_chain_add(chain.sampler, sampler)  # the chain owns it and accepts each pick
    if mode == "check":
        chain.add_custom(compare)
    chain.add_greedy()
    chain._aisoc_refs = (lazy, compare, probe)  # keep the callbacks' objects alive with the chain
    return chain


def answer_chars(schema: Any) -> int | None:
    """The most characters an answer may have under the grammar llama-cpp-python builds from ``schema``.

    Strings count their ``maxLength`` in characters, lists their ``maxItems``, and every element one
    optional trailing space (the converter's whitespace rule). ``None`` when the schema does not
    bound the answer (a string without ``maxLength``, a list without ``maxItems``, free objects).
    """
    defs = schema.get("$defs", {}) if isinstance(schema, dict) else {}

    def size(s: Any) -> int | None:
        if not isinstance(s, dict):
            return None
        if "$ref" in s:
            return size(defs.get(str(s["$ref"]).rsplit("/", 1)[-1]))
        for key in ("anyOf", "oneOf"):
            if key in s:
                sizes = [size(x) for x in s[key]]
                return None if None in sizes else max(x for x in sizes if x is not None)
        if "const" in s:
            return len(json.dumps(s["const"])) + 1
        if "enum" in s:
            return max(len(json.dumps(v)) for v in s["enum"]) + 1
        kind = s.get("type")
        if kind == "object" or "properties" in s:
            if s.get("additionalProperties") not in (None, False) or "properties" not in s:
                return None
            total = 2  # "{" and its space
            for name, prop in s["properties"].items():
                value = size(prop)
                if value is None:
                    return None
                total += len(json.dumps(name)) + 1 + 2 + value + 2  # key, space, ":", space, value, ","
            return total + 2  # "}" and its space
        if kind == "array":
            items, most = size(s.get("items")), s.get("maxItems")
            if items is None or most is None:
                return None
            return 2 + int(most) * (items + 2) + 2
        if kind == "string":
            if "maxLength" not in s or "pattern" in s or "format" in s:
                return None
            return 2 + int(s["maxLength"]) + 1
        if kind == "integer":
            return 17 + 1  # "-" and 16 digits
        if kind == "number":
            return 17 + 17 + 18 + 1  # integral part, decimal part, exponent
        if kind == "boolean":
            return 6
        if kind == "null":
            return 5
        return None

    return size(schema)
