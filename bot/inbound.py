"""What people send the bot, however it arrives (webhook, websocket, the preview), and who may.

Every way in builds an :class:`Inbound` and calls :meth:`Receiver.receive`, so the room and person
allowlists, the bot's own messages and the deduplication (``bus.lock`` on the message or card-action
id, which a webhook retry and a websocket redelivery share) are the same for all of them.

An edited message (webhook ``messages``/``updated``) is a new question: its key is the message id and
the edit's time, so each edit is answered once however often it is delivered, and a message fetched
after an edit shares the edit's key (answered once, not once as sent and once as edited). A deleted
message (``messages``/``deleted``) not yet answered never is: its kept deliveries leave the inbox and
its key is taken; an answer already given stays (the bot never deletes what it said).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aisoc.bus import Bus
from bot.directory import Directory
from bot.settings import BotSettings
from bot.store import BotStore, Plan, Post
from bot.webex import Space, primary_email
from bot.webhooks import WEBHOOKS

log = logging.getLogger(__name__)

Via = Literal["webhook", "websocket", "preview"]
HANDLED = frozenset(WEBHOOKS)
"""The webhook deliveries the bot acts on: those ``aisoc bot setup`` registers."""
EDITED = ":updated"
"""Suffix of a kept edit's inbox id (beside the message's own, so a pending question and its edit are
each kept once; the fetch reads the latest text)."""


def _inbox_id(envelope: Mapping[str, Any]) -> str:
    """The inbox id of a kept delivery: the item's id, an edit's beside it."""
    item = str((envelope.get("data") or {})["id"])
    return item + EDITED if envelope.get("event") == "updated" else item


@dataclass(frozen=True)
class Inbound:
    """One message or card submit addressed to the bot."""

    kind: Literal["message", "action"]
    id: str
    """The message id or the attachment-action id (the deduplication key)."""
    room_id: str
    person_id: str
    person_email: str | None
    via: Via
    room_type: str | None = None
    text: str = ""
    html: str | None = None
    """The message's HTML, whose ``<spark-mention>`` markup says where people were mentioned."""
    parent_id: str | None = None
    """The thread the message is in (its parent), if any."""
    message_id: str | None = None
    """For a card submit: the card's message."""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    mentioned: tuple[str, ...] = ()
    """Person ids mentioned in the message (the bot's own included)."""
    edited: str | None = None
    """When the message was last edited (its ``updated``), None when never."""

    @property
    def key(self) -> str:
        """What deduplicates it and marks what it publishes: the id, and the edit's time when edited
        (an edited question is asked again)."""
        return f"{self.id}@{self.edited}" if self.edited else self.id

    @classmethod
    def from_message(cls, msg: Mapping[str, Any], via: Via) -> Inbound:
        """From a Webex message record (``GET /messages/{id}``)."""
        return cls(
            kind="message",
            id=str(msg["id"]),
            room_id=str(msg.get("roomId") or ""),
            person_id=str(msg.get("personId") or ""),
            person_email=(msg.get("personEmail") or "").lower() or None,
            via=via,
            room_type=msg.get("roomType"),
            text=str(msg.get("text") or ""),
            html=msg.get("html"),
            parent_id=msg.get("parentId"),
            mentioned=tuple(msg.get("mentionedPeople") or ()),
            edited=str(msg["updated"]) if msg.get("updated") else None,
        )

    @classmethod
    def from_action(cls, action: Mapping[str, Any], person: Mapping[str, Any] | None, via: Via) -> Inbound:
        """From a card submit (``GET /attachment/actions/{id}``) and its person (``GET /people/{id}``)."""
        inputs = action.get("inputs") or {}
        return cls(
            kind="action",
            id=str(action["id"]),
            room_id=str(action.get("roomId") or ""),
            person_id=str(action.get("personId") or ""),
            person_email=primary_email(dict(person)) if person else None,
            via=via,
            message_id=action.get("messageId"),
            inputs=dict(inputs) if isinstance(inputs, Mapping) else {},
        )


@dataclass(frozen=True)
class Outcome:
    """What the bot did with an inbound: ``answered``, ``ignored``, ``refused`` or ``duplicate``."""

    status: str
    reason: str = ""
    post_id: str | None = None


Answerer = Callable[[Inbound], dict[str, Any] | None]
"""``inbound -> message body`` (markdown, maybe a card) or None for no answer; never raises. The
body's :data:`ABOUT` key, when set, names the case the answer is about (kept with the reply so the
conversation's thread continues about it; never sent)."""
ABOUT = "about_case"
"""The answer body's key naming the case it is about."""


