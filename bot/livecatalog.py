"""The catalog a conversation's questions are matched against, built once and kept current from the
audit log, so a question reads what changed since the last one, not every case in memory.

:class:`LiveCatalog` follows the log with a cursor of its own (:class:`bot.follow.Cursor`), as the
hosts' address book does: the cases that the entries since name (an action's decision published
without a case id names the case of its action) are read again through the conversation's view of
memory and put in the catalog, each replacing what the catalog held of it. A case the view may not
see (another tenant's) reads as nothing, so it is never held. The catalog is built again from memory
when the log was wiped or replaced, and when memory moved cases out of the window it holds in RAM
(those are left out of a built catalog too). Reading the log may fail (Redis away): that question is
answered from a catalog built for it alone, as before, the failure is logged once until the log reads
again, and the cursor stays where it was, so nothing is missed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from aisoc.bus import AuditLog
from aisoc.memory import CaseRecord
from bot.catalog import Catalog
from bot.follow import BATCH, ByCase, unbounded
from bot.hosts import AddressBook
from bot.scope import CaseView

log = logging.getLogger(__name__)


class LiveCatalog(ByCase):
    """One conversation scope's catalog, current with the audit log (see the module's docstring).

    Args:
        audit: the audit log (``bus.audit``).
        view: ``() -> the case memory as the scope sees it`` (memory is built on first use).
        addresses: which hosts each address is (the bot's one address book), or None.
        window: ``() -> a token that changes when memory moves cases out of the window it holds``
            (:attr:`aisoc.memory.Memory.cold`); none by default (an unbounded memory).
        batch: audit entries read per page.
    """

    what = "the catalog"

    def __init__(
        self,
        audit: AuditLog,
        view: Callable[[], CaseView],
        addresses: AddressBook | None = None,
        *,
        window: Callable[[], object] = unbounded,
        batch: int = BATCH,
    ) -> None:
        super().__init__(audit, view, window=window, batch=batch)
        self.addresses = addresses
        self._catalog: Catalog | None = None
        self._failing = False

    @property
    def built(self) -> bool:
        """Whether the catalog was built (a question asked in this scope since the bot started)."""
        return self._catalog is not None

    def _clear(self) -> None:
        self._catalog = None

    def _fill(self, view: CaseView) -> None:
        self._catalog = Catalog(view, self.addresses)

    def _put(self, case_id: str, rec: CaseRecord | None) -> None:
        assert self._catalog is not None
        self._catalog.put(case_id, rec)

    @contextmanager
    def reading(self) -> Iterator[Catalog]:
        """The catalog, current with the log, held for one question (the feed waits meanwhile; a
        question during the catalog's build at start waits for it, :meth:`build`).

        Raises:
            Exception: memory could not be read even to build a catalog for this question alone.
        """
        self.await_promised()  # the build at start: shared, never a second one on this thread
        with self._lock:
            try:
                self._follow(None)
                catalog = self._catalog
                if self._failing:
                    log.warning("the catalog follows the audit log again")
                    self._failing = False
            except Exception:
                if not self._failing:
                    log.exception("the catalog could not follow the audit log: each question builds its own")
                self._failing = True
                catalog = None
            yield catalog if catalog is not None else Catalog(self.view(), self.addresses)

    def follow(self, limit: int | None = None) -> int:
        """Read up to ``limit`` entries of the log into a built catalog (the feed's keep-up; a
        catalog not built yet, or being built, is left to its build: the feed never waits for one).

        Returns:
            How many entries were read (0: current, or not built).
        """
        if self._catalog is None:
            return 0
        with self._lock:
            return self._follow(limit) if self._catalog is not None else 0
