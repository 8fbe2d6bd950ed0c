"""What a room may read of the record: every tenant's cases, or only the tenants it is bound to.

A room bound to tenants (``[bot] tenant_rooms``) reads the case memory through a :class:`TenantView`:
the same four questions the bot asks of :class:`~aisoc.memory.Memory` (every case, one case, a case's
file, one action), answered as if the other tenants' cases did not exist. The catalog, the reader, the
overview and the lifecycle commands all read through it, so a room learns nothing of another tenant's
cases, not even that a name is recorded there, and acts on none of them.

A case's tenant is read from its id (:func:`aisoc.tenants.tenant_of`), which no tenant can forge.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from aisoc.memory import CaseFile, CaseRecord
from aisoc.memory.casefile import ActionState
from aisoc.tenants import tenant_of
from cards.text import clean


class CaseView(Protocol):
    """What the bot reads of the case memory (:class:`~aisoc.memory.Memory` is one)."""

    def cases(self) -> Iterator[CaseRecord]:
        """Every case record held."""
        ...

    def case(self, case_id: str) -> CaseRecord | None:
        """One case's record, or None."""
        ...

    def case_file(self, case_id: str) -> CaseFile | None:
        """One case's read model, or None."""
        ...

    def action(self, action_id: str) -> ActionState | None:
        """Where one action stands, or None."""
        ...


class TenantView:
    """The case memory as a room bound to ``tenants`` sees it: their cases only.

    Args:
        memory: the whole case memory.
        tenants: the tenant keys the room serves (never empty: an unbound room reads memory itself).
    """

    def __init__(self, memory: CaseView, tenants: frozenset[str]) -> None:
        self.memory = memory
        self.tenants = tenants

    def holds(self, case_id: str) -> bool:
        """Whether the case is one of the room's tenants' (said the same whether it exists or not)."""
        return tenant_of(case_id) in self.tenants

    def cases(self) -> Iterator[CaseRecord]:
        """The room's tenants' case records."""
        return (rec for rec in self.memory.cases() if self.holds(rec.case_id))

    def case(self, case_id: str) -> CaseRecord | None:
        """The record of one of the room's tenants' cases (None for any other case)."""
        return self.memory.case(case_id) if self.holds(case_id) else None

    def case_file(self, case_id: str) -> CaseFile | None:
        """The read model of one of the room's tenants' cases (None for any other case)."""
        return self.memory.case_file(case_id) if self.holds(case_id) else None

    def action(self, action_id: str) -> ActionState | None:
        """An action of one of the room's tenants' cases (None for any other action)."""
        state = self.memory.action(action_id)
        return state if state is not None and self.holds(state.case_id) else None


def foreign(view: CaseView, case_id: str) -> str | None:
    """Why a room may not act on a case, or None when it may: the case is not one of its tenants'.

    The answer is the same whether the case exists or not, so it tells nothing about other tenants.
    """
    if not isinstance(view, TenantView) or view.holds(case_id):
        return None
    shown = clean(case_id, 120, oneline=True).replace("`", "'")
    return (
        f"this room serves {clean(', '.join(sorted(view.tenants)), 200, oneline=True)}: "
        f"`{shown}` is not one of its cases, "
        "so nothing about it is shown or changed here"
    )
