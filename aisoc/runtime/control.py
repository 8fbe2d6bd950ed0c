"""The kill switch: which roles are paused, folded from ``control.paused``/``control.resumed``.

Scopes: a role slug (that role stops taking work; its events wait on the bus), ``proposals`` (IR
Lead still plans, but no action is proposed to a person until resumed; a review is requested
instead) and ``all`` (every role). Settings can pause scopes from the start; the bus records every
change, so every process, including one that starts later, sees the same state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from aisoc.bus import Bus
from aisoc.errors import ConfigError
from aisoc.events import ControlPaused, ControlResumed, Event, Role

log = logging.getLogger(__name__)

SCOPES_EXTRA = ("proposals", "all")
"""Scopes beyond role slugs."""
REFRESH_S = 1.0
"""How often a process looks for new control events."""


def check_scope(scope: str) -> str:
    """Return ``scope`` if it names a role, ``proposals`` or ``all``.

    Raises:
        ConfigError: anything else.
    """
    if scope in SCOPES_EXTRA or scope in {r.value for r in Role if r is not Role.HUMAN}:
        return scope
    if scope.isidentifier() and scope.islower():
        return scope  # a role added to roles/ with its own slug
    raise ConfigError(f"pause scope {scope!r}: expected a role slug, 'proposals' or 'all'")


class Controls:
    """The kill switch's current state for one process."""

    def __init__(self, bus: Bus, static: Iterable[str] = ()) -> None:
        self.bus = bus
        self.static = frozenset(check_scope(s) for s in static)
        self.paused: dict[str, ControlPaused] = {}
        self._cursor: str | None = None
        self._checked = 0.0
        self._caught_up = False
        self._lock = threading.Lock()

    def apply(self, event: Event, *, quiet: bool = False) -> None:
        """Fold one control event (``quiet``: history being caught up with, not a change now)."""
        if isinstance(event, ControlPaused):
            self.paused[event.scope] = event
            if not quiet:
                log.warning(
                    "kill switch: %s paused by %s (%s)", event.scope, event.by, event.reason or "no reason"
                )
        elif isinstance(event, ControlResumed):
            if self.paused.pop(event.scope, None) is not None and not quiet:
                log.warning("kill switch: %s resumed by %s", event.scope, event.by)

    def refresh(self, force: bool = False) -> None:
        """Read control events published since the last look (at most once a second). The first
        look folds the whole history quietly and logs only what is paused now."""
        now = time.monotonic()
        if not force and now - self._checked < REFRESH_S:
            return
        with self._lock:
            self._checked = now
            first, self._caught_up = not self._caught_up, True
            for entry in self.bus.read("control", after=self._cursor):
                self.apply(entry.event, quiet=first)
                self._cursor = entry.id
            for event in self.paused.values() if first else ():
                log.info(
                    "kill switch: %s is paused (by %s at %s: %s)",
                    event.scope,
                    event.by,
                    event.occurred_at.isoformat(timespec="seconds"),
                    event.reason or "no reason",
                )

    def described(self) -> dict[str, dict[str, str]]:
        """Every scope paused now, with who paused it, when (ISO, seconds) and why; a scope the
        settings pause (``paused``) says ``by: settings``."""
        with self._lock:
            out = {scope: {"by": "settings", "at": "", "reason": ""} for scope in self.static}
            for scope, event in self.paused.items():
                out[scope] = {
                    "by": event.by,
                    "at": event.occurred_at.isoformat(timespec="seconds"),
                    "reason": event.reason or "",
                }
        return out

    def scopes(self) -> set[str]:
        """Every scope paused now (settings and bus)."""
        with self._lock:  # a worker's invocations run in several threads
            return set(self.static) | set(self.paused)

    def is_paused(self, role: str) -> bool:
        """Whether ``role`` must not take work now."""
        scopes = self.scopes()
        return role in scopes or "all" in scopes

    def proposals_paused(self) -> ControlPaused | None | bool:
        """The event that paused proposals (True when paused by settings), or None."""
        if "proposals" in self.paused:
            return self.paused["proposals"]
        return True if "proposals" in self.static or "all" in self.scopes() else None
