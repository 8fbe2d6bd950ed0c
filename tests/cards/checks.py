"""Checks every card test uses: the official Adaptive Cards 1.3 schema, and what a card shows or does."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from tests.cards.factories import DATA

SCHEMA_PATH = DATA / "schemas" / "adaptive-card-1.3.json"
"""The official Adaptive Cards 1.3 JSON Schema (draft-06), vendored unchanged."""


@cache
def _validator() -> jsonschema.Draft6Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft6Validator(schema, format_checker=jsonschema.Draft6Validator.FORMAT_CHECKER)


def schema_errors(content: dict[str, Any]) -> list[str]:
    """Messages of every way ``content`` breaks the official Adaptive Cards 1.3 schema."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(content)]


def all_actions(node: Any) -> list[dict[str, Any]]:
    """Every action anywhere in a card (top-level, ``ActionSet``s, ``selectAction``s)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Action."):
            found.append(node)
        for value in node.values():
            found += all_actions(value)
    elif isinstance(node, list):
        for value in node:
            found += all_actions(value)
    return found


def all_text(node: Any) -> str:
    """Every string in a card, joined (what a person could read)."""
    if isinstance(node, dict):
        return "\n".join(all_text(v) for v in node.values())
    if isinstance(node, list):
        return "\n".join(all_text(v) for v in node)
    return node if isinstance(node, str) else ""
