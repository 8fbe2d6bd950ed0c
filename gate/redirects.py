"""Where the gate may send a browser after login: its own pages, nothing a browser could read as a host.

Browsers forgive a lot in a ``Location``: they drop tabs and newlines, read ``\\`` as ``/``, strip leading
control characters and spaces, and take ``//host`` as another site. So ``next`` is accepted only when it
is already a clean path: printable ASCII, one leading slash, no backslash, no scheme or host; dot
segments are resolved and the result checked again. Anything else means the gate's home.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urlsplit, urlunsplit

MAX_LENGTH = 2048
"""Longer ``next`` values are refused (no page of the gate has a path that long)."""
_CLEAN = re.compile(r"/[!-~]*")
"""A slash, then printable ASCII only: no space, no control character, nothing beyond ASCII."""


def safe_next(target: str | None) -> str | None:
    """Return ``target`` as a same-origin path (dot segments resolved), or None when it is not one.

    Args:
        target: the ``next`` parameter as received.
    """
    if not target or len(target) > MAX_LENGTH or "\\" in target or not _CLEAN.fullmatch(target):
        return None
    if target.startswith("//"):  # another host, however many slashes follow
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    path = posixpath.normpath(parts.path)
    if target.endswith("/") and path != "/":
        path += "/"
    if not path.startswith("/") or path.startswith("//"):
        return None
    return urlunsplit(("", "", path, parts.query, ""))
