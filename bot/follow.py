"""Where one of the bot's own read models stands in the audit log, and whether the log is still the
one it read.

The bot keeps read models of its own (the hosts' addresses, the catalog of what a question may name,
the cases the nudger may chase), each following the log with a cursor of its own, as memory's
projection does: when the log was wiped (another epoch), replaced (a restored backup, a tail lost in a
crash) or ends before the cursor, the model is built again from the start. :class:`ByCase` is such a
model kept by case: built from memory's cases, then only the cases the log's new entries name are
read again. The bot builds its costly ones in the background at its start (:meth:`ByCase.warm`): whatever
needs one meanwhile waits for that build and uses it, so each is built once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from aisoc.bus import AuditEntry, AuditLog, BrokenEntry, id_key
from aisoc.bus.audit import entry_event
from aisoc.events import Event
from aisoc.memory import CaseRecord
from bot.scope import CaseView

BATCH = 5000
"""Audit entries read per page."""


def unbounded() -> object:
    """The window token of a memory that holds every case (it never moves cases out)."""
    return None


class Cursor:
    """A reader's place in the audit log: the last entry read, the event it held, the log's epoch.

    Args:
        audit: the audit log (``bus.audit``).
    """

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit
        self.at: str | None = None
        """The id of the last entry read (None: nothing yet)."""
        self.event = ""
        """The event id that entry held ("" for one that does not decode)."""
        self.epoch: str | None = None

    def lost(self) -> str | None:
        """Why the reader must start again from the log's start, or None (see
        :meth:`aisoc.memory.local.LocalProjection.refresh`); notes the log's epoch either way."""
        epoch = self.audit.epoch
        why = None
        if self.epoch is not None and epoch != self.epoch:
            why = f"the log was wiped (epoch {self.epoch} -> {epoch})"
        elif self.at is not None:
            last = self.audit.last_id()
            if last is not None and id_key(self.at) > id_key(last):
                why = f"cursor {self.at} is past the log's end ({last})"
            else:
                why = self.audit.replaced_at(self.at, self.event)
        self.epoch = epoch
        return why

    def move(self, entry: AuditEntry | BrokenEntry) -> None:
        """Stand at ``entry`` (read)."""
        self.at, self.event = entry.id, entry_event(entry)

    def to_end(self) -> None:
        """Stand at the log's last entry (a model just built from memory, which has folded at least
        that far); the log's start when it is empty."""
        self.epoch = self.audit.epoch
        last = self.audit.last_id()
        entry = None if last is None else self.audit.entry_at(last)
        if entry is None:  # empty, or trimmed just now: read what follows from the start (idempotent)
            self.restart()
        else:
            self.move(entry)

    def restart(self) -> None:
        """Stand before the log's first entry."""
        self.at, self.event = None, ""


