"""``aisoc oncall`` and ``aisoc gate ...``: who is on call, the gate process, and its admin commands."""

from __future__ import annotations

import argparse
import json
import logging
from datetime import UTC, datetime
from typing import Any

from aisoc.bus import Bus, open_bus
from aisoc.cli.plugin import CommandError, configure_logging
from aisoc.events import Role
from aisoc.resolve import import_team
from aisoc.settings import KernelSettings, bus_settings_for, load_settings
from aisoc.stopsignal import wait_for_stop
from gate.roster import Roster
from gate.settings import GateSettings, RosterSettings, load_gate_settings
from gate.store import ApprovalRequest, State

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add ``oncall`` and ``gate`` to the ``aisoc`` command line."""
    p = sub.add_parser("oncall", help="who is on call for a duty (IR Lead On-Call, SOC Manager On-Call ...)")
    p.add_argument("role", nargs="?", help="duty slug or name (default: every duty)")
    p.add_argument("--at", help="ISO time, e.g. 2026-03-29T08:30+01:00 (no offset means UTC; default: now)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_oncall)

    g = sub.add_parser("gate", help="the human gate: approval pages, requests, links")
    inner = g.add_subparsers(dest="gate_command", metavar="SUBCOMMAND", required=True)
    serve = inner.add_parser("serve", help="serve the approval pages (and consume/tick unless --no-worker)")
    _bus_opts(serve)
    serve.add_argument("--host", help="address to bind (default: setting 'host')")
    serve.add_argument("--port", type=int, help="port (default: setting 'port')")
    serve.add_argument("--no-worker", action="store_true", help="pages only; another process consumes")
    serve.set_defaults(func=_serve)
    worker = inner.add_parser("worker", help="consume action.proposed / case.closed / ir.plan and tick")
    _bus_opts(worker)
    worker.set_defaults(func=_worker)
    reqs = inner.add_parser("requests", help="list approval requests")
    _bus_opts(reqs)
    reqs.add_argument("--state", default="pending", choices=[*(s.value for s in State), "all"])
    reqs.add_argument("--case", help="only this case")
    reqs.add_argument("--json", action="store_true")
    reqs.set_defaults(func=_requests)
    show = inner.add_parser("show", help="one request as JSON")
    _bus_opts(show)
    show.add_argument("request_id")
    show.set_defaults(func=_show)
    link = inner.add_parser("link", help="print a fresh signed step-one link for a request")
    _bus_opts(link)
    link.add_argument("request_id")
    link.set_defaults(func=_link)
    tick = inner.add_parser("tick", help="remind, escalate and expire once, now")
    _bus_opts(tick)
    tick.set_defaults(func=_tick)
    new = inner.add_parser(
        "new-secret",
        help="print a fresh random key for session_keys, link_keys or metrics_tokens (one per run)",
        description="Prints 32 random bytes, URL-safe: a key that passes the gate's start-up checks. "
        "Run it once per key: session keys, link keys and metrics tokens must all differ.",
    )
    new.set_defaults(func=_new_secret)


def _new_secret(args: argparse.Namespace) -> int:
    from gate.keys import new_secret

    print(new_secret())
    return 0


def _bus_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bus", help="bus URL (default: [gate] bus, else [aisoc] bus)")
    p.add_argument("--namespace", help="key prefix of this SOC")


def _settings(args: argparse.Namespace, **extra: Any) -> GateSettings:
    config = getattr(args, "config", None)
    import_team(load_settings(KernelSettings, config).team)  # events added roles define decode here
    return load_gate_settings(
        getattr(args, "config", None),
        bus=getattr(args, "bus", None),
        namespace=getattr(args, "namespace", None),
        **extra,
    )


def _bus(args: argparse.Namespace, settings: GateSettings) -> Bus:
    """The gate's bus, opened with the kernel's redaction and options."""
    return open_bus(bus_settings_for(settings.bus, settings.namespace, getattr(args, "config", None)))


def _log(args: argparse.Namespace, settings: GateSettings) -> None:
    """Log as every process of the SOC does (``log_level``, ``log_json``)."""
    kernel = bus_settings_for(settings.bus, settings.namespace, getattr(args, "config", None))
    configure_logging(kernel.log_level, kernel.log_json)


def _gate(args: argparse.Namespace, **extra: Any) -> Any:
    from gate.service import Gate

    settings = _settings(args, **extra)
    return Gate(
        open_bus(bus_settings_for(settings.bus, settings.namespace, getattr(args, "config", None))), settings
    )


def parse_at(text: str | None) -> datetime:
    """Parse ``--at`` (ISO 8601; no offset means UTC); None means now."""
    if not text:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text)
    except ValueError as e:
        raise CommandError(f"--at {text!r}: not an ISO time such as 2026-03-29T08:30+01:00", 2) from e
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _oncall(args: argparse.Namespace) -> int:
    from aisoc.settings import load_settings

    roster = Roster(load_settings(RosterSettings, getattr(args, "config", None)))
    at = parse_at(args.at)
    duties = [roster.resolve_duty(args.role)] if args.role else roster.duties()
    if not duties:
        raise CommandError("no duties in the [roster] table of the settings file", 1)
    rows = [_duty_row(roster, d, at) for d in duties]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        who = f"{row['name']} <{row['email']}>" if row["person"] else "nobody"
        span = (
            f" since {row['since_local']} until {row['until_local']} [{row['source']}]"
            if row["person"]
            else ""
        )
        print(f"{row['title']} ({row['duty']}): {who}{span}")
        if row["escalation"]:
            print(f"  escalation: {' -> '.join(row['escalation'])}")
        if row["approvers"]:
            print(f"  approvers:  {', '.join(row['approvers'])}")
        if row["executors"]:
            print(f"  executors:  {', '.join(row['executors'])}")
    return 0 if all(r["person"] for r in rows) else 1


def _duty_row(roster: Roster, duty: Role, at: datetime) -> dict[str, Any]:
    held = roster.on_call(duty, at)
    chain = roster.chain(duty, at)
    fmt = "%a %Y-%m-%d %H:%M %Z"
    return {
        "duty": duty.value,
        "title": roster.title(duty),
        "at": at.isoformat(),
        "person": held.person.id if held else None,
        "name": held.person.name if held else None,
        "email": held.person.email if held else None,
        "source": held.source if held else None,
        "since": held.since.isoformat() if held and held.since else None,
        "until": held.until.isoformat() if held and held.until else None,
        "since_local": held.local(held.since).strftime(fmt) if held and held.since else "?",
        "until_local": held.local(held.until).strftime(fmt) if held and held.until else "?",
        "escalation": [p.name for p in (chain[1:] if held else chain)],
        "approvers": [p.name for p in roster.approvers(duty)],
        "executors": [p.name for p in roster.executors(duty)],
    }


def _serve(args: argparse.Namespace) -> int:
    from gate.app import create_app
    from gate.server import GateWorker, ServerThread
    from gate.service import Gate

    settings = _settings(args, host=args.host, port=args.port)
    _log(args, settings)
    gate = Gate(_bus(args, settings), settings)
    app = create_app(settings, gate=gate)
    worker = None if args.no_worker else GateWorker(gate).start()
    server = ServerThread(app, settings.host, settings.port).start()
    print(
        f"gate: serving {server.url} (links say {settings.base_url}); bus {settings.bus}; "
        f"{'pages only' if worker is None else 'consuming as group gate'}"
    )
    wait_for_stop()
    server.stop()
    if worker is not None:
        worker.stop()
    gate.close()
    return 0


def _worker(args: argparse.Namespace) -> int:
    from gate.server import GateWorker

    gate = _gate(args)
    _log(args, gate.settings)
    worker = GateWorker(gate).start()
    print(f"gate worker {worker.consumer}: consuming as group gate on {gate.bus.url}")
    wait_for_stop()
    worker.stop()
    return 0


def _row(r: ApprovalRequest) -> str:
    who = r.decided_by_name or r.assignee or r.approver or "nobody"
    return (
        f"{r.request_id}  {r.state.value:9} {r.kind.value:17} {r.target:24} {r.required_role.value:11} "
        f"{who:16} {r.expires_at:%Y-%m-%d %H:%M}Z  {r.case_id}"
    )


def _requests(args: argparse.Namespace) -> int:
    gate = _gate(args)
    found = (
        gate.store.for_case(args.case)
        if args.case
        else (gate.store.pending() if args.state == "pending" else gate.store.recent(1000))
    )
    found = [r for r in map(gate.as_of_now, found) if args.state == "all" or r.state.value == args.state]
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in found], indent=2))
    else:
        for r in found:
            print(_row(r))
        print(f"{len(found)} request(s)")
    return 0


def _show(args: argparse.Namespace) -> int:
    gate = _gate(args)
    req = gate.store.get(args.request_id)
    if req is None:
        raise CommandError(f"no approval request {args.request_id!r}", 1)
    print(json.dumps(req.model_dump(mode="json"), indent=2))
    return 0


def _link(args: argparse.Namespace) -> int:
    from gate.links import approval_url

    gate = _gate(args)
    gate.settings.require("link_keys")
    req = gate.store.get(args.request_id)
    if req is None:
        raise CommandError(f"no approval request {args.request_id!r}", 1)
    print(approval_url(gate.settings, req))
    return 0


def _tick(args: argparse.Namespace) -> int:
    gate = _gate(args)
    report = gate.tick()
    print(
        f"reminded {report.reminded}, escalated {report.escalated}, expired {report.expired}, "
        f"published {report.published}"
    )
    return 0
