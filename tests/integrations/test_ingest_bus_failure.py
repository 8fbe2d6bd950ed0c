"""An ingest process whose bus fails mid-pass loses no alert and publishes none twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from aisoc import Bus
from aisoc.cli import main
from aisoc.errors import BusError
from integrations.samples import SAMPLE


class FlakyBus:
    """A real SQLite bus whose Nth atomic publish fails, as a Redis restart would."""

    def __init__(self, url: str, fail_at: int) -> None:
        self.bus = Bus(url)
        self.calls = 0
        self.fail_at = fail_at

    def publish_many(self, events: Any, once: Any = None) -> bool:
        self.calls += 1
        if self.calls == self.fail_at:
            raise BusError("Redis at redis://127.0.0.1:6399/0 is unreachable: connection refused")
        return self.bus.publish_many(events, once=once)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)


def test_a_bus_failure_mid_pass_keeps_the_cursor_at_the_last_alert_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given the bus failing on the 5th of 12 alerts, the pass stops with a clear error and the saved
    cursor is the 4th alert's; the next run publishes the remaining 8: 12 cases, each exactly once."""
    url = f"sqlite:///{tmp_path}/soc.db"
    monkeypatch.setenv("AISOC_STATE_DIR", str(tmp_path / "state"))
    flaky = FlakyBus(url, fail_at=5)
    monkeypatch.setattr("integrations.cli.open_bus", lambda settings: flaky)
    assert main(["ingest", "wazuh", str(SAMPLE), "--bus", url]) == 1
    assert "the bus failed" in capsys.readouterr().err
    assert len(Bus(url).audit) == 4
    monkeypatch.setattr("integrations.cli.open_bus", lambda settings: Bus(url))
    assert main(["ingest", "wazuh", str(SAMPLE), "--bus", url]) == 0
    cases = Counter(e.case_id for e in Bus(url).audit)
    assert len(cases) == 12 and set(cases.values()) == {1}
