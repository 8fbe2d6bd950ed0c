"""The replay dashboard in a real browser: Debian's Chromium driven by Playwright, served by the gate and
as the static file, with nothing fetched from anywhere else and no CSP violation.

Run with ``make test-browser`` (or ``pytest -m browser``); ``make screenshots`` copies the pictures written
to build/screenshots/ into docs/images/ (dashboard.png is the one the README shows).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aisoc.bus import Bus
from aisoc.cli import main
from gate import Gate
from gate.app import create_app
from gate.dashboard import EXTENSION, DashboardSettings
from gate.server import ServerThread
from tests.aisoc.replay.support import WAZUH, guide_with_grades, same
from tests.gate.factory import Clock, gate_settings
from tests.support.browser import SHOTS
from tests.support.redis_server import free_port

pytestmark = pytest.mark.browser

CHARTS = ("accuracy-chart", "confusion-chart", "trend-chart", "ab-chart", "latency-chart")
RED = "rgb(180, 35, 24)"
"""The dashboard's "below the bar" colour (--bad)."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real replays with the canned model, oldest first: the Wazuh alerts with the recall A/B, then
    500 GUIDE incidents without recall and the same with the A/B (the latest, shown in detail)."""
    folder = tmp_path_factory.mktemp("replays")
    guide = guide_with_grades(folder / "guide.csv", same, incidents=500)
    common = ["--dry-run", "--no-progress"]
    for n, (path, source, recall) in enumerate(
        [(WAZUH, "wazuh", "ab"), (guide, "guide", "off"), (guide, "guide", "ab")], 1
    ):
        args = ["replay", str(path), "--source", source, "--recall", recall, *common]
        assert main([*args, "--out", str(folder / f"{n}.json")]) == 0
    return folder


@pytest.fixture
def served(runs: Path) -> Iterator[str]:
    """The gate with production settings on a free port, its dashboard reading ``runs``."""
    port = free_port()
    settings = gate_settings(base_url=f"http://127.0.0.1:{port}")
    gate = Gate(Bus(), settings, clock=Clock())
    app = create_app(settings, gate=gate)
    app.extensions[EXTENSION] = DashboardSettings(files=[str(runs / "*.json")], bar=0.8)
    server = ServerThread(app, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _watch(page: Any) -> tuple[list[str], list[str]]:
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")  # the browser asks; the gate has none
            else None
        ),
    )
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type in ("error", "warning") and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    return requests, problems


def _charts_drawn(page: Any) -> None:
    for chart in CHARTS:
        box = page.locator(f"#{chart}").bounding_box()
        assert box is not None and box["width"] > 500 and box["height"] > 80, chart
    assert page.locator("#accuracy-chart rect.bar.below").count() >= 1
    fill = page.locator("#accuracy-chart rect.bar.below").first.evaluate("e => getComputedStyle(e).fill")
    assert fill == RED  # the stylesheet applied: below-the-bar accuracy is red
    assert page.locator("#trend-chart circle").count() == 3 * 3  # precision, recall, F1 of three runs


def test_the_served_dashboard_renders_behind_the_login_and_fetches_nothing_else(
    browser: Any, served: str
) -> None:
    """Given three replays, when Alice opens /dashboard through the SSO proxy, then every chart is drawn
    and styled, nothing is fetched from another origin, and the gate's CSP reports no violation."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        extra_http_headers={"X-Forwarded-Email": "alice@example.com"}, viewport={"width": 1100, "height": 900}
    )
    page = context.new_page()
    requests, problems = _watch(page)
    page.goto(f"{served}/dashboard")
    assert "Alice Ng" in page.locator("#who").inner_text()
    _charts_drawn(page)
    assert "recall helped" in page.locator("#ab-verdict").inner_text()
    assert all(url.startswith(served) for url in requests), requests
    assert problems == []
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    context.close()

    stranger = browser.new_context().new_page()
    stranger.goto(f"{served}/dashboard")
    assert "/login" in stranger.url and "#kpis" not in stranger.content()
    stranger.context.close()


def test_the_static_dashboard_works_offline_from_one_file(browser: Any, runs: Path, tmp_path: Path) -> None:
    """Given `aisoc dashboard` over the same runs, when the file is opened, then it draws every chart from
    itself alone: the file is the only request."""
    out = tmp_path / "dashboard.html"
    assert main(["dashboard", str(runs), "-o", str(out)]) == 0
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests, problems = _watch(page)
    page.goto(out.as_uri())
    _charts_drawn(page)
    assert requests == [out.as_uri()] and problems == []
    page.screenshot(path=str(SHOTS / "dashboard-static.png"), full_page=True)
    page.close()
