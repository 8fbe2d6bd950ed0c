"""Nothing leaves the process during a replay: a guard at the socket boundary.

Replay already runs on its own in-memory bus with no gate, no bot and no vendor tools; the guard
is the belt to those braces. While it is active every outbound ``connect`` (TCP, UDP or Unix
socket, whoever makes it: httpx, urllib, requests, redis-py, the Webex SDK) is refused with
:class:`EgressBlocked` and recorded, except to the endpoints explicitly allowed — the model server
of an ``openai+http://`` model, which is where prompts are meant to go.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)


class EgressBlocked(ConnectionRefusedError):
    """Raised (as a refused connection) when code tries to reach the network during a replay."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One outbound connection attempt seen by the guard."""

    address: str
    allowed: bool


@dataclass
class EgressGuard:
    """Refuse and record outbound connections while active (a context manager, re-entrant-safe).

    Args:
        allow: ``(host, port)`` pairs that may be reached (host names are resolved on entry).

    Example:
        >>> with EgressGuard() as guard:
        ...     pass
        >>> guard.blocked
        []
    """

    allow: Iterable[tuple[str, int]] = ()
    attempts: list[Attempt] = field(default_factory=list)
    _allowed: set[tuple[str, int]] = field(default_factory=set, init=False, repr=False)
    _saved: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def blocked(self) -> list[Attempt]:
        """The attempts that were refused."""
        return [a for a in self.attempts if not a.allowed]

    def __enter__(self) -> EgressGuard:
        self._allowed = set()
        for host, port in self.allow:
            self._allowed.add((host, port))
            try:
                for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP):
                    self._allowed.add((str(info[4][0]), port))
            except OSError:  # unresolvable: only the literal name is allowed
                pass
        guard = self
        original_connect = socket.socket.connect
        original_connect_ex = socket.socket.connect_ex
        original_sendto = socket.socket.sendto

        def connect(sock: Any, address: Any) -> None:
            guard._check(address)
            original_connect(sock, address)

        def connect_ex(sock: Any, address: Any) -> int:
            guard._check(address)
            return original_connect_ex(sock, address)

        def sendto(sock: Any, data: Any, *args: Any) -> int:
            guard._check(args[-1] if args else None)
            return int(original_sendto(sock, data, *args))

        patched: dict[str, Any] = {"connect": connect, "connect_ex": connect_ex, "sendto": sendto}
        self._saved = {name: getattr(socket.socket, name) for name in patched}
        for name, fn in patched.items():
            setattr(socket.socket, name, fn)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for name, fn in self._saved.items():
            setattr(socket.socket, name, fn)
        self._saved = {}

    def _check(self, address: Any) -> None:
        if isinstance(address, tuple) and len(address) >= 2:
            key: tuple[str, int] | None = (str(address[0]), int(address[1]))
            shown = f"{address[0]}:{address[1]}"
        else:
            key, shown = None, str(address)
        allowed = key is not None and key in self._allowed
        with self._lock:
            self.attempts.append(Attempt(shown, allowed))
        if not allowed:
            log.warning("replay: refused an outbound connection to %s (nothing leaves a replay)", shown)
            raise EgressBlocked(f"replay isolation: outbound connection to {shown} refused")


def model_endpoints(model: Any) -> list[tuple[str, int]]:
    """The ``(host, port)`` a chat model must reach (its OpenAI-compatible server), if any.

    Reads the legs the model spec recorded (``aisoc_leg`` = ``host:port``), for a failover model
    both of them.
    """
    out: list[tuple[str, int]] = []
    candidates = [model, getattr(model, "primary", None), getattr(model, "secondary", None)]
    for m in candidates:
        base = getattr(m, "openai_api_base", None) or getattr(m, "base_url", None)
        if not isinstance(base, str) or "//" not in base:
            continue
        netloc = base.split("//", 1)[1].split("/", 1)[0]
        host, _, port = netloc.rpartition(":")
        if not host:
            host, port = netloc, "443" if base.startswith("https") else "80"
        out.append((host.strip("[]"), int(port)))
    return out
