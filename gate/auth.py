"""Who is at the keyboard: pluggable authentication for the gate's pages.

- ``proxy``: an SSO reverse proxy sets an identity header (email or user name) on every request; it is
  believed ONLY when the request comes from one of ``trusted_proxies``. The proxy never makes a
  session: its word counts for the request that carries it, and a request that carries the header is
  decided by it alone (refused when untrusted or a stranger), never by a session stored in the browser.
- ``webex``: Webex OAuth login (authorization-code flow) against configurable endpoints; the person
  is whoever ``people/me`` says, matched to the roster by email. It makes a session.
- ``dev``: demo mode only, a bannered "log in as" list of the roster's people. It makes a session.

A session records the method that made it and counts only while that method is enabled. Only people
in the roster count: an authenticated stranger is told so and can decide nothing.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from gate.context import gate_context
from gate.forms import DevLoginForm, LogoutForm
from gate.redirects import safe_next
from gate.roster import Person

log = logging.getLogger(__name__)

SOURCES = {"proxy": "sso-proxy", "webex": "webex-oauth", "dev": "dev-login"}
"""The ``identity_source`` recorded with decisions, by auth method."""
SESSION_METHODS = {SOURCES["webex"]: "webex", SOURCES["dev"]: "dev"}
"""Login methods that make sessions, by the source a session records (the proxy makes none)."""
CHALLENGES = {"proxy": "SSO-Proxy", "webex": "Webex-OAuth", "dev": "Dev-Login"}
"""The auth scheme a 401's ``WWW-Authenticate`` names for each login method (RFC 9110 11.6.1 asks a
401 for at least one challenge; none of these is a standard scheme a browser answers by itself)."""
REALM = "aisoc-gate"
"""The protection space of the gate's pages (``/metrics`` has its own)."""
IDENTIFIED_POSTS = frozenset({"gate.confirm", "gate.done"})
"""The forms only a person of the roster may send: who sends them is checked before their CSRF token."""
_TIMEOUT_S = 10

