"""One audit retention pass at a time across every process and host that shares a bus.

Two holds on the bus (see ``Coordination.hold``), the same on Redis, SQLite and in memory:

* ``retention-pass``: taken by the pass under way (whoever runs it: the scheduler or ``aisoc audit
  retain``), renewed every ``PASS_TTL_S / 3`` while it runs and let go when it ends; a pass that
  dies lets it expire after ``PASS_TTL_S``. A second pass waits for it (a bounded time) or gives up
  with :class:`RetentionRunning`, before it has read or written anything.
* ``retention-journal``: the bus's copy of the journal in the archive folder (which host, which
  folder, which archive), written before that file and removed after it. A pass on a host whose
  archive folder does not hold that journal (another host's folder, not shared) refuses with
  :class:`RetentionStopped` instead of archiving the same entries again into its own folder: the
  stopped pass is finished where its archive is.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aisoc.bus import Bus
from aisoc.errors import AisocError, BusError
from aisoc.events import utcnow

log = logging.getLogger(__name__)

PASS_KEY = "retention-pass"
"""The hold of the retention pass under way."""
JOURNAL_KEY = "retention-journal"
"""The hold naming the pass whose journal is in some archive folder (see ``aisoc.audit.JOURNAL``)."""
PASS_TTL_S = 120.0
"""How long a pass's hold outlives its last renewal (a pass that died is waited for this long)."""
JOURNAL_TTL_S = 30 * 86400.0
"""How long the bus remembers a stopped pass whose host never came back to finish it."""
POLL_S = 1.0
"""How often a pass waiting for another one asks again."""


class RetentionRunning(AisocError):
    """Raised when another retention pass holds the retention lock (nothing was read or written)."""

    def __init__(self, message: str, holder: Holder | None) -> None:
        super().__init__(message)
        self.holder = holder


class RetentionStopped(AisocError):
    """Raised when a retention pass of another archive folder stopped before it finished: this host
    cannot finish it (its journal and archive are there), so it archives nothing."""


