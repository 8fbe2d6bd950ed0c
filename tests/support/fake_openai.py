"""A local fake of an OpenAI-compatible chat server (llama.cpp's, vLLM's) that answers after a fixed delay.

It answers ``POST /v1/chat/completions`` with the canned model's answer for the role named in the
system message (the roles' own ``stub_answer``), after ``delay_s``, on as many connections at once
as clients open: a batching GPU server as seen from the workers. Every request body is kept
(``requests``), and the most requests ever in flight at once (``peak``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from aisoc.models import StubChatModel
from aisoc.resolve import resolve


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
        self.in_flight = self.peak = 0
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.requests.append(body)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            held = self.hold_after is not None and len(self.requests) > self.hold_after
        try:
            if held:
                self.release.wait(120)
            time.sleep(self.delay_s)
            kinds = {"system": SystemMessage}
            messages = [kinds.get(m["role"], HumanMessage)(content=m["content"]) for m in body["messages"]]
            content = str(self.stub.answer(messages).content)
        finally:
            with self._lock:
                self.in_flight -= 1
        prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "local"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": len(content) // 4,
                "total_tokens": prompt + len(content) // 4,
            },
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
            data = json.dumps(fake.answer(body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
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
