"""gunicorn's settings for the gate, read from the gate's own settings (one place to set them):

    gunicorn -c python:gate.gunicorn_conf 'gate.wsgi:application()'

- ``bind``: ``[gate] host`` and ``port`` (127.0.0.1:8700): the gate listens behind its TLS/SSO proxy.
- ``forwarded_allow_ips``: ``[gate] trusted_proxies``. gunicorn believes ``X-Forwarded-Proto: https``
  (so the gate knows the browser used TLS) only from these addresses, exactly as the gate believes the
  identity header only from them. Nothing rewrites the client address: it is the proxy's.
- ``forwarder_headers`` none: no request header sets the path the gate is served at (``base_url`` does).
- ``worker_class`` gthread, 2 workers of 4 threads; decisions are compare-and-set on the shared store,
  so any number of workers and hosts is safe. Command-line flags win (``--workers 4``).

The demo makes per-process keys, so it runs one worker. No access log (URLs carry link tokens): the
proxy in front keeps one. With ``rate_limit_storage = "memory://"`` each worker counts on its own, so
a person may send ``workers`` times ``rate_limit``: ``when_ready`` says so in the log.
"""

from __future__ import annotations

from typing import Any

from aisoc.errors import ConfigError
from gate.settings import load_gate_settings

try:
    _settings = load_gate_settings()
    _settings.require("session_keys", "link_keys")
except ConfigError as e:  # say it plainly instead of a traceback from gunicorn's config loader
    raise SystemExit(f"gate: {e}") from e

_host = f"[{_settings.host}]" if ":" in _settings.host else _settings.host
bind = [f"{_host}:{_settings.port}"]
forwarded_allow_ips = ",".join(_settings.trusted_proxies)
forwarder_headers = ""
"""Believe no ``SCRIPT_NAME``/``PATH_INFO`` header, not even from ``trusted_proxies`` (gunicorn's
default does): the gate's path comes from ``base_url`` alone. A proxy that passes on a browser's own
``SCRIPT_NAME`` would otherwise move the gate's links and redirects, or fail the request with 500."""
worker_class = "gthread"
workers = 1 if _settings.demo else 2
threads = 4
proc_name = "aisoc-gate"
control_socket_disable = True
"""No control socket in $HOME (gunicorn 24+): two gates on one host would share its path."""


def when_ready(server: Any) -> None:
    """Warn, once the workers' count is known (flags included), that a per-process rate-limit store
    multiplies the limit by it."""
    n = int(server.cfg.workers)
    if n > 1 and _settings.rate_limit_storage.startswith("memory://"):
        server.log.warning(
            "gate: rate_limit_storage is memory://, counted per worker: with %d workers a person may "
            "send %d x %r; set [gate] rate_limit_storage to a shared store (redis://...)",
            n,
            n,
            _settings.rate_limit,
        )
