"""Inbound alert webhook: any SIEM can POST alerts, signed with an HMAC-SHA256 of the raw body.

``POST {prefix}/alerts`` with header ``X-Aisoc-Signature: sha256=<hex>`` where ``<hex>`` is
``HMAC-SHA256(secret, raw body)``. The body is one JSON alert object, a JSON array of them, or JSON
Lines (``Content-Type: application/x-ndjson``); each is read like a line of the ``jsonl`` source
(kernel Alert record or generic SIEM object) and published through the kernel's ``ingest`` (one
case per (source, source id); duplicates dropped; unreadable alerts dead-lettered with the reason).

Each sender is bound to the source names it may publish for (its secret and its ``sources``): a signed
body naming another source is refused whole (403) and nothing is published, so a webhook cannot pre-claim
the case id of another source's alert. A sender bound to tenants (an MSSP's forwarder per customer)
may publish only for them: an alert of another tenant is refused the same way, and an alert naming no
tenant is its first tenant's. The body is read whole, whatever the transfer encoding, before the
signature is checked over all of it; compressed bodies are refused (the limit counts what is stored).

Answers: 202 with counts; 401 missing or wrong signature; 403 an alert names a source or a tenant the
sender may not publish for; 400 not JSON / not alerts; 413 body too large (declared or streamed); 415
compressed body; 422 when no alert of the request could be read (they are in the dead-letter stream).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from flask import Blueprint, Flask, Response, jsonify, request

from aisoc.bus import Bus
from aisoc.errors import ConfigError
from aisoc.events import Alert
from aisoc.sources import Rejected, ingest
from aisoc.tenants import tenant_key
from integrations._files import NORMALIZE_ERRORS, describe, reject
from integrations.jsonl import normalize_generic, pick

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Aisoc-Signature"
MAX_ITEMS = 1000
"""Alerts accepted per request."""


def sign(secret: str | bytes, body: bytes) -> str:
    """The signature header value of ``body``: ``sha256=<hex HMAC-SHA256>`` (what senders compute)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


MIN_SECRET_BYTES = 16
_READ_CHUNK = 65536


@dataclass(frozen=True)
class Sender:
    """Who may post: the HMAC secret it signs with and the only source names it may publish alerts for
    (the first is the source of alerts that do not name their own)."""

    secret: bytes
    sources: tuple[str, ...]
    tenants: tuple[str, ...] = ()
    """The only tenants it may publish alerts for (the first is the tenant of alerts that name none);
    empty: any tenant."""

    @classmethod
    def of(cls, secret: str | bytes, sources: Iterable[str], tenants: Iterable[str] = ()) -> Sender:
        """A sender from configured values.

        Raises:
            ConfigError: the secret is shorter than 16 characters, no source is named, or a tenant
                name is empty.
        """
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigError(
                "webhook: the HMAC secret ([integrations.webhook] secret) must have 16+ characters"
            )
        names = tuple(dict.fromkeys(n.strip().lower() for n in sources if n.strip()))
        if not names:
            raise ConfigError("webhook: a sender must be bound to at least one source name")
        orgs = tuple(dict.fromkeys(tenant_key(t) for t in tenants))
        if "" in orgs:
            raise ConfigError("webhook: a sender's tenants must be non-empty names")
        return cls(key, names, orgs)

    def addressed(self, item: dict[str, Any]) -> dict[str, Any]:
        """``item``, given this sender's first tenant when it names none and the sender is bound to
        tenants."""
        if self.tenants and pick(item, "tenant") is None:
            return {**item, "tenant": self.tenants[0]}
        return item

    def refusal(self, item: dict[str, Any], alert: Alert | None) -> str | None:
        """Why this sender may not publish ``item`` (a source or tenant not its own), if it may not."""
        claimed = self.claims(item, alert)
        if claimed is not None:
            return f"names source {claimed!r}; this sender may publish for {', '.join(self.sources)} only"
        if alert is not None and self.tenants and alert.tenant not in self.tenants:
            return (
                f"is for tenant {alert.tenant or '(none)'!r}; this sender may publish for tenant(s) "
                f"{', '.join(self.tenants)} only"
            )
        return None

    def claims(self, item: dict[str, Any], alert: Alert | None) -> str | None:
        """The source ``item`` names that this sender may not publish for, if any."""
        named = item.get("source")
        for source in (
            named.strip().lower() if isinstance(named, str) else "",
            alert.source if alert else "",
        ):
            if source and source not in self.sources:
                return source
        return None


