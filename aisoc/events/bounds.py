"""The contract's bounds, applied by producers: cut every text and list to the length its field declares.

Decoding refuses a value over its bound (the log holds only what the contract allows); a producer that
builds an event from longer text (a model's answer, a person's note, a source's record) fits it first:

    CaseClosed.model_validate(fit(CaseClosed, reason=long_reason, ...))   # reason cut to its 1,024
    fitted(PlanStep, phase="contain", description=model_text)

Strings and lists are cut at their declared ``max_length`` (``Short``, ``Line``, ``Text``,
``Field(max_length=...)``), inside lists and into nested parts given as dicts. Nothing else changes: a
value that breaks a pattern or a type is still refused by validation.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from functools import cache
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

M = TypeVar("M", bound=BaseModel)


def fit(model: type[BaseModel], /, **fields: Any) -> dict[str, Any]:
    """Return ``fields`` with every string and list cut to the bound ``model`` declares for it."""
    plan = _plan(model)
    return {k: _cut(v, *plan[k]) if k in plan else v for k, v in fields.items()}


def fitted(model: type[M], /, **fields: Any) -> M:
    """Build ``model`` from ``fields`` cut to their bounds (see :func:`fit`)."""
    return model.model_validate(fit(model, **fields))


@cache
def _plan(model: type[BaseModel]) -> dict[str, tuple[Any, int | None]]:
    """Each field's annotation and its own bound (computed once per model)."""
    return {name: (f.annotation, _limit(f.metadata)) for name, f in model.model_fields.items()}


def _limit(metadata: Iterable[Any]) -> int | None:
    for m in metadata:
        if isinstance(m, FieldInfo):
            found = _limit(m.metadata)
            if found is not None:
                return found
        limit = getattr(m, "max_length", None)
        if isinstance(limit, int):
            return limit
    return None


def _cut(value: Any, annotation: Any, limit: int | None) -> Any:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *meta = get_args(annotation)
        return _cut(value, base, limit if limit is not None else _limit(meta))
    if origin is Union or origin is types.UnionType:
        for arg in get_args(annotation):
            if arg is not type(None) and _fits_kind(value, arg):
                return _cut(value, arg, limit)
        return value
    if isinstance(value, str):
        return value[:limit] if limit is not None else value
    if isinstance(value, list | tuple):
        args = get_args(annotation)
        element = args[0] if args else Any
        items = [_cut(v, element, None) for v in value[:limit]]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return fit(annotation, **value)
    return value


def _fits_kind(value: Any, annotation: Any) -> bool:
    """Whether ``value`` is the kind of thing ``annotation`` (one arm of a union) holds."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _fits_kind(value, get_args(annotation)[0])
    if isinstance(value, str):
        return annotation is str
    if isinstance(value, list | tuple):
        return origin in (list, tuple)
    if isinstance(value, dict):
        return isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return False
