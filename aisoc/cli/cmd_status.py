"""``aisoc status``: is every role alive, and how far behind is it?"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from aisoc.bus import open_bus
from aisoc.cli._common import add_bus_option, each_namespace, running_soc_settings
from aisoc.health import ProcessHealth, status
from aisoc.runtime.control import Controls


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="each role: alive/stale, version, last event, lag, pending, model leg")
    add_bus_option(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    settings = running_soc_settings(args)
    if (code := each_namespace(args, settings, _status)) is not None:
        return code
    bus = open_bus(settings)
    s = status(bus)
    controls = Controls(bus, settings.paused)
    controls.refresh(force=True)
    paused = controls.described()
    held = bus.held_groups(settings.group_idle_s)
    if args.json:
        doc = {**asdict(s), "paused": paused, "held_groups": [asdict(h) for h in held]}
        print(json.dumps(doc, indent=2, default=str))
        return 0
    table = Table(title="SOC status")
    for col in ("role", "process", "state", "version", "model leg", "last case", "handled", "lag", "pending"):
        table.add_column(col)
    for r in s.roles:
        rows: list[ProcessHealth | None] = [*r.processes] or [None]
        on_hold = " [yellow](paused)[/]" if controls.is_paused(r.role) else ""
        for i, p in enumerate(rows):
            state = ("[green]alive[/]" if p.alive else "[red]stale[/]") if p else "[red]no process[/]"
            if p and p.alive and p.waiting_on:
                state += f" [yellow](waiting on its {p.waiting_on})[/]"
            table.add_row(
                r.role if i == 0 else "",
                p.name if p else "-",
                state + on_hold,
                p.version if p else "",
                p.model_leg if p else "",
                p.last_case if p else "",
                str(p.handled) if p else "",
                ("?" if r.lag is None else str(r.lag)) if i == 0 else "",
                str(r.pending) if i == 0 else "",
            )
    console = Console(soft_wrap=True)
    console.print(table)
    for p in s.others:
        console.print(f"{p.name} ({p.role}): {'alive' if p.alive else 'stale'}")
    for r in s.roles:
        if r.waiting:
            line = f"{r.role}: {r.waiting} deliveries wait (retried when due, never dead-lettered for it): "
            line += r.waiting_why
            console.print(line, style="yellow", markup=False, highlight=False)
    console.print(
        f"dead letters: {s.dead_letters}" + ("  (see 'aisoc bus dlq list')" if s.dead_letters else "")
    )
    for h in held:  # an old role's group is in no row above: say so here
        console.print(f"WARNING: {h.describe()}", style="yellow", markup=False, highlight=False)
    for scope, why in sorted(paused.items()):
        if why["by"] == "settings":
            line = f"paused: {scope} by the settings ('paused')"
        else:
            line = f"paused: {scope} by {why['by']} at {why['at']}: {why['reason'] or 'no reason'}"
            line += f"; 'aisoc resume {scope}' resumes it"
        console.print(line, style="yellow", markup=False, highlight=False)
    return 0 if all(r.alive for r in s.roles) else 1
