"""The bot's Flask app: the signed webhook receiver, a health check, and the local preview of the space.

app = create_app(settings)                  # builds a Bot over settings.bus
app = create_app(settings, bot=bot)         # around an existing Bot (the demo, tests)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request

from bot.errors import Refused, WebexError
from bot.inbound import Inbound
from bot.preview import ROOM
from bot.service import Bot
from bot.settings import BotSettings
from bot.webhooks import WEBHOOK_PATH

log = logging.getLogger(__name__)

EXTENSION = "aisoc_bot"
"""``app.extensions[EXTENSION]`` is the Bot."""
VENDOR = ("adaptivecards.min.js", "markdown-it.min.js")
"""The renderer files ``make install`` bundles into bot/static/vendor/ (npm, at build time)."""
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""The preview runs only the bundled scripts; the card renderer sets inline styles."""
_MAX_BODY = 1024 * 1024


def signature(secret: str, body: bytes) -> str:
    """The ``X-Spark-Signature`` Webex sends: hex HMAC-SHA1 of the raw body with the webhook secret."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def verify(secret: str | None, body: bytes, header: str | None) -> bool:
    """Whether a delivery carries the right signature (constant-time compare)."""
    if not secret or not header:
        return False
    return hmac.compare_digest(signature(secret, body), header.strip().lower())


def missing_vendor(static: Path) -> list[str]:
    """The renderer files that are not bundled (the page says so instead of failing silently)."""
    return [name for name in VENDOR if not (static / "vendor" / name).is_file()]


def create_app(settings: BotSettings, *, bot: Bot | None = None, **bot_options: Any) -> Flask:
    """Build the bot's web app.

    Args:
        settings: the bot's settings.
        bot: an existing Bot; otherwise one is built from ``settings`` and ``bot_options``.

    Returns:
        The Flask app; ``app.extensions["aisoc_bot"]`` is its Bot.
    """
    bot = bot or Bot(settings, **bot_options)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=_MAX_BODY, JSON_SORT_KEYS=False)
    app.extensions[EXTENSION] = bot
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None

    @app.post(WEBHOOK_PATH)
    def webhook() -> Any:
        raw = request.get_data(cache=False)
        if not verify(secret, raw, request.headers.get("X-Spark-Signature")):
            log.warning("webhook refused from %s: missing or wrong signature", request.remote_addr)
            return jsonify(error="signature"), 401
        try:
            envelope = json.loads(raw)
        except ValueError:
            return jsonify(error="not JSON"), 400
        if not isinstance(envelope, dict):
            return jsonify(error="not an object"), 400
        try:
            outcome = bot.receiver.accept(envelope)
        except Refused as e:
            log.warning("webhook %s: %s", envelope.get("id"), e)
            return jsonify(status="ignored", reason=str(e))
        except WebexError as e:  # the room could not be looked up: Webex may retry the delivery
            log.warning("webhook %s: %s", envelope.get("id"), e)
            return jsonify(error=str(e)), 503
        return jsonify(status=outcome.status, reason=outcome.reason)

    @app.get("/healthz")
    def healthz() -> Any:
        counts = bot.store.counts()
        return jsonify(status="ok", mode=settings.mode, preview=bot.preview is not None, outbox=counts)

    if bot.preview is not None:
        _preview_routes(app, bot)

    @app.after_request
    def _headers(resp: Response) -> Response:
        h = resp.headers
        h.setdefault("Content-Security-Policy", CSP)
        h["X-Frame-Options"] = "DENY"
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "no-referrer"
        if not request.path.startswith("/static/"):
            h["Cache-Control"] = "no-store"
        return resp

    return app


def _preview_routes(app: Flask, bot: Bot) -> None:
    space = bot.preview
    assert space is not None

    def _json_body() -> dict[str, Any]:
        # Only the page's own scripts send this header with JSON: a form on another site cannot.
        if request.headers.get("X-Aisoc-Preview") != "1" or not request.is_json:
            abort(400)
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            abort(400)
        return data

    @app.get("/")
    @app.get("/preview")
    def preview() -> Any:
        static = Path(app.static_folder or "")
        missing = missing_vendor(static)
        if missing:  # the page still works (cards as text) and says how to build the renderer
            log.warning("preview: %s missing from %s/vendor; run `make vendor`", ", ".join(missing), static)
        return (
            render_template(
                "preview.html",
                missing=missing,
                me=space.person,
                bot=space.bot,
                gate_url=bot.directory.gate_settings.base_url if bot.directory.gate_settings else None,
            ),
            200,
        )

    @app.get("/preview/api/messages")
    def messages() -> Any:
        since = request.args.get("since", default=0, type=int)
        return jsonify(messages=space.messages(since), outbox=bot.store.counts())

    @app.post("/preview/api/messages")
    def say() -> Any:
        data = _json_body()
        text = str(data.get("text") or "").strip()
        if not text:
            return jsonify(error="empty message"), 400
        parent = data.get("parentId") or None
        try:
            msg = space.say(text, str(parent) if parent else None)
        except Refused as e:
            return jsonify(error=str(e)), 400
        outcome = bot.receiver.receive(Inbound.from_message(msg, "preview"))
        return jsonify(message=msg, outcome=outcome.status)

    @app.post("/preview/api/actions")
    def act() -> Any:
        data = _json_body()
        inputs = data.get("inputs")
        if not isinstance(inputs, dict):
            return jsonify(error="inputs must be an object"), 400
        try:
            action = space.submit(str(data.get("messageId") or ""), inputs)
        except Refused as e:
            return jsonify(error=str(e)), 404
        outcome = bot.receiver.receive(Inbound.from_action(action, space.person, "preview"))
        return jsonify(action=action["id"], outcome=outcome.status, room=ROOM)
