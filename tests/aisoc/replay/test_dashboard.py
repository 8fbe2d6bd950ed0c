"""``aisoc dashboard``: one self-contained HTML file from metrics files, every string escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aisoc.cli import main
from aisoc.replay.dashboard import load_runs, render_body, render_page
from tests.aisoc.replay.support import WAZUH, run


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a recall A/B replay of the Wazuh alerts (metrics, tickets JSONL, journal)."""
    out = tmp_path_factory.mktemp("runs") / "wazuh.json"
    run(WAZUH, "wazuh", recall="ab", out=out)
    return out.parent


def test_a_folder_becomes_one_self_contained_page(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a folder of replay files, when `aisoc dashboard` runs, then one page holds every chart inline
    and refers to nothing outside itself (the JSONL files beside the metrics are not read as runs)."""
    out = tmp_path / "site" / "dashboard.html"
    assert main(["dashboard", str(folder), "-o", str(out), "--bar", "0.7"]) == 0
    assert "dashboard of 1 run(s) written" in capsys.readouterr().out
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "<style>" in html
    assert re.findall(r"(?:src|href)=", html) == [] and "<script" not in html and "@import" not in html
    assert html.count("<svg ") == 6 and "bar 0.70" in html
    m = json.loads((folder / "wazuh.json").read_text())
    judged = {role: r["accuracy"] for role, r in m["per_role"].items() if r["accuracy"] is not None}
    assert judged
    for acc in judged.values():  # each role's accuracy, red below the bar
        assert f'class="{"num below" if acc < 0.7 else "num"}">{acc:.3f}<' in html
    assert 'id="baselines-table"' in html and f"({m['lift']['best_baseline']})" in html


def test_every_string_from_a_metrics_file_is_escaped(tmp_path: Path) -> None:
    """Given a metrics file with markup in its strings, when rendered, then the markup is shown as text."""
    m = json.loads((Path(__file__).parent / "sample_metrics.json").read_text())
    m["source"] = "<script>alert(1)</script>"
    m["model"] = 'openai+http://x/v1"><img src=x onerror=alert(2)>'
    m["recall_ab"]["verdict"] = "<b>bold</b>"
    html = render_page([m])
    assert "<script>alert" not in html and "<img" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_files_that_are_not_metrics_are_skipped_and_said_so(tmp_path: Path, folder: Path) -> None:
    """Given a stray JSON file and a broken one beside real metrics, when loaded, then both are named as
    skipped and only the real run is shown; with nothing real, the command fails and says why."""
    (tmp_path / "other.json").write_text('{"hello": 1}')
    (tmp_path / "broken.json").write_text("{")
    runs, problems = load_runs([folder / "wazuh.json", tmp_path / "other.json", tmp_path / "broken.json"])
    assert len(runs) == 1 and len(problems) == 2
    assert "not a replay metrics file" in problems[0] and "not readable as JSON" in problems[1]
    assert main(["dashboard", str(tmp_path / "other.json"), "-o", str(tmp_path / "d.html")]) == 1
    assert main(["dashboard", str(folder), "--bar", "1.5", "-o", str(tmp_path / "d.html")]) == 2
    assert 'id="empty"' in render_body([])
