"""``aisoc replay`` on the command line: the old short form still works, options are checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aisoc.cli import main
from tests.aisoc.replay.support import WAZUH

TICKETS = [
    {"id": "a-1", "title": "Mimikatz credential dumping on ws-1", "severity": "critical", "host": "ws-1",
     "timestamp": "2026-01-02T10:00:00Z", "truth": "escalated"},
    {"id": "a-2", "title": "Scheduled backup finished", "severity": "info", "host": "srv-9",
     "timestamp": "2026-01-02T09:00:00Z", "truth": "benign"},
    {"id": "a-3", "title": "Unusual login", "severity": "medium", "host": "ws-2",
     "timestamp": "2026-01-02T11:00:00Z"},
]  # fmt: skip


def test_the_short_form_replays_a_jsonl_file_and_prints_the_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a JSONL file, when `aisoc replay FILE --dry-run --paths` runs, then each case's path and the
    scores are printed and nothing is written."""
    path = tmp_path / "tickets.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in TICKETS))
    assert main(["replay", str(path), "--dry-run", "--paths", "--no-progress", "--recall", "off"]) == 0
    out = capsys.readouterr().out
    assert "jsonl:a-1" in out and "sentinel" in out
    assert "3 tickets from jsonl with model stub (2 with ground truth" in out
    assert "TP " in out and "precision" in out
    assert list(tmp_path.iterdir()) == [path]


def test_resume_without_out_and_stratify_without_sample_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Given contradictory options, when run, then the command exits 2 saying why."""
    assert main(["replay", str(WAZUH), "--source", "wazuh", "--dry-run", "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err
    assert main(["replay", str(WAZUH), "--source", "wazuh", "--dry-run", "--stratify"]) == 2
    assert "--stratify needs --sample" in capsys.readouterr().err


def test_a_stratified_sample_from_the_cli_writes_metrics_and_tickets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given --sample 20 --stratify, when replayed with --out, then 20 tickets are scored and written."""
    out = tmp_path / "runs" / "wazuh.json"
    args = ["replay", str(WAZUH), "--source", "wazuh", "--dry-run", "--sample", "20", "--stratify"]
    assert main([*args, "--seed", "3", "--out", str(out), "--no-progress"]) == 0
    m = json.loads(out.read_text())
    assert m["tickets"] == 20 and m["with_truth"] == 20
    assert len((tmp_path / "runs" / "wazuh.tickets.jsonl").read_text().splitlines()) == 20
    assert "per-ticket outcomes:" in capsys.readouterr().out


def test_the_summary_puts_the_team_beside_its_baselines_at_the_label_delay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a replay with a 12-hour label delay, when it finishes, then the summary names the delay, lists
    every baseline beside the team, the lift over the best, and the guardrail's counts; the metrics agree."""
    out = tmp_path / "w.json"
    argv = ["replay", str(WAZUH), "--source", "wazuh", "--dry-run", "--no-progress", "--label-delay", "12h"]
    assert main([*argv, "--recall", "ab", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    m = json.loads(out.read_text())
    assert m["label_delay"] == "12h" and "baselines (label delay 12h)" in text
    for name in ("escalate_all", "majority_or_escalate", "majority_or_close", "previous_rule"):
        assert name in text
    assert f"lift over the best baseline ({m['lift']['best_baseline']})" in text
    assert f"overruled {m['guardrail']['overruled']} closes" in text
    assert "recall off: team F1" in text and "recall on: team F1" in text


def test_a_bad_label_delay_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Given a label delay that is not a duration, when replay starts, then it stops with exit 2 and says
    why."""
    assert main(["replay", str(WAZUH), "--source", "wazuh", "--dry-run", "--label-delay", "tomorrow"]) == 2
    assert "--label-delay" in capsys.readouterr().err


def test_resuming_with_another_label_delay_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a finished replay at the default delay, when resumed at delay 0, then it is refused, naming
    the delay."""
    out = tmp_path / "w.json"
    argv = [
        "replay",
        str(WAZUH),
        "--source",
        "wazuh",
        "--dry-run",
        "--no-progress",
        "--limit",
        "5",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert main([*argv, "--resume", "--label-delay", "0"]) == 2
    assert "label_delay: was '1d', now '0'" in capsys.readouterr().err
