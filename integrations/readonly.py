"""Read-only by construction: an allowlist of read operations enforced in each adapter's HTTP layer.

Every vendor adapter sends its requests through a guard (an httpx transport, a requests session, or
the SDK's own send hook) that checks the whole request before any byte leaves, on every redirect hop:

- the origin: scheme, host and port must be the configured API's (a redirect to another host is
  refused, so a credential in a body or a header never follows it);
- REST operations are keyed by HTTP method AND path template (many vendor reads are POSTs, such as
  Falcon's alert entities or ZIA's URL lookup, so the method alone proves nothing), and each names the
  query parameters it may carry (none, unless listed);
- GraphQL operations are keyed by operation name, and only the exact registered documents (queries,
  never mutations) may be sent.

The guard also retries 429/5xx with exponential backoff (honouring ``Retry-After``), and the
helpers here cut results down for prompts (secrets are the kernel's :mod:`aisoc.redact`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
import requests

from integrations.errors import ReadOnlyViolation

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Responses worth retrying: rate limited or the vendor's side failed."""
MAX_RETRY_AFTER_S = 30.0
"""A longer Retry-After is capped: a tool call must not hang a role for minutes."""
_GRAPHQL_OP = re.compile(r"^\s*(query|mutation|subscription)\b\s*([_A-Za-z][_0-9A-Za-z]*)?", re.MULTILINE)


