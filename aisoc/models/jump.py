"""Jump-forward decoding: the model picks what it decides, the decoder writes what the schema forces.

Most of a constrained answer is text its JSON Schema forces: braces, keys, quotes, commas, the rest
of an enum value once its first letters tell it from the others. Decoded token by token, every one
of them costs a pass of the model (about 16 ms per token for the bundled model on 2 cores). Written
by the decoder instead, they are evaluated in one batch with the model's next input, at about the
cost of a prompt token (about 3 ms).

:func:`plan` compiles an answer schema into a tree of :class:`Obj` (its keys in the order
llama-cpp-python's grammar puts them: required ones in schema order, then optional ones),
:class:`Arr` (a list of objects) and :class:`Value` (anything else: an enum, a string, a number, a
list of strings), each value with its own grammar from llama-cpp-python's converter.
:func:`decode` walks the tree with a :class:`Decoder`:

- it writes what is forced: ``{"verdict": `` before the first value, ``, "confidence": `` after it;
- the model picks a value under that value's grammar, token by token, until the value is settled
  (:func:`settled`): a complete JSON value, or an enum that only one member still fits (the decoder
  writes the rest: after ``"sus`` it writes ``picious"``);
- where the schema leaves a choice (an optional key or the end of the object, another item or the
  end of a list), the model picks among the literal alternatives the same way;
- the last token of forced text is left to the model (token healing, :class:`Decoder`), and free
  text that starts to loop is cut before the repetition (:func:`looped`).

Every answer it writes is in the language of the whole answer's grammar (one space after each colon
and comma, none elsewhere; the grammar allows either; a cut never goes below a ``minLength`` or
``minItems``), so validation and the guardrails see nothing new. A schema it cannot walk
(``additionalProperties``, tuples, a union of objects) is answered as before, by llama-cpp-python's
grammar over the whole answer (:func:`plan` returns ``None``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from aisoc.models.grammar import GrammarStats


@dataclass(frozen=True)
class Value:
    """A value the model picks under its own grammar (llama-cpp-python's converter's, of ``schema``)."""

    schema: str
    """The value's JSON Schema (with the answer's ``$defs``), as JSON text."""
    literals: tuple[str, ...] | None
    """The value's possible texts when it has a known few (an enum, a constant), else ``None``."""
    prose: Literal["text", "list"] | None = None
    """Free text (a string without enum, pattern or format: a run of words it repeats is cut) or a
    list of it (an item it repeats is cut, :func:`looped`)."""
    floor: int = 0
    """The fewest characters (free text) or items (a list) a cut may leave: the schema's minimum."""


@dataclass(frozen=True)
class Obj:
    """An object: keys in grammar order, each with the node of its value."""

    required: tuple[tuple[str, Node], ...]
    optional: tuple[tuple[str, Node], ...]


@dataclass(frozen=True)
class Arr:
    """A list of objects (a list of anything else is a :class:`Value`)."""

    item: Obj
    min_items: int
    max_items: int | None


Node = Value | Obj | Arr


class _Unwalkable(Exception):
    """The schema has a shape :func:`plan` does not walk (the whole answer's grammar is used)."""


def plan(schema: dict[str, Any]) -> Obj | None:
    """The tree of an answer schema whose root is an object, or ``None`` when it cannot be walked."""
    return _plan(json.dumps(schema))


@lru_cache(maxsize=64)
def _plan(text: str) -> Obj | None:
    schema = json.loads(text)
    defs = schema.get("$defs") or schema.get("definitions") or {}
    try:
        root = _node(schema, defs)
    except (_Unwalkable, ValueError, TypeError, AttributeError, KeyError):
        return None  # an odd schema is the whole answer's grammar's to handle, as before
    return root if isinstance(root, Obj) else None


