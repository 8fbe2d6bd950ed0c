"""Groups nobody reads any more, from the operator's side: ``aisoc bus stats`` names them,
``aisoc bus forget-group`` refuses then forgets (exit codes, output), and the scheduler's
maintenance warns once per such group per run. The semantics per backend are in
``bus_contract_groups.py``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from aisoc import Bus
from aisoc.cli import main
from aisoc.runtime.scheduler import Scheduler
from roles import SocManager
from tests.aisoc.bus_contract_events import alert_event
from tests.aisoc.bus_contract_waiting import Clock

DAY = 24 * 3600.0
ALERTS = ["alert.received"]


def abandon(url: str, clock: Clock | None = None, *, days_ago: float = 2) -> None:
    """Given 4 alerts that ``tier2`` (read and acked on the bus clock) acks and ``old_role`` took 2
    of (acking 1) ``days_ago`` days before now, then never read again."""
    quiet = Bus(url, clock=lambda: time.time() - days_ago * DAY, trim_every=0)
    for i in range(4):
        quiet.publish(alert_event(i))
    first, _ = quiet.consume("old_role", "old-1", types=ALERTS, count=2)
    first.ack()
    quiet.close()
    live = Bus(url, clock=clock or time.time, trim_every=0)
    live.ack_many(live.consume("tier2", "t2-1", types=ALERTS, count=10))
    live.close()


def test_stats_names_the_group_that_holds_back_trimming(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a group idle for two days at the alerts stream's trim floor, `aisoc bus stats` prints
    a warning naming it, its stream, the entries it holds back and how long it is idle, and lists
    it under held_groups with --json; the group that reads on is not named; exit status 0."""
    url = f"sqlite:///{tmp_path}/soc.db"
    abandon(url)
    assert main(["bus", "stats", "--bus", url]) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("WARNING:")]
    assert "group 'old_role' holds back trimming of stream 'alerts': 3 entries" in line
    assert "(1 pending)" in line and "idle 2d" in line and "forget-group old_role --stream alerts" in line
    assert "'tier2'" not in out.split("dead letters:")[1]
    assert main(["bus", "stats", "--bus", url, "--json"]) == 0
    (held,) = json.loads(capsys.readouterr().out)["held_groups"]
    assert (held["stream"], held["group"], held["behind"], held["pending"]) == ("alerts", "old_role", 3, 1)


def test_stats_names_nothing_while_every_group_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given the same group idle for an hour only (below group_idle_s), stats warns of nothing."""
    url = f"sqlite:///{tmp_path}/soc.db"
    abandon(url, days_ago=1 / 24)
    assert main(["bus", "stats", "--bus", url]) == 0
    assert "WARNING" not in capsys.readouterr().out


def test_forget_group_refuses_then_forces_and_trims(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given the abandoned group with one pending entry, `forget-group` refuses (exit 1, naming the
    pending entries and --force) and changes nothing; with --force it files the entry as a dead
    letter 'group forgotten', forgets the group and trims what it held (exit 0); a group that is
    not there is a usage error (exit 2)."""
    url = f"sqlite:///{tmp_path}/soc.db"
    abandon(url)
    assert main(["bus", "forget-group", "old_role", "--bus", url]) == 1
    captured = capsys.readouterr()
    assert "left group 'old_role' on stream 'alerts': it holds pending entries" in captured.out
    assert "--force" in captured.out and "1 of 1 positions of group 'old_role' left" in captured.err
    assert Bus(url).dead_letters() == []

    assert main(["bus", "forget-group", "old_role", "--stream", "alerts", "--force", "--bus", url]) == 0
    out = capsys.readouterr().out
    assert "forgot group 'old_role' on stream 'alerts'" in out
    assert "filed 1 pending entries as dead letters ('group forgotten')" in out
    assert "trimmed 4 entries no other group needs" in out
    bus = Bus(url)
    assert [d.reason for d in bus.dead_letters()] == ["group forgotten"]
    assert {s.name: s.length for s in bus.stats().streams}["alerts"] == 0

    assert main(["bus", "forget-group", "old_role", "--bus", url]) == 2
    assert "no consumer group 'old_role' on any work stream" in capsys.readouterr().err


def test_forget_group_refuses_a_group_read_within_group_idle_s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a group with nothing pending that read an hour ago, forget-group refuses (exit 1,
    saying a consumer was active); --force forgets it (exit 0)."""
    url = f"sqlite:///{tmp_path}/soc.db"
    bus = Bus(url, clock=lambda: time.time() - 3600)
    bus.publish(alert_event(1))
    bus.ack_many(bus.consume("threat_intel", "ti-1", types=ALERTS))
    bus.close()
    assert main(["bus", "forget-group", "threat_intel", "--stream", "alerts", "--bus", url]) == 1
    assert "a consumer of it was active 1h ago, within 1d" in capsys.readouterr().out
    assert main(["bus", "forget-group", "threat_intel", "--stream", "alerts", "--force", "--bus", url]) == 0
    assert "forgot group 'threat_intel' on stream 'alerts'; trimmed 0" in capsys.readouterr().out


def test_maintenance_warns_once_per_held_group_per_run(caplog: pytest.LogCaptureFixture) -> None:
    """Given a group idle past group_idle_s at the trim floor (frozen bus clock), each maintenance
    run logs exactly one warning naming it; before it is idle long enough, none."""
    clock = Clock()
    bus = Bus(clock=clock, trim_every=0)
    for i in range(3):
        bus.publish(alert_event(i))
    bus.consume("old_role", "old-1", types=ALERTS, count=1)
    bus.ack_many(bus.consume("tier2", "t2-1", types=ALERTS, count=10))
    sched = Scheduler(bus, [SocManager()], group_idle_s=DAY)
    with caplog.at_level(logging.WARNING, logger="aisoc.runtime.scheduler"):
        sched.maintain()
        assert not [r for r in caplog.records if "holds back trimming" in r.getMessage()]
        clock.now += DAY + 1
        for _ in range(2):
            caplog.clear()
            assert sched.maintain() == (0, 0)
            (warned,) = [r.getMessage() for r in caplog.records if "holds back trimming" in r.getMessage()]
            assert "group 'old_role' holds back trimming of stream 'alerts': 3 entries" in warned
            assert "idle 1d" in warned


def test_status_names_the_group_that_holds_back_trimming(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a group of a removed role idle for two days at a trim floor, `aisoc status` (which
    lists only current roles) prints the same warning line, and --json lists it."""
    url = f"sqlite:///{tmp_path}/soc.db"
    abandon(url)
    main(["status", "--bus", url])  # exit 1 here: no role process runs
    out = capsys.readouterr().out
    assert "WARNING: group 'old_role' holds back trimming of stream 'alerts'" in out
    main(["status", "--bus", url, "--json"])
    (held,) = json.loads(capsys.readouterr().out)["held_groups"]
    assert held["group"] == "old_role"
