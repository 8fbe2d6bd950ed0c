"""Debian's Chromium driven by Playwright: the one way browser tests start a browser."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium (scripts/ensure-chromium installs it; Playwright never downloads one)."""
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
"""Where the screenshots go (ignored by git; `make screenshots` copies them to docs/images/)."""
