"""The replay dashboard served by the gate: behind the gate's login, charts inline, the gate's CSP kept."""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from aisoc.cli import main
from gate.app import create_app
from gate.dashboard import EXTENSION, DashboardSettings, metrics_files
from tests.gate.factory import gate_settings

WAZUH = Path(__file__).resolve().parents[2] / "data" / "wazuh" / "alerts.jsonl"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real replays of the Wazuh alerts (recall off, then the A/B) and a stray JSON file."""
    folder = tmp_path_factory.mktemp("replays")
    base = ["replay", str(WAZUH), "--source", "wazuh", "--dry-run", "--no-progress"]
    assert main([*base, "--recall", "off", "--out", str(folder / "a-off.json")]) == 0
    assert main([*base, "--recall", "ab", "--out", str(folder / "b-ab.json")]) == 0
    (folder / "notes.json").write_text('{"not": "metrics"}')
    return folder


@pytest.fixture
def dash_app(app: Flask, runs: Path) -> Flask:
    """The gate's app showing the replays in ``runs`` with a bar of 0.8."""
    app.extensions[EXTENSION] = DashboardSettings(files=[str(runs / "*.json")], bar=0.8)
    return app


def test_only_people_of_the_roster_see_the_dashboard(dash_app: Flask, person: Any) -> None:
    """Given nobody logged in, a stranger and Bob, when each opens /dashboard, then only Bob sees it."""
    anonymous = dash_app.test_client().get("/dashboard")
    assert anonymous.status_code == 303 and "/login?next=/dashboard" in anonymous.headers["Location"]
    stranger = person("eve@evil.test").get("/dashboard")
    assert stranger.status_code == 403 and "not in the on-call roster" in stranger.get_data(as_text=True)
    assert person("eve@evil.test").get("/dashboard/dashboard.css").status_code == 403
    bob = person("bob@example.com").get("/dashboard")
    assert bob.status_code == 200 and "Replay and proof" in bob.get_data(as_text=True)
    assert person("bob@example.com").get("/dashboard/dashboard.css").mimetype == "text/css"


def test_the_page_shows_every_chart_with_no_script_and_no_inline_style(
    dash_app: Flask, runs: Path, person: Any
) -> None:
    """Given two replays, when Bob opens the dashboard, then every section is there as inline SVG, below-bar
    accuracy is red, the A/B delta and verdict show, and the page needs no script or inline style."""
    resp = person("bob@example.com").get("/dashboard")
    html = resp.get_data(as_text=True)
    for section in ("kpis", "accuracy", "confusion", "trend", "ab", "latency", "runs"):
        assert f'id="{section}"' in html, section
    for chart in ("accuracy-chart", "confusion-chart", "trend-chart", "ab-chart", "latency-chart"):
        assert re.search(rf'<svg id="{chart}"[^>]*role="img"', html), chart
    m = json.loads((runs / "b-ab.json").read_text())
    low = min(r["accuracy"] for r in m["per_role"].values() if r["accuracy"] is not None)
    assert low < 0.8  # the canned Sentinel is under the 0.8 bar
    assert 'class="bar below"' in html and 'class="band-below"' in html
    assert f'class="num below">{low:.3f}<' in html
    ab = m["recall_ab"]
    assert escape(ab["verdict"]) in html and f"Δ {ab['delta']['f1']:+.3f}" in html
    assert 'id="baselines-table"' in html and f"({m['lift']['best_baseline']})" in html
    assert html.count("<tr><td>") >= 2 + 2  # both runs in the accuracy table and in the runs table
    assert "could not be shown" in html  # the stray notes.json is mentioned, its path is not
    assert "notes.json" not in html
    assert "<script" not in html and " style=" not in html and "<img" not in html
    assert all(
        url.startswith("/") for url in re.findall(r'(?:src|href)="([^"]*)"', html)
    )  # nothing elsewhere
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert 'href="/dashboard/dashboard.css"' in html


def test_the_dashboard_reads_its_settings_from_the_dashboard_table(
    tmp_path: Path, runs: Path, monkeypatch: pytest.MonkeyPatch, person: Any
) -> None:
    """Given a settings file with a [dashboard] table, when the gate app is built, then it shows those files
    against that bar; with no file matching, it says there is nothing yet."""
    config = tmp_path / "aisoc.toml"
    config.write_text(f'[dashboard]\nfiles = ["{runs}/b-*.json"]\nbar = 0.5\n')
    monkeypatch.setenv("AISOC_CONFIG", str(config))
    app = create_app(gate_settings())
    s = app.extensions[EXTENSION]
    assert (s.bar, [p.name for p in metrics_files(s.files)]) == (0.5, ["b-ab.json"])
    m = json.loads((runs / "b-ab.json").read_text())
    assert all(r["accuracy"] is None or r["accuracy"] >= 0.5 for r in m["per_role"].values())
    html = _as(app, "bob@example.com").get("/dashboard").get_data(as_text=True)
    assert "bar 0.50" in html and 'class="num below"' not in html  # every role clears a 0.5 bar

    monkeypatch.setenv("AISOC_DASHBOARD_FILES", f'["{tmp_path}/none-*.json"]')
    empty = create_app(gate_settings())
    assert 'id="empty"' in _as(empty, "bob@example.com").get("/dashboard").get_data(as_text=True)


def _as(app: Flask, email: str) -> Any:
    client = app.test_client()

    class Client:
        def get(self, url: str) -> Any:
            return client.get(
                url, headers={"X-Forwarded-Email": email}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
            )

    return Client()
