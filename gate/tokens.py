"""Signed approval links: bound to one request and the plan digest it was shown, with key rotation.

Link keys (``[gate] link_keys``) are given newest first: the newest signs, every key verifies, so a key
can be rotated in by putting it first and rotated out (after ``link_ttl_s``) by removing it. They are
never session keys: the bot holds them, and a link grants nothing by itself (the person opening it
must still log in and be allowed to decide).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from gate.errors import LinkError

SALT = "aisoc.gate.approval-link.v1"
"""The purpose of a link signature: a token signed for anything else never verifies as a link."""


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a verified link says: the request, the plan digest, the link's nonce and when it was made."""

    request_id: str
    plan_digest: str
    nonce: str
    issued_at: datetime


class LinkSigner:
    """Signs and verifies approval-link tokens.

    Args:
        keys: secret keys, newest first (at least one).
        max_age_s: how long a link stays valid.
    """

    def __init__(self, keys: Sequence[str], max_age_s: int) -> None:
        if not keys:
            raise ValueError("LinkSigner needs at least one key")
        # itsdangerous signs with the LAST key of the list and verifies with all of them.
        self._serializer = URLSafeTimedSerializer(list(reversed(keys)), salt=SALT)
        self.max_age_s = max_age_s

    def sign(self, request_id: str, plan_digest: str, nonce: str | None = None) -> str:
        """Return a token for one request and plan digest (a fresh nonce unless given)."""
        return str(
            self._serializer.dumps(
                {"r": request_id, "d": plan_digest, "n": nonce or secrets.token_urlsafe(9)}
            )
        )

    def verify(self, token: str, *, request_id: str | None = None) -> LinkClaims:
        """Check a token's signature, age and binding.

        Raises:
            LinkError: ``expired`` (too old), ``invalid`` (altered, truncated or signed with a key this
                gate does not know) or ``foreign`` (made for another request).
        """
        try:
            data, signed_at = self._serializer.loads(token, max_age=self.max_age_s, return_timestamp=True)
        except SignatureExpired as e:
            made = e.date_signed.strftime("%Y-%m-%d %H:%M UTC") if e.date_signed else "long ago"
            raise LinkError(
                f"This link expired: it was made at {made} and links are valid for "
                f"{self.max_age_s // 3600 or 1} hour(s). Nothing was decided. Ask for a fresh link.",
                "expired",
            ) from e
        except BadSignature as e:
            raise LinkError(
                "This link was altered, cut short, or not made by this gate. Nothing was decided.", "invalid"
            ) from e
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("r", "d", "n")):
            raise LinkError("This link does not carry an approval request. Nothing was decided.", "invalid")
        if request_id is not None and data["r"] != request_id:
            raise LinkError(
                "This link belongs to a different approval request. Nothing was decided.", "foreign"
            )
        return LinkClaims(data["r"], data["d"], data["n"], signed_at.astimezone(UTC))
