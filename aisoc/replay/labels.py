"""When analysts' labels become known during a replay: the label delay.

A real SOC learns how a ticket ended when an analyst closes it, hours or days after the alert. The
replay reproduces that: a ticket's label becomes known at the time its source records for it
(:attr:`aisoc.sources.Truth.labeled_at`) or, without one, at the alert's creation time plus the
label delay. :class:`LabelClock` holds the labels of scored tickets until the replay's clock (the
creation time of the ticket about to run) reaches that moment; only then does the engine publish
them as ``truth.labeled`` and feed them to the baselines. A label younger than the delay therefore
never reaches memory, statistics, baselines or a prompt.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aisoc.replay.tickets import Ticket

DEFAULT_LABEL_DELAY = timedelta(days=1)
"""How long after an alert its analyst's label is known when the source does not say: a day is
what a SOC that closes most tickets within its next shift, and labels the rest by the next day,
gives (``--label-delay 0`` is the optimistic bound, where every label is known at once)."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w|wk|wks)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``0``, ``90s``, ``30m``, ``12h``, ``1d`` or ``2w`` (no unit: seconds).

    Raises:
        ValueError: the text is not a non-negative duration.
    """
    m = _DURATION.match(text.lower())
    if m is None:
        raise ValueError(f"{text!r} is not a duration: use a number with s, m, h, d or w (e.g. 1d, 12h, 0)")
    unit = (m.group(2) or "s")[0]
    return timedelta(seconds=float(m.group(1)) * _UNITS[unit])


def format_duration(delay: timedelta) -> str:
    """The shortest exact spelling of ``delay`` (``1d``, ``12h``, ``90s``, ``0``)."""
    s = delay.total_seconds()
    if s == 0:
        return "0"
    for unit in ("w", "d", "h", "m"):
        if s % _UNITS[unit] == 0:
            return f"{int(s // _UNITS[unit])}{unit}"
    return f"{s:g}s"


@dataclass
class LabelClock:
    """Scored tickets wait here until their label is known; :meth:`due` releases them in time order.

    Args:
        delay: label time = alert creation time + ``delay`` for tickets whose source gives none.
    """

    delay: timedelta = DEFAULT_LABEL_DELAY
    _pending: list[tuple[datetime, int, Ticket]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.delay < timedelta(0):
            raise ValueError("the label delay cannot be negative")

    def known_at(self, ticket: Ticket) -> datetime:
        """When the analyst's label of ``ticket`` is known (never before the alert itself; a label
        time without a zone is UTC, as alert times without one are)."""
        created = ticket.alert.created_at
        given = ticket.truth.labeled_at if ticket.truth is not None else None
        if given is not None and given.tzinfo is None:
            given = given.replace(tzinfo=UTC)
        return max(created, given) if given is not None else created + self.delay

    def add(self, ticket: Ticket) -> None:
        """A ticket was scored: its label (if it has one) waits for its time."""
        if ticket.truth is not None:
            heapq.heappush(self._pending, (self.known_at(ticket), ticket.seq, ticket))

    def due(self, now: datetime) -> list[Ticket]:
        """The waiting tickets whose label is known at ``now``, oldest label first (removed)."""
        out = []
        while self._pending and self._pending[0][0] <= now:
            out.append(heapq.heappop(self._pending)[2])
        return out

    @property
    def waiting(self) -> int:
        """Labels not yet known."""
        return len(self._pending)
