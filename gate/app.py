"""The Flask app factory: ``create_app(settings)`` wires the pages, CSRF, rate limits, cookies and
security headers around one Gate."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, abort, request
from flask.globals import request_ctx
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from aisoc.bus import Bus, open_bus
from aisoc.settings import bus_settings_for
from gate import auth, csrf, dashboard, views
from gate.context import EXTENSION, GateContext
from gate.keys import plain
from gate.links import link_signer
from gate.service import Gate
from gate.settings import GateSettings

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
"""No scripts at all, styles only from the gate itself, forms only to the gate."""

_RATE_LIMITED = ("gate.confirm", "gate.done", "auth.dev_login")


def _mount_metrics(app: Flask, gate: Gate, settings: GateSettings) -> None:
    """``/metrics`` for Prometheus (approvals pending, time to decision, the bus's backlog), only to
    requests bearing one of ``metrics_tokens``; without tokens only the demo serves it, to loopback."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from aisoc.metrics import registry_for

    tokens = [t.encode() for t in plain(settings.metrics_tokens)]
    if not tokens and not settings.demo:
        log.info("/metrics is not served: set metrics_tokens (Prometheus sends one as a bearer token)")
        return
    registry, _ = registry_for(gate.bus, approvals=True)

    @app.get("/metrics")
    def metrics() -> Response:
        if tokens:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            offered = given.strip().encode("utf-8", "replace")
            if scheme.lower() != "bearer" or not any(hmac.compare_digest(offered, t) for t in tokens):
                return Response(
                    "a metrics token is required\n",
                    401,
                    {"WWW-Authenticate": 'Bearer realm="aisoc-gate-metrics"'},
                    mimetype="text/plain",
                )
        elif not _loopback(request.remote_addr):
            abort(404)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class _Mounted:
    """The gate at ``base_url``'s path (``https://host/gate`` serves it under ``/gate/``): every link,
    form, stylesheet and redirect it makes starts with that path (``SCRIPT_NAME``), whether the proxy
    forwards ``/gate/a/x`` as it came or strips the path (``/a/x``), as nginx's ``proxy_pass
    http://127.0.0.1:8700/;`` does. ``base_url`` says where the gate is: nothing a request sends does.

    Args:
        app: the Flask app's WSGI callable.
        prefix: ``base_url``'s path, without its trailing slash (``/gate``).
    """

    def __init__(self, app: Any, prefix: str) -> None:
        self.app = app
        self.prefix = prefix
        # WSGI paths are percent-decoded UTF-8 bytes read as ISO-8859-1 (PEP 3333).
        self._wsgi = unquote(prefix).encode("utf-8").decode("latin-1")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO") or "/"
        if path == self._wsgi or path.startswith(self._wsgi + "/"):
            path = path[len(self._wsgi) :] or "/"
        environ["SCRIPT_NAME"], environ["PATH_INFO"] = self._wsgi, path
        return self.app(environ, start_response)


def _loopback(addr: str | None) -> bool:
    try:
        return ipaddress.ip_address(addr or "").is_loopback
    except ValueError:
        return False


def create_app(settings: GateSettings, *, bus: Bus | None = None, gate: Gate | None = None) -> Flask:
    """Build the gate's web app.

    Args:
        settings: the gate's settings (``load_gate_settings()`` at the edge).
        bus: the bus to use when ``gate`` is not given (else ``open_bus`` on the gate's bus).
        gate: an existing Gate (the embedded demo shares the one its team feeds).

    Returns:
        The Flask app; ``app.extensions["aisoc_gate"].gate`` is its Gate.

    Raises:
        ConfigError: ``session_keys`` or ``link_keys`` is empty (outside demo mode).
    """
    settings.require("session_keys", "link_keys")
    if gate is None:
        bus = bus if bus is not None else open_bus(bus_settings_for(settings.bus, settings.namespace))
        gate = Gate(bus, settings)
    app = Flask(__name__)
    keys = plain(settings.session_keys)
    app.config.update(
        SECRET_KEY=keys[0],
        SECRET_KEY_FALLBACKS=keys[1:],
        # __Host-: only this origin over TLS may set it (no sibling domain can plant one); Path=/, no Domain.
        SESSION_COOKIE_NAME=("__Host-" if settings.cookies_secure else "") + "aisoc_gate",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        SESSION_COOKIE_SECURE=settings.cookies_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        WTF_CSRF_TIME_LIMIT=int(settings.session_hours * 3600),
        MAX_CONTENT_LENGTH=64 * 1024,
        PREFERRED_URL_SCHEME="https" if settings.base_url.startswith("https") else "http",
    )

    @app.before_request
    def _unbindable_host() -> Response | None:
        # A Host header the URL map cannot bind (".", a stray dot or control character) leaves the
        # request without a URL adapter: no page can be built for it (every page links its static
        # files), so it is answered here, first, in plain text.
        if request_ctx.url_adapter is None:
            return Response("Bad request: the Host header names no site.\n", 400, mimetype="text/plain")
        return None

    @app.before_request
    def _identified_first() -> Any:
        # Who sends a decision comes before its CSRF token: a person whose SSO session ended has a
        # token bound to them that no longer matches, and must be told to sign in, not that the form
        # was forged; a stranger is told they are not in the roster.
        if request.endpoint in auth.IDENTIFIED_POSTS and auth.current_identity() is None:
            return auth.unidentified()
        return None

    csrf.init_app(app, settings, auth.binding)
    limiter = Limiter(
        auth.rate_limit_key,
        app=app,
        storage_uri=settings.rate_limit_storage,
        default_limits=[],
        headers_enabled=True,
    )
    app.register_blueprint(views.bp)
    app.register_blueprint(auth.bp)
    dashboard.init_app(app)
    for endpoint in _RATE_LIMITED:
        limited = limiter.limit(settings.rate_limit, methods=["POST"])(app.view_functions[endpoint])
        app.view_functions[endpoint] = limited  # type: ignore[assignment]
    app.extensions[EXTENSION] = GateContext(gate, settings, link_signer(settings), limiter)

    if settings.metrics:
        _mount_metrics(app, gate, settings)
    if prefix := urlsplit(settings.base_url).path.rstrip("/"):
        app.wsgi_app = _Mounted(app.wsgi_app, prefix)  # type: ignore[method-assign]

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {"demo": settings.demo, "base_url": settings.base_url}

    @app.errorhandler(CSRFError)
    def _csrf(e: CSRFError) -> Any:
        log.info("CSRF refused on %s: %s", request.path, e.description)
        return auth.refused(
            "Form expired or forged",
            "The form's security token is missing, expired or from another site. Nothing was decided: "
            "reload the page and try again.",
            400,
        )

    @app.errorhandler(429)
    def _too_many(e: Exception) -> Any:
        return auth.refused(
            "Too many attempts",
            "Too many confirmations from your address. Wait a minute; nothing was decided.",
            429,
        )

    @app.errorhandler(404)
    def _not_found(e: Exception) -> Any:
        return auth.refused("Not found", "There is no page here.", 404)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Any:
        # Every other refusal werkzeug raises (405, 413 ...) gets the gate's page, with its own status.
        code = e.code or 500
        page, status = auth.refused(e.name, f"{e.description} Nothing was decided.", code)
        # Keep what the refusal says in headers: a 405 must name the allowed methods (RFC 9110).
        kept = [(k, v) for k, v in e.get_headers() if k.lower() != "content-type"]
        return page, status, kept

    @app.errorhandler(500)
    def _failed(e: Exception) -> Any:
        log.error("unexpected error on %s %s", request.method, request.path, exc_info=e)
        return auth.refused(
            "Something went wrong",
            "The gate failed to answer this request. Open the request's page again to see where it "
            "stands, and tell whoever runs the gate if this happens again.",
            500,
        )

    @app.after_request
    def _headers(resp: Response) -> Response:
        h = resp.headers
        h.setdefault("Content-Security-Policy", CSP)
        h["X-Frame-Options"] = "DENY"
        h["X-Content-Type-Options"] = "nosniff"
        # Links carry tokens: never send them to another site; the gate's own forms need a Referer/Origin.
        h["Referrer-Policy"] = "same-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Cross-Origin-Resource-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if not request.path.startswith("/static/"):
            h["Cache-Control"] = "no-store"
        if resp.status_code == 401 and "WWW-Authenticate" not in h:
            h["WWW-Authenticate"] = auth.challenge()  # RFC 9110: every 401 names how to authenticate
        if settings.base_url.startswith("https://"):
            h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return resp

    return app