bp = Blueprint("auth", __name__)


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated person of the roster and how they proved it."""

    person: Person
    source: str


def _trusted(addr: str | None) -> bool:
    if not addr:
        return False
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in gate_context().settings.trusted_proxies)


def _claimed() -> str:
    """The identity the proxy's header claims on this request ('' when none, or proxy logins are off).

    WSGI hands header values over as ISO-8859-1 text (PEP 3333): the UTF-8 bytes an SSO proxy sends
    for a non-ASCII user name ("zoë.ng") are read back as UTF-8 here, or no roster alias could match
    them; bytes that are not UTF-8 are kept as they came."""
    s = gate_context().settings
    value = request.headers.get(s.proxy_header, "") if "proxy" in s.auth else ""
    try:
        value = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return value.strip()


def rate_limit_key() -> str:
    """Rate-limit per person when the proxy names them (everyone shares the proxy's address), else per
    logged-in session person, else per client address."""
    claimed = _claimed().lower()
    if claimed and _trusted(request.remote_addr):
        return f"id:{claimed}"
    if session.get("pid"):
        return f"pid:{session['pid']}"
    return f"ip:{request.remote_addr or '-'}"


def current_identity() -> Identity | None:
    """Return who is making this request, or None; ``g.auth_problem`` says why when someone
    authenticated but does not count (not in the roster, header from an untrusted address)."""
    if "identity" in g:
        found: Identity | None = g.identity
        return found
    g.auth_problem = None
    claimed = _claimed()
    found = _proxied(claimed) if claimed else _from_session()
    g.identity = found
    return found


def binding() -> str:
    """Who the current request is from, as CSRF tokens are bound to it (``source:person``, or empty)."""
    ident = current_identity()
    return f"{ident.source}:{ident.person.id}" if ident is not None else ""


def _proxied(claimed: str) -> Identity | None:
    """The SSO proxy's identity header on this request: believed only from a trusted proxy."""
    ctx = gate_context()
    if not _trusted(request.remote_addr):
        log.warning(
            "ignoring %s header from untrusted address %s", ctx.settings.proxy_header, request.remote_addr
        )
        g.auth_problem = f"An identity header came from {request.remote_addr}, which is not a trusted proxy."
        return None
    person = ctx.gate.roster.find(claimed)
    if person is None:
        g.auth_problem = f"You are signed in as {claimed}, who is not in the on-call roster."
        return None
    return Identity(person, SOURCES["proxy"])


def _from_session() -> Identity | None:
    """The session's person, if the login method that made the session is enabled now."""
    s = gate_context().settings
    pid, source = session.get("pid"), session.get("src")
    if not pid:
        return None
    method = SESSION_METHODS.get(str(source))
    if method is None or method not in s.auth or (method == "dev" and not s.demo):
        log.warning("ignoring a session made by %r: not a login method this gate accepts", source)
        return None
    person = gate_context().gate.roster.find(str(pid))
    return Identity(person, SOURCES[method]) if person is not None else None


def challenge() -> str:
    """The ``WWW-Authenticate`` value of the gate's 401s: one challenge per login method enabled now
    (``dev`` only in demo mode)."""
    s = gate_context().settings
    methods = [m for m in s.auth if m != "dev" or s.demo]
    return ", ".join(f'{CHALLENGES[m]} realm="{REALM}"' for m in methods)


def unidentified() -> tuple[str, int]:
    """The refusal of a form that nobody of the roster sent: 403 naming the problem when someone
    authenticated but does not count (a stranger, an untrusted address), else 401 asking the person to
    sign in again (their SSO session or login ended; the app adds ``WWW-Authenticate``)."""
    problem = g.get("auth_problem")
    if problem:
        return refused("Not allowed", f"{problem} Nothing was decided.", 403)
    if "proxy" in gate_context().settings.auth:
        how = (
            "The gate did not receive who you are from your organisation's single sign-on: your "
            "sign-in has probably ended. Sign in again (open the gate's address in your browser and "
            "sign in), then open the link again."
        )
    else:
        how = "You are not logged in (your session ended). Log in again, then open the link again."
    return refused("Sign in again", f"{how} Nothing was decided.", 401)


def _login(person: Person, source: str) -> None:
    session.clear()
    session.permanent = True
    session["pid"], session["src"] = person.id, source
    log.info("%s logged in via %s", person.id, source)


def _safe_next(target: str | None) -> str:
    """Only the gate's own pages (see :mod:`gate.redirects`), as a path within the gate (without
    ``base_url``'s path); anything else means the gate's home."""
    return safe_next(target) or "/"


def _go(target: str | None) -> Response:
    """Send the browser to ``target``, a page of the gate (see :func:`_safe_next`), under the path the
    gate is served at."""
    return redirect(request.script_root + _safe_next(target), 303)


def _public(endpoint: str) -> str:
    """The public URL of one of the gate's pages: ``base_url`` and the page's path within the gate."""
    return gate_context().settings.base_url + url_for(endpoint)[len(request.script_root) :]


@bp.get("/login")
def login() -> Any:
    """The login page: the methods this gate allows."""
    ctx = gate_context()
    form = DevLoginForm()
    form.person.choices = [(p.id, f"{p.name} <{p.email}>") for p in ctx.gate.roster.people.values()]
    current_identity()
    return render_template(
        "login.html",
        form=form,
        next=_safe_next(request.args.get("next")),
        methods=ctx.settings.auth,
        problem=g.get("auth_problem"),
        logout=LogoutForm(),
    )


@bp.post("/login/dev")
def dev_login() -> Response:
    """Demo only: log in as anyone in the roster."""
    ctx = gate_context()
    if not (ctx.settings.demo and "dev" in ctx.settings.auth):
        abort(404)
    form = DevLoginForm()
    form.person.choices = [(p.id, p.name) for p in ctx.gate.roster.people.values()]
    if not form.validate_on_submit():
        abort(400)
    _login(ctx.gate.roster.person(form.person.data), SOURCES["dev"])
    return _go(request.args.get("next"))


@bp.post("/logout")
def logout() -> Response:
    """Forget the session."""
    LogoutForm().validate_on_submit()
    session.clear()
    return redirect(url_for("auth.login"), 303)


@bp.get("/login/webex")
def webex_start() -> Response:
    """Send the browser to Webex's authorize endpoint with a one-time state."""
    s = gate_context().settings
    if "webex" not in s.auth:
        abort(404)
    state = secrets.token_urlsafe(24)
    session["oauth_state"], session["oauth_next"] = state, _safe_next(request.args.get("next"))
    query = urllib.parse.urlencode(
        {
            "client_id": s.webex_client_id,
            "response_type": "code",
            "redirect_uri": _public("auth.webex_callback"),
            "scope": s.webex_scope,
            "state": state,
        }
    )
    return redirect(f"{s.webex_authorize_url}?{query}", 302)


def _call(url: str, *, data: dict[str, str] | None = None, token: str | None = None) -> dict[str, Any]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    req.add_header("Accept", "application/json")
    if body is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=_TIMEOUT_S) as resp:
        payload = json.loads(resp.read().decode() or "{}")
    if not isinstance(payload, dict):
        raise ValueError(f"{url} answered with {type(payload).__name__}, not an object")
    return payload


@bp.get("/auth/webex/callback")
def webex_callback() -> Any:
    """Finish the authorization-code flow: check the state, swap the code, ask who this is."""
    s = gate_context().settings
    if "webex" not in s.auth:
        abort(404)
    expected = session.pop("oauth_state", None)
    got = request.args.get("state", "")
    if not expected or not hmac.compare_digest(expected, got):
        return refused("Login failed", "The login answer did not match a login this browser started.", 400)
    if request.args.get("error"):
        return refused("Login failed", f"Webex said: {request.args.get('error')}", 400)
    try:
        tokens = _call(
            s.webex_token_url,
            data={
                "grant_type": "authorization_code",
                "client_id": s.webex_client_id or "",
                "client_secret": s.webex_client_secret.get_secret_value() if s.webex_client_secret else "",
                "code": request.args.get("code", ""),
                "redirect_uri": _public("auth.webex_callback"),
            },
        )
        me = _call(s.webex_people_url, token=str(tokens.get("access_token", "")))
    except (urllib.error.URLError, ValueError, OSError) as e:
        log.warning("Webex login failed: %s", e)
        return refused("Login failed", "Webex did not confirm who you are; try again.", 502)
    emails = [str(x) for x in me.get("emails", []) if isinstance(x, str)]
    person = next((p for p in map(gate_context().gate.roster.find, emails) if p is not None), None)
    if person is None:
        shown = ", ".join(emails) or str(me.get("displayName", "this account"))
        return refused(
            "Not in the roster", f"You logged in as {shown}, who is not in the on-call roster.", 403
        )
    target = session.pop("oauth_next", None)
    _login(person, SOURCES["webex"])
    return _go(target)


def refused(title: str, message: str, status: int, **extra: Any) -> tuple[str, int]:
    """Render the clear refusal page every refused request gets."""
    return render_template("refused.html", title=title, message=message, status=status, **extra), status
