"""The gate as an operator deploys it, for end-to-end tests: the documented gunicorn command, the session
keys in the gate's own environment only, and a TLS-terminating SSO proxy with a throw-away certificate.

    config = write_config(tmp_path, bus="sqlite:///...", base_url=f"https://127.0.0.1:{port}")
    gate = GateProcess(config).start()           # the documented gunicorn command
    proxy = SsoProxy(gate.port, port).start()    # https://127.0.0.1:port, X-Forwarded-* to the gate
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import shlex
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests.gate.factory import LINK_KEYS, ROSTER, SESSION_KEYS
from tests.support.redis_server import free_port

GUNICORN = "gunicorn -c python:gate.gunicorn_conf 'gate.wsgi:application()'"
"""The documented command that serves the gate's pages (docs/gate.md, deploy/systemd/aisoc-gate.service)."""
ROOT = Path(__file__).resolve().parents[2]

DUTY_TOML = """
[roster.duties.ir_lead]
approvers = ["carol"]
executors = ["bob"]
[[roster.duties.ir_lead.rotations]]
people = ["alice"]
start = 2020-01-06
period = "weekly"
"""
"""Alice holds IR Lead On-Call whatever the date (the gate's processes run on the real clock)."""


def roster_toml() -> str:
    """The test roster's people (tests.gate.factory) with :data:`DUTY_TOML`, as a settings file has them."""
    lines = ["[roster]", 'auditors = ["frank"]']
    for pid, person in ROSTER["people"].items():
        lines += [f"[roster.people.{pid}]", *(f"{k} = {json.dumps(v)}" for k, v in person.items())]
    return "\n".join(lines) + "\n" + DUTY_TOML


def write_config(
    directory: Path, *, bus: str, base_url: str, namespace: str = "soc", extra: str = ""
) -> Path:
    """The shared ``aisoc.toml``: bus, public URL, link keys and roster — never the session keys."""
    path = directory / "aisoc.toml"
    path.write_text(
        f'[aisoc]\nbus = "{bus}"\nnamespace = "{namespace}"\nstate_dir = "{directory / "state"}"\n\n'
        f'[gate]\nbase_url = "{base_url}"\nlink_keys = {json.dumps(LINK_KEYS)}\n'
        f'rate_limit = "10000 per minute"\n{extra}\n{roster_toml()}'
    )
    return path


class GateProcess:
    """The gate's pages under gunicorn, started with the documented command.

    Args:
        config: the shared settings file.
        port: where gunicorn listens (``AISOC_GATE_PORT``); a free one by default.
        session_keys: given to this process only, in its environment (as the systemd unit's
            ``EnvironmentFile`` does).
    """

    def __init__(
        self, config: Path, *, port: int | None = None, session_keys: list[str] = SESSION_KEYS
    ) -> None:
        self.config = config
        self.port = port or free_port()
        self.log = config.parent / f"gunicorn-{self.port}.log"
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AISOC_CONFIG": str(config),
            "AISOC_GATE_PORT": str(self.port),
            "AISOC_GATE_SESSION_KEYS": json.dumps(session_keys),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> GateProcess:
        """Start gunicorn and wait until ``/healthz`` answers.

        Raises:
            RuntimeError: it exited or did not answer in time (with the end of its log).
        """
        return self.spawn().ready(timeout)

    def spawn(self) -> GateProcess:
        """Start gunicorn without waiting (start several, then wait for each with :meth:`ready`)."""
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                shlex.split(GUNICORN),
                cwd=self.config.parent,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def ready(self, timeout: float = 60) -> GateProcess:
        """Wait until ``/healthz`` answers.

        Raises:
            RuntimeError: it exited or did not answer in time (with the end of its log).
        """
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer on {self.url}:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop gunicorn (SIGTERM to its process group, SIGKILL after 15 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}
SSO_COOKIE = "_sso_user"
"""The proxy's own login cookie (a real SSO proxy keeps its own session the same way)."""


