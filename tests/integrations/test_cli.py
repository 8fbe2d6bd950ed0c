"""``aisoc ingest``: a source as a process, with a persisted cursor, follow mode and a clean SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from aisoc.bus import Bus
from aisoc.cli import main
from aisoc.events import AlertReceived

DATA = Path(__file__).resolve().parents[2] / "data"
WAZUH = DATA / "wazuh" / "alerts.jsonl"


def published(bus_url: str) -> list[str]:
    return [e.case_id for e in Bus(bus_url).audit if isinstance(e, AlertReceived)]


def test_ingest_resumes_from_the_saved_cursor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a Wazuh export ingested with --limit 5, when ingested again, then the rest is published from the
    saved cursor and nothing twice; --from-start finds only duplicates."""
    monkeypatch.chdir(tmp_path)
    bus = f"sqlite:///{tmp_path / 'soc.db'}"
    assert main(["ingest", "wazuh", str(WAZUH), "--bus", bus, "--limit", "5"]) == 0
    assert main(["ingest", "wazuh", str(WAZUH), "--bus", bus]) == 0
    assert main(["ingest", "wazuh", str(WAZUH), "--bus", bus, "--from-start"]) == 0
    out = capsys.readouterr().out
    assert "pass 1: 5 published" in out and "resuming wazuh at cursor" in out and "89 duplicate(s)" in out
    cases = published(bus)
    assert len(cases) == len(set(cases)) == 89
    saved = json.loads((tmp_path / ".aisoc" / "cursors.json").read_text())
    st = WAZUH.stat()
    assert saved == {f"wazuh:{WAZUH.resolve()}": f"{st.st_size}@{st.st_dev}:{st.st_ino}"}


def test_ingest_reports_rejected_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a JSONL file with one unreadable line, when ingested, then it is counted and dead-lettered."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"id": "1", "time": 1700000000, "message": "x"}\nnot json\n')
    bus = f"sqlite:///{tmp_path / 'soc.db'}"
    assert main(["ingest", "jsonl", str(path), "--bus", bus]) == 0
    assert "1 published, 0 duplicate(s), 1 rejected (dead-lettered" in capsys.readouterr().out
    assert Bus(bus).dead_letters()[0].payload == "not json"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ingest", "nope", "x"], "unknown alert source 'nope'"),
        (["ingest", "wazuh", "/nonexistent.jsonl"], "does not exist"),
        (["ingest", "wazuh", str(WAZUH), "--limit", "0"], "--limit must be at least 1"),
        (["ingest", "xsoar"], "[integrations.xsoar] url and api_key"),
    ],
)
def test_ingest_errors_are_clear(
    argv: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Given a wrong source, file, limit or missing credentials, when run, then exit 2 with the reason."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AISOC_CONFIG", raising=False)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unreachable_api_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given XSOAR settings pointing at a closed port, when ingested once, then exit 1 names the failure."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "aisoc.toml"
    config.write_text(
        "[integrations.http]\nretries = 0\n"
        '[integrations.xsoar]\nurl = "http://127.0.0.1:9"\napi_key = "k-123456"\n'
    )
    assert main(["--config", str(config), "ingest", "xsoar", "--bus", "memory://"]) == 1
    err = capsys.readouterr().err
    assert "xsoar: ConnectError" in err and "k-123456" not in err


def test_follow_mode_tails_the_file_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """Given 'aisoc ingest --follow' on a growing file, when a line is appended, then the next pass publishes
    it; when SIGTERM arrives, then the process exits 0 with a summary and its cursor saved."""
    lines = WAZUH.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "alerts.jsonl"
    path.write_text("".join(lines[:2]))
    bus = f"sqlite:///{tmp_path / 'soc.db'}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("AISOC_CONFIG", None)
    cmd = [sys.executable, "-m", "aisoc", "ingest", "wazuh", str(path), "--bus", bus, "--interval", "0.05"]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("pass 1: 2 published")
        with path.open("a", encoding="utf-8") as f:
            f.write(lines[2])
        second = proc.stdout.readline()  # idle passes print nothing: the next line is the appended alert
        assert second.startswith("pass ") and ": 1 published" in second
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "SIGTERM: stopping" in out and "ingested from wazuh" in out
    assert len(published(bus)) == 3
    cursors = json.loads((tmp_path / ".aisoc" / "cursors.json").read_text())
    st = path.stat()
    assert cursors[f"wazuh:{path.resolve()}"] == f"{st.st_size}@{st.st_dev}:{st.st_ino}"


def test_a_damaged_cursor_file_stops_ingest_with_its_name_and_the_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a cursors file cut in the middle (or holding a list), when ingest starts, then it refuses with
    the file's name and what removing it would do, instead of a JSON traceback; nothing is published."""
    monkeypatch.chdir(tmp_path)
    bus = f"sqlite:///{tmp_path / 'soc.db'}"
    state = tmp_path / ".aisoc"
    state.mkdir()
    for damaged in ('{"wazuh:/x": ', "[1, 2]"):
        (state / "cursors.json").write_text(damaged)
        assert main(["ingest", "wazuh", str(WAZUH), "--bus", bus]) != 0
        err = capsys.readouterr().err
        assert "cursors.json is not a JSON object of source cursors" in err and "remove it" in err
    assert published(bus) == []