class Receiver:
    """Checks who and where, deduplicates, runs the command and queues the answer.

    Args:
        settings: rooms and people allowed, dedupe TTL.
        bus: for ``lock`` (deduplication shared by every bot process).
        space: to fetch messages, card submits and people, and to know the bot itself.
        directory: the roster (everyone in it may talk to the bot when ``allow_roster``).
        store: where answers are queued.
        answer: the command handler.
        on_queued: wakes the sender.
    """

    def __init__(
        self,
        settings: BotSettings,
        bus: Bus,
        space: Space,
        directory: Directory,
        store: BotStore,
        answer: Answerer,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.space = space
        self.directory = directory
        self.store = store
        self.answer = answer
        self.on_queued = on_queued
        self.on_inbox: Callable[[], None] = on_queued
        """Called when a delivery is kept (wakes the loop that answers the inbox)."""
        self._me: dict[str, Any] | None = None
        self._room_types: dict[str, str] = {}

    @property
    def me(self) -> dict[str, Any]:
        """The bot's own person record."""
        if self._me is None:
            self._me = self.space.me()
        return self._me

    # --- who may ----------------------------------------------------------------------------------

    def room_allowed(self, room_id: str, room_type: str | None) -> bool:
        """Configured rooms, and 1:1 spaces when ``allow_direct`` (a card submit does not say which
        kind its room is: then Webex is asked)."""
        if room_id in self.settings.answer_rooms():
            return True
        if not self.settings.allow_direct or not room_id:
            return False
        if room_type is None:
            if room_id not in self._room_types:
                try:
                    self._room_types[room_id] = str(self.space.get_room(room_id).get("type") or "")
                except Exception:  # an unknown room is not allowed
                    log.warning("room %s could not be looked up", room_id)
                    return False
            room_type = self._room_types[room_id]
        return room_type == "direct"

    def person_allowed(self, email: str | None, via: Via) -> bool:
        """Allowed people and domains, and the roster when ``allow_roster``."""
        if via == "preview":
            return True
        if not email:
            return False
        email = email.lower()
        if email in self.settings.allowed_people:
            return True
        if email.rpartition("@")[2] in self.settings.allowed_domains:
            return True
        return self.settings.allow_roster and email in self.directory.emails()

    # --- ways in ----------------------------------------------------------------------------------

    def _screen(self, envelope: Mapping[str, Any]) -> Outcome | None:
        """The checks a delivery passes before anything is fetched: a message created, edited or
        deleted, or a card submit, not the bot's own, from an allowed room; None when it passes."""
        resource, event = envelope.get("resource"), envelope.get("event")
        data = envelope.get("data") or {}
        if (resource, event) not in HANDLED or not data.get("id"):
            return Outcome("ignored", f"{resource}/{event} is not handled")
        if data.get("personId") and data.get("personId") == self.me.get("id"):
            return Outcome("ignored", "the bot's own message")
        if data.get("roomId") and not self.room_allowed(data["roomId"], data.get("roomType")):
            return self._refuse(str(data.get("roomId")), data.get("personEmail"), "room not allowed")
        return None

    def from_webhook(self, envelope: Mapping[str, Any]) -> Outcome:
        """Handle one verified webhook delivery (``messages`` or ``attachmentActions``, ``created``).

        Raises:
            WebexError: the message or card submit could not be fetched (the delivery may be retried).
        """
        resource, data = envelope.get("resource"), envelope.get("data") or {}
        if (screened := self._screen(envelope)) is not None:
            return screened
        if envelope.get("event") == "deleted":
            return self.deleted(str(data["id"]))
        if resource == "messages":
            return self.receive(Inbound.from_message(self.space.get_message(str(data["id"])), "webhook"))
        action = self.space.get_action(str(data["id"]))
        person = self.space.get_person(str(action.get("personId"))) if action.get("personId") else None
        return self.receive(Inbound.from_action(action, person, "webhook"))

    def accept(self, envelope: Mapping[str, Any]) -> Outcome:
        """Take one verified webhook delivery without waiting on Webex or on the record: checks that
        need no fetch are made here, then the delivery is kept in the store and :meth:`work` fetches
        and answers it (Webex does not redeliver, so a failed fetch is retried by the bot itself).
        """
        resource, data = envelope.get("resource"), envelope.get("data") or {}
        if (screened := self._screen(envelope)) is not None:
            return screened
        email = data.get("personEmail")
        if resource == "messages" and email and not self.person_allowed(str(email), "webhook"):
            return self._refuse(str(data.get("roomId")), email, "person not allowed")
        if envelope.get("event") == "deleted":
            return self.deleted(str(data["id"]))
        if not self.store.take_in(_inbox_id(envelope), dict(envelope)):
            return Outcome("duplicate", "already taken")
        self.on_inbox()
        return Outcome("queued", "kept; answered from the inbox")

    def work(self, now: float) -> int:
        """Fetch and answer the kept deliveries that are due; a failed fetch is retried with backoff,
        then given up (logged) after ``inbox_attempts``. Returns how many were answered or ignored."""
        done = 0
        for item_id, envelope, attempts in self.store.inbox_due():
            try:
                outcome = self.from_webhook(envelope)
            except Exception as e:  # Webex unreachable or refusing: keep it and try again
                if attempts + 1 >= self.settings.inbox_attempts:
                    log.error("gave up on webhook delivery %s after %d tries: %s", item_id, attempts + 1, e)
                    self.store.inbox_done(item_id)
                else:
                    wait = min(2.0**attempts, 300.0)
                    log.warning("webhook delivery %s not fetched (%s); retrying in %.0fs", item_id, e, wait)
                    self.store.inbox_retry(item_id, f"{type(e).__name__}: {e}"[:500], now + wait)
                continue
            log.info("webhook delivery %s: %s", item_id, outcome.status)
            self.store.inbox_done(item_id)
            done += 1
        return done

    def receive(self, inbound: Inbound) -> Outcome:
        """Check, deduplicate and answer one inbound (the same for every transport)."""
        if inbound.person_id and inbound.person_id == self.me.get("id"):
            return Outcome("ignored", "the bot's own message")
        if inbound.person_email and inbound.person_email in {e.lower() for e in self.me.get("emails", [])}:
            return Outcome("ignored", "the bot's own message")
        if not self.room_allowed(inbound.room_id, inbound.room_type):
            return self._refuse(inbound.room_id, inbound.person_email, "room not allowed")
        if not self.person_allowed(inbound.person_email, inbound.via):
            return self._refuse(inbound.room_id, inbound.person_email, "person not allowed")
        if not self.bus.lock(f"bot:in:{inbound.key}", self.settings.dedupe_ttl_s):
            log.info("duplicate delivery of %s %s ignored", inbound.kind, inbound.key)
            return Outcome("duplicate", "already handled")
        body = self.answer(inbound)
        if body is None:
            return Outcome("answered", "nothing to say")
        about = body.pop(ABOUT, None)
        post = Post(
            post_id=f"reply:{inbound.key}",
            room_id=inbound.room_id,
            body=body,
            case_id=str(about) if about else None,
            thread="parent",
            parent_message_id=self.thread_of(inbound),
            kind="reply",
        )
        self.store.apply(Plan(posts=[post]))
        self.on_queued()
        return Outcome("answered", post_id=post.post_id)

    def deleted(self, message_id: str) -> Outcome:
        """A message was deleted: if it is not answered yet it never is (its kept deliveries, as sent
        and as edited, leave the inbox; its key is taken). An answer already given is left."""
        for item in (message_id, f"{message_id}{EDITED}"):
            self.store.inbox_done(item)
        if self.bus.lock(f"bot:in:{message_id}", self.settings.dedupe_ttl_s):
            log.info("message %s deleted before it was answered: it will not be", message_id)
            return Outcome("ignored", "deleted before it was answered")
        return Outcome("ignored", "deleted; the answer given stays")

    def thread_of(self, inbound: Inbound) -> str | None:
        """The root message an answer goes under: the asker's thread, or the card's thread."""
        if inbound.kind == "message":
            return inbound.parent_id or inbound.id
        if not inbound.message_id:
            return None
        post = self.store.by_message(inbound.message_id)
        if post is not None and post.thread == "reply" and post.case_id:
            root = self.store.thread_root(post.case_id)
            return root.message_id if root is not None and root.message_id else inbound.message_id
        if post is not None:
            return inbound.message_id
        try:
            return str(self.space.get_message(inbound.message_id).get("parentId") or inbound.message_id)
        except Exception:  # an unknown card: answer in its room, not in a thread
            return None

    def _refuse(self, room_id: str, email: str | None, why: str) -> Outcome:
        # Never answered: a stranger learns nothing, and the bot cannot be made to spam a room.
        log.warning("refused a message from %s in room %s: %s", email or "unknown", room_id, why)
        return Outcome("refused", why)
