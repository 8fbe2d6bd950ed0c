"""Where one of the bot's own read models stands in the audit log, and whether the log is still the
one it read.

The bot keeps read models of its own (the hosts' addresses, the catalog of what a question may name),
each following the log with a cursor of its own, as memory's projection does: when the log was wiped
(another epoch), replaced (a restored backup, a tail lost in a crash) or ends before the cursor, the
model is built again from the start.
"""

from __future__ import annotations

from aisoc.bus import AuditEntry, AuditLog, BrokenEntry, id_key
from aisoc.bus.audit import entry_event


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
