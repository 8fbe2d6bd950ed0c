"""The replay engine: recorded tickets through the team, one at a time, with every side effect neutered.

Per arm (recall ``off`` or ``on``) the engine builds a fresh in-memory bus, a memory over it and the
team — no gate, no bot, no vendor tools (only the built-in ``case_lookup``, which reads the replay's
own log), no paused roles — and runs the tickets in chronological order: release the labels
known by the ticket's creation time, ask the baselines, publish the alert, drain the team, score
the case with :func:`aisoc.memory.outcome_of` against the source's truth, write the ticket's line.
With recall on, precedent and statistics come from memory with ``before=`` the alert's creation
time, and a ticket's ground truth is published as ``truth.labeled`` only once it has been scored
AND the label delay has passed on the replay's clock (:mod:`aisoc.replay.labels`): an analyst knows
how earlier tickets ended once someone labelled them, never the current one. An
:class:`EgressGuard` refuses every outbound connection except to the model's own server.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from langchain_core.language_models import BaseChatModel

from aisoc.bus import Bus, BusSettings, open_bus
from aisoc.events import Alert, AlertReceived, Event, PrecedentRef, ProducedBy, Role, TruthLabeled, fitted
from aisoc.memory import Bulk, Memory, Statistics, StatisticsPolicy, Stoplist, outcome_of
from aisoc.replay.baselines import Baselines
from aisoc.replay.isolation import Attempt, EgressGuard, model_endpoints
from aisoc.replay.journal import (
    Journal,
    RoleCall,
    RunFiles,
    TicketResult,
    Writer,
    read_results,
    restorable,
    write_json,
)
from aisoc.replay.labels import DEFAULT_LABEL_DELAY, LabelClock, format_duration
from aisoc.replay.metrics import build_metrics, cell_of, split_arms
from aisoc.replay.tickets import Selection, Ticket
from aisoc.runtime import DEFAULT_TEAM, GuardrailPolicy, Invocation, RoleTeam, overruled_by

log = logging.getLogger(__name__)

RecallMode = Literal["off", "on", "ab"]
"""``off``: no precedent; ``on``: precedent from earlier tickets; ``ab``: both, off first."""
ARMS: dict[str, tuple[str, ...]] = {"off": ("off",), "on": ("on",), "ab": ("off", "on")}
"""The arms each recall mode runs, in order."""
_SIGNAL_NAMES: dict[int, str] = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
INGEST = ProducedBy(role="ingest")
HUMAN = ProducedBy(role=Role.HUMAN)


class ResumeMismatch(ValueError):
    """Raised when ``--resume`` finds files written by a different replay (another file, model...)."""


class Progress(Protocol):
    """Where the engine reports progress (the CLI draws a rich progress bar)."""

    def arm(self, arm: str, total: int, done: int) -> None:
        """An arm starts: ``total`` tickets, ``done`` of them already finished by an earlier run."""

    def ticket(self, result: TicketResult) -> None:
        """One ticket finished."""


class _Quiet:
    """No bar: arms are logged."""

    def arm(self, arm: str, total: int, done: int) -> None:
        log.info("replay arm recall=%s: %d tickets (%d done before)", arm, total, done)

    def ticket(self, result: TicketResult) -> None:
        pass


@dataclass
class ReplayResult:
    """What a replay produced: the metrics dict, each arm's ticket results, and how it ended."""

    metrics: dict[str, Any]
    arms: dict[str, list[TicketResult]]
    interrupted: bool = False
    interrupted_by: str | None = None
    """What stopped the run (``Ctrl-C`` or ``SIGTERM``); None when it was not interrupted."""
    buses: dict[str, Bus] = field(default_factory=dict)
    """Each arm's isolated bus (for printing case paths)."""
    egress: list[Attempt] = field(default_factory=list)
    """Every outbound connection attempt the guard saw (allowed ones go to the model server)."""


class _Precedent:
    """The context hook with recall on: memory's precedent, computed once per ticket."""

    def __init__(self, memory: Memory, k: int) -> None:
        self.memory, self.k = memory, k
        self._case: str | None = None
        self._refs: list[PrecedentRef] = []

    def __call__(self, role: str, alert: Alert, case_id: str) -> list[PrecedentRef]:
        if case_id != self._case:  # Sentinel, Tier 2 and IR Lead of one ticket share one recall
            self._case = case_id
            self._refs = self.memory.precedent_for(alert, self.k, before=alert.created_at)
        return self._refs


