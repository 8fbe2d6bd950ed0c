"""An ingest process whose bus fails mid-pass loses no alert and publishes none twice."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from aisoc import Bus
from aisoc.cli import main
from aisoc.errors import BusError
from aisoc.ingest import IngestRun, run_ingest
from aisoc.sources import CursorStore, Resumable, open_source
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


def test_the_kernel_runner_following_a_source_waits_out_a_bus_failure_and_keeps_its_cursor(
    tmp_path: Path,
) -> None:
    """Given the kernel's ingest runner following the Wazuh sample on a bus that fails on the 5th
    alert, when it polls until its first full pass, then each case is published exactly once (and
    counted: the 4 published before the failure too), the cursor is saved under the source's key,
    and a second run resumes there with nothing new."""
    url = f"sqlite:///{tmp_path}/soc.db"
    store = CursorStore(tmp_path / "cursors.json")
    stop = threading.Event()
    said: list[str] = []

    def say(line: str) -> None:
        said.append(line)
        if line.startswith("pass "):
            stop.set()

    source = open_source("wazuh", str(SAMPLE))
    run = IngestRun(follow=True, interval_s=0.01, name="wazuh")
    total = run_ingest(source, FlakyBus(url, fail_at=5), store, run, stop, say)  # type: ignore[arg-type]
    assert said == ["pass 1: 8 published, 0 duplicate(s), 0 rejected"] and total.published == 12
    cases = Counter(e.case_id for e in Bus(url).audit)
    assert len(cases) == 12 and set(cases.values()) == {1}
    assert isinstance(source, Resumable) and store.get(source.cursor_key) == source.cursor
    again = run_ingest(
        open_source("wazuh", str(SAMPLE)), Bus(url), store, IngestRun(), threading.Event(), say
    )
    assert again.published == 0 and said[1].startswith("resuming wazuh at cursor ")
    with pytest.raises(ValueError, match="limit must be at least 1"):
        IngestRun(limit=0)


def test_a_limit_counts_what_a_failed_pass_published(tmp_path: Path) -> None:
    """Given the runner following the 12-alert sample with ``limit=6`` on a bus that fails on the 5th
    alert, then it stops after exactly 6 alerts: the 4 before the failure count toward the limit."""
    url = f"sqlite:///{tmp_path}/soc.db"
    store = CursorStore(tmp_path / "cursors.json")
    run = IngestRun(follow=True, interval_s=0.01, limit=6, name="wazuh")
    source = open_source("wazuh", str(SAMPLE))
    total = run_ingest(source, FlakyBus(url, fail_at=5), store, run, threading.Event(), lambda _: None)  # type: ignore[arg-type]
    assert total.published == 6
    assert len({e.case_id for e in Bus(url).audit}) == 6 == len(Bus(url).audit)


@pytest.mark.parametrize("from_start", [False, True])
def test_a_bus_down_at_the_first_alert_of_a_source_read_from_its_start_loses_nothing(
    tmp_path: Path, from_start: bool
) -> None:
    """Given a source read from its start (no saved cursor, or --from-start over one) and a bus that
    fails on the very first publish (Redis down as ingest starts), when the runner follows it until
    its first full pass and a SIGTERM then stops it, then every alert is published exactly once and
    the saved cursor is the end of the file: the first alert is not skipped."""
    url = f"sqlite:///{tmp_path}/soc.db"
    store = CursorStore(tmp_path / "cursors.json")
    if from_start:
        store.set(open_source("wazuh", str(SAMPLE)).cursor_key, "0")  # type: ignore[union-attr]
    stop = threading.Event()
    source = open_source("wazuh", str(SAMPLE))
    run = IngestRun(follow=True, interval_s=0.01, name="wazuh", from_start=from_start)
    say = lambda line: stop.set() if line.startswith("pass ") else None  # noqa: E731
    total = run_ingest(source, FlakyBus(url, fail_at=1), store, run, stop, say)  # type: ignore[arg-type]
    cases = Counter(e.case_id for e in Bus(url).audit)
    assert total.published == 12 and len(cases) == 12 and set(cases.values()) == {1}
    saved = store.get(source.cursor_key) if isinstance(source, Resumable) else None
    assert saved is not None and saved.split("@")[0] == str(SAMPLE.stat().st_size)  # OFFSET@DEVICE:INODE


def test_a_damaged_saved_cursor_stops_ingest_with_its_file_and_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a cursors.json whose entry for the Wazuh file is not a byte offset (edited by hand),
    when aisoc ingest starts, then it stops before publishing with the file, the entry and what to
    do, instead of a traceback; with the entry removed, every alert is published."""
    url = f"sqlite:///{tmp_path}/soc.db"
    monkeypatch.setenv("AISOC_STATE_DIR", str(tmp_path / "state"))
    key = open_source("wazuh", str(SAMPLE)).cursor_key  # type: ignore[union-attr]
    cursors = tmp_path / "state" / "cursors.json"
    cursors.parent.mkdir()
    cursors.write_text(json.dumps({key: "abc"}))
    assert main(["ingest", "wazuh", str(SAMPLE), "--bus", url]) == 2
    err = capsys.readouterr().err
    assert f"cursor 'abc' saved for {key} in {cursors} is not one this source writes" in err
    assert "remove that entry" in err and len(Bus(url).audit) == 0
    cursors.write_text("{}")
    assert main(["ingest", "wazuh", str(SAMPLE), "--bus", url]) == 0
    assert len(Bus(url).audit) == 12