@dataclass(frozen=True)
class Holder:
    """Who runs a retention pass (or ran the one a journal names), as the bus keeps it."""

    host: str
    folder: str
    pid: int = 0
    since: str = ""
    token: str = ""
    archive: str = ""
    through: str = ""

    @classmethod
    def here(cls, folder: Path, **more: str) -> Holder:
        """This process, retaining into ``folder``."""
        return cls(
            host=socket.gethostname(),
            folder=str(folder.resolve()),
            pid=os.getpid(),
            since=utcnow().isoformat(timespec="seconds"),
            token=uuid.uuid4().hex,
            **more,
        )

    @classmethod
    def parse(cls, text: str) -> Holder:
        """The holder a hold's value names (an unreadable one: an unknown host)."""
        try:
            data = json.loads(text)
            return cls(
                host=str(data["host"]),
                folder=str(data["folder"]),
                pid=int(data.get("pid", 0)),
                **{k: str(data.get(k, "")) for k in ("since", "token", "archive", "through")},
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls(host="an unknown host", folder=f"(hold value {text[:80]!r})")

    def value(self) -> str:
        """The hold's value: this holder as JSON."""
        return json.dumps({k: getattr(self, k) for k in _FIELDS})

    def same_place(self, other: Holder) -> bool:
        """Whether both name the same host and archive folder."""
        return (self.host, self.folder) == (other.host, other.folder)

    def describe(self) -> str:
        pid = f" pid {self.pid}" if self.pid else ""
        since = f" since {self.since}" if self.since else ""
        return f"host {self.host}{pid}{since}, archive folder {self.folder}"


_FIELDS = ("host", "folder", "pid", "since", "token", "archive", "through")


class Pass:
    """The hold of one running pass, renewed in a thread until :meth:`end`."""

    def __init__(self, bus: Bus, holder: Holder) -> None:
        self.bus, self.holder = bus, holder
        self.lost: str | None = None
        """Why the hold was lost mid-pass (None: held)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="retention-hold", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        renewed = time.monotonic()
        while not self._stop.wait(PASS_TTL_S / 3):
            try:
                if not self.bus.hold(PASS_KEY, PASS_TTL_S, self.holder.value()):
                    self.lost = "another pass took the retention lock"
                    return
                renewed = time.monotonic()
            except BusError as e:
                if time.monotonic() - renewed >= PASS_TTL_S:
                    self.lost = f"the retention lock could not be renewed: {e}"
                    return

    def check(self) -> None:
        """Raise before a destructive step when the hold was lost.

        Raises:
            RetentionRunning: another pass may be running beside this one.
        """
        if self.lost is not None:
            raise RetentionRunning(f"retention: {self.lost}; nothing more is trimmed by this pass", None)

    def end(self) -> None:
        """Stop renewing and let the hold go."""
        self._stop.set()
        self._thread.join()
        try:
            self.bus.unhold(PASS_KEY, self.holder.value())
        except BusError as e:  # it expires on its own
            log.warning(
                "retention: could not let the retention lock go (it expires in %ss): %s", PASS_TTL_S, e
            )


@contextmanager
def one_pass(
    bus: Bus, folder: Path, wait_s: float = 0.0, waiting: Callable[[Holder], None] | None = None
) -> Iterator[Pass]:
    """Hold the retention lock for the pass run inside, waiting at most ``wait_s`` for another pass.

    Args:
        waiting: called once with the other pass's holder when this one has to wait.

    Raises:
        RetentionRunning: another pass still held it after ``wait_s`` (it names that pass).
    """
    me = Holder.here(folder)
    deadline = time.monotonic() + wait_s
    told = False
    while not bus.hold(PASS_KEY, PASS_TTL_S, me.value()):
        held = bus.holder_of(PASS_KEY)
        other = Holder.parse(held) if held else None
        if time.monotonic() >= deadline:
            who = other.describe() if other else "a pass that just ended"
            raise RetentionRunning(f"another audit retention pass is running ({who})", other)
        if not told and other is not None and waiting is not None:
            waiting(other)
            told = True
        time.sleep(max(0.0, min(POLL_S, deadline - time.monotonic())))
    running = Pass(bus, me)
    try:
        yield running
    finally:
        running.end()


def stopped(bus: Bus) -> Holder | None:
    """The pass the bus says stopped before it finished (its journal is in its folder), or None."""
    held = bus.holder_of(JOURNAL_KEY)
    return Holder.parse(held) if held else None


def check_stopped(bus: Bus, folder: Path, journal: dict[str, str] | None) -> None:
    """Refuse to start when a pass of another archive folder stopped and ``folder``'s own journal
    (``journal``, None when there is none) is not that pass's (the folder is not shared with it).

    Raises:
        RetentionStopped: naming the host and folder that must finish it.
    """
    other = stopped(bus)
    if other is None or other.same_place(Holder.here(folder)):
        return
    if journal is not None and (journal.get("archive"), journal.get("through")) == (
        other.archive,
        other.through,
    ):
        return  # the same journal seen through a shared folder: this host finishes it
    raise RetentionStopped(
        f"a retention pass on {other.describe()} stopped before it finished (it was archiving up to "
        f"{other.through} into {other.archive}): run 'aisoc audit retain' there, or give this host "
        f"that archive folder, and it is finished; if that folder is lost, 'aisoc audit retain "
        f"--forget-stopped-pass' lets this host archive those entries again"
    )


def record(bus: Bus, folder: Path, state: dict[str, str]) -> str:
    """Write the bus's copy of the journal of a pass starting into ``folder``; returns its value."""
    value = Holder.here(folder, archive=state["archive"], through=state["through"]).value()
    if not bus.hold(JOURNAL_KEY, JOURNAL_TTL_S, value):
        raise RetentionStopped(f"another retention pass recorded its journal first ({stopped(bus)})")
    return value


def forget(bus: Bus, folder: Path | None = None) -> Holder | None:
    """Remove the bus's copy of the journal (only of ``folder``'s passes when given); returns whose it
    was, or None when there was none to remove."""
    held = bus.holder_of(JOURNAL_KEY)
    if held is None:
        return None
    other = Holder.parse(held)
    if folder is not None and not other.same_place(Holder.here(folder)):
        return None
    return other if bus.unhold(JOURNAL_KEY, held) else None
