"""Fixtures of the replay tests: the CLI configures the root logger, so every test gets it back."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _root_logging() -> Iterator[None]:
    """Restore the root logger's handlers and level after each test (``aisoc`` main() replaces them)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
