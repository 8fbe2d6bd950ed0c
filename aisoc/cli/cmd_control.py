"""``aisoc pause`` / ``aisoc resume``: the kill switch, recorded on the bus."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from aisoc.bus import open_bus
from aisoc.cli._common import CommandError, add_bus_option, running_soc_settings
from aisoc.events import ControlPaused, ControlResumed, ProducedBy
from aisoc.resolve import resolve
from aisoc.runtime.control import SCOPES_EXTRA, Controls, check_scope


def register(sub: Any) -> None:
    for name, verb in (("pause", "stop"), ("resume", "restart")):
        p = sub.add_parser(
            name,
            help=f"{verb} a role, all action proposals, or everything (kill switch)",
            description="SCOPE is a role slug (sentinel, tier2, ir_lead, threat_intel...), "
            "'proposals' (IR Lead plans, nothing is proposed to a person) or 'all'.",
        )
        p.add_argument("scope", nargs="?", help="role slug, 'proposals' or 'all' (omit to list)")
        p.add_argument("--reason", help="why (recorded on the bus)")
        p.add_argument("--by", default=None, help="who (default: the login name)")
        add_bus_option(p)
        p.set_defaults(func=_control, paused=name == "pause")


def _control(args: argparse.Namespace) -> int:
    settings = running_soc_settings(args)
    bus = open_bus(settings)
    controls = Controls(bus, settings.paused)
    if args.scope is None:
        controls.refresh(force=True)
        scopes = sorted(controls.scopes())
        print("paused: " + (", ".join(scopes) if scopes else "nothing"))
        return 0
    scope = check_scope(args.scope)
    if args.paused:
        _known(scope, settings.team)
    cls = ControlPaused if args.paused else ControlResumed
    by = args.by or getpass.getuser()
    bus.publish(cls(scope=scope, by=by, reason=args.reason, produced_by=ProducedBy(role="human")))
    print(f"{scope} {'paused' if args.paused else 'resumed'} by {by} (recorded on the bus)")
    if not args.paused and scope in settings.paused:
        print(f"note: {scope} is also paused in the settings ('paused'); remove it there too")
    return 0


def _known(scope: str, team: str) -> None:
    """Refuse to pause what the configured team does not run: a typo ('sentinal') would be recorded,
    reported as paused, and stop nothing. (Resume takes any scope, so such a pause can be undone.)"""
    roles = sorted(getattr(r, "name", str(r)) for r in resolve(team))
    if scope not in (*roles, *SCOPES_EXTRA):
        raise CommandError(
            f"nothing to pause: this team has no role {scope!r}; it runs {', '.join(roles)} "
            "(or pause 'proposals' or 'all')",
            2,
        )