class _Forward(BaseHTTPRequestHandler):
    server: _ProxyServer
    protocol_version = "HTTP/1.0"
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _login(self) -> None:
        q = parse_qs(urlsplit(self.path).query)
        who, back = q.get("as", [""])[0], q.get("rd", ["/"])[0]
        self.send_response(302)
        self.send_header("Location", back if back.startswith("/") else "/")
        self.send_header("Set-Cookie", f"{SSO_COOKIE}={quote(who)}; Path=/; Secure; HttpOnly; SameSite=Lax")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _forward(self) -> None:
        if self.path.startswith("/_sso/login"):
            return self._login()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
        path, prefix = self.path, self.server.prefix
        if prefix:  # the gate is served under a path of the site only (base_url with a path)
            if not path.startswith(prefix + "/"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path = path[len(prefix) :] if self.server.strip_prefix else path
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in _HOP and k.lower() != "cookie" and not k.lower().startswith("x-forwarded-")
        }
        who = None
        kept = []
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == SSO_COOKIE:
                who = unquote(value)
            elif name:
                kept.append(part.strip())
        if kept:
            headers["Cookie"] = "; ".join(kept)
        headers["X-Forwarded-For"] = self.client_address[0]
        headers["X-Forwarded-Proto"] = "https"
        headers["X-Forwarded-Host"] = self.headers.get("Host", "")
        if who:
            headers[self.server.identity_header] = who
        self.server.seen.append(
            {
                "method": self.command,
                "path": self.path,
                **{k: self.headers.get(k) for k in ("Origin", "Referer")},
            }
        )
        conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=60)
        conn.request(self.command, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in _HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_HEAD = _forward


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    upstream: int
    identity_header: str
    seen: list[dict[str, Any]]
    prefix: str
    strip_prefix: bool

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that refuses the certificate or hangs up is no error of the proxy's."""
        if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class SsoProxy:
    """A TLS-terminating SSO reverse proxy in front of the gate, as an operator runs one.

    It serves HTTPS with a certificate from a throw-away CA (trustme), knows who the browser is from its
    own cookie (``/_sso/login?as=EMAIL&rd=PATH`` logs in), removes every ``X-Forwarded-*`` header the
    browser sends, and forwards to the gate with the identity header and ``X-Forwarded-For``,
    ``-Proto: https`` and ``-Host``, keeping ``Host``.

    Args:
        upstream: the gate's port (gunicorn on 127.0.0.1).
        port: where the proxy listens (a free one by default).
        identity_header: the header the gate reads (``[gate] proxy_header``).
        prefix: the path the gate is served under (``/gate`` for ``base_url = https://host/gate``);
            anything else is a 404 of the proxy's.
        strip_prefix: whether the proxy forwards ``/gate/a/x`` as ``/a/x`` (nginx's ``proxy_pass
            http://127.0.0.1:8700/;``) or as it came.
    """

    def __init__(
        self,
        upstream: int,
        port: int | None = None,
        identity_header: str = "X-Forwarded-Email",
        *,
        prefix: str = "",
        strip_prefix: bool = True,
    ) -> None:
        import trustme

        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.server = _ProxyServer(("127.0.0.1", port or 0), _Forward)
        self.server.upstream, self.server.identity_header, self.server.seen = upstream, identity_header, []
        self.server.prefix, self.server.strip_prefix = prefix, strip_prefix
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        # The handshake happens in each connection's thread, so a slow client blocks nobody else.
        self.server.socket = context.wrap_socket(
            self.server.socket, server_side=True, do_handshake_on_connect=False
        )
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="sso-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def seen(self) -> list[dict[str, Any]]:
        """Every forwarded request: method, path and the browser's Origin and Referer."""
        return self.server.seen

    def spki(self) -> str:
        """The certificate's public-key pin, as Chromium's ``--ignore-certificate-errors-spki-list`` wants."""
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        cert = x509.load_pem_x509_certificate(self.cert.cert_chain_pems[0].bytes())
        der = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(hashlib.sha256(der).digest()).decode()

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts the throw-away CA (for clients other than the browser)."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def start(self) -> SsoProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)
