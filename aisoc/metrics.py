"""Prometheus metrics: what each role did (from the team's observer) and the bus's backlog.

Workers expose them with ``aisoc worker ROLE --metrics-port N``; ``aisoc metrics`` is a standalone
exporter for the bus and approvals; the gate serves its own ``/metrics`` (behind a bearer token).
Needs the ``ops`` extra (prometheus-client).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from aisoc.bus import AuditEntry, Bus
from aisoc.errors import BusError
from aisoc.events import ActionDecided, ActionProposed

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
"""Role latency buckets in seconds: from the canned model's milliseconds to a CPU model's minutes."""
DECISION_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400)
"""Time-to-decision buckets in seconds: a minute to a day."""


class RoleMetrics:
    """Counters and histograms of role invocations; pass :meth:`observe` as the team's observer."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.handled = Counter(
            "aisoc_events_handled", "Role invocations by outcome", ["role", "outcome"], registry=registry
        )
        self.latency = Histogram(
            "aisoc_role_latency_seconds",
            "Time to handle one event",
            ["role"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.tool_calls = Counter("aisoc_tool_calls", "Tool calls made by roles", ["role"], registry=registry)
        self.tokens = Counter(
            "aisoc_tokens", "Model tokens by direction", ["role", "direction"], registry=registry
        )
        self.legs = Counter(
            "aisoc_model_leg_invocations",
            "Invocations by the model leg that served them",
            ["role", "leg"],
            registry=registry,
        )

    def observe(self, inv: Any) -> None:
        """Record one :class:`aisoc.runtime.Invocation`."""
        self.handled.labels(inv.role, "review_requested" if inv.failure else "decided").inc()
        self.latency.labels(inv.role).observe(inv.duration_ms / 1000)
        self.tool_calls.labels(inv.role).inc(inv.tool_calls)
        self.tokens.labels(inv.role, "input").inc(inv.input_tokens)
        self.tokens.labels(inv.role, "output").inc(inv.output_tokens)
        self.legs.labels(inv.role, inv.leg or "unknown").inc()


class BusCollector(Collector):
    """Lag, pending, waiting and dead letters read from the bus at scrape time."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "aisoc_group_lag", "Entries never delivered to the group", labels=["stream", "group"]
        )
        pending = GaugeMetricFamily(
            "aisoc_group_pending", "Entries delivered, not yet acked", labels=["stream", "group"]
        )
        waiting = GaugeMetricFamily(
            "aisoc_group_waiting",
            "Entries that wait to be retried (their model was unavailable) or behind one of their case",
            labels=["group"],
        )
        dead = GaugeMetricFamily("aisoc_dead_letters", "Entries in the dead-letter stream")
        up = GaugeMetricFamily("aisoc_bus_up", "1 when the bus answered the scrape")
        try:
            stats = self.bus.stats()
        except BusError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        groups: set[str] = set()
        for s in stats.streams:
            for g in s.groups:
                groups.add(g.name)
                pending.add_metric([s.name, g.name], g.pending)
                if g.lag is not None:
                    lag.add_metric([s.name, g.name], g.lag)
        try:
            for name in sorted(groups):
                waiting.add_metric([name], len(self.bus.waiting(name)))
        except BusError:
            pass  # the bus went away mid-scrape: the figures read so far still stand
        dead.add_metric([], stats.dead_letters)
        yield from (up, lag, pending, waiting, dead)


class ApprovalCollector(Collector):
    """Approvals pending and time-to-decision, folded incrementally from the audit log."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._cursor: str | None = None
        self._proposed: dict[str, datetime] = {}
        self._durations: list[float] = []
        self._lock = threading.Lock()

    def _fold(self) -> None:
        for entry in self.bus.audit.scan(since=self._cursor):
            self._cursor = entry.id  # past an entry that does not decode too, once
            if not isinstance(entry, AuditEntry):
                continue
            e = entry.event
            if isinstance(e, ActionProposed):
                self._proposed[e.action_id] = e.occurred_at
            elif isinstance(e, ActionDecided) and e.action_id in self._proposed:
                self._durations.append((e.occurred_at - self._proposed.pop(e.action_id)).total_seconds())

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            try:
                self._fold()
            except BusError:
                return
            pending = GaugeMetricFamily("aisoc_approvals_pending", "Action proposals without a decision")
            pending.add_metric([], len(self._proposed))
            yield pending
            buckets: list[tuple[str, float]] = [
                (str(bound), float(len([d for d in self._durations if d <= bound])))
                for bound in DECISION_BUCKETS
            ]
            buckets.append(("+Inf", float(len(self._durations))))
            total = float(sum(self._durations))
            hist = HistogramMetricFamily("aisoc_approval_decision_seconds", "Proposal to decision")
            hist.add_metric([], buckets, sum_value=total)
            yield hist


def registry_for(
    bus: Bus | None = None, *, approvals: bool = False, extra: Iterable[Collector] = ()
) -> tuple[CollectorRegistry, RoleMetrics]:
    """A registry with role metrics, and (when ``bus`` is given) the bus's backlog."""
    registry = CollectorRegistry()
    roles = RoleMetrics(registry)
    if bus is not None:
        registry.register(BusCollector(bus))
        if approvals:
            registry.register(ApprovalCollector(bus))
    for c in extra:
        registry.register(c)
    return registry, roles


def serve(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> None:
    """Expose ``registry`` at http://host:port/metrics (a daemon thread)."""
    start_http_server(port, addr=host, registry=registry)
