"""An alert source over alerts already in memory (tests and benches hand a team exactly these)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from aisoc import events


class ListSource:
    """Polls ``alerts`` once, in order, as the source ``name``."""

    def __init__(self, alerts: Sequence[events.Alert], name: str = "wazuh") -> None:
        self.alerts, self.name = alerts, name

    def poll(self) -> Iterator[events.Alert]:
        yield from self.alerts