class _HttpResponse(Protocol):
    """What the retry loop reads of an httpx or a requests response."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Any: ...

    def close(self) -> None: ...


_Response = TypeVar("_Response", bound=_HttpResponse)


@dataclass(frozen=True)
class Operation:
    """One allowed read: HTTP method + path template (``{name}`` matches one path segment) + the names of
    the query parameters it may carry.

    ``graphql`` maps operation names to the only documents that may be posted to this path.
    """

    method: str
    path: str
    name: str = ""
    graphql: Mapping[str, str] = field(default_factory=dict)
    params: frozenset[str] = frozenset()

    def matches(self, method: str, path: str) -> bool:
        """Whether ``method path`` is this operation."""
        if method.upper() != self.method.upper():
            return False
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", r"[^/]+", re.escape(self.path.rstrip("/"))) + "/?$"
        return re.match(pattern, path) is not None


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an absolute URL, the port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


class Allowlist:
    """The read operations one vendor adapter may perform, at one API origin.

    Args:
        vendor: name used in refusals and logs.
        operations: the allowed operations.
        base_url: the API's URL (``https://api-TENANT/xsoar/public/v1``): requests must go to its scheme,
            host and port, and its path is a prefix stripped before matching. Empty: paths only (for a
            hook that sees no origin).
    """

    def __init__(self, vendor: str, operations: Iterable[Operation], base_url: str = "") -> None:
        self.vendor = vendor
        self.operations = tuple(operations)
        self.origin = _origin(base_url) if "://" in base_url else None
        base_path = urlsplit(base_url).path if "://" in base_url else base_url
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""

    def _refuse(self, what: str) -> ReadOnlyViolation:
        log.warning("%s: refused %s", self.vendor, what)
        return ReadOnlyViolation(f"{self.vendor}: {what}: refused, nothing sent")

    def check(self, method: str, url: str, body: bytes | str | Mapping[str, Any] | None = None) -> Operation:
        """Return the operation ``method url`` performs, or refuse it.

        Raises:
            ReadOnlyViolation: not the configured origin, not an allowed read operation, or a query
                parameter the operation does not take (nothing was sent).
        """
        parts = urlsplit(url)
        if self.origin is not None:
            origin = _origin(url) if parts.scheme else None
            if origin != self.origin:
                scheme, host, port = origin or ("", "(no host)", 0)
                raise self._refuse(
                    f"{method.upper()} to {scheme}://{host}:{port} is not the configured API "
                    f"{self.origin[0]}://{self.origin[1]}:{self.origin[2]}"
                )
        path = parts.path or "/"
        if self.base_path and path.startswith(self.base_path):
            path = path[len(self.base_path) :] or "/"
        op = next((op for op in self.operations if op.matches(method, path)), None)
        if op is None:
            raise self._refuse(f"{method.upper()} {path} is not on the read-only allowlist")
        extra = sorted({name for name, _ in parse_qsl(parts.query, keep_blank_values=True)} - op.params)
        if extra or (parts.query and not parse_qsl(parts.query, keep_blank_values=True)):
            raise self._refuse(f"{method.upper()} {path} with query parameter(s) {', '.join(extra) or '?'}")
        if op.graphql:
            self._check_graphql(op, body)
        return op

    def _check_graphql(self, op: Operation, body: bytes | str | Mapping[str, Any] | None) -> None:
        try:
            doc = body if isinstance(body, Mapping) else json.loads(body or b"{}")
        except ValueError as e:
            raise ReadOnlyViolation(f"{self.vendor}: GraphQL body is not JSON; refused") from e
        name = str(doc.get("operationName") or "")
        query = doc.get("query")
        ops = _GRAPHQL_OP.findall(query or "")
        if name not in op.graphql or query != op.graphql[name] or len(ops) != 1 or ops[0] != ("query", name):
            log.warning("%s: refused GraphQL operation %r", self.vendor, name)
            raise ReadOnlyViolation(
                f"{self.vendor}: GraphQL operation {name!r} is not a registered read-only query; refused"
            )


@dataclass
class RetryPolicy:
    """How many times and how long to wait before retrying a 429/5xx or a connection failure."""

    retries: int = 3
    backoff_s: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        wait = float(self.backoff_s * (2**attempt))
        if retry_after:
            try:
                wait = float(retry_after.split()[0])
            except ValueError:
                try:
                    wait = parsedate_to_datetime(retry_after).timestamp() - time.time()
                except (TypeError, ValueError):
                    pass
        return max(0.0, min(wait, MAX_RETRY_AFTER_S))

    def send(
        self, vendor: str, send: Callable[[], _Response], errors: tuple[type[Exception], ...]
    ) -> _Response:
        """Call ``send`` until it answers with neither 429/5xx nor one of ``errors``, or the retries
        run out (the last answer is returned, the last error raised)."""
        attempt = 0
        while True:
            try:
                response = send()
            except errors as e:
                if attempt >= self.retries:
                    raise
                log.info("%s: %s; retry %d", vendor, type(e).__name__, attempt + 1)
                self.sleep(self.delay(attempt, None))
                attempt += 1
                continue
            if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
                return response
            wait = self.delay(attempt, response.headers.get("Retry-After"))
            log.info("%s: HTTP %d; retry %d in %.1fs", vendor, response.status_code, attempt + 1, wait)
            response.close()
            self.sleep(wait)
            attempt += 1


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport that refuses non-allowlisted operations and retries 429/5xx.

    Args:
        allowlist: the allowed read operations.
        policy: retry policy.
        inner: the real transport (tests may pass an ``httpx.MockTransport``).
    """

    def __init__(
        self,
        allowlist: Allowlist,
        policy: RetryPolicy | None = None,
        inner: httpx.BaseTransport | None = None,
    ) -> None:
        self.allowlist = allowlist
        self.policy = policy or RetryPolicy()
        self.inner = inner or httpx.HTTPTransport()
        self.refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Check the operation, then send it, retrying 429/5xx and connection failures.

        Raises:
            ReadOnlyViolation: the operation is not an allowed read (nothing was sent).
        """
        try:
            self.allowlist.check(request.method, str(request.url), request.read())
        except ReadOnlyViolation:
            self.refused += 1
            raise
        return self.policy.send(
            self.allowlist.vendor,
            lambda: self.inner.handle_request(request),
            (httpx.ConnectError, httpx.ReadTimeout, httpx.ConnectTimeout),
        )

    def close(self) -> None:
        """Close the inner transport."""
        self.inner.close()


class GuardedSession(requests.Session):
    """A requests session (for SDKs such as falconpy) with the same allowlist and retries.

    Args:
        allowlist: the allowed read operations.
        policy: retry policy.
    """

    def __init__(self, allowlist: Allowlist, policy: RetryPolicy | None = None) -> None:
        super().__init__()
        self.allowlist = allowlist
        self.policy = policy or RetryPolicy()
        self.refused: list[ReadOnlyViolation] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Check the operation, then send it, retrying 429/5xx and connection failures.

        Every request goes through here, redirect hops included, so nothing skips the check.

        Raises:
            ReadOnlyViolation: the operation is not an allowed read (nothing was sent).
        """
        try:
            body = request.body if isinstance(request.body, bytes | str) else None
            self.allowlist.check(str(request.method), str(request.url), body)
        except ReadOnlyViolation as e:
            self.refused.append(e)
            raise
        return self.policy.send(
            self.allowlist.vendor,
            lambda: super(GuardedSession, self).send(request, **kwargs),
            (requests.ConnectionError,),
        )


def clip(result: Any, max_chars: int) -> Any:
    """``result`` cut down until its JSON is at most ``max_chars`` (lists first, then strings).

    A cut result says so: lists end with ``"... N more"`` and a final fallback is a prefix of the
    JSON text with ``"[truncated]"``.
    """
    if len(json.dumps(result, default=str)) <= max_chars:
        return result
    for keep in (50, 20, 10, 5, 2, 1):
        trimmed = _trim(result, keep, max_chars // 4)
        if len(json.dumps(trimmed, default=str)) <= max_chars:
            return trimmed
    text = json.dumps(result, default=str)
    return {"truncated": True, "text": text[: max(0, max_chars - 60)] + " [truncated]"}


def _trim(value: Any, keep: int, max_str: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= max_str else value[:max_str] + " [truncated]"
    if isinstance(value, Mapping):
        return {k: _trim(v, keep, max_str) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_trim(v, keep, max_str) for v in value[:keep]]
        return items + ([f"... {len(value) - keep} more"] if len(value) > keep else [])
    return value
