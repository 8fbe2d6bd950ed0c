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
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from aisoc.bus import AuditEntry, AuditLog
from aisoc.events import Event
from bot.catalog import Catalog
from bot.follow import Cursor
from bot.hosts import AddressBook
from bot.scope import CaseView

log = logging.getLogger(__name__)

BATCH = 5000
"""Audit entries read per page."""


def _unbounded() -> object:
    return None


class LiveCatalog:
    """One conversation scope's catalog, current with the audit log (see the module's docstring).

    Args:
        audit: the audit log (``bus.audit``).
        view: ``() -> the case memory as the scope sees it`` (memory is built on first use).
        addresses: which hosts each address is (the bot's one address book), or None.
        window: ``() -> a token that changes when memory moves cases out of the window it holds``
            (:attr:`aisoc.memory.Memory.cold`); none by default (an unbounded memory).
        batch: audit entries read per page.
    """

    def __init__(
        self,
        audit: AuditLog,
        view: Callable[[], CaseView],
        addresses: AddressBook | None = None,
        *,
        window: Callable[[], object] = _unbounded,
        batch: int = BATCH,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be positive")
        self.view = view
        self.addresses = addresses
        self.window = window
        self.batch = batch
        self._cursor = Cursor(audit)
        self._catalog: Catalog | None = None
        self._window: object = None
        self._failing = False
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        """Whether the catalog was built (a question asked in this scope since the bot started)."""
        return self._catalog is not None

    @contextmanager
    def reading(self) -> Iterator[Catalog]:
        """The catalog, current with the log, held for one question (the feed waits meanwhile).

        Raises:
            Exception: memory could not be read even to build a catalog for this question alone.
        """
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

    def build(self) -> bool:
        """Build the catalog now unless it is built (the bot builds the SOC-wide scope's in the
        background at its start): a question that comes meanwhile waits for this build and uses it,
        so it is built once.

        Returns:
            Whether this call built it.

        Raises:
            Exception: memory or the log could not be read (the first question tries again).
        """
        with self._lock:
            if self._catalog is not None:
                return False
            self._build()
            return True

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

    def _follow(self, limit: int | None) -> int:
        why = self._cursor.lost()
        if why is not None and self._catalog is not None:
            log.warning("the catalog is built again from memory: %s", why)
        if why is not None or self._catalog is None or self._moved():
            self._build()
            return 0
        catalog, view = self._catalog, self.view()
        read = 0
        while limit is None or read < limit:
            page = self.batch if limit is None else min(self.batch, limit - read)
            entries = list(self._cursor.audit.scan(since=self._cursor.at, limit=page))
            touched = dict.fromkeys(
                c for e in entries if isinstance(e, AuditEntry) for c in [self._case_of(e.event, view)] if c
            )
            for case_id in touched:
                catalog.put(case_id, view.case(case_id))
            if entries:  # only once the cases are in: a failure above reads the page again
                self._cursor.move(entries[-1])
            read += len(entries)
            if len(entries) < page:
                break
        if self._moved():  # reading those cases made memory fold, and move the oldest out
            self._build()
        return read

    def _moved(self) -> bool:
        """Whether memory moved cases out of its window since the catalog was built (a built
        catalog leaves them out: it is built again)."""
        if self.window() == self._window:
            return False
        log.info("the catalog is built again from memory: memory moved cases out of its window")
        return True

    def _build(self) -> None:
        """Build the catalog from memory and stand at the log's end (memory folded at least that
        far: what came after is read again, and putting a case twice changes nothing). The window
        is noted first: cases memory moves out while the catalog is built make it built again."""
        self._catalog = None
        self._cursor.to_end()
        self._window = self.window()
        self._catalog = Catalog(self.view(), self.addresses)

    @staticmethod
    def _case_of(event: Event, view: CaseView) -> str | None:
        """The case an event changes: its own, or its action's (a decision published without one)."""
        if event.case_id:
            return event.case_id
        action_id = getattr(event, "action_id", None)
        state = view.action(action_id) if isinstance(action_id, str) else None
        return state.case_id if state is not None else None
