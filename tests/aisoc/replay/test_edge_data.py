"""Edge data through `aisoc replay`: empty and one-ticket inputs, one label only, missing labels,
duplicates, tickets out of order, time zones, label times, and malformed Wazuh and GUIDE lines — each
bad line counted and reported with its line number, never dropped in silence, and the run finishes."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from aisoc.cli import main
from aisoc.events import Disposition
from aisoc.models import StubChatModel
from aisoc.replay import Replay, Selection, metrics_schema
from aisoc.replay.dashboard import render_page
from aisoc.sources import Truth
from tests.aisoc.replay.support import GUIDE, WAZUH, run
from tests.aisoc.replay.toy import START, alert, toy_selection

LINES = WAZUH.read_bytes().splitlines(keepends=True)


def _replay(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["replay", *argv, "--dry-run", "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def _wazuh(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def _label(line: bytes) -> str:
    return str(json.loads(line)["label"])


def test_an_empty_replay_writes_valid_metrics_with_nothing_claimed(tmp_path: Path) -> None:
    """Given a selection with no ticket at all (the engine used directly), when replayed A/B, then the
    metrics validate and every figure, the team's and the baselines', is null, not 0; the dashboard
    shows it."""
    result = Replay(
        StubChatModel(), Selection(), source="toy", model_spec="stub", recall="ab", out=tmp_path / "m.json"
    ).run()
    m = json.loads((tmp_path / "m.json").read_text())
    jsonschema.validate(m, metrics_schema())
    assert m["tickets"] == 0 and not result.interrupted
    assert [m[k] for k in ("precision", "recall", "f1", "accuracy")] == [None] * 4
    assert all(b["f1"] is None for b in m["baselines"].values()) and m["lift"]["best_baseline"] is None
    assert m["recall_ab"]["delta"] == {"precision": None, "recall": None, "f1": None}
    assert "n/a" in render_page([m])


@pytest.mark.parametrize("content", [b"", b"\r\n\r\n"], ids=["empty", "blank-lines"])
def test_an_empty_wazuh_file_exits_1_saying_there_is_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    """Given an empty Wazuh file, when replayed, then it exits 1 naming the file and writes nothing."""
    path = _wazuh(tmp_path / "w.jsonl", [content])
    code, _, err = _replay([str(path), "--source", "wazuh", "--out", str(tmp_path / "m.json")], capsys)
    assert code == 1 and "no ticket to replay" in err and str(path) in err
    assert not (tmp_path / "m.json").exists()


def test_a_guide_csv_with_only_its_header_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Given a GUIDE evidence file holding only its header row, when replayed, then it exits 1 saying so."""
    path = tmp_path / "g.csv"
    path.write_bytes(GUIDE.read_bytes().splitlines(keepends=True)[0])
    code, _, err = _replay([str(path), "--source", "guide"], capsys)
    assert code == 1 and "no ticket to replay" in err


