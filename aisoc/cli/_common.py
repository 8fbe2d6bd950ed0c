"""Helpers shared by CLI commands: settings, the bus, logging, errors."""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import TYPE_CHECKING, Any

from aisoc.errors import AisocError
from aisoc.logcontext import ContextFilter
from aisoc.logredact import install_log_redaction
from aisoc.settings import KernelSettings, load_settings

if TYPE_CHECKING:
    from aisoc.bus import Bus


NOISY_LOGGERS = ("httpx", "httpcore", "urllib3", "werkzeug", "apscheduler", "ioc_finder")
"""Libraries whose INFO lines are routine (a request, each scheduler tick, each indicator scan: the
scheduler's every 5 s, ingest's twice per alert): only their warnings and errors are logged."""


class CommandError(AisocError):
    """Raised by a command for an expected failure: the message is printed, nothing more."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with case_id, event_id and role when the record carries them."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("case_id", "event_id", "role", "process"):
            value = getattr(record, key, None)
            if value not in (None, "-"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    """Configure the root logger once, for an entry point (library code never does this); every record
    is redacted at creation (:mod:`aisoc.logredact`)."""
    install_log_redaction()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter(
            "%(asctime)s %(levelname)-7s %(name)s [%(role)s %(case_id)s]: %(message)s", "%H:%M:%S"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def add_bus_option(parser: argparse.ArgumentParser) -> None:
    """``--bus URL`` and ``--namespace`` (defaults from settings)."""
    parser.add_argument(
        "--bus",
        help="bus URL: memory://, sqlite:///PATH, redis://HOST:PORT/DB or "
        "redis+cluster://HOST:PORT,HOST:PORT (default: setting 'bus')",
    )
    parser.add_argument("--namespace", help="key prefix of this SOC (default: setting 'namespace')")


def kernel_settings(args: argparse.Namespace, **overrides: Any) -> KernelSettings:
    """Settings of a kernel process: the command's ``--bus``/``--namespace`` flags, then ``overrides``."""
    values = {"bus": getattr(args, "bus", None), "namespace": getattr(args, "namespace", None)}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return load_settings(KernelSettings, getattr(args, "config", None), **values)


def running_soc_settings(args: argparse.Namespace) -> KernelSettings:
    """Settings of a command that reads or changes a running SOC (``status``, ``bus``, ``pause``...).

    Raises:
        CommandError: the bus is ``memory://`` (the default when no setting names one): it lives in
            this one process, so the command would report an empty SOC (every role "no process",
            no dead letters) or pause nothing, instead of saying that it is looking in the wrong place.
    """
    settings = kernel_settings(args)
    if settings.bus.split(":", 1)[0].lower() == "memory":
        raise CommandError(
            f"the bus is {settings.bus!r}, which lives inside this one process: it holds nothing of a "
            "running SOC. Name the SOC's bus: --bus URL, AISOC_BUS, or 'bus' in the settings file "
            "(./aisoc.toml or $AISOC_CONFIG, e.g. AISOC_CONFIG=/etc/aisoc/aisoc.toml)",
            status=2,
        )
    return settings


def each_namespace(
    args: argparse.Namespace, settings: KernelSettings, command: Callable[[argparse.Namespace], int]
) -> int | None:
    """Run a reading ``command`` once per namespace of setting ``namespaces`` (the workers serve them
    all: docs/bus.md) when ``--namespace`` names none; None when there is one namespace to read.

    Text output is headed by each namespace; ``--json`` output becomes one list of
    ``{"namespace": NS, "report": ...}``. Returns the worst exit status.
    """
    if getattr(args, "namespace", None) or not settings.namespaces:
        return None
    codes, docs = [], []
    for ns in settings.namespaces:
        one = argparse.Namespace(**{**vars(args), "namespace": ns})
        if getattr(args, "json", False):
            with redirect_stdout(io.StringIO()) as out:
                codes.append(command(one))
            docs.append({"namespace": ns, "report": json.loads(out.getvalue())})
        else:
            print(f"namespace {ns}:", flush=True)
            codes.append(command(one))
    if docs:
        print(json.dumps(docs, indent=2))
    return max(codes)


def open_bus(settings: KernelSettings) -> Bus:
    """The kernel's one bus factory (``aisoc.bus.open_bus``: configured redaction and options),
    after importing the configured role team so that event types added roles define decode here."""
    from aisoc.bus import open_bus as open_configured
    from aisoc.resolve import import_team

    import_team(settings.team)
    return open_configured(settings)
