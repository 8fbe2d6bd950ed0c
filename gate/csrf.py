"""Forged requests: every POST must carry a token made for the person sending it, from the gate's origin.

Three checks, all answered with the "Form expired or forged" page (400), never a 500:

1. **The token** (Flask-WTF's ``CSRFProtect``): a signed random value, matched against the session.
2. **Made for this person**: the session records whom its token was made for (how they logged in and
   who they are). A request attributed to someone else (the SSO proxy names Alice, the cookie was
   Mallory's, planted from a sibling domain) finds no token and is refused.
3. **From the gate's own origin** (OWASP's order): the ``Origin`` header, or without it the
   ``Referer``, must be the gate's public origin (``base_url``; in demo mode also the origin the request
   was made to: a proxy passes the client's ``Host`` on, so outside the demo it proves nothing).
   ``Origin: null`` is refused. Over HTTPS a POST with neither is refused, as Flask-WTF's strict mode
   does; this check replaces that mode, which reads only the Referer, compares it with the Host header
   only, and fails with a 500 on a malformed one.

Pages ask for ``Referrer-Policy: same-origin``: the gate's own forms send a Referer (and Origin), while
links, which carry tokens, never leak to another site.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect

from gate.settings import GateSettings

TOKEN = "csrf_token"
"""Where Flask-WTF keeps the raw token in the session."""
BOUND_TO = "csrf_for"
"""Whom the session's token was made for (``source:person``, empty for nobody)."""
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods that must pass the checks."""


def origin_of(url: str) -> str | None:
    """The normalized origin (``scheme://host[:port]``) of an http(s) URL, or None when it has none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port or an unclosed IPv6 bracket
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def _from_here(settings: GateSettings) -> None:
    allowed = {origin_of(settings.base_url)}
    if settings.demo:  # a laptop reaches the demo as 127.0.0.1 or localhost; a deployment is base_url
        allowed.add(origin_of(f"{request.scheme}://{request.host}"))
    allowed.discard(None)
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin_of(origin) not in allowed:
            raise CSRFError("The form was sent from another site (Origin).")
        return
    referer = request.headers.get("Referer")
    if referer is not None:
        if origin_of(referer) not in allowed:
            raise CSRFError("The form was sent from another site (Referer).")
        return
    if request.is_secure or settings.base_url.startswith("https://"):
        raise CSRFError("A form sent over HTTPS carries neither Origin nor Referer.")


def init_app(app: Flask, settings: GateSettings, binding: Callable[[], str]) -> CSRFProtect:
    """Protect every POST of ``app`` with the three checks.

    Args:
        app: the gate's app (before its other ``before_request`` hooks run).
        settings: the gate's settings (``base_url`` is its public origin).
        binding: who is making the current request (``source:person``; empty for nobody).
    """
    app.config["WTF_CSRF_SSL_STRICT"] = False  # replaced by the Origin/Referer check above

    @app.before_request
    def _bound_to_this_person() -> None:
        if TOKEN in session and session.get(BOUND_TO) != binding():
            session.pop(TOKEN, None)  # made for someone else: this request has no token
            session.pop(BOUND_TO, None)

    @app.before_request
    def _same_origin() -> None:
        if request.method in UNSAFE:
            _from_here(settings)

    protect = CSRFProtect(app)

    @app.after_request
    def _bind_new_token(resp: object) -> object:
        if TOKEN in session and BOUND_TO not in session:
            session[BOUND_TO] = binding()  # the token made during this request is this person's
        return resp

    return protect
