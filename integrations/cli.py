"""``aisoc ingest SOURCE [PATH]``: run an alert source as a process (a Procfile entry).

Polls the source, publishes one ``alert.received`` per new case (the kernel's ``ingest``), dead-letters
what cannot be read, and saves the source's cursor in ``STATE_DIR/cursors.json`` after every pass,
so a restarted process resumes where it stopped. SIGTERM and Ctrl-C stop it between two alerts.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from typing import Any

from aisoc.cli.plugin import CommandError, add_bus_option, configure_logging, kernel_settings, open_bus
from aisoc.errors import BusError
from aisoc.ingest import DEFAULT_INTERVAL_S, IngestRun, run_ingest
from aisoc.sources import CursorStore, Resumable, open_source, source_names
from aisoc.stopsignal import stop_signals
from integrations.errors import IntegrationError

log = logging.getLogger(__name__)


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
    p.add_argument(
        "--tenant",
        help="the organisation this source belongs to (one source per customer): alerts naming none are "
        "its; an alert naming another tenant is dead-lettered",
    )
    p.add_argument("--from-start", action="store_true", help="ignore the saved cursor")
    p.set_defaults(func=_ingest)


def _ingest(args: argparse.Namespace) -> int:
    try:
        run = IngestRun(
            follow=args.follow or args.interval is not None,
            interval_s=DEFAULT_INTERVAL_S if args.interval is None else args.interval,
            limit=args.limit,
            from_start=args.from_start,
            poll_errors=(IntegrationError,),
            name=args.source,
        )
    except ValueError as e:
        raise CommandError(f"--{e}", status=2) from e
    settings = kernel_settings(args)
    configure_logging(settings.log_level, settings.log_json)
    source = open_source(args.source, args.path, config=args.config)
    bus = open_bus(settings)
    store = CursorStore(settings.state_dir / "cursors.json")
    run.tenancy = settings.tenancy(args.tenant)
    stop = threading.Event()

    def on_signal(signum: int) -> None:
        print(f"{signal.Signals(signum).name}: stopping after the current alert")
        stop.set()

    started = time.perf_counter()
    with stop_signals(on_signal):
        try:
            total = run_ingest(source, bus, store, run, stop)
        except BusError as e:
            raise CommandError(f"the bus failed: {e}") from e
        except IntegrationError as e:
            raise CommandError(str(e)) from e
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                close()
    elapsed = time.perf_counter() - started
    print(
        f"ingested from {args.source} in {elapsed:.1f}s: {total.published} published, "
        f"{total.duplicates} duplicate(s), {total.rejected} rejected"
        + (" (dead-lettered with their reasons: aisoc bus dlq list)" if total.rejected else "")
        + (f"; cursor saved in {store.path}" if isinstance(source, Resumable) and source.cursor else "")
    )
    pending = getattr(source, "pending_bytes", 0)
    if pending:
        print(f"note: an incomplete last line ({pending} bytes) was left for the next run")
    return 0
