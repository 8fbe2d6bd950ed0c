"""What a conversation may read of the record: every tenant's cases, or only some tenants'.

A room may be bound to tenants (``[bot] tenant_rooms``), and so may a person (``[bot]
people_tenants``); a conversation sees the tenants both allow (:class:`Scope`). Bound to any, it
reads the case memory through a :class:`TenantView`: the same four questions the bot asks of
:class:`~aisoc.memory.Memory` (every case, one case, a case's file, one action), answered as if the
other tenants' cases did not exist. The catalog, the reader, the overview and the lifecycle commands
all read through it, so a conversation learns nothing of another tenant's cases, not even that a name
is recorded there, and acts on none of them.

A case's tenant is read from its id (:func:`aisoc.tenants.tenant_of`), which no tenant can forge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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


def _names(tenants: frozenset[str]) -> str:
    return clean(", ".join(sorted(tenants)), 200, oneline=True)


@dataclass(frozen=True)
class Scope:
    """Whose cases one conversation may see: the tenants of its room and of its person, each None
    when not bound (the SOC's rooms and 1:1 spaces; the SOC's staff)."""

    room: frozenset[str] | None = None
    person: frozenset[str] | None = None

    @property
    def tenants(self) -> frozenset[str] | None:
        """The tenants both allow (possibly none); None: every tenant."""
        if self.room is None or self.person is None:
            return self.person if self.room is None else self.room
        return self.room & self.person

    def refusal(self, shown: str) -> str:
        """Why a case (``shown``, already cleaned) is not shown or changed here."""
        if self.person is None:
            return f"this room serves {_names(self.room or frozenset())}: `{shown}` is not one of its cases"
        bound = f"you are bound to {_names(self.person)}"
        if self.room is not None:
            bound = f"this room serves {_names(self.room)} and {bound}"
        return f"{bound}: `{shown}` is not one of the cases you may see here"

    def soc_wide(self, verb: str) -> str:
        """Why a command about the whole SOC (``status``, the kill switch) is refused here."""
        if self.person is None:
            return (
                f"`{verb}` is for the SOC's own space: it concerns every organisation the SOC serves. "
                "Here, ask about this room's cases (`help` lists how)."
            )
        return (
            f"`{verb}` is for the SOC's own staff: it concerns every organisation the SOC serves. "
            "Ask about the cases you may see (`help` lists how)."
        )


class TenantView:
    """The case memory as a conversation bound to tenants sees it: their cases only.

    Args:
        memory: the whole case memory.
        scope: the room's and the person's tenants (a scope that allows every tenant reads memory
            itself); the tenants both allow may be none, and then no case is seen.
    """

    def __init__(self, memory: CaseView, scope: Scope) -> None:
        self.memory = memory
        self.scope = scope
        self.tenants = scope.tenants or frozenset()

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
    """Why a conversation may not act on a case, or None when it may: the case is not one of the
    tenants its room and its person allow.

    The answer is the same whether the case exists or not, so it tells nothing about other tenants.
    """
    if not isinstance(view, TenantView) or view.holds(case_id):
        return None
    shown = clean(case_id, 120, oneline=True).replace("`", "'")
    return f"{view.scope.refusal(shown)}, so nothing about it is shown or changed here"