def test_one_ticket_replays_and_every_undefined_figure_is_shown_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given one real false-positive Wazuh alert, when replayed A/B, then the run finishes, F1 is null for
    the team and every baseline (no true positive: it is undefined), printed as n/a, never 0."""
    fp = next(line for line in LINES if _label(line) == "FP")
    path = _wazuh(tmp_path / "one.jsonl", [fp])
    out = tmp_path / "m.json"
    code, text, _ = _replay([str(path), "--source", "wazuh", "--recall", "ab", "--out", str(out)], capsys)
    assert code == 0
    m = json.loads(out.read_text())
    jsonschema.validate(m, metrics_schema())
    assert m["tickets"] == m["with_truth"] == 1
    assert m["f1"] is None and m["lift"]["team"]["f1"] is None
    assert all(b["f1"] is None for b in m["baselines"].values())
    assert "F1 n/a" in text and "F1 0.000" not in text


@pytest.mark.parametrize("label", ["TP", "FP"])
def test_a_file_with_a_single_label_shows_undefined_scores_as_undefined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], label: str
) -> None:
    """Given the real Wazuh alerts of one label only, when replayed, then the run finishes; with only false
    positives recall (and so F1) is undefined for the team and for every baseline and shown as n/a; the
    dashboard renders it."""
    lines = [line for line in LINES if _label(line) == label]
    path = _wazuh(tmp_path / "w.jsonl", lines)
    out = tmp_path / "m.json"
    code, text, _ = _replay([str(path), "--source", "wazuh", "--recall", "ab", "--out", str(out)], capsys)
    assert code == 0
    m = json.loads(out.read_text())
    jsonschema.validate(m, metrics_schema())
    assert m["tickets"] == len(lines)
    if label == "FP":
        assert m["recall"] is None and m["f1"] is None
        assert all(b["recall"] is None and b["f1"] is None for b in m["baselines"].values())
        assert m["lift"]["f1"] is None and "recall n/a" in text
    else:
        assert m["baselines"]["escalate_all"]["f1"] == 1.0
    html = render_page([m])
    assert 'id="baselines-table"' in html


def test_tickets_without_a_label_count_in_no_denominator_of_team_or_baselines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given real Wazuh alerts of which every third has no label, when replayed, then the unlabeled
    tickets are replayed, counted apart, and outside the team's and every baseline's matrix alike."""
    lines = []
    for i, line in enumerate(LINES[:30]):
        record = json.loads(line)
        if i % 3 == 0:
            del record["label"]
        lines.append(json.dumps(record).encode() + b"\r\n")
    path = _wazuh(tmp_path / "w.jsonl", lines)
    out = tmp_path / "m.json"
    code, _, _ = _replay([str(path), "--source", "wazuh", "--recall", "ab", "--out", str(out)], capsys)
    assert code == 0
    m = json.loads(out.read_text())
    assert (m["tickets"], m["with_truth"]) == (30, 20)
    assert sum(m["lift"]["team"]["confusion"].values()) == 20
    assert all(sum(b["confusion"].values()) == 20 for b in m["baselines"].values())


def test_tickets_out_of_time_order_replay_in_time_order_with_the_same_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given the real Wazuh alerts in reverse file order, when replayed, then every ticket's outcome and
    baseline decisions equal those of the file in its own order (tickets run in time order)."""
    forward = _wazuh(tmp_path / "f.jsonl", LINES[:40])
    backward = _wazuh(tmp_path / "b.jsonl", list(reversed(LINES[:40])))
    seen = []
    for path in (forward, backward):
        result = run(path, "wazuh", recall="on", label_delay=timedelta(hours=1))
        seen.append([(r.ticket_id, r.created_at, r.cell, r.baselines) for r in result.arms["on"]])
    assert seen[0] == seen[1]
    times = [t for _, t, _, _ in seen[0]]
    assert times == sorted(times)


def test_timestamps_with_and_without_a_zone_order_by_the_instant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given JSONL tickets stamped with an offset, with Z and without a zone (taken as UTC), when replayed,
    then they run in order of the actual instant."""
    stamps = {
        "naive": "2026-01-02T09:00:00",
        "offset": "2026-01-02T10:00:00+02:00",
        "zulu": "2026-01-02T08:30:00Z",
    }
    tickets = [
        {"id": k, "title": f"alert {k}", "severity": "high", "timestamp": t, "truth": "benign"}
        for k, t in stamps.items()
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in tickets))
    result = run(path, "jsonl")
    assert [r.ticket_id for r in result.arms["off"]] == ["jsonl:offset", "jsonl:zulu", "jsonl:naive"]


def test_a_duplicate_is_reported_with_its_place_in_the_file(tmp_path: Path) -> None:
    """Given a Wazuh file whose 4th line repeats the 2nd alert, when replayed, then the duplicate is an error
    of the source stage naming the ticket and where it was read (record 4, the first being record 2),
    and is not scored."""
    path = _wazuh(tmp_path / "w.jsonl", [*LINES[:3], LINES[1], *LINES[3:6]])
    m = run(path, "wazuh").metrics
    assert m["tickets"] == 6
    (dup,) = m["errors"]
    assert dup["stage"] == "source" and dup["ticket_id"].startswith("wazuh:")
    assert "record 4" in dup["message"] and "record 2" in dup["message"]


