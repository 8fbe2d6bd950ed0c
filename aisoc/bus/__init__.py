"""The event bus: in-memory (embedded default), SQLite (embedded, durable) and Redis Streams.

bus = Bus()                          # in-memory
bus = Bus("sqlite:///path/soc.db")   # durable, single host
bus = Bus("redis://host:6379/0")     # Redis Streams: durable, multi-process
"""

from __future__ import annotations

from aisoc.bus.base import (
    DEFAULT_MARK_TTL_S,
    DEFAULT_MAX_DELIVERIES,
    DEFAULT_VISIBILITY_TIMEOUT_MS,
    AuditEntry,
    AuditLog,
    Bus,
    BusStats,
    DeadLetter,
    Delivery,
    GroupStats,
    Handler,
    StreamStats,
    Subscription,
    id_key,
)

__all__ = [
    "DEFAULT_MARK_TTL_S",
    "DEFAULT_MAX_DELIVERIES",
    "DEFAULT_VISIBILITY_TIMEOUT_MS",
    "AuditEntry",
    "AuditLog",
    "Bus",
    "BusStats",
    "DeadLetter",
    "Delivery",
    "GroupStats",
    "Handler",
    "StreamStats",
    "Subscription",
    "id_key",
]
