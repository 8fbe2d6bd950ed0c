"""The tools seam: read-only lookups a role may call, offered to the model by name.

A tool is anything with ``name``, ``description``, ``args_schema`` (a pydantic model) and
``invoke(args) -> result``; :func:`tool` builds one from a typed function. Vendor adapters live
outside the kernel and hand the team only the tools whose vendor is configured.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from aisoc.errors import AisocError


class ToolError(AisocError):
    """Raised by a tool when a lookup fails in an expected way (not found, vendor refused, timeout).

    The runtime records the message in the trace and hands it to the model as the tool's answer.
    """


@runtime_checkable
class Tool(Protocol):
    """What the runtime needs of a tool."""

    @property
    def name(self) -> str:
        """Unique name the model calls the tool by."""

    @property
    def description(self) -> str:
        """What the tool looks up, for the model."""

    @property
    def args_schema(self) -> type[BaseModel]:
        """The arguments, as a pydantic model (its JSON Schema is offered to the model)."""

    def invoke(self, args: dict[str, Any]) -> Any:
        """Run the lookup with validated ``args``; return something JSON-serializable."""


@dataclass(frozen=True)
class FunctionTool:
    """A tool made from a typed Python function (see :func:`tool`)."""

    name: str
    description: str
    args_schema: type[BaseModel]
    fn: Callable[..., Any]

    def invoke(self, args: dict[str, Any]) -> Any:
        try:
            parsed = self.args_schema.model_validate(args)
        except ValidationError as e:
            raise ToolError(
                f"{self.name}: bad arguments: {e.errors()[0]['msg']} "
                f"({'.'.join(map(str, e.errors()[0]['loc']))})"
            ) from e
        return self.fn(**parsed.model_dump())


def tool(
    name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], FunctionTool]:
    """Turn a typed function into a :class:`FunctionTool`; the docstring is the description.

    Example:
        >>> @tool()
        ... def whois(domain: str) -> dict:
        ...     '''Registration data of a domain.'''
        ...     return {"domain": domain}
        >>> whois.invoke({"domain": "example.com"})
        {'domain': 'example.com'}
    """

    def decorate(fn: Callable[..., Any]) -> FunctionTool:
        fields: dict[str, Any] = {}
        for p in inspect.signature(fn, eval_str=True).parameters.values():
            annotation = Any if p.annotation is inspect.Parameter.empty else p.annotation
            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[p.name] = (annotation, default)
        schema = create_model(f"{fn.__name__}_args", __config__=ConfigDict(extra="forbid"), **fields)
        doc = inspect.getdoc(fn) or ""
        return FunctionTool(name or fn.__name__, description or doc.split("\n\n")[0], schema, fn)

    return decorate


class ToolSet:
    """Tools by name; roles see only the intersection with their whitelist."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.add(t)

    def add(self, t: Tool) -> None:
        """Add a tool; two tools may not share a name."""
        if t.name in self._tools:
            raise AisocError(f"two tools are named {t.name!r}")
        self._tools[t.name] = t

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def allowed(self, whitelist: Iterable[str]) -> list[Tool]:
        """The tools of ``whitelist`` that are present, in whitelist order."""
        return [self._tools[n] for n in whitelist if n in self._tools]

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools


def result_text(result: Any) -> str:
    """Render a tool result the way the model and the trace see it (JSON when possible)."""
    if isinstance(result, str):
        return result
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    try:
        return json.dumps(result, default=str, sort_keys=True)
    except (TypeError, ValueError):
        return repr(result)