def grammars_build(root: Node) -> bool:
    """Whether every value of ``root`` has a grammar llama.cpp's converter can build (they are
    built and kept; a schema the converter refuses is left to the whole answer's grammar)."""
    try:
        if isinstance(root, Obj):
            return all(grammars_build(n) for _, n in (*root.required, *root.optional))
        if isinstance(root, Arr):
            return grammars_build(root.item)
        grammar_for(root, "")
        return True
    except Exception:  # the converter raises bare Exceptions for what it does not support
        return False


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema:
        ref = str(schema["$ref"])
        name = ref.rsplit("/", 1)[-1]
        if not ref.startswith("#/") or name not in defs or seen > 32:
            raise _Unwalkable(ref)
        schema, seen = defs[name], seen + 1
    return schema


def _node(schema: dict[str, Any], defs: dict[str, Any]) -> Node:
    s = _resolve(schema, defs)
    if "properties" in s and s.get("type", "object") == "object":
        if s.get("additionalProperties") not in (None, False):
            raise _Unwalkable("additional properties")
        if "allOf" in s:
            raise _Unwalkable("allOf")
        required = set(s.get("required") or ())
        props = [(k, _node(v, defs)) for k, v in s["properties"].items()]
        return Obj(
            required=tuple((k, n) for k, n in props if k in required),
            optional=tuple((k, n) for k, n in props if k not in required),
        )
    items = s.get("items")
    if s.get("type") == "array" and isinstance(items, dict) and "properties" in _resolve(items, defs):
        item = _node(items, defs)
        if not isinstance(item, Obj):
            raise _Unwalkable("list item")
        top = s.get("maxItems")
        return Arr(
            item=item, min_items=int(s.get("minItems", 0)), max_items=None if top is None else int(top)
        )
    if any("properties" in _resolve(a, defs) for a in _alternatives(s)):
        raise _Unwalkable("a union with an object")
    if "prefixItems" in s or isinstance(items, list):
        raise _Unwalkable("tuple")
    prose = _prose(s, defs)
    return Value(
        schema=json.dumps({**s, "$defs": defs}),
        literals=_literals(s, defs),
        prose=prose,
        floor=_floor(s, defs) if prose is not None else 0,
    )


def _floor(s: dict[str, Any], defs: dict[str, Any]) -> int:
    """The largest ``minLength`` or ``minItems`` of ``s`` or of one of its alternatives."""
    s = _resolve(s, defs)
    parts = [s, *(_resolve(a, defs) for a in _alternatives(s))]
    return max(int(p.get("minLength", 0)) + int(p.get("minItems", 0)) for p in parts)


def _prose(s: dict[str, Any], defs: dict[str, Any]) -> Literal["text", "list"] | None:
    """Whether ``s`` is free text or a list of it (alone or with ``null``)."""

    def text(o: dict[str, Any]) -> bool:
        return o.get("type") == "string" and not o.keys() & {"enum", "const", "pattern", "format"}

    options = [_resolve(a, defs) for a in _alternatives(s)] or [s]
    kept = [o for o in options if o.get("type") != "null"]
    if len(kept) != 1:
        return None
    if text(kept[0]):
        return "text"
    items = kept[0].get("items")
    if kept[0].get("type") == "array" and isinstance(items, dict) and text(_resolve(items, defs)):
        return "list"
    return None


def _alternatives(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in (s.get("anyOf") or s.get("oneOf") or ()) if isinstance(a, dict)]


def _literals(s: dict[str, Any], defs: dict[str, Any]) -> tuple[str, ...] | None:
    """The texts the converter's grammar allows for ``s`` when they are a known few."""
    s = _resolve(s, defs)
    if "const" in s:
        return (json.dumps(s["const"]),)
    if "enum" in s:
        return tuple(json.dumps(v) for v in s["enum"])
    if s.get("type") == "null":
        return ("null",)
    alternatives = _alternatives(s)
    if alternatives:
        found = [_literals(a, defs) for a in alternatives]
        if all(f is not None for f in found):
            return tuple(dict.fromkeys(t for f in found for t in f or ()))
    return None


