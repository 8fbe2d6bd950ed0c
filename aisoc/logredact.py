"""Secrets never reach a log: every log record is redacted when it is created.

A log record factory (not a handler or a logger filter) sees every record of every logger, vendor SDKs
included (the Zscaler SDK logs ``Cookie``/``Set-Cookie`` at INFO; falconpy, httpx and urllib3 log request
lines), before any handler formats, ships or stores it. Entry points call :func:`install_log_redaction`
once at start; a process that learns more secrets later (the vendor credentials of its tools) installs
again and both redactors apply.
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any

from aisoc.redact import Redactor

_lock = threading.Lock()
_redactors: dict[tuple[str, ...], Redactor] = {}
_base: list[Any] = [logging.getLogRecordFactory()]


def _redacted(redactors: list[Redactor], text: str) -> str:
    for redactor in redactors:
        text = redactor.text(text)
    return text


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record: logging.LogRecord = _base[0](*args, **kwargs)
    redactors = list(_redactors.values())
    if not redactors:
        return record
    record.msg = _redacted(redactors, record.getMessage())
    record.args = None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = _redacted(redactors, "".join(traceback.format_exception(*record.exc_info)).rstrip())
    if record.stack_info:
        record.stack_info = _redacted(redactors, record.stack_info)
    return record


def install_log_redaction(redactor: Redactor | None = None) -> None:
    """Redact every log record of this process with ``redactor`` (default: the secret rules).

    Idempotent: installing an equal redactor again changes nothing; a different one is added.
    """
    redactor = redactor if redactor is not None else Redactor.standard()
    with _lock:
        _redactors.setdefault(redactor.key(), redactor)
        current = logging.getLogRecordFactory()
        if current is not _factory:
            _base[0] = current
            logging.setLogRecordFactory(_factory)
