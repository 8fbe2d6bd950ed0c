"""Health of a running SOC, read from the bus: heartbeats, lag, pending, dead letters.

Used by ``aisoc status`` and the bot's ``status`` command; heartbeats are not events, they are
keyed records with a TTL that each process refreshes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aisoc import __version__
from aisoc.bus import Bus
from aisoc.events import Role, utcnow

AGENT_ROLES = (Role.SENTINEL, Role.TIER2, Role.IR_LEAD, Role.THREAT_INTEL)
"""Roles that run as worker processes consuming the bus."""
AGENT_SLUGS = tuple(role.value for role in AGENT_ROLES)
STALE_AFTER_S = 20.0
"""A heartbeat older than this means the process is stale (it beats every 5 s)."""


def heartbeat_info(role: str, **fields: object) -> dict[str, str]:
    """A process's heartbeat record: its role, pid, version and ``at`` (now: what :func:`status`
    ages it by; a beat without it reads as stale), then ``fields`` as text (None as empty).

        bus.heartbeat(consumer, heartbeat_info("gate", handled=n), ttl_s=30)
    """
    info = {"role": role, "pid": str(os.getpid()), "version": __version__, "at": utcnow().isoformat()}
    info.update({k: "" if v is None else str(v) for k, v in fields.items()})
    return info


@dataclass(frozen=True)
class ProcessHealth:
    """One process's last heartbeat."""

    name: str
    role: str
    alive: bool
    age_s: float | None
    version: str
    model_leg: str
    last_event: str
    last_case: str
    handled: int
    waiting_on: str = ""
    """What the process waits for (``model``: no leg of its model served its last invocation)."""


@dataclass(frozen=True)
class RoleHealth:
    """One role: its processes and its consumer group's backlog."""

    role: str
    processes: list[ProcessHealth]
    lag: int | None
    pending: int
    waiting: int = 0
    """Deliveries that wait to be retried (their model was unavailable) or behind one of their case."""
    waiting_why: str = ""
    """Why the oldest of them waits, and since when (empty when none waits)."""

    @property
    def alive(self) -> bool:
        return any(p.alive for p in self.processes)


@dataclass(frozen=True)
class Status:
    """What ``aisoc status`` shows."""

    roles: list[RoleHealth]
    dead_letters: int
    others: list[ProcessHealth] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Plain text, one line per role (what the bot posts)."""
        out = []
        for r in self.roles:
            state = "alive" if r.alive else ("stale" if r.processes else "no process")
            waits = sorted({p.waiting_on for p in r.processes if p.alive and p.waiting_on})
            if waits:
                state += ", waiting on its " + ", ".join(waits)
            legs = ", ".join(sorted({p.model_leg for p in r.processes if p.model_leg})) or "-"
            last = max((p.last_case for p in r.processes if p.last_case), default="-")
            out.append(
                f"{r.role}: {state} ({len(r.processes)} proc), lag {r.lag if r.lag is not None else '?'}, "
                f"pending {r.pending}, model {legs}, last case {last}"
                + (f", {r.waiting} waiting: {r.waiting_why}" if r.waiting else "")
            )
        for p in self.others:
            out.append(f"{p.name}: {'alive' if p.alive else 'stale'}")
        out.append(f"dead letters: {self.dead_letters}")
        return out


def status(bus: Bus, roles: tuple[str, ...] = AGENT_SLUGS) -> Status:
    """Collect the health of every role from ``bus``."""
    now = datetime.now(UTC)
    procs: list[ProcessHealth] = []
    for name, info in sorted(bus.heartbeats().items()):
        at = info.get("at")
        age = (now - datetime.fromisoformat(at)).total_seconds() if at else None
        procs.append(
            ProcessHealth(
                name=name,
                role=info.get("role", ""),
                alive=age is not None and age <= STALE_AFTER_S,
                age_s=age,
                version=info.get("version", ""),
                model_leg=info.get("model_leg", ""),
                last_event=info.get("last_event", ""),
                last_case=info.get("last_case", ""),
                handled=int(info.get("handled", "0") or 0),
                waiting_on=info.get("waiting_on", ""),
            )
        )
    stats = bus.stats()
    groups: dict[str, tuple[int | None, int]] = {}
    for stream in stats.streams:
        for g in stream.groups:
            lag, pending = groups.get(g.name, (0, 0))
            groups[g.name] = (None if lag is None or g.lag is None else lag + g.lag, pending + g.pending)
    out = []
    for role in roles:
        lag, pending = groups.get(role, (None, 0))
        records = bus.waiting(role)
        tried = [r for r in records if r.attempts] or records
        oldest = min(tried, key=lambda r: r.since, default=None)
        why = ""
        if oldest is not None:
            since = datetime.fromtimestamp(oldest.since, UTC).strftime("%H:%M:%S UTC")
            why = f"since {since}, {oldest.attempts} tries: {oldest.reason}"[:300]
        procs_of = [p for p in procs if p.role == role]
        out.append(RoleHealth(role, procs_of, lag, pending, len(records), why))
    others = [p for p in procs if p.role not in roles]
    return Status(out, stats.dead_letters, others)
