"""Case, event and role on every log record: bound around a unit of work, read by the formatters.

with bind(role="tier2", event_id=e.event_id, case_id=e.case_id):
    log.info("deciding")   # the JSON formatter emits role, event_id and case_id
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager

FIELDS = ("role", "case_id", "event_id")
"""Attributes the filter puts on every record ("-" when unbound)."""

_context: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "aisoc_log_context", default=()
)


@contextmanager
def bind(**values: str | None) -> Iterator[None]:
    """Attach ``values`` to every log record emitted inside the block (this thread/task only)."""
    merged = {**dict(_context.get()), **{k: v for k, v in values.items() if v is not None}}
    token = _context.set(tuple(merged.items()))
    try:
        yield
    finally:
        _context.reset(token)


def bound() -> dict[str, str]:
    """What is bound here now (role, case id, event id of the unit of work in progress)."""
    return dict(_context.get())


class ContextFilter(logging.Filter):
    """Adds the bound role, case id and event id to each record (explicit ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = dict(_context.get())
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, bound.get(name, "-"))
        return True
