"""Ctrl-C keeps what is done, and ``--resume`` continues to the same result as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aisoc.cli import main
from aisoc.replay import RunFiles, TicketResult, read_results
from tests.aisoc.replay.support import guide_with_grades, run, same
from tests.support.fake_openai import fake_openai

ROOT = Path(__file__).resolve().parents[3]


class StopAfter:
    """A progress sink that presses Ctrl-C after ``n`` tickets of arm ``arm``."""

    def __init__(self, arm: str, n: int) -> None:
        self.target, self.n, self.current, self.seen = arm, n, "", 0

    def arm(self, arm: str, total: int, done: int) -> None:
        self.current = arm

    def ticket(self, result: TicketResult) -> None:
        if self.current == self.target:
            self.seen += 1
            if self.seen == self.n:
                raise KeyboardInterrupt


def _cells(path: Path) -> dict[tuple[str, str], tuple[str, str, str | None]]:
    return {(r.arm, r.ticket_id): (r.cell, r.team, r.sentinel) for r in read_results(path)}


def _scores(m: dict[str, Any]) -> dict[str, Any]:
    keep = ("tickets", "with_truth", "human_review", "confusion", "precision", "recall", "f1", "accuracy")
    return {k: m[k] for k in keep} | {"recall_ab": m["recall_ab"]}


def test_interrupted_ab_replay_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    """Given a recall A/B stopped by Ctrl-C in its recall-on arm, when resumed, then every ticket's outcome
    and every score equal those of a run that was never interrupted (memory restored from the journal)."""
    data = guide_with_grades(tmp_path / "guide.csv", same, incidents=240)
    whole = run(data, "guide", recall="ab", out=tmp_path / "whole" / "m.json")
    cut = tmp_path / "cut" / "m.json"
    first = run(data, "guide", recall="ab", out=cut, progress=StopAfter("on", 90))
    assert first.interrupted and len(first.arms["off"]) == 240 and len(first.arms["on"]) == 90
    written = json.loads(cut.read_text())
    assert written["errors"][-1]["stage"] == "interrupted" and written["recall_ab"]["on"]["tickets"] == 90
    assert len(read_results(RunFiles(cut).tickets)) == 330  # what was done is kept

    resumed = run(data, "guide", recall="ab", out=cut, resume=True)
    assert not resumed.interrupted and len(resumed.arms["on"]) == 240
    assert _cells(RunFiles(cut).tickets) == _cells(RunFiles(tmp_path / "whole" / "m.json").tickets)
    final = json.loads(cut.read_text())
    assert _scores(final) == _scores(whole.metrics)
    assert final["run_id"] == written["run_id"]  # the same run, continued
    assert len(read_results(RunFiles(cut).tickets)) == 480  # nothing replayed twice


def test_resume_refuses_the_files_of_another_replay(tmp_path: Path) -> None:
    """Given the files of a recall-off replay, when resumed as a recall-on replay, then it is refused."""
    data = guide_with_grades(tmp_path / "guide.csv", same, incidents=20)
    out = tmp_path / "m.json"
    run(data, "guide", recall="off", out=out)
    with pytest.raises(ValueError, match="another replay.*recall"):
        run(data, "guide", recall="on", out=out, resume=True)


def test_a_torn_last_line_is_replayed_again_on_resume(tmp_path: Path) -> None:
    """Given a tickets file whose last line was cut by a crash, when resumed, then that ticket runs again."""
    data = guide_with_grades(tmp_path / "guide.csv", same, incidents=30)
    out = tmp_path / "m.json"
    run(data, "guide", recall="on", out=out)
    tickets = RunFiles(out).tickets
    lines = tickets.read_text().splitlines(keepends=True)
    tickets.write_text("".join(lines[:20]) + lines[20][:40])
    resumed = run(data, "guide", recall="on", out=out, resume=True)
    assert [r.seq for r in resumed.arms["on"]] == list(range(30))
    assert len(read_results(tickets)) == 30


def test_ctrl_c_on_the_cli_keeps_the_work_and_resume_finishes_it(tmp_path: Path) -> None:
    """Given `aisoc replay` running on a model server that hangs after 20 answers, when it gets SIGINT
    while a request is held, then it exits 130 with partial metrics written, and `--resume` finishes
    the run. (The held request makes the interrupt land mid-run however fast or loaded the machine.)"""
    out = tmp_path / "m.json"
    data = guide_with_grades(tmp_path / "guide.csv", same, incidents=60)
    with fake_openai(hold_after=20) as fake:
        model = ["--model", f"openai+{fake.url}?mode=json"]
        args = [sys.executable, "-m", "aisoc", "replay", str(data), "--source", "guide", *model]
        args += ["--recall", "ab", "--out", str(out), "--no-progress"]
        env = {**os.environ, "AISOC_CONFIG": ""}
        proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(fake.requests) <= 20:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        fake.release.set()
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 130, stderr.decode()[-2000:]
        partial = json.loads(out.read_text())
        tickets = RunFiles(out).tickets
        done = len(read_results(tickets))
        assert partial["errors"][-1]["stage"] == "interrupted" and 0 < done < 2 * 60
        assert b"--resume" in stdout

        again = ["replay", str(data), "--source", "guide", *model, "--recall", "ab", "--out", str(out)]
        assert main([*again, "--resume", "--no-progress"]) == 0
    final = json.loads(out.read_text())
    assert final["run_id"] == partial["run_id"] and final["recall_ab"]["on"]["tickets"] == final["tickets"]
    assert len(read_results(tickets)) == 2 * final["tickets"]
