"""An interrupted replay says what was done and leaves a consistent partial output, or none: SIGTERM as
well as Ctrl-C, and a crash never leaves an earlier run's metrics beside this run's tickets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aisoc.cli import main
from aisoc.replay import RunFiles, TicketResult, read_results, recompute
from tests.aisoc.replay.support import guide_with_grades, run, same
from tests.support.fake_openai import fake_openai


class Crash:
    """A progress sink that fails hard (not Ctrl-C) after ``n`` tickets."""

    def __init__(self, n: int) -> None:
        self.n, self.seen = n, 0

    def arm(self, arm: str, total: int, done: int) -> None:
        pass

    def ticket(self, result: TicketResult) -> None:
        self.seen += 1
        if self.seen == self.n:
            raise SystemExit("killed")


def test_a_crash_leaves_no_metrics_of_an_earlier_run_beside_this_runs_tickets(tmp_path: Path) -> None:
    """Given metrics written by an earlier replay at --out, when a fresh replay to the same --out dies mid-run
    (not Ctrl-C: nothing is written at the end), then no metrics file claims figures of the other run
    beside this run's partial tickets, and --resume finishes this run."""
    data = guide_with_grades(tmp_path / "g.csv", same, incidents=20)
    out = tmp_path / "m.json"
    run(data, "guide", out=out, limit=5)
    assert json.loads(out.read_text())["tickets"] == 5
    with pytest.raises(SystemExit):
        run(data, "guide", out=out, progress=Crash(8))
    assert len(read_results(RunFiles(out).tickets)) == 8
    assert not out.exists()
    resumed = run(data, "guide", out=out, resume=True)
    assert resumed.metrics["tickets"] == 20 and len(read_results(RunFiles(out).tickets)) == 20


def test_sigterm_stops_like_ctrl_c_keeping_consistent_partial_files(tmp_path: Path) -> None:
    """Given `aisoc replay` on a model server that holds its answer after 10, when the process gets SIGTERM
    (what a supervisor or `docker stop` sends) while a request is held, then it stops after the current
    ticket, says so, writes metrics for what was done that recompute from the tickets file, and exits
    143 (128 + SIGTERM; Ctrl-C exits 130); --resume finishes the run."""
    out = tmp_path / "m.json"
    data = guide_with_grades(tmp_path / "g.csv", same, incidents=30)
    with fake_openai(hold_after=10) as fake:
        model = ["--model", f"openai+{fake.url}?mode=json"]
        args = [sys.executable, "-m", "aisoc", "replay", str(data), "--source", "guide", *model]
        args += ["--recall", "on", "--out", str(out), "--no-progress"]
        env = {**os.environ, "AISOC_CONFIG": ""}
        proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(fake.requests) <= 10:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        fake.release.set()
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 143, (proc.returncode, stderr.decode()[-2000:])
        partial = json.loads(out.read_text())
        assert (
            partial["errors"][-1]["stage"] == "interrupted" and "SIGTERM" in partial["errors"][-1]["message"]
        )
        tickets = RunFiles(out).tickets
        done = len(read_results(tickets))
        assert 0 < done < 30 and partial["tickets"] == done
        again = recompute(tickets)
        assert {k: again[k] for k in ("confusion", "baselines", "lift")} == {
            k: partial[k] for k in ("confusion", "baselines", "lift")
        }
        assert b"--resume" in stdout and b"SIGTERM" in stderr

        resume = ["replay", str(data), "--source", "guide", *model, "--recall", "on", "--out", str(out)]
        assert main([*resume, "--resume", "--no-progress"]) == 0
    final = json.loads(out.read_text())
    assert final["run_id"] == partial["run_id"] and final["tickets"] == 30
