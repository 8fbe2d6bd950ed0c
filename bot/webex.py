"""Where posts go: the ``Space`` protocol, and Webex behind it through ``webexpythonsdk``.

space = WebexSpace(settings)        # the real API (or a local fake: settings.base_url)
space.create_message({"roomId": room, "markdown": "...", "attachments": [card]})

The SDK's own 429 handling sleeps and retries without bound inside the caller; the bot turns it off
(``wait_on_rate_limit=False``) and raises :class:`RateLimited` instead, so the one outbound worker
decides when to try again and nothing else ever waits on Webex.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from bot.errors import RateLimited, Refused, Unavailable, WebexError
from bot.settings import BotSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


@runtime_checkable
class Space(Protocol):
    """The chat space the bot posts to and reads from: Webex, or the local preview."""

    def me(self) -> dict[str, Any]:
        """The bot's own person record (``id``, ``emails``, ``displayName``)."""
        ...

    def create_message(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /messages``; returns the created message (with its ``id``)."""
        ...

    def update_message(self, message_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """``PUT /messages/{id}`` with ``roomId``, ``markdown``/``text`` and ``attachments``."""
        ...

    def get_message(self, message_id: str) -> dict[str, Any]:
        """``GET /messages/{id}``."""
        ...

    def get_action(self, action_id: str) -> dict[str, Any]:
        """``GET /attachment/actions/{id}``: a card submit and its inputs."""
        ...

    def get_person(self, person_id: str) -> dict[str, Any]:
        """``GET /people/{id}``."""
        ...

    def get_room(self, room_id: str) -> dict[str, Any]:
        """``GET /rooms/{id}`` (its ``type``: ``direct`` or ``group``)."""
        ...


def _json(obj: Any) -> dict[str, Any]:
    data = getattr(obj, "_json_data", None)
    if isinstance(data, dict):
        return dict(data)
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else {}


class WebexSpace:
    """Webex through the ``webexpythonsdk`` client (``base_url`` configurable, 429s raised, never slept).

    Args:
        settings: the bot's settings (token, base_url).
        timeout_s: one request's timeout.
    """

    def __init__(self, settings: BotSettings, *, timeout_s: int = 30) -> None:
        from webexpythonsdk import WebexAPI

        if settings.token is None:
            raise WebexError("no Webex token: set [bot] token or $WEBEX_ACCESS_TOKEN")
        self.api = WebexAPI(
            access_token=settings.token.get_secret_value(),
            base_url=settings.base_url,
            single_request_timeout=timeout_s,
            wait_on_rate_limit=False,
        )
        self._me: dict[str, Any] | None = None

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        from requests import RequestException
        from webexpythonsdk.exceptions import ApiError, RateLimitError

        try:
            return fn()
        except RateLimitError as e:
            raise RateLimited(float(e.retry_after), f"{what}: Webex rate limit") from e
        except ApiError as e:
            detail = f"{what}: Webex answered {e.status_code} {e.message or e.status or ''}".strip()
            if e.status_code >= 500 or e.status_code in (408, 423):
                raise Unavailable(detail, e.status_code) from e
            raise Refused(detail, e.status_code) from e
        except RequestException as e:
            raise Unavailable(f"{what}: Webex unreachable: {type(e).__name__}: {e}") from e

    def me(self) -> dict[str, Any]:
        """The bot's person record (cached)."""
        if self._me is None:
            self._me = _json(self._call("people/me", self.api.people.me))
        return self._me

    def create_message(self, body: dict[str, Any]) -> dict[str, Any]:
        """Post a message (one card attachment at most, as Webex allows)."""
        session = self.api._session
        return dict(self._call("create message", lambda: session.post("messages", json=body)))

    def update_message(self, message_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Edit a message with a raw PUT (the SDK's ``messages.update`` cannot send attachments)."""
        session = self.api._session
        return dict(
            self._call("edit message", lambda: session.put(f"messages/{message_id}", json=body, erc=200))
        )

    def get_message(self, message_id: str) -> dict[str, Any]:
        """Fetch a message by id."""
        return _json(self._call("get message", lambda: self.api.messages.get(message_id)))

    def get_action(self, action_id: str) -> dict[str, Any]:
        """Fetch a card submit (``attachment/actions/{id}``) with its inputs."""
        return _json(self._call("get card action", lambda: self.api.attachment_actions.get(action_id)))

    def get_person(self, person_id: str) -> dict[str, Any]:
        """Fetch a person by id."""
        return _json(self._call("get person", lambda: self.api.people.get(person_id)))

    def get_room(self, room_id: str) -> dict[str, Any]:
        """Fetch a room by id."""
        return _json(self._call("get room", lambda: self.api.rooms.get(room_id)))

    # --- webhooks (``aisoc bot setup``) -----------------------------------------------------------

    def list_webhooks(self) -> list[dict[str, Any]]:
        """Every webhook of this bot."""
        return [_json(w) for w in self._call("list webhooks", lambda: list(self.api.webhooks.list()))]

    def create_webhook(self, **fields: Any) -> dict[str, Any]:
        """Create a webhook."""
        return _json(self._call("create webhook", lambda: self.api.webhooks.create(**fields)))

    def update_webhook(self, webhook_id: str, **fields: Any) -> dict[str, Any]:
        """Update a webhook (name, targetUrl, secret, status)."""
        return _json(self._call("update webhook", lambda: self.api.webhooks.update(webhook_id, **fields)))

    def delete_webhook(self, webhook_id: str) -> None:
        """Delete a webhook."""
        self._call("delete webhook", lambda: self.api.webhooks.delete(webhook_id))


def primary_email(person: dict[str, Any]) -> str | None:
    """A person record's first email, lower-cased."""
    emails = person.get("emails") or []
    return str(emails[0]).lower() if emails else None
