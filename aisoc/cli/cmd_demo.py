"""``aisoc demo``: the whole SOC in one process on the embedded defaults, with real alerts.

``aisoc demo --serve`` also runs the human gate and the bot in this process and keeps serving the
local preview of the Webex space until Ctrl-C. The kernel reaches both only through import strings
(``gate:demo_gate``, ``bot.demo:demo_server``); it never imports an app package.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from typing import Any

from rich.console import Console

from aisoc.bus import open_bus
from aisoc.cli._common import CommandError, kernel_settings
from aisoc.cli._paths import print_paths
from aisoc.cli._team import build_team
from aisoc.errors import ResolveError
from aisoc.resolve import resolve
from aisoc.sources import ingest
from aisoc.stopsignal import wait_for_stop

log = logging.getLogger(__name__)

DEMO_GATE = "gate:demo_gate"
"""``(bus) -> gate``: the in-process gate of the plain demo."""
DEMO_SERVER = "bot.demo:demo_server"
"""``(bus, host=, port=, gate_port=) -> server`` with ``.gate``, ``.start_bot()``, ``.preview_url``,
``.gate_url`` and ``.stop()``: the gate's pages and the bot with its local preview (``--serve``)."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run the bundled sample of real alerts through the whole SOC",
        description="Runs 12 real Wazuh alerts through Sentinel, Tier 2, IR Lead and "
        "Threat Intel on the in-process bus and prints each case's path, ending at "
        "the human gate.",
    )
    p.add_argument("--bus", help="bus URL (default: in-memory)")
    p.add_argument("--model", help="stub (default) | local | openai+http://HOST:PORT/v1")
    p.add_argument("--dry-run", action="store_true", help="use the canned stub model")
    p.add_argument("--limit", type=int, help="run only the first N alerts")
    p.add_argument(
        "--serve",
        action="store_true",
        help="also run the gate and the bot here and serve the local preview of the Webex space "
        "(cards, explain, approval links) until Ctrl-C",
    )
    p.add_argument("--host", default="127.0.0.1", help="with --serve: address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8710, help="with --serve: the preview's port (default 8710)")
    p.add_argument("--gate-port", type=int, default=8700, help="with --serve: the gate's port (default 8700)")
    p.add_argument(
        "--serve-for", type=float, metavar="SECONDS", help="with --serve: stop after SECONDS (smoke tests)"
    )
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    settings = kernel_settings(args, model=args.model)
    bus = open_bus(settings)
    console = Console(soft_wrap=True)
    source = resolve(settings.demo_source)()
    team = build_team(settings, bus, config=args.config, dry_run=args.dry_run)
    gate = None
    server = _serve(args, bus) if args.serve else None
    try:
        gate = server.gate if server is not None else resolve(DEMO_GATE)(bus)
        team.on_action_proposed(gate=gate)
    except ResolveError as e:
        log.debug("no in-process gate: %s", e)
    console.print(
        f"[bold]SOC-in-a-Box demo[/] — model [cyan]{team.caps.leg}[/], bus {bus.url}, "
        f"alerts from {source.name}"
    )
    t0 = time.perf_counter()
    stats = ingest(source, bus, limit=args.limit)
    team.subscribe()
    bus.drain()
    elapsed = time.perf_counter() - t0
    print_paths(bus, stats.case_ids, console, approver=_approver(gate))
    counts = Counter(e.type for e in bus.audit)
    console.print(
        f"\n[bold]{stats.published}[/] alerts in {elapsed:.2f}s: {counts['case.closed']} closed, "
        f"{counts['ir.plan']} incident plans, {counts['action.proposed']} actions awaiting a person, "
        f"{counts['case.review_requested']} review requests. Nothing was executed: agents propose, "
        "a human decides."
    )
    if stats.rejected:
        console.print(f"[red]{stats.rejected} records could not be read; see 'aisoc bus dlq list'[/]")
    if server is not None:
        server.start_bot()
        console.print(
            f"\n[bold]Open {server.preview_url}[/] — the SOC space as the bot posts it (cards, explain, "
            f"commands); approval buttons open the gate at {server.gate_url} (demo login). Ctrl-C stops."
        )
        try:
            wait_for_stop(args.serve_for)
        finally:
            server.stop()
    return 0


def _serve(args: argparse.Namespace, bus: Any) -> Any:
    """Start the in-process gate and bot (the bot's posts wait until the team has run)."""
    try:
        factory = resolve(DEMO_SERVER)
    except ResolveError as e:
        raise CommandError(
            f"--serve needs the bot and the gate (pip install 'aisoc[gate,webex]'): {e}", status=2
        ) from e
    try:
        return factory(bus, host=args.host, port=args.port, gate_port=args.gate_port)
    except OSError as e:
        raise CommandError(
            f"cannot serve on {args.host} ports {args.port}/{args.gate_port}: {e} "
            "(choose others with --port and --gate-port)"
        ) from e


def _approver(gate: Any) -> Any:
    """The name of the person the in-process gate asked to decide a proposal."""
    if gate is None:
        return None

    def name(proposal: Any) -> str | None:
        try:
            request = gate.get(proposal.event_id)
            return str(gate.roster.person(request.approver).name) if request.approver else None
        except Exception:  # the demo still prints the path without a name
            return None

    return name
