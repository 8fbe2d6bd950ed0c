"""A report window through memory's read model: the case files the report roles share.

The report roles never fold the audit log themselves: :func:`aisoc.memory.fold_cases` runs memory's
fold over the events before the window's end, and each role reads the records (state, latest
outputs, closure, actions) and the alert from the files.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from aisoc.events import Event
from aisoc.memory import CaseFile, fold_cases
from aisoc.memory.records import to_dt
from aisoc.tenants import tenant_key
from aisoc.tenants import tenant_of as tenant_of_id


class Stamped(Protocol):
    """A register of a case record: when it was last written."""

    @property
    def at(self) -> float: ...


def cases(events: Iterable[Event], end: datetime) -> list[CaseFile]:
    """Memory's file of every case with an event before ``end``, each as it stood at ``end``."""
    return list(fold_cases(events, until=end).values())


def tenant_of(c: CaseFile) -> str:
    """The tenant key of a case: its alert's, else the one its id carries (``""``: the default), read
    by the kernel's one rule (:func:`aisoc.tenants.tenant_of`)."""
    if c.alert is not None:
        return tenant_key(c.alert.tenant)
    return tenant_of_id(c.case_id)


def by_tenant(files: list[CaseFile]) -> dict[str, list[CaseFile]]:
    """The files per tenant key when they belong to several tenants (each tenant gets its own
    report); ``{"": files}`` when they all belong to one (a single-tenant report, as before)."""
    split: dict[str, list[CaseFile]] = {}
    for c in files:
        split.setdefault(tenant_of(c), []).append(c)
    return dict(sorted(split.items())) if len(split) > 1 else {"": files}


def when(register: Stamped | None) -> datetime | None:
    """When a register was written (None: never)."""
    return None if register is None else to_dt(register.at)


def within(at: datetime | None, start: datetime, end: datetime) -> bool:
    """Whether ``at`` is in ``[start, end)``."""
    return at is not None and start <= at < end


def title_of(c: CaseFile) -> str:
    """The case's alert title (its id when the alert is not known)."""
    return c.alert.title if c.alert else c.case_id
