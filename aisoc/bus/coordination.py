"""Coordination between processes that share a bus: locks and heartbeats (neither is an event).

A *lock* is a key taken for a while (a scheduled fire that must run once across replicas, a webhook
delivery seen twice); it is not the redelivery *take-over* of an unacked entry, which is the
delivery machinery's business (``Bus._take_over``). A *hold* is a lock that names its holder: the
holder renews it while its work runs and lets it go when done (a retention pass), and anyone can read
who holds it.
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

    def hold(self, key: str, ttl_s: float, holder: str) -> bool:
        """Atomically take ``key`` for ``ttl_s`` seconds as ``holder``, or renew it for ``ttl_s`` when
        ``holder`` holds it already (holds and locks are separate keys).

        Returns:
            True when ``holder`` holds it now, False when someone else does.
        """
        raise NotImplementedError

    def unhold(self, key: str, holder: str) -> bool:
        """Let ``key`` go if ``holder`` holds it (never someone else's); True when it was let go."""
        raise NotImplementedError

    def holder_of(self, key: str) -> str | None:
        """Who holds ``key`` (the ``holder`` it was taken as), or None when nobody does."""
        raise NotImplementedError

    def heartbeat(self, name: str, info: dict[str, str], ttl_s: float = 30.0) -> None:
        """Record that process ``name`` is alive (a keyed record with a TTL, not an event)."""
        raise NotImplementedError

    def heartbeats(self) -> dict[str, dict[str, str]]:
        """Return the live heartbeats by process name."""
        raise NotImplementedError
