"""A view of memory that counts what a read model reads of it (the catalog's and the nudger's tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aisoc.memory import CaseFile, CaseRecord, Memory
from aisoc.memory.casefile import ActionState
from bot.scope import CaseView


class Counting:
    """Memory as a read model sees it, counting its listings of every case and its reads of one case.

    Args:
        memory: the memory (or a view of it) read through.
        files: whether a case's file may be read (the catalog never reads one: False makes a read fail
            the test).
    """

    def __init__(self, memory: CaseView | Memory, *, files: bool = True) -> None:
        self.memory = memory
        self.files = files
        self.listed = 0
        self.read: list[str] = []

    @property
    def audit(self) -> Any:
        return self.memory.audit

    @property
    def cold(self) -> int:
        return int(self.memory.cold)

    def cases(self) -> Iterator[CaseRecord]:
        self.listed += 1
        return self.memory.cases()

    def case(self, case_id: str) -> CaseRecord | None:
        self.read.append(case_id)
        return self.memory.case(case_id)

    def case_file(self, case_id: str) -> CaseFile | None:
        if not self.files:
            raise AssertionError(f"the catalog read the file of {case_id}")
        return self.memory.case_file(case_id)

    def action(self, action_id: str) -> ActionState | None:
        return self.memory.action(action_id)
