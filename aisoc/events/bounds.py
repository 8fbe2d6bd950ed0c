"""The contract's bounds, applied by producers: cut every text and list to the length its field declares.

Decoding refuses a value over its bound (the log holds only what the contract allows); a producer that
builds an event from longer text (a model's answer, a person's note, a source's record) fits it first:

    CaseClosed.model_validate(fit(CaseClosed, reason=long_reason, ...))   # reason cut to its 1,024
    fitted(PlanStep, phase="contain", description=model_text)

Strings and lists are cut at their declared ``max_length`` (``Short``, ``Line``, ``Text``,
``Field(max_length=...)``), inside lists and into nested parts given as dicts. Nothing else changes: a
value with a syntax (an event id's pattern) is never cut, and whatever breaks a pattern or a type is
still refused by validation.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from functools import cache
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

M = TypeVar("M", bound=BaseModel)


Kind = type | tuple[type, ...]
Cut = Callable[[Any], Any]
"""Cuts one field's value to its bounds (values of another kind pass through)."""


def fit(model: type[BaseModel], /, **fields: Any) -> dict[str, Any]:
    """Return ``fields`` with every string and list cut to the bound ``model`` declares for it."""
    plan = _plan(model)
    return {k: cut(v) if (cut := plan.get(k)) is not None else v for k, v in fields.items()}


def fitted(model: type[M], /, **fields: Any) -> M:
    """Build ``model`` from ``fields`` cut to their bounds (see :func:`fit`)."""
    return model.model_validate(fit(model, **fields))


@cache
def _plan(model: type[BaseModel]) -> dict[str, Cut]:
    """The cut of each bounded field (worked out once per model, so fitting stays cheap)."""
    cuts = {name: _compile(f.annotation, _limit(f.metadata)) for name, f in model.model_fields.items()}
    return {name: c for name, c in cuts.items() if c is not None}


def _limit(metadata: Iterable[Any]) -> int | None:
    """The declared ``max_length``; none for a value with a syntax (an id is refused, never cut)."""
    metadata = list(metadata)
    if any(getattr(m, "pattern", None) for m in metadata):
        return None
    for m in metadata:
        if isinstance(m, FieldInfo):
            found = _limit(m.metadata)
            if found is not None:
                return found
        limit = getattr(m, "max_length", None)
        if isinstance(limit, int):
            return limit
    return None


def _compile(annotation: Any, limit: int | None) -> Cut | None:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *meta = get_args(annotation)
        return _compile(base, limit if limit is not None else _limit(meta))
    if origin is Union or origin is types.UnionType:
        return _union([a for a in get_args(annotation) if a is not type(None)], limit)
    if annotation is str:
        return None if limit is None else _text(limit)
    if origin in (list, tuple):
        args = get_args(annotation)
        return _sequence(_compile(args[0], None) if args else None, limit)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _part(annotation)
    return None


def _text(limit: int) -> Cut:
    return lambda v: v[:limit] if isinstance(v, str) else v


def _sequence(element: Cut | None, limit: int | None) -> Cut | None:
    if element is None and limit is None:
        return None

    def cut(v: Any) -> Any:
        if not isinstance(v, list | tuple):
            return v
        items = v[:limit] if limit is not None else v
        if element is not None:
            items = [element(x) for x in items]
        return list(items) if isinstance(v, list) else tuple(items)

    return cut


def _part(model: type[BaseModel]) -> Cut:
    return lambda v: fit(model, **v) if isinstance(v, dict) else v


def _union(arms: list[Any], limit: int | None) -> Cut | None:
    """One cut per kind of value (text, sequence, part), from the first arm of that kind."""
    by_kind: dict[Kind, Cut] = {}
    for arm in arms:
        kind = _kind(arm)
        arm_cut = _compile(arm, limit) if kind is not None and kind not in by_kind else None
        if kind is not None and arm_cut is not None:
            by_kind[kind] = arm_cut
    if not by_kind:
        return None

    def cut(v: Any) -> Any:
        for kind, c in by_kind.items():
            if isinstance(v, kind):
                return c(v)
        return v

    return cut


def _kind(annotation: Any) -> Kind | None:
    """The kind of value one arm of a union holds: str, a sequence, or a dict (for a part)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kind(get_args(annotation)[0])
    if annotation is str:
        return str
    if origin in (list, tuple):
        return (list, tuple)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return dict
    return None