class Replay:
    """One replay run over a ticket selection.

    Args:
        model: the chat model every role uses (``aisoc.models.from_spec``).
        selection: the tickets, chronological (:func:`aisoc.replay.select`).
        source: the source's name (recorded in the metrics).
        model_spec: how the model was named (recorded in the metrics).
        recall: ``off``, ``on`` or ``ab``.
        out: the metrics file; None keeps everything in memory (no resume).
        resume: continue from the files beside ``out``.
        identity: what makes two runs the same replay (file, selection...); checked on resume.
        roles: the team (an import string or role classes).
        tools: tools (``aisoc.tools.Tool``) offered to the roles; the CLI passes none: vendor tools
            are disabled, only the built-in ``case_lookup`` over the replay's own bus answers.
        k: precedent references per prompt.
        label_delay: how long after its alert a ticket's label is known when the source gives no
            label time (:data:`~aisoc.replay.labels.DEFAULT_LABEL_DELAY`).
        guardrail: the routing policy the runtime enforces (None: the settings' defaults).
        statistics: what the statistics shown to roles count (None: the defaults).
        stoplist: memory's indicator stoplist.
        timeout_s: per-invocation time limit (None: each role's own).
        isolate: refuse outbound connections except to the model's server.
        progress: progress reporting.
        bus_settings: the settings each arm's isolated in-process bus is opened with (their
            redaction applies); None: a plain in-process bus.
        bulk: the context memory's folds run in (the entry point's GC policy; none by default).
    """

    def __init__(
        self,
        model: BaseChatModel,
        selection: Selection,
        *,
        source: str,
        model_spec: str,
        recall: RecallMode = "off",
        out: str | os.PathLike[str] | None = None,
        resume: bool = False,
        identity: dict[str, Any] | None = None,
        roles: str | Iterable[Any] = DEFAULT_TEAM,
        tools: Sequence[Any] = (),
        k: int = 5,
        label_delay: timedelta = DEFAULT_LABEL_DELAY,
        guardrail: GuardrailPolicy | None = None,
        statistics: StatisticsPolicy | None = None,
        stoplist: Stoplist | None = None,
        timeout_s: float | None = None,
        isolate: bool = True,
        progress: Progress | None = None,
        bus_settings: BusSettings | None = None,
        bulk: Bulk = nullcontext,
    ) -> None:
        if recall not in ARMS:
            raise ValueError(f"recall must be off, on or ab, got {recall!r}")
        if resume and out is None:
            raise ValueError("resume needs the metrics file (--out) whose tickets file it continues")
        self.model, self.selection, self.source, self.model_spec = model, selection, source, model_spec
        self.recall, self.roles, self.tools, self.k = recall, roles, list(tools), k
        self.label_delay = label_delay
        LabelClock(label_delay)  # a negative delay is refused here, before anything runs
        self.guardrail = guardrail if guardrail is not None else GuardrailPolicy()
        self.statistics = statistics if statistics is not None else StatisticsPolicy()
        self.stoplist, self.timeout_s, self.isolate = stoplist, timeout_s, isolate
        self.files = RunFiles(Path(out)) if out is not None else None
        self.resume = resume
        self.bus_settings = bus_settings
        self.bulk = bulk
        self.identity = {
            "source": source,
            "model": model_spec,
            "recall": recall,
            "label_delay": format_duration(label_delay),
            **(identity or {}),
        }
        self.progress: Progress = progress or _Quiet()
        self.errors: list[dict[str, Any]] = [
            {"ticket_id": u.ticket_id, "stage": "source", "message": u.reason} for u in selection.unreadable
        ]
        self.role_names: list[str] = []
        self._calls: dict[str, list[RoleCall]] = {}
        self._current: str | None = None
        self._stop = threading.Event()
        """Set by the first Ctrl-C or SIGTERM: the run stops before its next ticket (a second at once)."""
        self._signal = "Ctrl-C"
        """What stopped the run (``Ctrl-C`` or ``SIGTERM``), for the ``interrupted`` error."""

    # --- the run --------------------------------------------------------------------------------

    def run(self, *, started: float | None = None) -> ReplayResult:
        """Replay every arm; Ctrl-C stops after the tickets already finished (they are kept).

        Args:
            started: ``time.perf_counter()`` when the run began (to count loading the source in
                ``wall_s``); now when None.

        Returns:
            The metrics (also written to ``out`` when given) and the per-arm results.

        Raises:
            ResumeMismatch: resuming files another replay wrote.
        """
        t0 = started if started is not None else time.perf_counter()
        run_id, done, journal = self._open()
        writer = Writer(self.files, fresh=not self.resume) if self.files else None
        if writer is not None and journal.header is None:
            writer.header({"run_id": run_id, "started_at": _now(), **self.identity})
        result = ReplayResult(metrics={}, arms={})
        guard = EgressGuard(allow=model_endpoints(self.model)) if self.isolate else None
        try:
            with guard if guard is not None else nullcontext(), self._ctrl_c():
                for arm in ARMS[self.recall]:
                    prior = done.get(arm, [])
                    results = list(prior)
                    result.arms[arm] = results
                    try:
                        self._arm(arm, prior, journal, writer, results, result, guard)
                    except KeyboardInterrupt:
                        result.interrupted, result.interrupted_by = True, self._signal
                        self.errors.append(
                            {
                                "ticket_id": self._current,
                                "stage": "interrupted",
                                "message": f"{self._signal} in arm recall={arm} after {len(results)} of "
                                f"{len(self.selection.tickets)} tickets; --resume continues",
                            }
                        )
                        break
        finally:
            if writer is not None:
                writer.close()
        result.egress = list(guard.attempts) if guard else []
        result.metrics = build_metrics(
            run_id=run_id,
            generated_at=_now(),
            source=self.source,
            model=self.model_spec,
            arms={a: sorted(rs, key=lambda r: r.seq) for a, rs in result.arms.items()},
            roles=self.role_names,
            wall_s=time.perf_counter() - t0,
            errors=self.errors,
            label_delay=self.label_delay,
            guardrail_policy=self.guardrail.describe(),
        )
        if self.files is not None:
            write_json(self.files.metrics, result.metrics)
        return result

    @contextmanager
    def _ctrl_c(self) -> Iterator[None]:
        """While the run lasts, the first Ctrl-C (or SIGTERM, what a supervisor or ``docker stop``
        sends) asks it to stop before the next ticket (the one under way finishes and is kept,
        wherever in the code the signal lands); the second stops at once."""

        def handle(signum: int, frame: Any) -> None:
            if self._stop.is_set():
                raise KeyboardInterrupt
            self._signal = _SIGNAL_NAMES.get(signum, f"signal {signum}")
            self._stop.set()
            again = "Ctrl-C" if signum == signal.SIGINT else self._signal
            sys.stderr.write(
                f"\n{self._signal}: stopping after the current ticket ({again} again to stop at once)\n"
            )

        previous: dict[int, Any] = {}
        try:
            for wanted in (signal.SIGINT, signal.SIGTERM):
                previous[wanted] = signal.signal(wanted, handle)
        except ValueError:  # not the main thread: Ctrl-C stays Python's KeyboardInterrupt
            yield
            return
        try:
            yield
        finally:
            for restored, handler in previous.items():
                signal.signal(restored, handler)

    def _open(self) -> tuple[str, dict[str, list[TicketResult]], Journal]:
        run_id = f"replay-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
        if not self.resume or self.files is None:
            return run_id, {}, Journal()
        journal = Journal.read(self.files.journal)
        if journal.header is None:
            log.warning("resume: no journal at %s; starting afresh", self.files.journal)
            self.resume = False
            return run_id, {}, Journal()
        different = {
            k: (journal.header.get(k), v) for k, v in self.identity.items() if journal.header.get(k) != v
        }
        if different:
            shown = "; ".join(f"{k}: was {a!r}, now {b!r}" for k, (a, b) in different.items())
            raise ResumeMismatch(f"cannot resume {self.files.tickets}: it is another replay ({shown})")
        wanted = {t.ticket_id for t in self.selection.tickets}
        done = split_arms(r for r in read_results(self.files.tickets) if r.ticket_id in wanted)
        for arm, results in done.items():  # an arm with recall needs its journal to rebuild memory
            if arm == "on":
                done[arm] = [r for r in results if (arm, r.ticket_id) in journal.events]
        log.info(
            "resume: %s", ", ".join(f"recall={a} {len(r)} done" for a, r in done.items()) or "nothing done"
        )
        return str(journal.header.get("run_id", run_id)), done, journal

    # --- one arm --------------------------------------------------------------------------------

    def _arm(
        self,
        arm: str,
        prior: list[TicketResult],
        journal: Journal,
        writer: Writer | None,
        results: list[TicketResult],
        result: ReplayResult,
        guard: EgressGuard | None,
    ) -> None:
        # isolated: never the production bus (bus_settings name an in-process one)
        bus = open_bus(self.bus_settings) if self.bus_settings is not None else Bus()
        result.buses[arm] = bus
        memory = Memory(bus.audit, auto_refresh=False, stoplist=self.stoplist, bulk=self.bulk)
        stats = Statistics(bus.audit, policy=self.statistics, auto_refresh=False)
        recall = arm == "on"
        team = RoleTeam(
            self.model,
            self.tools,
            bus,
            roles=self.roles,
            context=_Precedent(memory, self.k) if recall else None,
            statistics=stats.hook() if recall else None,
            guardrail=self.guardrail,
            observer=self._observe,
            timeout_s=self.timeout_s,
            paused=(),
        )
        self.role_names = list(team.agents)
        clock, baselines = LabelClock(self.label_delay), Baselines()
        finished = {r.ticket_id for r in prior}
        if finished:
            bus.restore_audit(self._restored(arm, finished, journal, clock, baselines))
        team.subscribe()
        self.progress.arm(arm, len(self.selection.tickets), len(finished))
        for ticket in self.selection.tickets:
            if ticket.ticket_id in finished:
                continue
            if self._stop.is_set():
                raise KeyboardInterrupt  # the first Ctrl-C: the tickets done are kept
            self._current = ticket.ticket_id
            for known in clock.due(ticket.alert.created_at):  # labels analysts have given by now
                baselines.learn(known)
                if recall:
                    bus.publish(_label(known))
            decisions = baselines.predict(ticket)
            seen = len(guard.attempts) if guard else 0
            res, events = self._one(arm, ticket, bus, memory, stats)
            res = dataclasses.replace(res, baselines=decisions)
            if guard is not None and len(guard.attempts) > seen:
                for a in guard.attempts[seen:]:
                    if not a.allowed:
                        self._error(ticket.ticket_id, "egress", f"outbound connection to {a.address} refused")
            if writer is not None:
                writer.ticket(res, restorable(events) if recall else None)
            results.append(res)
            clock.add(ticket)  # scored: its label becomes known after the delay
            self.progress.ticket(res)
        self._current = None

    def _one(
        self, arm: str, ticket: Ticket, bus: Bus, memory: Memory, stats: Statistics
    ) -> tuple[TicketResult, list[Event]]:
        cid = ticket.ticket_id
        memory.refresh()
        stats.refresh()
        bus.publish(AlertReceived(alert=ticket.alert, case_id=cid, produced_by=INGEST))
        bus.drain()
        memory.refresh()
        rec = memory.case(cid)
        assert rec is not None, f"memory lost the alert of {cid}"
        truth = ticket.truth
        o = outcome_of(rec)
        o = dataclasses.replace(
            o,
            human_escalated=truth.escalated if truth else None,
            label=truth.label.value if truth else None,
        )
        calls = tuple(self._calls.pop(cid, ()))
        for c in calls:
            if c.failure:
                self._error(cid, c.role, c.failure)
        error = None
        if o.team == "open":
            error = {"stage": "team", "message": _dead_letter_reason(bus, cid)}
            self._error(cid, "team", error["message"])
        res = TicketResult(
            arm=arm,
            seq=ticket.seq,
            ticket_id=cid,
            created_at=ticket.alert.created_at.isoformat(),
            label=o.label,
            human_escalated=o.human_escalated,
            team=o.team,
            cell=cell_of(o),
            sentinel=o.sentinel,
            tier2=o.tier2,
            roles=o.roles,
            calls=calls,
            error=error,
        )
        return res, bus.audit.for_case(cid)

    def _restored(
        self, arm: str, finished: set[str], journal: Journal, clock: LabelClock, baselines: Baselines
    ) -> Iterator[Event]:
        """The audit log of the finished tickets as the interrupted run left it (minus traces), with
        each label where the label clock released it; the clock and baselines end in the same state."""
        for t in self.selection.tickets:
            if t.ticket_id not in finished:
                continue
            for known in clock.due(t.alert.created_at):
                baselines.learn(known)
                if arm == "on":
                    yield _label(known)
            yield AlertReceived(alert=t.alert, case_id=t.ticket_id, produced_by=INGEST)
            yield from journal.events_of(arm, t.ticket_id)
            clock.add(t)

    def _observe(self, inv: Invocation) -> None:
        cid = inv.event.case_id or "-"
        self._calls.setdefault(cid, []).append(
            RoleCall(
                role=inv.role,
                ms=round(inv.duration_ms, 3),
                tool_calls=inv.tool_calls,
                input_tokens=inv.input_tokens,
                output_tokens=inv.output_tokens,
                failure=inv.failure,
                leg=inv.leg,
                guardrail=overruled_by(inv.results),
            )
        )

    def _error(self, ticket_id: str | None, stage: str, message: str) -> None:
        self.errors.append({"ticket_id": ticket_id, "stage": stage, "message": message[:1000]})


def _label(ticket: Ticket) -> TruthLabeled:
    truth = ticket.truth
    assert truth is not None
    return fitted(
        TruthLabeled,
        label=truth.label,
        escalated=truth.escalated,
        labeled_by="replay",
        source=ticket.alert.source,
        note=f"ground truth from field {truth.field}",
        case_id=ticket.ticket_id,
        produced_by=HUMAN,
    )


def _dead_letter_reason(bus: Bus, case_id: str) -> str:
    ids = {e.event_id for e in bus.audit.for_case(case_id)}
    for dl in bus.dead_letters(limit=1000):
        if dl.event_id in ids:
            return f"{dl.group}: {dl.reason}"
    return "the team did not finish the ticket (no route, no review)"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
