"""``aisoc bus dlq list`` names the event of each dead letter, or says that it has none."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aisoc import Bus
from aisoc.cli import main
from tests.aisoc.bus_contract_events import alert_event


def test_dlq_list_names_the_event_past_max_deliveries_and_says_when_there_is_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given an alert dead-lettered after its consumer died past max_deliveries and a payload that
    is not JSON, when the dead letters are listed, then the first names its event id and the
    second says it has none."""
    url = f"sqlite:///{tmp_path}/soc.db"
    bus = Bus(url, max_deliveries=1, visibility_timeout_ms=100)
    try:
        cause = alert_event(1)
        bus.publish(cause)
        bus.consume("sentinel", "dies", types=["alert.received"])
        bus.inject("alerts", "{not json", "alert.received")
        time.sleep(0.15)
        assert bus.consume("sentinel", "other", types=["alert.received"], count=10) == []
        assert len(bus.dead_letters()) == 2
    finally:
        bus.close()
    assert main(["bus", "dlq", "list", "--bus", url]) == 0
    out = capsys.readouterr().out.splitlines()
    first, garbage = out[0], out[2]
    assert first.endswith(f"alerts/sentinel  alert.received {cause.event_id}")
    assert "delivered 1 times without an ack" in out[1]
    assert garbage.endswith("alerts/sentinel  alert.received (no event id: the payload is not an event)")
    assert "cannot decode" in out[3]
