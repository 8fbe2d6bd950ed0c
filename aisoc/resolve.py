"""Resolve import strings (``package.module:attribute``): how the kernel reaches app objects."""

from __future__ import annotations

import importlib
from typing import Any

from aisoc.errors import ResolveError


def resolve(spec: str | Any) -> Any:
    """Return the object an import string names; anything that is not a string is returned as is.

    Raises:
        ResolveError: the module cannot be imported or has no such attribute.
    """
    if not isinstance(spec, str):
        return spec
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ResolveError(f"{spec!r}: expected an import string like 'package.module:name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ResolveError(f"{spec!r}: cannot import {module_name!r}: {e}") from e
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ResolveError(f"{spec!r}: {module_name!r} has no attribute {attr!r}") from None
    return obj


def import_team(spec: str) -> None:
    """Import the role team ``spec`` names (``settings.team``), so the event types its role files
    define decode in a process that reads the log but runs no role (the gate, the bot, the CLI).

    Raises:
        ResolveError: the team cannot be imported.
    """
    resolve(spec)
