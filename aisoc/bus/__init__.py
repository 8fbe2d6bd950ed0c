"""The event bus: in-memory (embedded default), SQLite (embedded, durable) and Redis Streams.

bus = Bus()                          # in-memory
bus = Bus("sqlite:///path/soc.db")   # durable, single host
bus = Bus("redis://host:6379/0")     # Redis Streams: durable, multi-process

The package reads in one sitting: ``records`` (plain records), ``audit`` (the audit log's reading
side), ``delivery`` (a delivery and the in-process runner), ``coordination`` (locks, heartbeats),
``base`` (the abstract bus and its scheme registry), ``groups`` (groups that hold back trimming),
``factory`` (``open_bus(settings)``, what every
process uses), then one module per backend.
"""

from __future__ import annotations

from aisoc.bus.audit import AuditLog
from aisoc.bus.base import (
    DEFAULT_MARK_TTL_S,
    DEFAULT_MAX_DELIVERIES,
    DEFAULT_VISIBILITY_TIMEOUT_MS,
    Bus,
    backend_for,
    register_scheme,
)
from aisoc.bus.coordination import Coordination
from aisoc.bus.delivery import Delivery, Handler, Subscription
from aisoc.bus.factory import BusSettings, open_bus
from aisoc.bus.groups import DEFAULT_GROUP_IDLE_S, ForgetResult, HeldGroup
from aisoc.bus.records import (
    AuditEntry,
    BrokenEntry,
    BusStats,
    DeadLetter,
    GroupStats,
    StreamStats,
    Undeliverable,
    id_key,
)

__all__ = [
    "DEFAULT_GROUP_IDLE_S",
    "DEFAULT_MARK_TTL_S",
    "DEFAULT_MAX_DELIVERIES",
    "DEFAULT_VISIBILITY_TIMEOUT_MS",
    "AuditEntry",
    "AuditLog",
    "BrokenEntry",
    "Bus",
    "BusSettings",
    "BusStats",
    "Coordination",
    "DeadLetter",
    "Delivery",
    "ForgetResult",
    "GroupStats",
    "Handler",
    "HeldGroup",
    "StreamStats",
    "Subscription",
    "Undeliverable",
    "backend_for",
    "id_key",
    "open_bus",
    "register_scheme",
]
