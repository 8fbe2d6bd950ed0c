"""The stoplist seam: which indicators are shared infrastructure that must never link cases.

A stoplist is any callable ``(Indicator) -> bool`` answering "skip this one?". The integrations
package provides a configured one (proxies, resolvers, the SOC's own scanners...); the kernel ships
only trivial ones. Memory also stops linking through an indicator once it is common (see
``Memory(max_indicator_cases=...)``), stoplist or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from aisoc.events import Indicator
from aisoc.memory.keys import normalize


@runtime_checkable
class Stoplist(Protocol):
    """Answers whether an indicator is infrastructure to skip when linking cases."""

    def __call__(self, indicator: Indicator) -> bool:
        """Return True when ``indicator`` must not link cases."""


def no_stoplist(indicator: Indicator) -> bool:
    """The default stoplist: nothing is skipped (the commonness cap still applies)."""
    return False


def skip_private(indicator: Indicator) -> bool:
    """Skip indicators flagged private (RFC 1918 and reserved addresses)."""
    return indicator.private


class KeyStoplist:
    """A fixed set of indicators to skip, given as ``type:value`` keys (normalized on the way in).

    Args:
        keys: keys such as ``"ip:8.8.8.8"`` or ``"domain:update.example.com"``.
        private: also skip indicators flagged private.
    """

    def __init__(self, keys: Iterable[str] = (), *, private: bool = False) -> None:
        self.keys = frozenset(normalize(*k.split(":", 1)) for k in keys if ":" in k)
        self.private = private

    def __call__(self, indicator: Indicator) -> bool:
        """Return True when ``indicator`` is listed (or private, when asked)."""
        if self.private and indicator.private:
            return True
        return normalize(indicator.type.value, indicator.value) in self.keys
