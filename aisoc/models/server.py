"""The OpenAI-compatible chat model as the runtime needs it: every call bounded as a whole (in time
and in size), a response that is no chat completion reported as the server's failure, not as
the model's answer, and every chat completion read as an answer the loop can judge: one cut at
``max_tokens`` (which the OpenAI client's parser refuses) and one whose tool call's arguments are
JSON but no object (which LangChain cannot hold) included.

A read timeout bounds each socket read, not the call: a server that sends its answer a byte at a
time (a wedged GPU box, a proxy trickling keep-alives, an attacker) never trips it. Here the whole
request — connect, send, wait, read — must end within the spec's ``timeout``: each socket operation
is given at most the time the request has left (:class:`BoundedTransport`).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore2
import httpx2
import openai
from langchain_core.exceptions import ModelError as LangChainModelError
from langchain_core.messages import AIMessage, BaseMessage, InvalidToolCall
from langchain_core.messages.tool import invalid_tool_call
from langchain_core.outputs import ChatResult
from langchain_openai import ChatOpenAI

from aisoc.models.failover import CONTENT_FILTER


class BadResponse(LangChainModelError):
    """Raised when a server answers a chat request with something that is no chat completion (an
    empty body, an error page, JSON without a choice): the server failed, not the model."""

    is_retryable = True


FILTERED_COMPLETION: dict[str, Any] = {
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": CONTENT_FILTER}
    ]
}
"""The chat completion an answer the provider filtered is read as when the client's error carries
none (``openai.ContentFilterFinishReasonError.completion`` may be None)."""


class ServerChatModel(ChatOpenAI):
    """``ChatOpenAI`` whose unreadable responses raise :class:`BadResponse`, whose answers cut at
    ``max_tokens`` or filtered by the provider come back as answers (``finish_reason`` ``length``,
    ``content_filter``), and whose tool calls with
    arguments that are no JSON object come back as invalid tool calls."""

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            try:
                result: ChatResult = super()._generate(messages, stop, run_manager, **kwargs)
            except openai.LengthFinishReasonError as e:
                # With a response_format the client's parser refuses an answer cut at max_tokens;
                # the answer is the model's, and the loop asks for a shorter one.
                result = self._create_chat_result(e.completion)
            except openai.ContentFilterFinishReasonError as e:
                # ... and one the provider filtered: it is read as the filtered answer it is, so that
                # failover asks the backup and the loop names the filter (not a "model error").
                result = self._create_chat_result(e.completion or FILTERED_COMPLETION)
        except (json.JSONDecodeError, TypeError, KeyError, IndexError, AttributeError) as e:
            raise BadResponse(f"the server's response is no chat completion: {type(e).__name__}: {e}") from e
        if not result.generations:
            raise BadResponse("the server's response is no chat completion: it holds no choice")
        return result

    def _create_chat_result(
        self, response: dict[str, Any] | openai.BaseModel, generation_info: dict[str, Any] | None = None
    ) -> ChatResult:
        """The chat result, with each tool call whose arguments are JSON but no object (``[1, 2]``,
        ``"host"``, ``null``) made an invalid tool call that says why: LangChain would read ``[1, 2]``
        as arguments and fail to build the message (the whole answer lost as a model error), and
        ``null`` as no arguments at all."""
        data = (
            response.model_dump(exclude={"choices": {"__all__": {"message": {"parsed"}}}}, warnings=False)
            if isinstance(response, openai.BaseModel)
            else response
        )
        refused: dict[int, list[InvalidToolCall]] = {}
        if isinstance(data, dict) and isinstance(data.get("choices"), list):
            choices = []
            for n, choice in enumerate(data["choices"]):
                choice, bad = _split_calls(choice)
                choices.append(choice)
                if bad:
                    refused[n] = bad
            if refused:
                response = {**data, "choices": choices}
        result: ChatResult = super()._create_chat_result(response, generation_info)
        for n, bad in refused.items():
            message = result.generations[n].message
            if isinstance(message, AIMessage):
                message.invalid_tool_calls = [*message.invalid_tool_calls, *bad]
        return result


def _split_calls(choice: Any) -> tuple[Any, list[InvalidToolCall]]:
    """``choice`` without its tool calls whose arguments are JSON but no object, and those calls as
    invalid tool calls (arguments kept as sent, the error saying what they were)."""
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict) or not isinstance(message.get("tool_calls"), list):
        return choice, []
    kept: list[Any] = []
    bad: list[InvalidToolCall] = []
    for call in message["tool_calls"]:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or (kind := _not_an_object(function.get("arguments"))) is None:
            kept.append(call)
            continue
        name, call_id = function.get("name"), call.get("id")
        bad.append(
            invalid_tool_call(
                name=name if isinstance(name, str) else None,
                args=function["arguments"],
                id=call_id if isinstance(call_id, str) else None,
                error=f"the arguments must be a JSON object of the tool's parameters, not {kind}",
            )
        )
    if not bad:
        return choice, []
    return {**choice, "message": {**message, "tool_calls": kept or None}}, bad


def _not_an_object(arguments: Any) -> str | None:
    """What a tool call's ``arguments`` text is when it is JSON but no object (``"an array"``...);
    None when it is an object, empty (no arguments) or no JSON (LangChain reports that itself)."""
    if not isinstance(arguments, str) or not arguments.strip():
        return None
    try:
        value = json.loads(arguments, strict=False)  # as LangChain reads arguments
    except ValueError:
        return None
    if isinstance(value, dict):
        return None
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "an array"


MAX_RESPONSE_BYTES = 16 * 1024 * 1024
"""Most bytes one response may take (headers and body): far above any answer (an answer over
200,000 characters is refused anyway), so a server streaming garbage cannot fill the worker's memory."""


