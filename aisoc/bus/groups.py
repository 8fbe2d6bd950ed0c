"""Consumer groups nobody reads any more: finding those that hold back trimming, and forgetting them.

A work stream is trimmed only up to what every group on it has acked (``Bus.trim``). A group whose
role was removed or renamed in a deploy, or that no longer reads the stream, keeps its position
forever, so the stream is never trimmed again and Redis memory grows until it runs out.
``Bus.held_groups`` names such groups: their oldest unacked or undelivered entry is the stream's
trim floor and no consumer of theirs has read or acked for ``idle_s``. ``Bus.forget_group`` removes
a group's position (``XGROUP DESTROY`` on Redis), refusing while it holds pending entries or a
consumer was active within ``idle_s`` unless forced; forced, its pending entries are filed as dead
letters first (reason ``group forgotten``), so nothing is lost silently.

Each backend supplies three primitives: ``_positions`` (every group's floor, backlog and idle time
on one stream), ``_pending_of`` (a group's pending entries) and ``_drop_group`` (remove the group
in one atomic step that checks again that it holds nothing and, unless forced, is idle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from aisoc.bus.records import RawEntry
from aisoc.errors import BusError
from aisoc.events import WORK_STREAMS

if TYPE_CHECKING:
    from aisoc.bus.base import Bus

TRIMMED_STREAMS = tuple(s for s in WORK_STREAMS if s != "control")
"""Work streams ``trim()`` may shorten (the control stream keeps the kill switch's history)."""
DEFAULT_GROUP_IDLE_S = 24 * 3600.0
"""A group with no consumer activity for this long that holds the trim floor is reported."""
FORGOTTEN = "group forgotten"
"""The dead-letter reason of the pending entries of a group forgotten with ``force``."""
_BATCH = 500
"""Pending entries dead-lettered per round trip by a forced forget."""
_ROUNDS = 10
"""Rounds a forced forget files pending entries before it gives up on a group still being read."""


@dataclass(frozen=True, slots=True)
class GroupPosition:
    """One group on one stream as trimming sees it (what a backend's ``_positions`` returns).

    ``floor`` orders the group's oldest pending or undelivered entry within its stream (``id_key``
    form); ``behind`` counts the entries it has not acked (pending + undelivered; None when the
    backend cannot tell); ``idle_s`` is the time since a consumer of the group last read or acked
    (None: no consumer is on record).
    """

    group: str
    floor: tuple[int, int]
    pending: int
    behind: int | None
    idle_s: float | None


@dataclass(frozen=True, slots=True)
class HeldGroup:
    """A group that holds back trimming of ``stream``: it is at the trim floor and idle."""

    stream: str
    group: str
    behind: int | None
    """Entries it has not acked (pending + undelivered), kept on the stream for it (None: unknown)."""
    pending: int
    idle_s: float | None
    """Seconds since a consumer of it last read or acked (None: no consumer on record)."""

    def describe(self) -> str:
        """One line for an operator: the group, the stream, what it holds back, how long idle."""
        held = "an unknown number of" if self.behind is None else str(self.behind)
        idle = "no consumer on record" if self.idle_s is None else f"idle {_span(self.idle_s)}"
        return (
            f"group {self.group!r} holds back trimming of stream {self.stream!r}: {held} entries it "
            f"has not acked ({self.pending} pending), {idle}; if no role reads it any more: "
            f"aisoc bus forget-group {self.group} --stream {self.stream}"
        )


@dataclass(frozen=True, slots=True)
class ForgetResult:
    """What ``forget_group`` did on one stream."""

    stream: str
    group: str
    forgotten: bool
    dead_lettered: int
    """Pending entries filed as dead letters (reason ``group forgotten``) before it went."""
    refused: str | None = None
    """Why the group was left as it is (None when it was forgotten)."""


def _span(seconds: float) -> str:
    """``93784`` -> ``1d 2h 3m``: idle times for people."""
    s = int(seconds)
    parts = [
        f"{n}{unit}" for n, unit in ((s // 86400, "d"), (s % 86400 // 3600, "h"), (s % 3600 // 60, "m")) if n
    ]
    return " ".join(parts) or f"{s}s"


def held(bus: Bus, streams: tuple[str, ...], idle_s: float) -> list[HeldGroup]:
    """The groups of ``streams`` whose floor is the trim floor, that have entries to ack and have
    been idle at least ``idle_s`` (or have no consumer on record)."""
    out: list[HeldGroup] = []
    for stream in streams:
        positions = bus._positions(stream)
        if not positions:
            continue
        floor = min(p.floor for p in positions)
        for p in positions:
            if p.floor != floor or p.behind == 0 or (p.idle_s is not None and p.idle_s < idle_s):
                continue
            out.append(HeldGroup(stream, p.group, p.behind, p.pending, p.idle_s))
    return out


def forget(bus: Bus, group: str, stream: str | None, idle_s: float, force: bool) -> list[ForgetResult]:
    """``Bus.forget_group``: see there."""
    if stream is not None and stream not in WORK_STREAMS:
        raise BusError(f"unknown stream {stream!r}; expected one of {', '.join(WORK_STREAMS)}")
    names = [s for s in ([stream] if stream else WORK_STREAMS) if group in bus._group_names(s)]
    if not names:
        where = f"stream {stream!r}" if stream else "any work stream"
        raise BusError(f"no consumer group {group!r} on {where}")
    return [_forget_one(bus, s, group, idle_s, force) for s in names]


def _forget_one(bus: Bus, stream: str, group: str, idle_s: float, force: bool) -> ForgetResult:
    filed = 0
    for _ in range(_ROUNDS):
        if force:
            # Each dead letter acks its entry for the group: the group then holds nothing, and the
            # drop below checks that again in the step that removes it (a consumer still reading
            # may have taken more meanwhile: those are filed on the next round).
            while batch := bus._pending_of(stream, group, _BATCH):
                for entry in batch:
                    bus._dead_raw(group, entry, FORGOTTEN)
                filed += len(batch)
        status, idle = bus._drop_group(stream, group, None if force else idle_s)
        if status == "dropped":
            return ForgetResult(stream, group, True, filed)
        if status == "absent":
            return ForgetResult(stream, group, False, filed, "no such group (forgotten meanwhile?)")
        if status == "pending" and force:
            continue  # a consumer took more meanwhile: file those too
        if status == "pending":
            return ForgetResult(
                stream,
                group,
                False,
                filed,
                "it holds pending entries (taken by a consumer, never acked): --force files them as "
                "dead letters, then forgets the group",
            )
        ago = "?" if idle is None else _span(idle)
        return ForgetResult(
            stream,
            group,
            False,
            filed,
            f"a consumer of it was active {ago} ago, within {_span(idle_s)}: a role may still read "
            "it (a worker would recreate the group and read the stream again); --force forgets it anyway",
        )
    return ForgetResult(
        stream,
        group,
        False,
        filed,
        f"its consumers kept taking entries through {_ROUNDS} rounds: stop the role that reads it first",
    )


class GroupAdmin:
    """Finding and forgetting the consumer groups that hold back trimming (``Bus`` has it; each
    backend implements the three primitives)."""

    def held_groups(self, idle_s: float = DEFAULT_GROUP_IDLE_S) -> list[HeldGroup]:
        """Groups that hold back trimming: their oldest unacked or undelivered entry is a trimmed
        stream's trim floor and no consumer of theirs has read or acked for ``idle_s`` seconds (or
        none is on record). Such a group (a role removed or renamed, a stream no longer read) stops
        its stream from ever being trimmed again (``aisoc.bus.groups``)."""
        return held(cast("Bus", self), TRIMMED_STREAMS, idle_s)

    def forget_group(
        self,
        group: str,
        stream: str | None = None,
        *,
        idle_s: float = DEFAULT_GROUP_IDLE_S,
        force: bool = False,
    ) -> list[ForgetResult]:
        """Remove ``group``'s position on ``stream`` (every work stream it reads when None), so trim
        goes past it. A group that holds pending entries, or whose consumer read or acked within
        ``idle_s``, is left as it is (its result says why) unless ``force``: then its pending entries
        are filed as dead letters (reason ``group forgotten``) first. A role that still reads the
        stream recreates the group at its next read and reads what the stream still holds.

        Returns:
            One result per stream.

        Raises:
            BusError: ``stream`` is not a work stream, or no such group reads it.
        """
        return forget(cast("Bus", self), group, stream, idle_s, force)

    def _positions(self, stream: str) -> list[GroupPosition]:
        """Every group's floor, backlog and idle time on ``stream`` (``aisoc.bus.groups``)."""
        raise NotImplementedError

    def _pending_of(self, stream: str, group: str, count: int) -> list[RawEntry]:
        """Up to ``count`` of ``group``'s pending entries on ``stream``, oldest first."""
        raise NotImplementedError

    def _drop_group(self, stream: str, group: str, idle_s: float | None) -> tuple[str, float | None]:
        """Remove ``group`` from ``stream`` in one atomic step, unless it holds pending entries or
        (``idle_s`` given) a consumer of it was active within ``idle_s``.

        Returns:
            (``dropped`` | ``absent`` | ``pending`` | ``active``, the group's idle seconds or None).
        """
        raise NotImplementedError