def _read_body(stream: IO[bytes], limit: int) -> bytes | None:
    """The whole body, or None when it is longer than ``limit`` (chunked bodies have no declared length)."""
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(min(_READ_CHUNK, limit + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            return None
    return b"".join(chunks)


def _signed_by(senders: Iterable[Sender], given: str, body: bytes) -> Sender | None:
    """The sender whose secret signed ``body``, if any (every secret is tried: no early answer to time)."""
    found = None
    for sender in senders:
        if hmac.compare_digest(given.encode(), sign(sender.secret, body).encode()):
            found = found or sender
    return found


class _Batch:
    """A one-shot alert source over the alerts of one request."""

    def __init__(self, name: str, items: Iterable[Alert | Rejected]) -> None:
        self.name = name
        self._items = list(items)

    def poll(self) -> Iterator[Alert | Rejected]:
        yield from self._items


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def create_webhook_blueprint(
    bus: Bus,
    secret: str | bytes,
    *,
    source: str = "webhook",
    sources: Iterable[str] = (),
    tenants: Iterable[str] = (),
    senders: Iterable[Sender] = (),
    max_body_bytes: int = 1_000_000,
    name: str = "aisoc_webhook",
    now: Callable[[], datetime] | None = None,
) -> Blueprint:
    """A Flask blueprint receiving signed alerts and publishing them on ``bus``.

    Args:
        bus: where ``alert.received`` events (and dead letters) go.
        secret: the shared HMAC secret (at least 16 characters).
        source: source name of alerts that do not name their own (the holder of ``secret`` may use it).
        sources: more source names the holder of ``secret`` may publish alerts for.
        tenants: the only tenants the holder of ``secret`` may publish alerts for (empty: any); the
            first is the tenant of alerts that name none.
        senders: more senders, each with its own secret and source names.
        max_body_bytes: larger requests are refused with 413, declared or streamed.
        name: the blueprint name (mount several with different names).
        now: clock for alerts without a timestamp (their receipt time).

    Raises:
        ConfigError: a secret is missing or shorter than 16 characters.
    """
    known = (Sender.of(secret, [source, *sources], tenants), *senders)
    clock = now or (lambda: datetime.now(UTC))
    bp = Blueprint(name, __name__)

    @bp.post("/alerts")
    def receive() -> tuple[Response, int]:
        encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            return _error(415, f"Content-Encoding {encoding!r} refused: send the body uncompressed")
        length = request.content_length
        if length is not None and length > max_body_bytes:
            return _error(413, f"body of {length} bytes exceeds the limit of {max_body_bytes}")
        request.max_content_length = max_body_bytes + 1  # our limit, not the app's, ends the stream
        body = _read_body(request.stream, max_body_bytes)
        if body is None:
            return _error(413, f"body exceeds the limit of {max_body_bytes} bytes")
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not given:
            return _error(401, f"missing {SIGNATURE_HEADER} header: sha256=<hex HMAC-SHA256 of the raw body>")
        if not given.startswith("sha256="):
            return _error(401, f"{SIGNATURE_HEADER} must look like sha256=<hex>")
        sender = _signed_by(known, given, body)
        if sender is None:
            log.warning("webhook: signature mismatch from %s", request.remote_addr)
            return _error(401, "signature does not match the body (HMAC-SHA256 with the shared secret)")
        try:
            items = _decode(body, request.mimetype)
        except ValueError as e:
            return _error(400, str(e))
        received = clock()
        batch: list[Alert | Rejected] = []
        for n, item in enumerate(items, 1):
            alert: Alert | None = None
            item = sender.addressed(item)
            try:
                alert, _ = normalize_generic(item, sender.sources[0], now=lambda: received)
            except NORMALIZE_ERRORS as e:
                batch.append(reject(f"webhook item {n}: {describe(e)}", item, sender.sources[0]))
            refused = sender.refusal(item, alert)
            if refused is not None:
                log.warning("webhook: refused a body from %s: %s", request.remote_addr, refused)
                return _error(403, f"item {n} {refused}: nothing was published")
            if alert is not None:
                batch.append(alert)
        stats = ingest(_Batch(sender.sources[0], batch), bus)
        reasons = [r.reason for r in batch if isinstance(r, Rejected)]
        answer = {
            "published": stats.published,
            "duplicates": stats.duplicates,
            "rejected": stats.rejected,
            "case_ids": stats.case_ids,
            "errors": reasons[:20],
        }
        log.info(
            "webhook: %d published, %d duplicate, %d rejected",
            stats.published,
            stats.duplicates,
            stats.rejected,
        )
        status = 422 if stats.rejected and not (stats.published or stats.duplicates) else 202
        return jsonify(answer), status

    return bp


def _decode(body: bytes, mimetype: str) -> list[Any]:
    """The alert objects of a request body.

    Raises:
        ValueError: the body is not JSON, holds no alert, or too many.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"body is not UTF-8: {e}") from e
    if mimetype in ("application/x-ndjson", "application/jsonl", "application/x-jsonlines"):
        items: list[Any] = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except ValueError as e:
                    raise ValueError(f"line {n} is not JSON: {e}") from e
                except RecursionError:  # a 400 the sender can read, not a 500 it retries forever
                    raise ValueError(f"line {n}: JSON nested too deep to read") from None
    else:
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise ValueError(f"body is not JSON: {e}") from e
        except RecursionError:  # a 400 the sender can read, not a 500 it retries forever
            raise ValueError("body: JSON nested too deep to read") from None
        items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise ValueError("no alert in the body")
    if len(items) > MAX_ITEMS:
        raise ValueError(f"{len(items)} alerts in one request; at most {MAX_ITEMS}")
    bad = [n for n, item in enumerate(items, 1) if not isinstance(item, dict)]
    if bad:
        raise ValueError(f"item(s) {', '.join(map(str, bad[:10]))} are not JSON objects")
    return items


def create_app(config: str | None = None, bus: Bus | None = None) -> Flask:
    """A WSGI app serving the webhook at ``/webhook/alerts``.

    Run it with ``gunicorn 'integrations.webhook:create_app()'``.

    Args:
        config: the settings file (default: ``$AISOC_CONFIG`` or ``./aisoc.toml``).
        bus: the bus (default: the one the kernel settings name).

    Raises:
        ConfigError: the webhook secret is not configured.
    """
    from aisoc.logredact import install_log_redaction
    from aisoc.redact import Redactor
    from aisoc.settings import KernelSettings, load_settings
    from integrations.settings import load_integrations_settings

    settings = load_integrations_settings(config)
    secret = settings.webhook.secret
    if secret is None:
        raise ConfigError("webhook: set [integrations.webhook] secret (or AISOC_WEBHOOK__SECRET)")
    if bus is None:
        kernel = load_settings(KernelSettings, config)
        redactor = Redactor(kernel.redact_patterns, kernel.redact_presets)
        bus = Bus(kernel.bus, namespace=kernel.namespace, redactor=redactor or None)
    app = Flask("aisoc-webhook")
    app.config["MAX_CONTENT_LENGTH"] = settings.webhook.max_body_bytes
    hook = settings.webhook
    install_log_redaction(Redactor.standard(settings.secrets()))
    blueprint = create_webhook_blueprint(
        bus,
        secret.get_secret_value(),
        source=hook.source,
        sources=hook.sources,
        tenants=hook.tenants,
        senders=[Sender.of(s.secret.get_secret_value(), s.sources, s.tenants) for s in hook.senders],
        max_body_bytes=hook.max_body_bytes,
    )
    app.register_blueprint(blueprint, url_prefix="/webhook")
    return app
