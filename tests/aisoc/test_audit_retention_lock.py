"""One retention pass at a time: the scheduler's pass and ``aisoc audit retain`` hold the same lock on
the bus (Redis or SQLite), whichever starts first, and a pass into another archive folder refuses
while a stopped pass it cannot see is recorded in the bus."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aisoc import Bus, audit
from aisoc.audit_guard import RetentionStopped
from aisoc.cli import main
from aisoc.runtime.scheduler import Retention, Scheduler
from tests.aisoc.bus_contract_events import alert_event
from tests.aisoc.test_audit_retention import Crash, archived_ids, crash, publish_cases

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Shared:
    """A bus and the flags that reach the same bus from another process."""

    bus: Bus
    flags: list[str]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    """A durable bus of each kind (Redis in a namespace of its own)."""
    if request.param == "redis":
        url, ns = request.getfixturevalue("redis_url"), request.getfixturevalue("namespace")
        b, flags = Bus(url, namespace=ns), ["--bus", url, "--namespace", ns]
    else:
        url = f"sqlite:///{tmp_path}/soc.db"
        b, flags = Bus(url), ["--bus", url]
    yield Shared(b, flags)
    b.close()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``aisoc ARGS`` as a process of its own."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "aisoc", *args], capture_output=True, text=True, env=env, timeout=120
    )


class Paused:
    """Stops every retention pass right after it took the lock (in ``_finish``) until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.inside, self.go = threading.Event(), threading.Event()
        step = audit._finish

        def paused(*args: Any) -> None:
            self.inside.set()
            assert self.go.wait(60)
            step(*args)

        monkeypatch.setattr(audit, "_finish", paused)

    def run(self, work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
        """Start ``work`` in a thread and wait until its pass is paused; returns the thread and the
        list its result lands in."""
        out: list[Any] = []
        thread = threading.Thread(target=lambda: out.append(work()))
        thread.start()
        assert self.inside.wait(60), "the pass never started"
        return thread, out


def test_the_cli_refuses_while_the_schedulers_pass_runs_and_nothing_is_corrupted(
    shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the scheduler's retention pass under way (paused once it holds the lock), when
    ``aisoc audit retain`` runs as another process, then it waits the time given, says whose pass
    runs and how to see it, exits 3 having archived and trimmed nothing, and ``--status`` names that
    pass; the scheduler's pass then archives and trims exactly its entries, once."""
    cases = publish_cases(shared.bus)
    sched = Scheduler(shared.bus, [], retention=Retention(0, 2, tmp_path / "sched"))
    paused = Paused(monkeypatch)
    thread, out = paused.run(sched.retain)
    refused = cli(
        "audit",
        "retain",
        *shared.flags,
        "--older-than",
        "1",
        "--archive-dir",
        str(tmp_path / "cli"),
        "--wait",
        "0.3",
    )
    shown = cli("audit", "retain", *shared.flags, "--status")
    paused.go.set()
    thread.join(60)
    assert refused.returncode == 3, refused.stderr
    assert "waiting up to 0.3 s" in refused.stderr
    assert "another audit retention pass is running" in refused.stderr
    assert f"pid {os.getpid()}" in refused.stderr and "aisoc audit retain --status" in refused.stderr
    assert shown.returncode == 0 and f"pid {os.getpid()}" in shown.stdout, shown.stderr
    assert str((tmp_path / "sched").resolve()) in shown.stdout
    assert out == [5] and len(shared.bus.audit) == 2
    assert not (tmp_path / "cli").exists()
    order = [e.event_id for e in (*cases["a"], cases["b"][0], cases["c"][0], cases["b"][1])]
    assert archived_ids(tmp_path / "sched") == order
    assert "retention pass running: none" in cli("audit", "retain", *shared.flags, "--status").stdout


def test_the_scheduler_skips_while_a_cli_pass_runs_and_runs_once_it_ended(
    shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Given ``aisoc audit retain`` under way (paused once it holds the lock), when the scheduler's
    retention comes due, then it skips this run (logged, nothing archived or trimmed); once the CLI
    pass ended, the next scheduled run archives and trims."""
    publish_cases(shared.bus)
    # Runs 0.2 s apart: the replicas' once-per-run lease (half of that) is over by the next run.
    sched = Scheduler(shared.bus, [], retention=Retention(0, 2, tmp_path / "sched", interval_s=0.2))
    paused = Paused(monkeypatch)
    monkeypatch.setattr("aisoc.cli.configure_logging", lambda *a, **k: None)  # keep caplog's handler
    argv = ["audit", "retain", *shared.flags, "--older-than", "1", "--archive-dir", str(tmp_path / "cli")]
    thread, out = paused.run(lambda: main(argv))
    with caplog.at_level(logging.INFO, logger="aisoc.runtime.scheduler"):
        skipped = sched.retain()
    paused.go.set()
    thread.join(60)
    assert skipped == 0 and len(shared.bus.audit) == 7 and not (tmp_path / "sched").exists()
    assert any("another audit retention pass is running" in r.getMessage() for r in caplog.records)
    assert out == [0]  # nothing was a day old
    monkeypatch.undo()
    time.sleep(0.2)  # the next run
    assert sched.retain() == 5 and len(shared.bus.audit) == 2


def test_a_pass_into_another_folder_refuses_while_a_stopped_pass_is_recorded(
    shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a pass into folder A that died after writing its archive (its journal is in A), when a
    pass into folder B runs (a replica whose archive folder is not A), then it refuses naming A and
    touches nothing, in the API and the CLI; a pass into A finishes the stopped one without
    archiving twice, and then B's passes run again; ``--forget-stopped-pass`` lets B go on when A is
    lost."""
    publish_cases(shared.bus)
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setattr(shared.bus, "trim_audit", crash)
    with pytest.raises(Crash):
        audit.retain(shared.bus, None, a, max_entries=2)
    monkeypatch.undo()
    with pytest.raises(RetentionStopped, match=str(a.resolve())):
        audit.retain(shared.bus, None, b, max_entries=2)
    refused = cli("audit", "retain", *shared.flags, "--older-than", "1", "--archive-dir", str(b))
    assert refused.returncode == 3 and str(a.resolve()) in refused.stderr, refused.stderr
    assert "stopped before it finished" in refused.stderr
    assert str(a.resolve()) in cli("audit", "retain", *shared.flags, "--status").stdout
    assert len(shared.bus.audit) == 7 and not b.exists()
    assert audit.retain(shared.bus, None, a, max_entries=2) is None  # finishes the stopped pass
    assert len(shared.bus.audit) == 2 and len(archived_ids(a)) == 5 == len(set(archived_ids(a)))
    assert audit.retain(shared.bus, None, b, max_entries=1) is not None and len(archived_ids(b)) == 1
    shared.bus.publish(alert_event(9))
    monkeypatch.setattr(shared.bus, "trim_audit", crash)
    with pytest.raises(Crash):
        audit.retain(shared.bus, None, tmp_path / "lost", max_entries=1)
    monkeypatch.undo()
    forgot = cli(
        "audit",
        "retain",
        *shared.flags,
        "--older-than",
        "1",
        "--archive-dir",
        str(b),
        "--forget-stopped-pass",
    )
    assert forgot.returncode == 0 and "forgot the stopped retention pass" in forgot.stderr, forgot.stderr
    assert "pass journal: none" in cli("audit", "retain", *shared.flags, "--status").stdout
    assert audit.retain(shared.bus, None, b, max_entries=1) is not None and len(shared.bus.audit) == 1


def test_a_pass_that_lost_its_lock_trims_nothing_more(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Given a pass whose lock another holder took meanwhile (say, it stalled past the lock's time to
    live), when the pass reaches a destructive step, then it raises RetentionRunning instead of
    trimming beside the other pass; and its end never lets the other holder's lock go."""
    from aisoc import audit_guard as guard

    monkeypatch.setattr(guard, "PASS_TTL_S", 0.3)
    bus = Bus()
    with guard.one_pass(bus, tmp_path) as running:
        assert bus.unhold(guard.PASS_KEY, running.holder.value())
        assert bus.hold(guard.PASS_KEY, 60, "another pass")
        for _ in range(100):  # the renewal runs every 0.1 s
            if running.lost:
                break
            threading.Event().wait(0.05)
        with pytest.raises(guard.RetentionRunning, match="another pass took the retention lock"):
            running.check()
    assert bus.holder_of(guard.PASS_KEY) == "another pass"