def test_malformed_wazuh_lines_are_each_reported_with_their_line_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given real Wazuh alerts with a truncated line, a line in Latin-1, a JSON array, a line whose
    timestamp has no zone, and a truncated last line, when replayed, then the run finishes (exit 0),
    the good lines are scored and each bad line is an error naming its line number; the summary counts
    them."""
    latin = LINES[5].replace(b'"description": "', b'"description": "caf\xe9 ', 1)
    assert latin != LINES[5]
    naive = re.sub(rb'"timestamp": "([^"+]+)\+0000"', rb'"timestamp": "\1"', LINES[6], count=1)
    assert naive != LINES[6]
    bad = [
        LINES[0],
        LINES[1][:200] + b"\r\n",  # line 2: truncated
        LINES[2],
        latin,  # line 4: not UTF-8
        b"[1, 2, 3]\r\n",  # line 5: not an object
        naive,  # line 6: a timestamp without its zone
        LINES[3],
        LINES[4][:150],  # line 8: the last line, cut without its end
    ]
    path = _wazuh(tmp_path / "w.jsonl", bad)
    out = tmp_path / "m.json"
    code, text, _ = _replay([str(path), "--source", "wazuh", "--out", str(out)], capsys)
    assert code == 0
    m = json.loads(out.read_text())
    source_errors = [e for e in m["errors"] if e["stage"] == "source"]
    scored = m["tickets"]
    assert scored + len(source_errors) == len(bad)
    for n in (2, 4, 5, 8):
        assert any(f"line {n}" in e["message"] for e in source_errors), (n, source_errors)
    assert f"{len(source_errors)} source" in text


def test_malformed_guide_rows_are_each_reported_with_their_line_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given real GUIDE evidence rows with a row of extra columns, a truncated row, a row in Latin-1 and an
    unbalanced quote, when replayed, then the run finishes and each bad row is an error naming its
    line; the rows after them are read."""
    raw = GUIDE.read_bytes().splitlines(keepends=True)
    header, rows = raw[0], raw[1:41]
    bad = [
        header,
        *rows[:5],
        rows[5].rstrip(b"\r\n") + b",extra,columns\r\n",  # line 7
        rows[6][: len(rows[6]) // 2] + b"\r\n",  # line 8
        rows[7].replace(b",", b",\xe9", 1),  # line 9
        rows[8].replace(b",", b',"', 1),  # line 10: an unbalanced quote
        *rows[9:],
    ]
    path = tmp_path / "g.csv"
    path.write_bytes(b"".join(bad))
    out = tmp_path / "m.json"
    code, text, _ = _replay([str(path), "--source", "guide", "--out", str(out)], capsys)
    assert code == 0
    m = json.loads(out.read_text())
    messages = [e["message"] for e in m["errors"] if e["stage"] == "source"]
    for n in (7, 8, 9, 10):
        assert any(f"line {n}" in msg for msg in messages), (n, messages)
    assert m["tickets"] > 0 and "source" in text


def test_a_label_time_before_the_alert_is_known_from_the_alert_on(tmp_path: Path) -> None:
    """Given a source whose label time is an hour BEFORE its alert (a clock error), when replayed with a
    one-day delay, then the label is known from the alert's own time on (the next ticket, a minute
    later, sees it), never earlier, and the run finishes."""
    early = Truth(
        escalated=True, label=Disposition.TRUE_POSITIVE, field="truth", labeled_at=START - timedelta(hours=1)
    )
    fp = Truth(escalated=False, label=Disposition.FALSE_POSITIVE, field="truth")
    rows = [(0, "acme", "r1", early), (1 / 60, "acme", "r1", fp)]
    result = Replay(StubChatModel(), toy_selection(rows), source="toy", model_spec="stub").run()
    first, second = result.arms["off"]
    assert first.baselines is not None and second.baselines is not None
    assert first.baselines["majority_or_close"] is False  # nothing known before the first alert
    assert second.baselines["majority_or_close"] is True  # the first's label, known at its alert


def test_a_label_time_without_a_zone_is_taken_as_utc() -> None:
    """Given a source whose label time carries no zone, when replayed, then it is read as UTC (as naive
    alert times are) instead of failing to compare with the zoned alert time."""
    naive = Truth(
        escalated=True,
        label=Disposition.TRUE_POSITIVE,
        field="truth",
        labeled_at=datetime(2024, 3, 4, 0, 30),  # START + 30 min, without a zone
    )
    fp = Truth(escalated=False, label=Disposition.FALSE_POSITIVE, field="truth")
    rows = [(0, "acme", "r1", naive), (0.25, "acme", "r1", fp), (1, "acme", "r1", fp)]
    result = Replay(StubChatModel(), toy_selection(rows), source="toy", model_spec="stub").run()
    decisions = [r.baselines["majority_or_close"] for r in result.arms["off"] if r.baselines]
    assert decisions == [False, False, True]  # known at 00:30 UTC: not at 00:15, at 01:00
    assert alert(0, 0, "acme", "r1").created_at == START


@pytest.mark.parametrize("delay", [timedelta(0), timedelta(days=1)])
def test_a_sources_own_label_time_wins_over_the_label_delay_for_memory_and_baselines(
    delay: timedelta,
) -> None:
    """Given a first ticket labelled by its source two hours after its alert, when replayed with recall on
    at label delay 0 and at one day, then the label is known at exactly two hours whatever the delay:
    neither the baselines nor memory (its ``truth.labeled``) have it for the ticket one hour later, both
    have it for the ticket three hours later, and the tickets without a label time follow the delay."""
    tp = Truth(
        escalated=True, label=Disposition.TRUE_POSITIVE, field="truth", labeled_at=START + timedelta(hours=2)
    )
    fp = Truth(escalated=False, label=Disposition.FALSE_POSITIVE, field="truth")
    rows = [(0, "acme", "r1", tp), (1, "acme", "r1", fp), (3, "acme", "r1", fp)]
    result = Replay(
        StubChatModel(), toy_selection(rows), source="toy", model_spec="stub", recall="on", label_delay=delay
    ).run()
    decisions = [r.baselines["majority_or_close"] for r in result.arms["on"] if r.baselines]
    # t1 knows nothing (t0 due at 02:00); t2 knows t0's TP and, at delay 0, t1's FP too (a tie: close)
    assert decisions == [False, False, delay > timedelta(0)]
    log = [
        (e.type, e.case_id) for e in result.buses["on"].audit if e.type in ("alert.received", "truth.labeled")
    ]
    first_label = log.index(("truth.labeled", "acme/toy:0"))
    assert (
        log.index(("alert.received", "acme/toy:1"))
        < first_label
        < log.index(("alert.received", "acme/toy:2"))
    )


def test_more_bad_lines_than_are_listed_are_still_counted_by_stage(tmp_path: Path) -> None:
    """Given real Wazuh alerts followed by 1,100 truncated lines, when replayed, then the run finishes, the
    first 1,000 errors are listed with their line numbers and the summary entry counts the rest by stage,
    so every bad line is counted."""
    path = _wazuh(tmp_path / "w.jsonl", [*LINES[:5], *([LINES[5][:80] + b"\r\n"] * 1100)])
    m = run(path, "wazuh").metrics
    assert m["tickets"] == 5 and len(m["errors"]) == 1001
    assert m["errors"][999]["message"].startswith("wazuh: line 1005:")
    last = m["errors"][-1]
    assert last["stage"] == "errors" and "100 more errors not listed" in last["message"]
    assert "source 100" in last["message"]


def test_a_file_with_only_bad_lines_exits_1_listing_why_with_line_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a Wazuh file whose every line is cut short, when replayed, then it exits 1 and the error lists
    each line's reason with its line number (the first ten, then how many more)."""
    path = _wazuh(tmp_path / "w.jsonl", [LINES[i][:80] + b"\r\n" for i in range(12)])
    code, _, err = _replay([str(path), "--source", "wazuh"], capsys)
    assert code == 1 and "no ticket to replay (12 unreadable records)" in err
    assert all(f"line {n}:" in err for n in range(1, 11)), err
    assert "line 11:" not in err and "... and 2 more" in err


def test_the_summary_counts_every_bad_line_past_those_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given real Wazuh alerts followed by 1,100 truncated lines, when replayed from the CLI, then its
    errors line counts all 1,100 (not the 1,000 listed plus one summary entry)."""
    path = _wazuh(tmp_path / "w.jsonl", [*LINES[:5], *([LINES[5][:80] + b"\r\n"] * 1100)])
    code, out, _ = _replay([str(path), "--source", "wazuh"], capsys)
    assert code == 0
    assert "errors: 1100 source" in out, out[-500:]
