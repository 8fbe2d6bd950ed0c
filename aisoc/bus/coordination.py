"""Coordination between processes that share a bus: locks and heartbeats (neither is an event).

A *lock* is a key taken for a while (a scheduled fire that must run once across replicas, a webhook
delivery seen twice); it is not the redelivery *take-over* of an unacked entry, which is the
delivery machinery's business (``Bus._take_over``).
"""

from __future__ import annotations


class Coordination:
    """What every bus offers the processes around it besides events (each backend implements it)."""

    def lock(self, key: str, ttl_s: float) -> bool:
        """Atomically take ``key`` for ``ttl_s`` seconds.

        Returns:
            True when this caller took it, False when someone holds it (it is never released early:
            it expires, which is what once-per-fire and once-per-delivery locks want).
        """
        raise NotImplementedError

    def heartbeat(self, name: str, info: dict[str, str], ttl_s: float = 30.0) -> None:
        """Record that process ``name`` is alive (a keyed record with a TTL, not an event)."""
        raise NotImplementedError

    def heartbeats(self) -> dict[str, dict[str, str]]:
        """Return the live heartbeats by process name."""
        raise NotImplementedError
