"""The ingest runner behind ``aisoc ingest``: poll a source pass after pass, publish through
:func:`aisoc.sources.ingest`, keep a :class:`~aisoc.sources.Resumable` source's cursor in a
:class:`~aisoc.sources.CursorStore`, beat a heartbeat, and stop between two alerts when asked.

The vendor side (which errors mean "the upstream API failed, poll again later") is the caller's:
it passes them as ``poll_errors``.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from aisoc.bus import Bus
from aisoc.errors import BusError, ConfigError
from aisoc.events import Alert
from aisoc.health import heartbeat_info
from aisoc.sources import AlertSource, CursorStore, IngestStats, Rejected, Resumable, ingest
from aisoc.tenants import Tenancy

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 10.0
"""Seconds between polls in follow mode."""
BUS_RETRY_S = 2.0
"""The longest wait before polling again after the bus failed (follow mode)."""


class _Stoppable:
    """A source wrapper that stops between two alerts once ``stop`` is set, and knows the cursor up to
    which every alert was handled (``safe``): a source sets its cursor past an item before yielding it,
    so when publishing that item fails, the cursor to keep is the one before it."""

    def __init__(self, source: AlertSource, stop: threading.Event) -> None:
        self.name = source.name
        self._source = source
        self._stop = stop
        self.safe: str | None = source.cursor if isinstance(source, Resumable) else None

    def poll(self) -> Iterator[Alert | Rejected]:
        for item in self._source.poll():
            yield item
            if isinstance(self._source, Resumable):  # control is back: the item was handled
                self.safe = self._source.cursor
            if self._stop.is_set():
                return


@dataclass
class IngestRun:
    """How to run one source: forever (``follow``) or one pass, up to ``limit`` alerts."""

    follow: bool = False
    interval_s: float = DEFAULT_INTERVAL_S
    limit: int | None = None
    from_start: bool = False
    tenancy: Tenancy | None = None
    poll_errors: tuple[type[Exception], ...] = ()
    """Errors of the source's upstream that a follower waits out (one pass re-raises them)."""
    name: str | None = None
    """What messages and the heartbeat call the source (None: its ``name``)."""

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be at least 1")
        if self.interval_s <= 0:
            raise ValueError("interval must be positive")


def run_ingest(
    source: AlertSource,
    bus: Bus,
    store: CursorStore,
    run: IngestRun,
    stop: threading.Event,
    say: Callable[[str], None] = print,
) -> IngestStats:
    """Poll ``source`` into ``bus`` until one pass is done (or, following, until ``stop`` is set or
    ``limit`` alerts were published); return the totals.

    A resumable source resumes at its saved cursor (unless ``from_start``) and its cursor is saved
    after every pass, also a failed one. Following, a bus failure resumes at the last alert
    published and a ``poll_errors`` failure waits for the next interval.

    Raises:
        ConfigError: the saved cursor is not one the source can resume at (a damaged file).
        BusError: the bus failed during a single pass.
        Exception: one of ``poll_errors`` during a single pass.
    """
    name = run.name or source.name
    resumable = source if isinstance(source, Resumable) else None
    if resumable is not None and not run.from_start:
        saved = store.get(resumable.cursor_key)
        if saved is not None:
            try:
                resumable.restore(saved)
            except (ValueError, TypeError) as e:
                raise ConfigError(
                    f"cursor {saved!r} saved for {resumable.cursor_key} in {store.path} is not one this "
                    f"source writes ({e}); repair it, or remove that entry to read the source from its "
                    "start (alerts of the last mark_retention_days are dropped as duplicates)"
                ) from e
            say(f"resuming {name} at cursor {saved}")
    total = IngestStats()
    passes = 0
    while not stop.is_set():
        remaining = None if run.limit is None else run.limit - total.published
        wrapper = _Stoppable(source, stop)
        stats = IngestStats()
        try:
            ingest(wrapper, bus, limit=remaining, tenancy=run.tenancy, into=stats)
        except BusError as e:
            # What the pass published before the failure counts (toward the limit too).
            _add(total, stats)
            # The bus went away mid-pass (a Redis restart): resume at the last alert published, or,
            # when none was since the source's start (no cursor yet), at its start again.
            if resumable is not None:
                _rewind(resumable, wrapper.safe)
            if not run.follow:
                raise
            wait = min(run.interval_s, BUS_RETRY_S)
            log.error("%s: bus unavailable: %s (retrying in %.0fs)", name, e, wait)
            stop.wait(wait)
            continue
        except run.poll_errors as e:
            if not run.follow:
                raise
            log.error("%s: poll failed: %s (retrying in %.0fs)", name, e, run.interval_s)
            stop.wait(run.interval_s)
            continue
        finally:
            if resumable is not None and wrapper.safe is not None:
                store.set(resumable.cursor_key, wrapper.safe)
        passes += 1
        _beat(bus, name, total.published + stats.published)
        _add(total, stats)
        if stats.published or stats.duplicates or stats.rejected or passes == 1:
            say(
                f"pass {passes}: {stats.published} published, {stats.duplicates} duplicate(s), "
                f"{stats.rejected} rejected"
            )
        if not run.follow or (run.limit is not None and total.published >= run.limit):
            break
        stop.wait(run.interval_s)
    return total


def _rewind(source: Resumable, cursor: str | None) -> None:
    """Put ``source`` back at ``cursor``; ``None`` is where every source starts (no cursor: its
    first item), so the item whose publishing failed is read again even when it was the first."""
    if cursor is None:
        source.cursor = None
    else:
        source.restore(cursor)


def _add(total: IngestStats, stats: IngestStats) -> None:
    total.published += stats.published
    total.duplicates += stats.duplicates
    total.rejected += stats.rejected


def _beat(bus: Bus, source: str, published: int) -> None:
    """The process's heartbeat (``aisoc status`` lists it beside the roles)."""
    try:
        bus.heartbeat(
            f"ingest-{source}@{socket.gethostname()}",
            heartbeat_info("ingest", source=source, handled=published),
            ttl_s=max(30.0, 3 * DEFAULT_INTERVAL_S),
        )
    except BusError as e:
        log.warning("ingest heartbeat failed: %s", e)
