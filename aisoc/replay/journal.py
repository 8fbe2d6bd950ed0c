"""The files beside the metrics: per-ticket outcomes (JSONL) and the journal ``--resume`` reads.

For ``--out runs/metrics.json``:

- ``runs/metrics.tickets.jsonl`` — one line per ticket and arm (:class:`TicketResult`): the team's
  route, the human's decision, the confusion cell, each role invocation (latency, tool calls,
  tokens). Every figure of the metrics file can be recomputed from it.
- ``runs/metrics.journal.jsonl`` — the run's header (what was replayed, how) and, for the arms with
  recall on, each ticket's result events without their traces: on resume they are restored into
  the fresh bus so memory knows the earlier tickets exactly as before the interruption.

A ticket counts as done once its outcome line is written (after its journal line, for arms with
recall on). Ctrl-C loses only the ticket in flight (the files are flushed on the way out); a killed
process loses at most the last half second of tickets; a torn last line is ignored on resume.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aisoc.events import Event, from_dict
from aisoc.memory import CaseOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RoleCall:
    """One role invocation on a ticket, as the runtime observed it."""

    role: str
    ms: float = 0.0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    failure: str | None = None
    leg: str | None = None
    guardrail: str | None = None
    """The guardrail rule that overruled the role's close on this call (``aisoc.runtime.guardrail``)."""


@dataclass(frozen=True)
class TicketResult:
    """One ticket in one arm: what the team did, what the human did, and the cost per role.

    ``cell`` is ``tp``, ``fp``, ``tn``, ``fn``, ``human_review``, ``open`` (the team never finished)
    or ``unlabeled`` (no ground truth).
    """

    arm: str
    seq: int
    ticket_id: str
    created_at: str
    label: str | None
    human_escalated: bool | None
    team: str
    cell: str
    sentinel: str | None = None
    tier2: str | None = None
    roles: tuple[str, ...] = ()
    calls: tuple[RoleCall, ...] = ()
    error: dict[str, str] | None = None
    baselines: dict[str, bool] | None = None
    """Each baseline's decision on this ticket (True: escalate), from the labels known when it ran."""

    @property
    def overruled(self) -> str | None:
        """The first guardrail rule that overruled a role's close on this ticket, if any."""
        return next((c.guardrail for c in self.calls if c.guardrail), None)

    def outcome(self) -> CaseOutcome:
        """The scoring view of this ticket (what :mod:`aisoc.memory.scoring` counts)."""
        return CaseOutcome(
            case_id=self.ticket_id,
            team=self.team,  # type: ignore[arg-type]
            human_escalated=self.human_escalated,
            label=self.label,
            sentinel=self.sentinel,
            tier2=self.tier2,
            roles=self.roles,
        )

    def to_json(self) -> str:
        """One compact JSON line (zero counts and empty fields of role calls left out)."""
        d = {
            "arm": self.arm,
            "seq": self.seq,
            "ticket_id": self.ticket_id,
            "created_at": self.created_at,
            "label": self.label,
            "human_escalated": self.human_escalated,
            "team": self.team,
            "cell": self.cell,
            "sentinel": self.sentinel,
            "tier2": self.tier2,
            "roles": list(self.roles),
            "calls": [_call_dict(c) for c in self.calls],
            "error": self.error,
            "baselines": self.baselines,
        }
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> TicketResult:
        """Parse a line written by :meth:`to_json`.

        Raises:
            ValueError: the line is not a ticket result.
        """
        d = json.loads(text)
        if not isinstance(d, dict) or "ticket_id" not in d:
            raise ValueError("not a ticket result line")
        return _result(d)


@dataclass(frozen=True)
class RunFiles:
    """Where one replay writes: the metrics file and the two files beside it."""

    metrics: Path

    @property
    def tickets(self) -> Path:
        """Per-ticket outcomes (JSONL)."""
        return self.metrics.with_name(self.metrics.stem + ".tickets.jsonl")

    @property
    def journal(self) -> Path:
        """Run header and restorable events (JSONL)."""
        return self.metrics.with_name(self.metrics.stem + ".journal.jsonl")


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Each complete JSON line of ``path`` (a torn or garbled line is skipped with a warning)."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith("\n"):
                log.warning("%s: line %d is incomplete (interrupted write); ignored", path, n)
                continue
            try:
                value = json.loads(line)
            except ValueError:
                log.warning("%s: line %d is not JSON; ignored", path, n)
                continue
            if isinstance(value, dict):
                yield value


