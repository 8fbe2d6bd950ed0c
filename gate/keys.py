"""The gate's secrets and what makes one acceptable.

Three kinds, each a list NEWEST FIRST so that each rotates on its own:

- ``session_keys`` sign the gate's login sessions and CSRF tokens. Only the gate holds them.
- ``link_keys`` sign approval links (salt ``aisoc.gate.approval-link.v1``). The gate verifies them;
  whoever makes links (the bot, ``aisoc gate link``) holds them too. They cannot sign a session: the
  gate's sessions are verified with the session keys only, and no key may be in both lists.
- ``metrics_tokens`` are bearer tokens Prometheus sends to ``/metrics``.

A secret is refused at start when it is blank, shorter than 32 bytes, padded with whitespace, or a
placeholder (fewer than 8 different characters): ``aisoc gate new-secret`` prints one that passes.
"""

from __future__ import annotations

import secrets

from pydantic import SecretStr

MIN_BYTES = 32
"""Least key material per secret, in bytes (UTF-8)."""
MIN_DISTINCT = 8
"""Least number of different characters: "changeme" four times is 32 bytes and not a secret."""
HOW = "`aisoc gate new-secret` prints one that passes"
"""How to get a good secret, said in every refusal."""


def new_secret() -> str:
    """Return a fresh random secret (32 random bytes, URL-safe base64: 43 characters)."""
    return secrets.token_urlsafe(MIN_BYTES)


def weakness(value: str) -> str | None:
    """Say what is wrong with a secret (never repeating it), or None when it is acceptable."""
    if not value.strip():
        return "it is blank"
    if value != value.strip():
        return "it starts or ends with whitespace (a pasting mistake?)"
    size = len(value.encode())
    if size < MIN_BYTES:
        return f"it has {size} bytes; a secret needs at least {MIN_BYTES} bytes"
    if len(set(value)) < MIN_DISTINCT:
        return f"it has only {len(set(value))} different characters; a secret is random, not a placeholder"
    return None


def strong(value: SecretStr) -> SecretStr:
    """Pydantic validator: accept a secret only when :func:`weakness` finds nothing.

    Raises:
        ValueError: the secret is weak; the message says why and how to get one.
    """
    problem = weakness(value.get_secret_value())
    if problem is not None:
        raise ValueError(f"refused: {problem} ({HOW})")
    return value


def plain(keys: list[SecretStr]) -> list[str]:
    """The secrets' values, in order."""
    return [k.get_secret_value() for k in keys]
