"""``aisoc demo --serve``: the gate and the bot in the demo's process, the local preview as the space.

The kernel reaches this only through the import string ``bot.demo:demo_server`` (it never imports the
bot or the gate). The demo never posts to Webex, whatever the settings file says: its bus is in memory.

    server = demo_server(bus, host="127.0.0.1", port=8710, gate_port=8700)
    team.on_action_proposed(gate=server.gate)     # proposals become approval requests
    ... ingest, drain ...
    server.start_bot()                           # the bot catches up on the bus and posts
    server.preview_url                           # http://127.0.0.1:8710/preview
    server.stop()
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from aisoc.bus import Bus
from bot.service import Bot
from bot.settings import BotSettings
from gate.app import create_app as create_gate_app
from gate.demo import demo_settings
from gate.server import GateWorker, ServerThread
from gate.service import Gate

log = logging.getLogger(__name__)

DEMO_DIGEST_S = 5.0
"""The demo rolls Sentinel's closures up within seconds, not hourly."""
DEMO_PACE_S = 0.05
"""The preview needs no pacing; a little keeps the feed readable as it fills."""


def check_port(host: str, port: int) -> None:
    """Raise OSError when ``host:port`` is taken (werkzeug would print and ``sys.exit`` instead)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))


class _Late:
    """A WSGI app set after the server is bound (the gate's links need its port, port 0 included)."""

    app: Callable[..., Any] | None = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)


class DemoServer:
    """The gate (pages + ticks) and the bot (feed, sender, app with the preview) around one bus.

    Args:
        bus: the demo's bus.
        host: address both servers bind.
        port: the bot's port (the preview); 0 picks a free one.
        gate_port: the gate's port; 0 picks a free one.

    Raises:
        OSError: a port is taken.
    """

    def __init__(self, bus: Bus, *, host: str = "127.0.0.1", port: int = 8710, gate_port: int = 8700) -> None:
        self.bus = bus
        late_gate, late_bot = _Late(), _Late()
        check_port(host, gate_port)
        check_port(host, port)
        self.gate_server = ServerThread(late_gate, host, gate_port)
        try:
            self.bot_server = ServerThread(late_bot, host, port)
        except OSError:
            self.gate_server.server.server_close()
            raise
        gate_url = f"http://{host}:{self.gate_server.port}"
        settings = demo_settings(base_url=gate_url, host=host, port=self.gate_server.port, auth=["dev"])
        self.gate = Gate(bus, settings)
        late_gate.app = create_gate_app(settings, gate=self.gate)
        self.gate_worker = GateWorker(self.gate, consume=False)
        bot_settings = BotSettings(
            host=host,
            port=self.bot_server.port,
            digest_interval_s=DEMO_DIGEST_S,
            room_interval_s=DEMO_PACE_S,
            error_notice_interval_s=60,
        )
        self.bot = Bot(bot_settings, bus=bus, gate=self.gate, gate_settings=settings)
        late_bot.app = self.bot.create_app()
        self.gate_server.start()
        self.bot_server.start()
        self.gate_worker.start()

    @property
    def preview_url(self) -> str:
        """The local preview of the space."""
        return f"{self.bot_server.url}/preview"

    @property
    def gate_url(self) -> str:
        """The gate's pages."""
        return self.gate_server.url

    def start_bot(self) -> None:
        """Catch up on the bus (closures go straight into one digest), then run the feed and sender."""
        self.bot.feed.drain()
        self.bot.feed.flush_digest(force=True)
        self.bot.start()

    def stop(self) -> None:
        """Stop the servers and threads."""
        self.bot.stop()
        self.gate_worker.stop()
        self.bot_server.stop()
        self.gate_server.stop()
        self.bot.close()


def demo_server(bus: Bus, *, host: str = "127.0.0.1", port: int = 8710, gate_port: int = 8700) -> DemoServer:
    """Start the demo's gate and bot (what ``aisoc demo --serve`` resolves)."""
    return DemoServer(bus, host=host, port=port, gate_port=gate_port)