def read_results(path: Path) -> list[TicketResult]:
    """Every ticket result in ``path``, in the order written."""
    return [_result(d) for d in read_lines(path) if "ticket_id" in d]


def _result(d: dict[str, Any]) -> TicketResult:
    d["roles"] = tuple(d.get("roles") or ())
    d["calls"] = tuple(RoleCall(**c) for c in d.get("calls") or ())
    return TicketResult(**d)


@dataclass
class Journal:
    """What a previous, interrupted run left: its header and the restorable events per arm."""

    header: dict[str, Any] | None = None
    events: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Journal:
        """Read a journal file (an empty journal when it does not exist)."""
        j = cls()
        for d in read_lines(path):
            if "header" in d:
                j.header = d["header"]
            elif "ticket_id" in d:
                j.events[(d["arm"], d["ticket_id"])] = d.get("events") or []
        return j

    def events_of(self, arm: str, ticket_id: str) -> list[Event]:
        """The recorded result events of a ticket (decoded), or [] when none were kept."""
        return [from_dict(e) for e in self.events.get((arm, ticket_id), [])]


FLUSH_EVERY_S = 0.5
"""How often written lines are pushed to the operating system (and always on close, Ctrl-C included)."""


class Writer:
    """Appends ticket results and journal lines; flushed at most every :data:`FLUSH_EVERY_S` and on close,
    so a killed process loses at most that much finished work (Ctrl-C loses none)."""

    def __init__(self, files: RunFiles, *, fresh: bool) -> None:
        files.metrics.parent.mkdir(parents=True, exist_ok=True)
        mode = "w" if fresh else "a"
        self.files = files
        if fresh:  # an earlier run's metrics must not stand beside this run's tickets if it dies
            files.metrics.unlink(missing_ok=True)
        if not fresh:
            for path in (files.tickets, files.journal):
                _drop_torn_tail(path)
        self._tickets: IO[str] = files.tickets.open(mode, encoding="utf-8")
        self._journal: IO[str] = files.journal.open(mode, encoding="utf-8")
        self._flushed = time.monotonic()

    def header(self, header: dict[str, Any]) -> None:
        """Write the run's header (first line of a fresh journal)."""
        self._journal.write(json.dumps({"header": header}, separators=(",", ":"), default=str) + "\n")
        self._journal.flush()

    def ticket(self, result: TicketResult, events: Sequence[Event] | None = None) -> None:
        """Record one finished ticket; ``events`` (restorable, traces dropped) go to the journal first."""
        if events is not None:
            body = ",".join(_without_trace(e) for e in events)
            self._journal.write(
                f'{{"arm":{json.dumps(result.arm)},"ticket_id":{json.dumps(result.ticket_id)},"events":[{body}]}}\n'
            )
        self._tickets.write(result.to_json() + "\n")
        if time.monotonic() - self._flushed >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Push both files' buffers to the operating system (the journal first)."""
        self._journal.flush()
        self._tickets.flush()
        self._flushed = time.monotonic()

    def close(self) -> None:
        """Close both files."""
        for f in (self._journal, self._tickets):
            if not f.closed:
                f.close()


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line left incomplete by a crash, so appended lines start on a line of their own."""
    if not path.exists():
        return
    with path.open("rb+") as f:
        size = f.seek(0, 2)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        pos, keep = size, 0
        while pos > 0 and not keep:
            step = min(65536, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                keep = pos + nl + 1
        log.warning("%s: dropping an incomplete last line (%d bytes) before resuming", path, size - keep)
        f.truncate(keep)


def _call_dict(c: RoleCall) -> dict[str, Any]:
    d: dict[str, Any] = {"role": c.role, "ms": c.ms}
    for key in ("tool_calls", "input_tokens", "output_tokens", "failure", "leg", "guardrail"):
        value = getattr(c, key)
        if value:
            d[key] = value
    return d


def _without_trace(event: Event) -> str:
    if getattr(event, "trace", None) is not None:
        return event.model_dump_json(exclude={"trace"})
    return event.to_json()


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON, atomically (a reader never sees half a metrics file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def restorable(events: Iterable[Event]) -> list[Event]:
    """The events of a ticket memory needs back on resume (its alert and label are re-derived)."""
    return [e for e in events if e.type not in ("alert.received", "truth.labeled")]
