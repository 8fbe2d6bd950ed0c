"""How a model reads the team's prompt layout (written by :mod:`aisoc.runtime.prompt`): the role's
marker line and the delimited data blocks. One place for the patterns the canned model, the local
model's kept contexts and the token bench all read."""

from __future__ import annotations

import re

ROLE_LINE = re.compile(r"^ROLE: ([^/\s]+)/", re.MULTILINE)
"""The line that opens a role's part of a prompt: ``ROLE: slug/version`` (group 1: the slug)."""
DATA_BLOCK = re.compile(r"<<<DATA-(\w+)\n(.*?)\nDATA-\1>>>", re.DOTALL)
"""One data block, ``<<<DATA-tag`` ... ``DATA-tag>>>`` (group 2: its JSON text)."""
