"""``aisoc ingest SOURCE [PATH]``: run an alert source as a process (a Procfile entry).

Polls the source, publishes one ``alert.received`` per new case (the kernel's ``ingest``), dead-letters
what cannot be read, and saves the source's cursor in ``STATE_DIR/cursors.json`` after every pass,
so a restarted process resumes where it stopped. SIGTERM and Ctrl-C stop it between two alerts.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from aisoc.bus import Bus
from aisoc.cli.plugin import CommandError, add_bus_option, configure_logging, kernel_settings, open_bus
from aisoc.errors import BusError
from aisoc.events import Alert
from aisoc.health import heartbeat_info
from aisoc.sources import AlertSource, CursorStore, IngestStats, Rejected, ingest, open_source, source_names
from aisoc.stopsignal import stop_signals
from integrations._files import Resumable
from integrations.errors import IntegrationError

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 10.0
"""Seconds between polls in follow mode."""


def register(sub: Any) -> None:
    """Add ``aisoc ingest`` to the CLI."""
    p = sub.add_parser(
        "ingest",
        help="run an alert source as a process: poll, publish alert.received, keep a cursor",
        description="Poll an alert source and publish one alert.received per new case. File sources take a "
        "PATH (- for stdin); API sources (xsoar, crowdstrike) read their credentials from the "
        "[integrations] settings when PATH is omitted. The cursor is saved in the state dir after "
        "every pass, so a restart resumes; --from-start ignores it.",
    )
    p.add_argument("source", help=f"source name (installed: {', '.join(source_names())})")
    p.add_argument("path", nargs="?", help="file to read (- for stdin); omit for an API source")
    add_bus_option(p)
    p.add_argument("--follow", action="store_true", help="keep polling until SIGTERM or Ctrl-C")
    p.add_argument(
        "--interval", type=float, help=f"seconds between polls (implies --follow; {DEFAULT_INTERVAL_S})"
    )
    p.add_argument("--limit", type=int, help="stop after publishing N alerts")
    p.add_argument("--tenant", help="the organisation of alerts that carry none (one source per customer)")
    p.add_argument("--from-start", action="store_true", help="ignore the saved cursor")
    p.set_defaults(func=_ingest)


class _Stoppable:
    """A source wrapper that stops between two alerts once ``stop`` is set, and knows the cursor up to
    which every alert was handled (``safe``): a source sets its cursor past an item before yielding it,
    so when publishing that item fails, the cursor to keep is the one before it."""

    def __init__(self, source: AlertSource, stop: threading.Event) -> None:
        self.name = source.name
        self._source = source
        self._stop = stop
        self.safe: str | None = getattr(source, "cursor", None)

    def poll(self) -> Iterator[Alert | Rejected]:
        for item in self._source.poll():
            yield item
            self.safe = getattr(self._source, "cursor", None)  # control is back: the item was handled
            if self._stop.is_set():
                return


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


def _ingest(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise CommandError("--limit must be at least 1", status=2)
    if args.interval is not None and args.interval <= 0:
        raise CommandError("--interval must be positive", status=2)
    follow = args.follow or args.interval is not None
    interval = args.interval or DEFAULT_INTERVAL_S
    settings = kernel_settings(args)
    configure_logging(settings.log_level, settings.log_json)
    source = open_source(args.source, args.path, config=args.config)
    bus = open_bus(settings)
    tenancy = settings.tenancy(args.tenant)
    store = CursorStore(settings.state_dir / "cursors.json")
    resumable = source if isinstance(source, Resumable) else None
    if resumable is not None and not args.from_start:
        saved = store.get(resumable.cursor_key)
        if saved is not None:
            resumable.restore(saved)
            print(f"resuming {args.source} at cursor {saved}")
    stop = threading.Event()

    def on_signal(signum: int) -> None:
        print(f"{signal.Signals(signum).name}: stopping after the current alert")
        stop.set()

    total = IngestStats()
    passes = 0
    started = time.perf_counter()
    with stop_signals(on_signal):
        try:
            while not stop.is_set():
                remaining = None if args.limit is None else args.limit - total.published
                wrapper = _Stoppable(source, stop)
                try:
                    stats = ingest(wrapper, bus, limit=remaining, tenancy=tenancy)
                except BusError as e:
                    # The bus went away mid-pass (a Redis restart): resume at the last alert published.
                    if resumable is not None and wrapper.safe is not None:
                        resumable.restore(wrapper.safe)
                    if not follow:
                        raise CommandError(f"the bus failed: {e}") from e
                    log.error(
                        "%s: bus unavailable: %s (retrying in %.0fs)", args.source, e, min(interval, 2.0)
                    )
                    stop.wait(min(interval, 2.0))
                    continue
                except IntegrationError as e:
                    if not follow:
                        raise CommandError(str(e)) from e
                    log.error("%s: poll failed: %s (retrying in %.0fs)", args.source, e, interval)
                    stop.wait(interval)
                    continue
                finally:
                    if resumable is not None and wrapper.safe is not None:
                        store.set(resumable.cursor_key, wrapper.safe)
                passes += 1
                _beat(bus, args.source, total.published + stats.published)
                total.published += stats.published
                total.duplicates += stats.duplicates
                total.rejected += stats.rejected
                if stats.published or stats.duplicates or stats.rejected or passes == 1:
                    print(
                        f"pass {passes}: {stats.published} published, {stats.duplicates} duplicate(s), "
                        f"{stats.rejected} rejected"
                    )
                if not follow or (args.limit is not None and total.published >= args.limit):
                    break
                stop.wait(interval)
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                close()
    elapsed = time.perf_counter() - started
    print(
        f"ingested from {args.source} in {elapsed:.1f}s: {total.published} published, "
        f"{total.duplicates} duplicate(s), {total.rejected} rejected"
        + (" (dead-lettered with their reasons: aisoc bus dlq list)" if total.rejected else "")
        + (f"; cursor saved in {store.path}" if resumable is not None and resumable.cursor else "")
    )
    pending = getattr(source, "pending_bytes", 0)
    if pending:
        print(f"note: an incomplete last line ({pending} bytes) was left for the next run")
    return 0
