"""The replay dashboard in the gate: ``/dashboard``, behind the same login as the approval pages.

The page is :func:`aisoc.replay.dashboard.render_body` over the metrics files the ``[dashboard]``
settings name (re-read on every request, so a new replay shows up at once); its stylesheet is served
by the gate itself (the gate's CSP allows no inline style and no script, and the charts need
neither). Anyone in the roster who can log in to the gate may read it.

    [dashboard]
    files = [".aisoc/replay/*.json", "/srv/soc/replays/*.json"]   # glob patterns of metrics files
    bar = 0.8                                                      # per-role accuracy below it is red
"""

from __future__ import annotations

import glob
import logging
from pathlib import Path
from typing import Any, ClassVar

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from markupsafe import Markup
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from werkzeug.wrappers import Response

from aisoc.replay.dashboard import CSS, DEFAULT_BAR, load_runs, render_body
from aisoc.settings import SocSettings, load_settings
from gate.auth import current_identity, refused
from gate.forms import LogoutForm

log = logging.getLogger(__name__)

EXTENSION = "aisoc_dashboard"
"""Key of the dashboard's settings in ``app.extensions``."""

bp = Blueprint("dashboard", __name__)


class DashboardSettings(SocSettings):
    """Settings of the served dashboard (``[dashboard]``; environment ``AISOC_DASHBOARD_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="AISOC_DASHBOARD_", env_nested_delimiter="__", extra="forbid"
    )
    TABLE: ClassVar[str] = "dashboard"

    files: list[str] = Field(default_factory=lambda: [".aisoc/replay/*.json"])
    """Glob patterns of replay metrics files (``aisoc replay --out``), relative to the working directory."""
    bar: float = Field(default=DEFAULT_BAR, ge=0, le=1)
    """Per-role accuracy below this is drawn in red."""


def init_app(app: Flask, settings: DashboardSettings | None = None) -> None:
    """Mount the dashboard on the gate's app (settings from ``[dashboard]`` when not given)."""
    app.register_blueprint(bp)
    app.extensions[EXTENSION] = settings if settings is not None else load_settings(DashboardSettings)


def _settings() -> DashboardSettings:
    found: DashboardSettings = current_app.extensions[EXTENSION]
    return found


def metrics_files(patterns: list[str]) -> list[Path]:
    """The ``*.json`` files the patterns match, each once, in name order."""
    found = {Path(p) for pattern in patterns for p in glob.glob(pattern) if p.endswith(".json")}
    return sorted(p for p in found if p.is_file())


def _denied() -> Any:
    """None when someone in the roster is logged in; else the login redirect or the refusal."""
    if current_identity() is not None:
        return None
    if g.get("auth_problem"):
        return refused("Not allowed", g.auth_problem, 403)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")), 303)


@bp.get("/dashboard")
def page() -> Any:
    """The replay dashboard: every run the configured files hold, the latest in detail."""
    denied = _denied()
    if denied is not None:
        return denied
    s = _settings()
    runs, problems = load_runs(metrics_files(s.files))
    shown = (
        [f"{len(problems)} file(s) matched but could not be shown; the gate's log says why"]
        if problems
        else []
    )
    body = Markup(render_body(runs, bar=s.bar, problems=shown))
    return render_template("dashboard.html", ident=current_identity(), body=body, logout=LogoutForm())


@bp.get("/dashboard/dashboard.css")
def stylesheet() -> Any:
    """The dashboard's stylesheet (served here: the gate's CSP allows styles from itself only)."""
    denied = _denied()
    if denied is not None:
        return denied
    return Response(CSS, mimetype="text/css")
