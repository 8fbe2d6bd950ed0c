"""A local fake of an OpenAI-compatible chat server (llama.cpp's, vLLM's) that answers after a fixed delay.

It answers ``POST /v1/chat/completions`` with the canned model's answer for the role named in the
system message (the roles' own ``stub_answer``), after ``delay_s``, on as many connections at once
as clients open: a batching GPU server as seen from the workers. Every request body is kept
(``requests``), and the most requests ever in flight at once (``peak``).

A misbehaving server is scripted with :class:`Reply` items put in ``script`` (one per request, in
order; the canned answer once it is empty): another status, headers, a body that is not JSON, a
body cut halfway, an answer that never comes, answer text of the test's choosing, tool calls, an
answer cut at ``max_tokens`` (``finish_reason``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from aisoc.models import StubChatModel
from aisoc.resolve import resolve


@dataclass
class Reply:
    """One scripted response: the canned answer's envelope with any of its parts replaced."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content: str | Callable[[dict[str, Any]], str] | None = None
    """The answer's text (a function of the request body, or None: the canned answer)."""
    tool_calls: list[dict[str, Any]] | None = None
    """OpenAI ``tool_calls`` items (``{"name": ..., "arguments": "<json text>"}`` each)."""
    finish_reason: str | None = None
    """The choice's ``finish_reason`` (None: ``stop``, or ``tool_calls`` with tool calls); ``length``
    is an answer cut at ``max_tokens``."""
    body: bytes | None = None
    """The raw body sent instead of a chat completion (an error page, nothing, half a JSON)."""
    cut: int | None = None
    """Send the body's first ``cut`` bytes under its full Content-Length, then close (a stream
    that stops halfway)."""
    hang_s: float = 0.0
    """Wait this long before answering (a server that never answers: longer than the client waits)."""
    drip_s: float = 0.0
    """Send the body one byte every ``drip_s`` seconds (a server that never finishes answering, yet
    never stays silent long enough for a read timeout)."""
    envelope: dict[str, Any] = field(default_factory=dict)
    """Fields of the completion to replace (``id``, ``choices``, ``usage``...)."""


class FakeOpenAI:
    """The server's state: the canned model, the delay, what it was sent."""

    def __init__(
        self, delay_s: float = 0.0, team: str = "roles:STANDARD_TEAM", hold_after: int | None = None
    ) -> None:
        self.delay_s = delay_s
        self.hold_after = hold_after
        self.release = threading.Event()
        """Set to answer the requests held after ``hold_after`` answered ones (a model that hangs)."""
        self.stub = StubChatModel()
        for r in resolve(team):
            role = r() if isinstance(r, type) else r
            if hasattr(role, "stub_answer"):
                self.stub.register(role.name, role.stub_answer)
        self.requests: list[dict[str, Any]] = []
        self.script: deque[Reply] = deque()
        """Scripted replies, one per request in order (the canned answer once it is empty)."""
        self.in_flight = self.peak = 0
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def next_reply(self) -> Reply:
        """The reply to the next request: the script's next item, or the canned answer."""
        with self._lock:
            return self.script.popleft() if self.script else Reply()

    def answer(self, body: dict[str, Any], reply: Reply | None = None) -> dict[str, Any]:
        reply = reply or Reply()
        with self._lock:
            self.requests.append(body)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            held = self.hold_after is not None and len(self.requests) > self.hold_after
        try:
            if held:
                self.release.wait(120)
            time.sleep(self.delay_s)
            if reply.content is None:
                kinds = {"system": SystemMessage}
                messages = [
                    kinds.get(m["role"], HumanMessage)(content=m.get("content") or "")
                    for m in body["messages"]
                ]
                content = str(self.stub.answer(messages).content)
            else:
                content = reply.content(body) if callable(reply.content) else reply.content
        finally:
            with self._lock:
                self.in_flight -= 1
        prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
        message: dict[str, Any] = {"role": "assistant", "content": content}
        finish = "stop"
        if reply.tool_calls is not None:
            message["tool_calls"] = [
                {"id": f"call_{n}", "type": "function", "function": c} for n, c in enumerate(reply.tool_calls)
            ]
            finish = "tool_calls"
        finish = reply.finish_reason or finish
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "local"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": len(content) // 4,
                "total_tokens": prompt + len(content) // 4,
            },
            **reply.envelope,
        }


@contextmanager
def fake_openai(delay_s: float = 0.0, hold_after: int | None = None) -> Iterator[FakeOpenAI]:
    """Serve a :class:`FakeOpenAI` on a free port until the block ends (``hold_after`` answered
    requests, it holds the next ones until ``release`` is set)."""
    fake = FakeOpenAI(delay_s, hold_after=hold_after)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            reply = fake.next_reply()
            if reply.hang_s:
                fake.release.wait(reply.hang_s)
            data = reply.body if reply.body is not None else json.dumps(fake.answer(body, reply)).encode()
            if reply.body is not None:
                with fake._lock:
                    fake.requests.append(body)
            self.send_response(reply.status)
            for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if reply.cut is not None:
                self.wfile.write(data[: reply.cut])
                self.wfile.flush()
                self.close_connection = True
                return
            if reply.drip_s:
                for i in range(len(data)):
                    if fake.release.wait(reply.drip_s):
                        return
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                return
            self.wfile.write(data)

        def do_GET(self) -> None:
            data = json.dumps({"object": "list", "data": [{"id": "local", "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
