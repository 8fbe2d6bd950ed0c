"""Ways in besides webhooks, behind one small seam: a transport hands every message and card submit
to :meth:`bot.inbound.Receiver.receive`, so both modes share the allowlists and the deduplication.

Websocket mode is for SOCs whose bot cannot receive inbound webhooks (most corporate networks): the
``webex-bot`` package registers a device with Webex and holds its websocket open from the inside. Its
client resolves each activity to the REST message or card submit (as a webhook handler would) and
calls back here; the bot never talks to Webex's device hosts itself.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from bot.inbound import Inbound, Outcome, Receiver

log = logging.getLogger(__name__)


class Transport(Protocol):
    """Something that delivers inbound messages to a receiver until stopped."""

    def start(self, receiver: Receiver) -> None:
        """Begin delivering to ``receiver``."""
        ...

    def stop(self) -> None:
        """Stop delivering."""
        ...


def _data(obj: Any) -> dict[str, Any]:
    data = getattr(obj, "_json_data", None)
    return dict(data) if isinstance(data, dict) else dict(obj) if isinstance(obj, dict) else {}


ClientFactory = Callable[..., Any]
"""``(access_token=..., bot_name=..., on_message=..., on_card_action=...) -> client with run()``."""


def webex_bot_client(**kwargs: Any) -> Any:
    """The ``webex-bot`` package's device websocket client (it talks to Webex's own hosts)."""
    from webex_bot.websockets.webex_websocket_client import (
        WebexWebsocketClient,
    )

    return WebexWebsocketClient(**kwargs)


class WebsocketTransport:
    """Websocket mode through ``webex-bot``'s ``WebexWebsocketClient``, in a daemon thread.

    Args:
        token: the bot's access token.
        bot_name: the device's display name.
        client_factory: builds the client (tests pass one wired to a local fake).
    """

    def __init__(
        self, token: str, bot_name: str = "aisoc", client_factory: ClientFactory = webex_bot_client
    ) -> None:
        self.token = token
        self.bot_name = bot_name
        self.client_factory = client_factory
        self.receiver: Receiver | None = None
        self.client: Any = None
        self.outcomes: list[Outcome] = []
        self._thread: threading.Thread | None = None

    def bind(self, receiver: Receiver) -> Any:
        """Build the client with callbacks into ``receiver`` (without connecting)."""
        self.receiver = receiver
        self.client = self.client_factory(
            access_token=self.token,
            bot_name=self.bot_name,
            on_message=self.on_message,
            on_card_action=self.on_card_action,
        )
        return self.client

    def start(self, receiver: Receiver) -> None:
        """Connect in a daemon thread (the client reconnects with backoff on its own)."""
        client = self.bind(receiver)

        def run() -> None:
            asyncio.set_event_loop(asyncio.new_event_loop())
            try:
                client.run()
            except Exception:
                log.exception("websocket transport stopped")

        self._thread = threading.Thread(target=run, name="bot-websocket", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The client has no clean stop; the daemon thread ends with the process."""
        self.receiver = None

    # --- callbacks from webex-bot (its executor threads) ------------------------------------------

    def _deliver(self, inbound: Inbound) -> None:
        if self.receiver is None:
            return
        try:
            outcome = self.receiver.receive(inbound)
        except Exception:  # the library logs and drops exceptions; make them visible here
            log.exception("websocket delivery of %s %s failed", inbound.kind, inbound.id)
            return
        self.outcomes.append(outcome)

    def on_message(self, teams_message: Any = None, activity: Any = None, **_: Any) -> None:
        """A message posted in a space the bot is in (already fetched by id through REST)."""
        self._deliver(Inbound.from_message(_data(teams_message), "websocket"))

    def on_card_action(self, attachment_actions: Any = None, activity: Any = None, **_: Any) -> None:
        """A card submit (already fetched through ``attachment/actions/{id}``); who clicked is looked up
        by person id through REST, exactly as for a webhook."""
        action = _data(attachment_actions)
        person: dict[str, Any] | None = None
        if self.receiver is not None and action.get("personId"):
            try:
                person = self.receiver.space.get_person(str(action["personId"]))
            except Exception:  # unknown person: the receiver refuses a submit without an email
                log.warning("card submit %s: person %s not found", action.get("id"), action.get("personId"))
        self._deliver(Inbound.from_action(action, person, "websocket"))
