"""Every installed source replays, and for the vendor exports too the analyst's outcome fields (close
reasons, close notes, resolutions, comments, escalation flags) never reach the team."""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aisoc.cli import main
from aisoc.replay import metrics_schema, read_records, select
from aisoc.sources import open_source, source_names
from tests.aisoc.replay.support import DATA, WAZUH, RecordingModel, deterministic_ids, run
from tests.integrations.vendor_data import falcon_alerts, xsoar_incidents

XSOAR_OUTCOME = ("closeReason", "closeNotes", "CustomFields.escalated")
FALCON_OUTCOME = ("resolution", "comments", "tags", "assigned_to_name")
JSONL_OUTCOME = ("truth", "close_notes")


def _get(record: dict[str, Any], path: str) -> Any:
    head, _, rest = path.partition(".")
    value = record.get(head)
    return _get(value, rest) if rest and isinstance(value, dict) else value if not rest else None


def _set(record: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if rest:
        if value is not None or isinstance(record.get(head), dict):
            _set(record.setdefault(head, {}), rest, value)
    elif value is None:
        record.pop(head, None)
    else:
        record[head] = value


def rotated(records: list[dict[str, Any]], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """The records with their outcome fields moved one record along (the last's go to the first)."""
    out = copy.deepcopy(records)
    for i, r in enumerate(out):
        donor = records[i - 1]
        for f in fields:
            _set(r, f, copy.deepcopy(_get(donor, f)))
    return out


def jsonl_tickets() -> list[dict[str, Any]]:
    """Generic JSONL alerts with the analyst's decision and notes."""
    return [
        {"id": "j-1", "title": "Encoded PowerShell on ws-1", "severity": "high", "host": "ws-1",
         "timestamp": "2026-01-02T10:00:00Z", "truth": "escalated", "close_notes": "confirmed, contained"},
        {"id": "j-2", "title": "Backup job finished late", "severity": "low", "host": "srv-2",
         "timestamp": "2026-01-02T11:00:00Z", "truth": "benign", "close_notes": "expected, 10.1.1.9 is ours"},
        {"id": "j-3", "title": "Login from new country", "severity": "medium", "user": "bob",
         "timestamp": "2026-01-02T12:00:00Z", "truth": "false_positive", "close_notes": "VPN exit node"},
    ]  # fmt: skip


def _write(path: Path, records: list[dict[str, Any]], lines: bool) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in records) if lines else json.dumps(records)
    path.write_text(text)
    return path


def xsoar_exported() -> list[dict[str, Any]]:
    """The XSOAR incidents as the fake serves them: some with a CustomFields object, some without
    (an escalation flag that is a record's only custom field must not show through an empty {})."""
    return xsoar_incidents()


CASES: dict[str, tuple[Callable[[], list[dict[str, Any]]], tuple[str, ...], bool]] = {
    "xsoar": (xsoar_exported, XSOAR_OUTCOME, False),
    "crowdstrike": (falcon_alerts, FALCON_OUTCOME, False),
    "jsonl": (jsonl_tickets, JSONL_OUTCOME, True),
}


@pytest.mark.parametrize("source", sorted(CASES))
def test_vendor_outcome_fields_never_reach_the_team(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a vendor export and the same export with its outcome fields moved to other records, when both are
    replayed, then the truths differ and the prompts the model received are byte-identical."""
    make, fields, lines = CASES[source]
    true = _write(tmp_path / "true.json", make(), lines)
    moved = _write(tmp_path / "moved.json", rotated(make(), fields), lines)
    truths = [
        [t.truth for t in select(read_records(open_source(source, str(p)))).tickets] for p in (true, moved)
    ]
    assert truths[0] != truths[1]
    prompts = []
    for path in (true, moved):
        deterministic_ids(monkeypatch)
        model = RecordingModel()
        run(path, source, model=model)
        prompts.append(model.prompts)
    assert prompts[0] and prompts[0] == prompts[1]


def test_every_installed_source_replays_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a small recorded file of each installed source, when replayed, then each writes valid metrics."""
    with gzip.open(DATA / "guide" / "incidents.csv.gz", "rt", encoding="utf-8") as f:
        rows = [next(f).rstrip("\n") for _ in range(41)]
    (tmp_path / "incidents.csv.gz").write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    guide = DATA / "guide" / "evidence.csv"
    files = {
        "wazuh": (WAZUH, 89),
        "guide": (guide, 50),
        "guide-incidents": (tmp_path / "incidents.csv.gz", 40),
        "xsoar": (_write(tmp_path / "x.json", xsoar_incidents(), False), 4),
        "crowdstrike": (_write(tmp_path / "c.json", falcon_alerts(), False), 3),
        "jsonl": (_write(tmp_path / "j.jsonl", jsonl_tickets(), True), 3),
    }
    assert set(files) == set(source_names())
    for source, (path, n) in files.items():
        out = tmp_path / f"{source}.json"
        limit = ["--limit", "50"] if source == "guide" else []
        assert (
            main(
                [
                    "replay",
                    str(path),
                    "--source",
                    source,
                    "--dry-run",
                    "--no-progress",
                    *limit,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        m = json.loads(out.read_text())
        jsonschema.validate(m, metrics_schema())
        assert (m["source"], m["tickets"]) == (source, n), source
    capsys.readouterr()