class _Deadlines(threading.local):
    at: float | None = None
    """When the request this thread is making must have ended (``time.monotonic()``)."""
    received = 0
    """Bytes read for that request so far."""

    def start(self, total_s: float) -> None:
        """A request starts in this thread: it has ``total_s`` seconds and has read nothing."""
        self.at, self.received = time.monotonic() + total_s, 0

    def count(self, data: bytes) -> bytes:
        """Count ``data`` against the response's size.

        Raises:
            httpcore2.ReadError: the response is larger than :data:`MAX_RESPONSE_BYTES`.
        """
        self.received += len(data)
        if self.received > MAX_RESPONSE_BYTES:
            raise httpcore2.ReadError(f"the model server's response exceeds {MAX_RESPONSE_BYTES:,} bytes")
        return data

    def left(self, timeout: float | None, error: type[Exception]) -> float | None:
        """The time one socket operation may take: ``timeout``, or less when the request has less left.

        Raises:
            error: the request has no time left.
        """
        if self.at is None:
            return timeout
        left = self.at - time.monotonic()
        if left <= 0:
            raise error("the model server did not finish answering within the call's time limit")
        return left if timeout is None else min(timeout, left)


class _BoundedStream(httpcore2.NetworkStream):
    """A socket stream whose every operation waits at most what the current request has left."""

    def __init__(self, inner: httpcore2.NetworkStream, deadlines: _Deadlines) -> None:
        self._inner, self._deadlines = inner, deadlines

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._inner.read(max_bytes, self._deadlines.left(timeout, httpcore2.ReadTimeout))
        return self._deadlines.count(data)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadlines.left(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        left = self._deadlines.left(timeout, httpcore2.ConnectTimeout)
        tls = self._inner.start_tls(ssl_context, server_hostname, left)
        return _BoundedStream(tls, self._deadlines)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _BoundedBackend(httpcore2.NetworkBackend):
    def __init__(self, inner: httpcore2.NetworkBackend, deadlines: _Deadlines) -> None:
        self._inner, self._deadlines = inner, deadlines

    def _left(self, timeout: float | None) -> float | None:
        return self._deadlines.left(timeout, httpcore2.ConnectTimeout)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        stream = self._inner.connect_tcp(host, port, self._left(timeout), local_address, socket_options)
        return _BoundedStream(stream, self._deadlines)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        stream = self._inner.connect_unix_socket(path, self._left(timeout), socket_options)
        return _BoundedStream(stream, self._deadlines)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class BoundedTransport(httpx2.HTTPTransport):
    """An HTTP transport whose every request ends within ``total_s`` seconds, body included, and
    reads at most :data:`MAX_RESPONSE_BYTES` of its response.

    The deadline is set when a request starts and holds for its socket operations in this thread
    until the next request starts: the OpenAI client reads a response's body right after its
    headers, in the same thread.

    Raises:
        ModelError: this httpx2 keeps its connection pool elsewhere (the bound cannot be installed).
    """

    def __init__(self, total_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.total_s = total_s
        self._deadlines = _Deadlines()
        pool = getattr(self, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None:
            from aisoc.errors import ModelError

            raise ModelError("this httpx2 version hides its network backend: a model call cannot be bounded")
        pool._network_backend = _BoundedBackend(backend, self._deadlines)  # type: ignore[union-attr]

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self._deadlines.start(self.total_s)
        return super().handle_request(request)


def bounded_client(total_s: float, base_url: str) -> httpx2.Client:
    """An HTTP client for the model server at ``base_url`` whose every request ends within
    ``total_s`` seconds and reads at most :data:`MAX_RESPONSE_BYTES`; through the environment's
    proxy for that URL, if any (a client given its own transport no longer looks for one)."""
    return httpx2.Client(transport=BoundedTransport(total_s, proxy=env_proxy(base_url)), timeout=total_s)


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``),
    unless ``NO_PROXY`` exempts its host."""
    parts = urlsplit(url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all") or None
