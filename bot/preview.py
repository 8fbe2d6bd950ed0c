"""The local preview of the space: where the bot posts when it has no Webex token.

It keeps messages in memory with Webex's shape (ids, ``parentId`` threads, one card per message,
edits) and the same limits, and the bot app serves them at ``/preview``, where the Adaptive Cards
JavaScript renderer draws the very cards Webex would show. A person at the page types commands and
clicks card actions; both reach the bot through the same receiver as Webex's webhooks.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from bot.errors import Refused
from cards import CONTENT_TYPE, MAX_TEXT_BYTES

ROOM = "preview"
"""The preview's one room."""
MAX_MESSAGES = 500
"""Messages the preview keeps (the oldest go first): a bot left running offline stays bounded."""
BOT_ID = "preview-bot"
"""The bot's person id in the preview."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PreviewSpace:
    """An in-memory space with Webex's message shape and limits (thread-safe).

    Args:
        bot_name: the bot's display name.
        person_email: who the person at the page is.
        person_name: their display name.
        max_messages: how many messages it keeps; the oldest are forgotten (a reply into a
            forgotten thread is still accepted, an edit of a forgotten message is refused as Webex
            refuses an edit of a deleted one).
    """

    def __init__(
        self,
        bot_name: str = "aisoc",
        person_email: str = "you@example.com",
        person_name: str = "You",
        *,
        max_messages: int = MAX_MESSAGES,
    ) -> None:
        self.bot = {
            "id": BOT_ID,
            "emails": [f"{bot_name}@preview.local"],
            "displayName": bot_name,
            "type": "bot",
        }
        self.person = {"id": f"person-{person_email}", "emails": [person_email], "displayName": person_name}
        self._lock = threading.Lock()
        self._messages: dict[str, dict[str, Any]] = {}
        self._actions: dict[str, dict[str, Any]] = {}
        self._seq = 0
        self.max_messages = max_messages
        self._forgotten_through = 0
        """The creation ``seq`` (in its id) of the newest message forgotten."""

    # --- the Space protocol -----------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        """The bot."""
        return dict(self.bot)

    def _check(self, body: dict[str, Any]) -> None:
        attachments = body.get("attachments") or []
        if len(attachments) > 1:
            raise Refused("only one card per message", 400)
        if attachments and attachments[0].get("contentType") != CONTENT_TYPE:
            raise Refused("unsupported attachment", 400)
        for key in ("text", "markdown"):
            if len(str(body.get(key) or "").encode()) > MAX_TEXT_BYTES:
                raise Refused(f"{key} longer than {MAX_TEXT_BYTES} bytes", 400)
        if not (body.get("text") or body.get("markdown")):
            raise Refused("text or markdown is required", 400)

    def _add(self, author: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            parent = body.get("parentId")
            known = self._messages.get(parent) if parent else None
            if parent and (known.get("parentId") if known else not self._forgotten(parent)):
                raise Refused("parentId must be a message at the top of a thread", 400)
            self._seq += 1
            msg = {
                "id": f"msg-{self._seq}-{uuid.uuid4().hex[:8]}",
                "seq": self._seq,
                "roomId": ROOM,
                "roomType": "group",
                "personId": author["id"],
                "personEmail": author["emails"][0],
                "displayName": author["displayName"],
                "text": body.get("text") or body.get("markdown") or "",
                "markdown": body.get("markdown"),
                "attachments": list(body.get("attachments") or []),
                "parentId": parent,
                "created": _now(),
            }
            self._messages[msg["id"]] = msg
            while len(self._messages) > self.max_messages:
                oldest = next(iter(self._messages))  # creation order: edits do not move a message
                del self._messages[oldest]
                self._forgotten_through = int(oldest.split("-")[1])
            return dict(msg)

    def _forgotten(self, message_id: str) -> bool:
        """Whether ``message_id`` names a message this preview made and has since forgotten."""
        parts = message_id.split("-")
        return (
            len(parts) == 3
            and parts[0] == "msg"
            and parts[1].isdigit()
            and (0 < int(parts[1]) <= self._forgotten_through)
        )

    def create_message(self, body: dict[str, Any]) -> dict[str, Any]:
        """Post as the bot."""
        self._check(body)
        return self._add(self.bot, body)

    def update_message(self, message_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Edit one of the bot's messages (its card too)."""
        self._check(body)
        with self._lock:
            msg = self._messages.get(message_id)
            if msg is None or msg["personId"] != BOT_ID:
                raise Refused("only the bot's own messages can be edited", 403)
            self._seq += 1
            msg.update(
                text=body.get("text") or body.get("markdown") or "",
                markdown=body.get("markdown"),
                attachments=list(body.get("attachments") or []),
                seq=self._seq,
                updated=_now(),
            )
            return dict(msg)

    def get_message(self, message_id: str) -> dict[str, Any]:
        """A message by id."""
        with self._lock:
            if message_id not in self._messages:
                raise Refused("no such message", 404)
            return dict(self._messages[message_id])

    def get_action(self, action_id: str) -> dict[str, Any]:
        """A card submit by id."""
        with self._lock:
            if action_id not in self._actions:
                raise Refused("no such card action", 404)
            return dict(self._actions[action_id])

    def get_person(self, person_id: str) -> dict[str, Any]:
        """The bot or the person at the page."""
        for who in (self.bot, self.person):
            if who["id"] == person_id:
                return dict(who)
        raise Refused("no such person", 404)

    def get_room(self, room_id: str) -> dict[str, Any]:
        """The preview's one room."""
        if room_id != ROOM:
            raise Refused("no such room", 404)
        return {"id": ROOM, "title": "SOC (local preview)", "type": "group"}

    # --- the person at the page -------------------------------------------------------------------

    def say(self, text: str, parent_id: str | None = None) -> dict[str, Any]:
        """The person posts a message (a command), optionally in a thread."""
        body = {"text": text[:MAX_TEXT_BYTES], "markdown": None, "parentId": parent_id or None}
        if not text.strip():
            raise Refused("empty message", 400)
        return self._add(self.person, body)

    def submit(self, message_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """The person clicks an ``Action.Submit`` on a card."""
        with self._lock:
            if message_id not in self._messages:
                raise Refused("no such message", 404)
            action_id = f"act-{uuid.uuid4().hex}"
            action: dict[str, Any] = {
                "id": action_id,
                "type": "submit",
                "messageId": message_id,
                "inputs": dict(inputs),
                "personId": self.person["id"],
                "roomId": ROOM,
                "created": _now(),
            }
            self._actions[action_id] = action
            return dict(action)

    def messages(self, since: int = 0) -> list[dict[str, Any]]:
        """Messages created or edited after ``since`` (their ``seq``), oldest first."""
        with self._lock:
            return sorted(
                (dict(m) for m in self._messages.values() if m["seq"] > since), key=lambda m: m["seq"]
            )