class ByCase:
    """A read model kept by case and current with the audit log: built from memory's cases (every
    case read once), then each case that the entries read since name (an action's decision published
    without a case id names the case of its action) is read again through ``view`` and put, replacing
    what the model held of it. It is built again when the log was wiped or replaced, and when memory
    moved cases out of the window it holds in RAM (a built model leaves those out too).

    Subclasses say what building, putting and forgetting mean (:meth:`_fill`, :meth:`_put`,
    :meth:`_clear`) and whether the model is built (:attr:`built`); they read and follow the model
    holding its lock (``_lock``), which :meth:`build` holds while it builds.

    Args:
        audit: the audit log (``bus.audit``).
        view: ``() -> the case memory as the model sees it`` (memory is built on first use).
        window: ``() -> a token that changes when memory moves cases out of the window it holds``
            (:attr:`aisoc.memory.Memory.cold`); none by default (an unbounded memory).
        batch: audit entries read per page.
    """

    what = "the read model"
    """How log lines name it."""

    def __init__(
        self,
        audit: AuditLog,
        view: Callable[[], CaseView],
        *,
        window: Callable[[], object] = unbounded,
        batch: int = BATCH,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be positive")
        self.view = view
        self.window = window
        self.batch = batch
        self._cursor = Cursor(audit)
        self._window: object = None
        self._log = logging.getLogger(type(self).__module__)
        self._lock = threading.Lock()
        self._promised: threading.Event | None = None
        self._timeout: float | None = None

    @property
    def built(self) -> bool:
        """Whether the model was built (and not dropped since)."""
        raise NotImplementedError

    def _clear(self) -> None:
        """Drop the model (not built)."""
        raise NotImplementedError

    def _fill(self, view: CaseView) -> None:
        """Build the model from every case ``view`` holds."""
        raise NotImplementedError

    def _put(self, case_id: str, rec: CaseRecord | None) -> None:
        """Hold what the record says of one case now (``rec`` None: nothing the view may see)."""
        raise NotImplementedError

    def build(self) -> bool:
        """Build the model now unless it is built (the bot builds its costly ones in the background
        at its start): whatever needs it meanwhile waits for this build and uses it, so it is built
        once.

        Returns:
            Whether this call built it.

        Raises:
            Exception: memory or the log could not be read (its first use tries again).
        """
        try:
            with self._lock:
                if self.built:
                    return False
                self._build()
                return True
        finally:
            self.release()

    def promise(self, timeout: float | None = None) -> None:
        """Say that a background thread will :meth:`build` the model (the bot's start, which builds
        another model first): until that build has run, whoever needs the model waits for it
        (:meth:`await_promised`) instead of building its own on its thread at the same time — for at
        most ``timeout`` seconds (None: until it has run)."""
        self._promised = threading.Event()
        self._timeout = timeout

    def release(self) -> None:
        """The promised build has run, or will not (its thread ends): whoever waits goes on (and
        builds the model if it is still not built)."""
        if self._promised is not None:
            self._promised.set()

    def await_promised(self) -> None:
        """Wait for a promised build to have run (returns at once when none is promised). Past the
        promise's timeout (a build at start that hangs, another model's before it) a warning is
        logged and nobody waits any longer: the model is then built on demand by whoever needs it."""
        promised = self._promised
        if promised is not None and not promised.wait(self._timeout):
            self._log.warning(
                "%s: the build at start did not run within %ss; built on demand instead",
                self.what,
                self._timeout,
            )
            promised.set()

    def warm(self) -> bool:
        """:meth:`build`, for a background thread: a failure is logged (its first use builds it).

        Returns:
            Whether this call built it.
        """
        try:
            return self.build()
        except Exception:
            self._log.exception("%s could not be built at start; its first use builds it", self.what)
            return False

    def _follow(self, limit: int | None) -> int:
        """Read up to ``limit`` entries of the log into the model (building it first when it is not
        built, or must be built again); returns how many were read (0 when it was built)."""
        why = self._cursor.lost()
        if why is not None and self.built:
            self._log.warning("%s is built again from memory: %s", self.what, why)
        if why is not None or not self.built or self._moved():
            self._build()
            return 0
        view = self.view()
        read = 0
        while limit is None or read < limit:
            page = self.batch if limit is None else min(self.batch, limit - read)
            entries = list(self._cursor.audit.scan(since=self._cursor.at, limit=page))
            touched = dict.fromkeys(
                c for e in entries if isinstance(e, AuditEntry) for c in [self._case_of(e.event, view)] if c
            )
            for case_id in touched:
                self._put(case_id, view.case(case_id))
            if entries:  # only once the cases are in: a failure above reads the page again
                self._cursor.move(entries[-1])
            read += len(entries)
            if len(entries) < page:
                break
        if self._moved():  # reading those cases made memory fold, and move the oldest out
            self._build()
        return read

    def _moved(self) -> bool:
        """Whether memory moved cases out of its window since the model was built (a built model
        leaves them out: it is built again)."""
        if self.window() == self._window:
            return False
        self._log.info("%s is built again from memory: memory moved cases out of its window", self.what)
        return True

    def _build(self) -> None:
        """Build the model from memory and stand at the log's end (memory folded at least that far:
        what came after is read again, and putting a case twice changes nothing). The window is noted
        first: cases memory moves out while the model is built make it built again."""
        self._clear()
        self._cursor.to_end()
        self._window = self.window()
        self._fill(self.view())

    @staticmethod
    def _case_of(event: Event, view: CaseView) -> str | None:
        """The case an event changes: its own, or its action's (a decision published without one)."""
        if event.case_id:
            return event.case_id
        action_id = getattr(event, "action_id", None)
        state = view.action(action_id) if isinstance(action_id, str) else None
        return state.case_id if state is not None else None
