"""What a constrained decoder is given: the role's answer schema with tighter bounds.

A decoder that constrains answers to a JSON Schema (llama.cpp's server with ``mode=json``, the
in-process ``local`` model) turns each bound into grammar rules and enforces enums, not numeric
ranges. :func:`grammar_schema` caps strings and lists (small models write to the bound they are
given) and turns small integer ranges and a probability into enums. Whatever fits its schema also
fits the role's own, which still validates every answer.
"""

from __future__ import annotations

from typing import Any

GRAMMAR_MAX_STRING = 160
"""Longest string a constrained decoder may write (a 2,000-character bound would be 2,000 nested
grammar rules); any answer within it also satisfies the role's own, looser schema."""
GRAMMAR_MAX_ITEMS = 4
"""Most items per list a constrained decoder may write."""
GRAMMAR_MAX_ITEM_STRING = 100
"""Longest string a constrained decoder may write as an item of a list (a finding, an item of
evidence, a name to notify): one short sentence each; answer tokens are the slow part on a CPU."""


def grammar_schema(schema: Any) -> Any:
    """The JSON Schema handed to a constrained decoder: the role's schema with tighter bounds.

    Long strings and lists are capped (small models ramble until they run out of tokens; a list's
    strings more tightly), and small integer ranges become enums (decoders enforce enums, not
    minimum/maximum). Whatever fits this schema also fits the role's schema, which still validates
    the answer.
    """
    if isinstance(schema, list):
        return [grammar_schema(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: grammar_schema(v) for k, v in schema.items()}
    if out.get("type") == "string" and "enum" not in out:
        out["maxLength"] = min(int(out.get("maxLength", GRAMMAR_MAX_STRING)), GRAMMAR_MAX_STRING)
    if out.get("type") == "array":
        out["maxItems"] = min(int(out.get("maxItems", GRAMMAR_MAX_ITEMS)), GRAMMAR_MAX_ITEMS)
        out["minItems"] = min(int(out.get("minItems", 0)), out["maxItems"])
        items = out.get("items")
        if isinstance(items, dict) and items.get("type") == "string" and "maxLength" in items:
            out["items"] = {**items, "maxLength": min(items["maxLength"], GRAMMAR_MAX_ITEM_STRING)}
    low, high = out.get("minimum"), out.get("maximum")
    if out.get("type") == "integer" and isinstance(low, int) and isinstance(high, int) and high - low <= 20:
        out = {"enum": list(range(low, high + 1))}
    elif out.get("type") == "number" and (low, high) == (0, 1):
        out = {"enum": [n / 10 for n in range(11)]}  # a probability, to one decimal
    return out


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """The ``response_format`` request field that constrains an answer to ``schema`` (llama.cpp's
    server and the ``local`` model read a JSON Schema beside ``json_object``)."""
    return {"type": "json_object", "schema": schema}