@lru_cache(maxsize=256)
def _value_grammar(schema_text: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return str(json_schema_to_gbnf(schema_text))


def _gbnf_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def grammar_for(what: Value | tuple[str, ...], tail: str) -> Any:
    """The ``LlamaGrammar`` of a value (its schema's) or of a choice (its alternatives), after ``tail``."""
    if isinstance(what, Value):
        return _grammar(_value_grammar(what.schema), tail)
    return _grammar("root ::= " + " | ".join(_gbnf_literal(a) for a in what), tail)


@lru_cache(maxsize=512)
def _grammar(gbnf: str, tail: str) -> Any:
    """The ``LlamaGrammar`` of ``gbnf`` (its rule ``root``), after ``tail`` when there is one."""
    from llama_cpp.llama_grammar import LlamaGrammar

    if not tail:
        return LlamaGrammar.from_string(gbnf, verbose=False)
    healed = LlamaGrammar.from_string(f"{gbnf}\n{HEALED} ::= {_gbnf_literal(tail)} root\n", verbose=False)
    healed._root = HEALED
    return healed


HEALED = "aisoc-healed"
"""The start rule of a grammar that begins with the forced text's last token (token healing)."""


def settled(text: str, literals: Sequence[str] | None) -> str | None:
    """The value's whole text once ``text`` (what the model picked so far) settles it, else ``None``.

    With ``literals``: the one literal ``text`` begins, when no other one begins with it (``1``
    among ``1`` … ``10`` is not settled until the model writes a space or ends). Otherwise: ``text``
    once it is a complete JSON value that cannot go on (a string, list, object, ``null``,
    ``true``, ``false``; a number only once a space follows it).
    """
    done = text.rstrip()
    ended = done != text
    if literals is not None:
        fits = [t for t in literals if t.startswith(done)]
        if len(fits) == 1 and (not ended or fits[0] == done):
            return fits[0]
        return done if ended and done in literals else None
    if not done:
        return None
    try:
        _LENIENT.decode(done)
    except ValueError:
        return None
    return done if ended or done[-1] in '"]}el' else None


_LENIENT = json.JSONDecoder(strict=False)
"""Raw newlines and tabs in a string: the grammar allows them, and answers are read leniently."""


REPEATED_WORDS = 3
"""A free-text value that writes the same run of this many words twice is cut before the second."""
_WORD = re.compile(r"\S+")


_ITEM = re.compile(r'"(?:[^"\\]|\\.)*"')


def looped(value: str, prose: Literal["text", "list"] = "text", words: int = REPEATED_WORDS) -> str | None:
    """The free-text ``value`` (open, as picked so far) cut and closed before it repeats itself, or
    ``None`` when it has not.

    A small model caught in a loop fills a string to its bound ("This is a malicious alert. This is
    a suspicious alert. This is a ...", "user_id_1000000000..."), or a list with the same item: every
    token is a pass of the model and none tells the analyst anything. A string is cut before a run
    of ``words`` words it writes a second time (not overlapping the first; only finished words are
    compared) or before a unit of one to four characters written again and again over
    :data:`REPEATED_RUN` characters ("0000...", "_1_1_1...", "-=-=-=..."). A list is cut
    before an item equal to an earlier one.
    """
    if prose == "list":
        if not value.startswith("["):
            return None
        items = list(_ITEM.finditer(value))
        texts = [m.group() for m in items]
        for i, item in enumerate(texts):
            if item in texts[:i]:
                return value[: items[i - 1].end()] + "]"
        return None
    if not value.startswith('"'):
        return None
    body = value[1:]
    same = [m.start() for p in _SAME for m in [p.search(body)] if m is not None]
    if same:
        return _closed(body[: min(same)])
    found = [(m.start(), m.group()) for m in _WORD.finditer(body)]
    if body and not body[-1].isspace():
        found = found[:-1]  # the last word may still grow
    first: dict[tuple[str, ...], int] = {}
    for i in range(len(found) - words + 1):
        at = first.setdefault(tuple(w for _, w in found[i : i + words]), i)
        if i >= at + words:
            return _closed(body[: found[i][0]])
    return None


REPEATED_RUN = 16
"""Free text is cut before a unit of one to four characters repeated over this many characters."""
_SAME = [re.compile(rf"(.{{{k}}})\1{{{-(-REPEATED_RUN // k) - 1},}}", re.DOTALL) for k in range(1, 5)]


def _size(value: str) -> int:
    """Characters of a closed string, or items of a closed list."""
    return len(_LENIENT.decode(value))


def _closed(body: str) -> str | None:
    """``body`` as a closed JSON string (trailing space, and an escape the cut split, dropped), or
    ``None`` when nothing is left (an empty string may not validate: the value is left to go on)."""
    body = body.rstrip()
    while body:
        try:
            _LENIENT.decode(f'"{body}"')
            break
        except ValueError:
            body = body[:-1].rstrip()
    return f'"{body}"' if body else None


class Stopped(Exception):
    """The answer ran out of tokens (or the model ended it) before the schema was complete."""


@dataclass
class Decoder:
    """One answer being decoded: its tokens so far and its text.

    ``llm`` is a ``llama_cpp.Llama``: its ``generate`` reuses the evaluated prefix, so the forced
    text written since the last pick is evaluated in one batch with the last picked token.

    **Token healing.** Forced text is tokenized as a whole, but its last token is left to the
    model: ``{"verdict": `` ends in a lone space token, which a model has seldom seen before a
    value (a tokenizer writes the space and the quote as one token, `` "``). The next pick's grammar
    starts with that token's text, so the model picks the token it would have written there. A
    value settled as one of its literals is written whole (its picked tokens are given back), so
    the model reads it as the tokenizer writes it.
    """

    llm: Any
    tokens: list[int]
    budget: int
    stats: GrammarStats = field(default_factory=GrammarStats)
    parts: list[str] = field(default_factory=list)
    pending: str = ""
    picked: int = 0
    """Tokens the model picked (each one pass of the model)."""
    forced: int = 0
    """Tokens written by the decoder (evaluated in batches)."""
    is_eog: Callable[[int], bool] | None = None
    """Whether a token ends generation (default: llama.cpp's vocabulary says)."""
    grammar: Callable[[Value | tuple[str, ...], str], Any] = field(
        default=lambda what, tail: grammar_for(what, tail)
    )
    """The grammar object ``generate`` takes for a value or a choice, after the healed tail."""

    def __post_init__(self) -> None:
        self.prompt = len(self.tokens)
        if self.is_eog is None:
            from llama_cpp import llama_cpp as lib

            vocab = self.llm._model.vocab
            self.is_eog = lambda token: bool(lib.llama_vocab_is_eog(vocab, token))

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def used(self) -> int:
        """The answer's tokens so far."""
        return len(self.tokens) - self.prompt

    def close(self) -> None:
        """Tokenize the forced text left at the end (counted in the answer, never evaluated)."""
        self._force(self._tokenize(self.pending))
        self.pending = ""

    def _tokenize(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else []

    def _force(self, tokens: list[int]) -> None:
        self.tokens += tokens
        self.forced += len(tokens)
        self.stats.forced += len(tokens)

    def write(self, text: str) -> None:
        """Forced text: it goes into the answer and is tokenized before the model's next pick."""
        self.parts.append(text)
        self.pending += text

    def _flush(self) -> str:
        """Tokenize the forced text but its last token; return that token's text (the tail)."""
        if not self.pending:
            return ""
        text, self.pending = self.pending, ""
        tokens = self._tokenize(text)
        tail = ""
        if tokens:
            try:
                tail = self.llm.detokenize(tokens[-1:]).decode("utf-8")
            except UnicodeDecodeError:
                tail = ""
            if tail and text.endswith(tail):
                tokens = tokens[:-1]
            else:
                tail = ""
        if self.used + len(tokens) > self.budget:
            raise Stopped("the answer's token budget")
        self._force(tokens)
        return tail

    def pick(self, what: Value | tuple[str, ...]) -> str:
        """Let the model pick a value, or one of a choice's alternatives, under its grammar; a
        literal it settled is written whole. Returns the value's text.

        Raises:
            Stopped: the budget ran out or the model ended before the value was settled.
        """
        literals = what if isinstance(what, tuple) else what.literals
        prose, floor = (what.prose, what.floor) if isinstance(what, Value) else (None, 0)
        tail = self._flush()
        picked: list[int] = []
        value, done, cut = "", None, None
        is_eog = self.is_eog or (lambda token: False)
        generator = self.llm.generate(self.tokens, temp=0.0, grammar=self.grammar(what, tail), reset=True)
        try:
            for token in generator:
                if is_eog(token):
                    break
                picked.append(int(token))
                text = self.llm.detokenize(picked).decode("utf-8", errors="ignore")
                value = text[len(tail) :] if len(text) > len(tail) else ""
                done = settled(value, literals) if value else None
                if done is None and prose is not None:
                    cut = looped(value, prose)
                    if cut is not None and _size(cut) >= floor:
                        done = cut
                    else:
                        cut = None
                if done is not None or self.used + len(picked) >= self.budget:
                    break
        finally:
            generator.close()
        self.picked += len(picked)
        if done is None:
            done = settled(value + " ", literals)  # the model ended the value (or the budget did)
            if done is None or self.used + len(picked) >= self.budget:
                self.tokens += picked
                self.parts.append(value)
                raise Stopped("the answer ended before its schema did")
        if literals is not None or cut is not None:  # written whole, as the tokenizer writes it
            self.pending = tail + done
            self.parts.append(done)
            if cut is not None:
                self.stats.loops_cut += 1
        else:
            self.tokens += picked
            self.parts.append(value)
        return done

    def choose(self, alternatives: Sequence[str]) -> str:
        """The alternative the model picks (written whole)."""
        if len(alternatives) == 1:
            self.write(alternatives[0])
            return alternatives[0]
        return self.pick(tuple(alternatives))


def decode(decoder: Decoder, root: Obj) -> str:
    """Decode one answer of ``root``'s schema; returns its text.

    Raises:
        Stopped: the budget ran out first (``decoder.text`` holds what was written).
    """
    _object(decoder, root, opened=False)
    decoder.close()
    return decoder.text


def _object(d: Decoder, node: Obj, opened: bool) -> None:
    if not opened:
        d.write("{")
    first = True
    for key, child in node.required:
        d.write(("" if first else ", ") + json.dumps(key) + ": ")
        _walk(d, child)
        first = False
    rest = node.optional
    while rest:
        keys = [("" if first else ", ") + json.dumps(k) + ": " for k, _ in rest]
        chosen = d.choose([*keys, "}"])
        if chosen == "}":
            return
        i = keys.index(chosen)
        _walk(d, rest[i][1])
        rest, first = rest[i + 1 :], False
    d.write("}")


def _array(d: Decoder, node: Arr) -> None:
    d.write("[")
    i = 0
    while node.max_items is None or i < node.max_items:
        start = "{" if i == 0 else ", {"
        if i >= node.min_items:
            if d.choose([start, "]"]) == "]":
                return
        else:
            d.write(start)
        _object(d, node.item, opened=True)
        i += 1
    d.write("]")


def _walk(d: Decoder, node: Node) -> None:
    if isinstance(node, Obj):
        _object(d, node, opened=False)
    elif isinstance(node, Arr):
        _array(d, node)
    else:
        d.pick(node)
