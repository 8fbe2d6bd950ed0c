"""A local fake of the Webex REST API, served over real HTTP and driven through the real SDK.

It enforces what Webex documents for messages (one attachment, a valid Adaptive Card 1.3, 7,439-byte
text, text or markdown required, replies only to a thread's root, edits of one's own messages, at
most 10 edits), people, rooms, attachment actions and webhooks, and can inject 429s with Retry-After,
5xx failures and refused edits. The device websocket's REST look-ups (conversation ids to message
ids) are served too, for the recorded-frame tests.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from datetime import UTC, datetime
from functools import cache
from html import escape as html_escape
from pathlib import Path
from typing import Any

import jsonschema
from flask import Flask, jsonify, request

from gate.server import ServerThread

SCHEMA = Path(__file__).resolve().parents[2] / "data" / "schemas" / "adaptive-card-1.3.json"
"""The official Adaptive Cards 1.3 schema."""
CARD = "application/vnd.microsoft.card.adaptive"
MAX_TEXT = 7439
MAX_EDITS = 10
TOKEN = "fake-bot-token"
_MENTION = re.compile(r"<@personEmail:([^|>]+)\|[^>]*>")


@cache
def _validator() -> jsonschema.Draft6Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft6Validator(schema)


def webex_id(kind: str, raw: str | None = None) -> str:
    """An id the way Webex makes them: base64 of ``ciscospark://us/KIND/uuid``."""
    return base64.b64encode(f"ciscospark://us/{kind}/{raw or uuid.uuid4()}".encode()).decode().rstrip("=")


def raw_uuid(webex: str) -> str:
    """The uuid inside a Webex id."""
    return base64.b64decode(webex + "=" * (-len(webex) % 4)).decode().rsplit("/", 1)[-1]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _err(status: int, message: str) -> Any:
    return jsonify(
        message=message, errors=[{"description": message}], trackingId=f"FAKE_{uuid.uuid4()}"
    ), status


class FakeWebex:
    """The fake's state and its Flask app; ``start()`` serves it on a free port."""

    def __init__(self, bot_name: str = "aisoc") -> None:
        self.lock = threading.RLock()
        self.people: dict[str, dict[str, Any]] = {}
        self.rooms: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.actions: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.edits: dict[str, int] = {}
        self.log: list[tuple[str, str, Any]] = []
        self.rate_limits: list[float] = []
        """Retry-After values of the next requests to answer 429 (one per request)."""
        self.failures: list[int] = []
        """Statuses of the next message POSTs/PUTs to fail with (5xx)."""
        self.refuse_edits = False
        self.fetch_failures: list[int] = []
        """Statuses of the next message GETs to fail with (5xx)."""
        self.bot = self.add_person("aisoc@webex.bot", bot_name, kind="bot")
        self.app = self._build()
        self.server: ServerThread | None = None

    # --- state helpers ----------------------------------------------------------------------------

    def add_person(self, email: str, name: str, kind: str = "person") -> dict[str, Any]:
        pid = webex_id("PEOPLE")
        person = {"id": pid, "emails": [email], "displayName": name, "type": kind, "created": _now()}
        self.people[pid] = person
        return person

    def add_room(self, title: str, *members: dict[str, Any], kind: str = "group") -> dict[str, Any]:
        rid = webex_id("ROOM")
        room = {"id": rid, "title": title, "type": kind, "created": _now(), "members": [self.bot["id"]]}
        room["members"] += [m["id"] for m in members]
        self.rooms[rid] = room
        return room

    def _message(self, author: dict[str, Any], room_id: str, body: dict[str, Any]) -> dict[str, Any]:
        room = self.rooms[room_id]
        text = body.get("text") or re.sub(r"[*_`]", "", body.get("markdown") or "")
        msg = {
            "id": webex_id("MESSAGE"),
            "roomId": room_id,
            "roomType": room["type"],
            "text": text,
            "personId": author["id"],
            "personEmail": author["emails"][0],
            "created": _now(),
        }
        for key in ("markdown", "html", "parentId", "attachments"):
            if body.get(key):
                msg[key] = body[key]
        mentioned = [
            p["id"]
            for p in self.people.values()
            if p["emails"][0] in _MENTION.findall(msg.get("markdown", ""))
        ]
        mentioned += body.get("_mentioned", [])
        if mentioned:
            msg["mentionedPeople"] = mentioned
        self.messages[msg["id"]] = msg
        return msg

    def person_says(
        self,
        person: dict[str, Any],
        room: dict[str, Any],
        text: str,
        *,
        parent: str | None = None,
        mention_bot: bool = True,
        shown: str | None = None,
    ) -> dict[str, Any]:
        """A person posts in a room (in group spaces they @mention the bot, whose name starts the text).

        ``{bot}`` in ``text`` places the mention there, shown as ``shown`` (default: the bot's display
        name; people may shorten it), with the ``<spark-mention>`` markup Webex puts in ``html``.
        """
        if "{bot}" in text:
            shown = shown or self.bot["displayName"]
            bot_id = self.bot["id"]
            tag = f'<spark-mention data-object-type="person" data-object-id="{bot_id}">' + shown
            tag += "</spark-mention>"
            html = "<p>" + html_escape(text).replace("{bot}", tag) + "</p>"
            body: dict[str, Any] = {"text": text.replace("{bot}", shown), "html": html}
        else:
            body = {"text": f"aisoc {text}" if mention_bot and room["type"] == "group" else text}
        body["_mentioned"] = [self.bot["id"]] if mention_bot else []
        if parent:
            body["parentId"] = parent
        with self.lock:
            return self._message(person, room["id"], body)

    def person_edits(self, message: dict[str, Any], text: str, *, shown: str | None = None) -> dict[str, Any]:
        """A person edits their message: the same id with the new text (``{bot}`` as in
        :meth:`person_says`) and ``updated`` set, as ``GET /messages/{id}`` then shows it."""
        author = self.people[message["personId"]]
        room = self.rooms[message["roomId"]]
        new = self.person_says(author, room, text, parent=message.get("parentId"), shown=shown)
        with self.lock:
            del self.messages[new["id"]]
            edited = self.messages[message["id"]]
            for key in ("text", "html", "mentionedPeople"):
                edited.pop(key, None)
                if key in new:
                    edited[key] = new[key]
            edited["updated"] = _now()
            return dict(edited)

    def person_deletes(self, message: dict[str, Any]) -> dict[str, Any]:
        """A person deletes their message (``GET /messages/{id}`` then answers 404)."""
        with self.lock:
            return self.messages.pop(message["id"])

    def person_submits(
        self, person: dict[str, Any], message_id: str, inputs: dict[str, Any]
    ) -> dict[str, Any]:
        """A person clicks an Action.Submit on a card."""
        with self.lock:
            msg = self.messages[message_id]
            action = {
                "id": webex_id("ATTACHMENT_ACTION"),
                "type": "submit",
                "messageId": message_id,
                "inputs": inputs,
                "personId": person["id"],
                "roomId": msg["roomId"],
                "created": _now(),
            }
            self.actions[action["id"]] = action
            return action

    def posted(self, room: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The bot's messages (in one room), oldest first."""
        with self.lock:
            return [
                m
                for m in self.messages.values()
                if m["personId"] == self.bot["id"] and (room is None or m["roomId"] == room["id"])
            ]

    def envelope(self, resource: str, item: dict[str, Any], event: str = "created") -> dict[str, Any]:
        """The JSON Webex POSTs to a webhook for a message (created, updated, deleted) or card submit:
        ``data`` names the item, never its text."""
        data = {k: item[k] for k in ("id", "roomId", "personId", "created") if k in item}
        if resource == "messages":
            data.update(roomType=item.get("roomType"), personEmail=item.get("personEmail"))
        else:
            data.update(type="submit", messageId=item["messageId"])
        return {
            "id": webex_id("WEBHOOK"),
            "name": f"aisoc {resource}",
            "targetUrl": "https://bot.example/webex/webhook",
            "resource": resource,
            "event": event,
            "orgId": webex_id("ORGANIZATION"),
            "createdBy": self.bot["id"],
            "appId": webex_id("APPLICATION"),
            "ownedBy": "creator",
            "status": "active",
            "created": _now(),
            "actorId": item["personId"],
            "data": data,
        }

    # --- HTTP -------------------------------------------------------------------------------------

    def start(self) -> FakeWebex:
        self.server = ServerThread(self.app, "127.0.0.1", 0).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    @property
    def base_url(self) -> str:
        """The REST base the SDK is given."""
        return f"{self.url}/v1/"

    def _check_card_message(self, body: dict[str, Any]) -> str | None:
        if not (body.get("text") or body.get("markdown")):
            return "text or markdown is required"
        for key in ("text", "markdown"):
            if len(str(body.get(key) or "").encode()) > MAX_TEXT:
                return f"{key} exceeds the maximum length of {MAX_TEXT} bytes"
        attachments = body.get("attachments") or []
        if len(attachments) > 1:
            return "Only one attachment per message is supported"
        for a in attachments:
            if a.get("contentType") != CARD:
                return f"unsupported contentType {a.get('contentType')!r}"
            errors = [e.message for e in _validator().iter_errors(a.get("content"))]
            if errors or a.get("content", {}).get("version") != "1.3":
                return f"invalid card: {errors[:3] or 'version must be 1.3'}"
        return None

    def _build(self) -> Flask:
        app = Flask(__name__)
        fake = self

        @app.before_request
        def _gate() -> Any:
            fake.log.append((request.method, request.path, request.get_json(silent=True)))
            if request.path.startswith("/v1/") or request.path.startswith("/conversation/"):
                if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return _err(
                        401,
                        "The request requires a valid access token set in the Authorization request header.",
                    )
                with fake.lock:
                    if fake.rate_limits:
                        wait = fake.rate_limits.pop(0)
                        resp = jsonify(message="Too Many Requests")
                        resp.status_code = 429
                        resp.headers["Retry-After"] = str(int(wait))
                        return resp
                    if (
                        request.path.startswith("/v1/messages")
                        and request.method in ("POST", "PUT")
                        and fake.failures
                    ):
                        return _err(fake.failures.pop(0), "Service Unavailable")
            return None

        @app.get("/v1/people/me")
        def me() -> Any:
            return jsonify(fake.bot)

        @app.get("/v1/people/<pid>")
        def person(pid: str) -> Any:
            return jsonify(fake.people[pid]) if pid in fake.people else _err(404, "person not found")

        @app.get("/v1/rooms")
        def rooms() -> Any:
            return jsonify(
                items=[{k: v for k, v in r.items() if k != "members"} for r in fake.rooms.values()]
            )

        @app.get("/v1/rooms/<rid>")
        def room(rid: str) -> Any:
            r = fake.rooms.get(rid)
            return (
                jsonify({k: v for k, v in r.items() if k != "members"}) if r else _err(404, "room not found")
            )

        @app.post("/v1/messages")
        def create() -> Any:
            body = request.get_json(force=True)
            with fake.lock:
                room = fake.rooms.get(body.get("roomId", ""))
                if room is None or fake.bot["id"] not in room["members"]:
                    return _err(404, "Could not find a room with provided ID.")
                problem = fake._check_card_message(body)
                parent = body.get("parentId")
                if parent:
                    p = fake.messages.get(parent)
                    if p is None or p["roomId"] != room["id"]:
                        problem = problem or "parentId: no such message in this room"
                    elif p.get("parentId"):
                        problem = problem or "Cannot reply to a reply: parentId must be the thread's root"
                if problem:
                    return _err(400, problem)
                return jsonify(fake._message(fake.bot, room["id"], body))

        @app.get("/v1/messages")
        def listing() -> Any:
            room_id = request.args.get("roomId")
            items = [m for m in fake.messages.values() if m["roomId"] == room_id]
            return jsonify(items=list(reversed(items))[: int(request.args.get("max", 50))])

        @app.get("/v1/messages/<mid>")
        def get_message(mid: str) -> Any:
            if fake.fetch_failures:
                return _err(fake.fetch_failures.pop(0), "try again later")
            return jsonify(fake.messages[mid]) if mid in fake.messages else _err(404, "message not found")

        @app.put("/v1/messages/<mid>")
        def edit(mid: str) -> Any:
            body = request.get_json(force=True)
            with fake.lock:
                msg = fake.messages.get(mid)
                if msg is None:
                    return _err(404, "message not found")
                if fake.refuse_edits or msg["personId"] != fake.bot["id"]:
                    return _err(403, "You can only edit your own messages")
                if body.get("roomId") != msg["roomId"]:
                    return _err(400, "roomId is required and must be the message's room")
                if fake.edits.get(mid, 0) >= MAX_EDITS:
                    return _err(400, f"A message can be edited at most {MAX_EDITS} times")
                problem = fake._check_card_message(body)
                if problem:
                    return _err(400, problem)
                fake.edits[mid] = fake.edits.get(mid, 0) + 1
                for key in ("text", "markdown", "attachments"):
                    if key in body:
                        msg[key] = body[key]
                msg["updated"] = _now()
                return jsonify(msg)

        @app.delete("/v1/messages/<mid>")
        def delete(mid: str) -> Any:
            with fake.lock:
                return ("", 204) if fake.messages.pop(mid, None) else _err(404, "message not found")

        @app.get("/v1/attachment/actions/<aid>")
        def action(aid: str) -> Any:
            return jsonify(fake.actions[aid]) if aid in fake.actions else _err(404, "action not found")

        @app.get("/v1/webhooks")
        def hooks() -> Any:
            return jsonify(items=list(fake.webhooks.values()))

        @app.post("/v1/webhooks")
        def new_hook() -> Any:
            body = request.get_json(force=True)
            if not all(body.get(k) for k in ("name", "targetUrl", "resource", "event")):
                return _err(400, "name, targetUrl, resource and event are required")
            hook = {"id": webex_id("WEBHOOK"), "status": "active", "created": _now(), **body}
            fake.webhooks[hook["id"]] = hook
            return jsonify(hook)

        @app.get("/v1/webhooks/<wid>")
        def get_hook(wid: str) -> Any:
            return jsonify(fake.webhooks[wid]) if wid in fake.webhooks else _err(404, "webhook not found")

        @app.put("/v1/webhooks/<wid>")
        def put_hook(wid: str) -> Any:
            body = request.get_json(force=True)
            if wid not in fake.webhooks:
                return _err(404, "webhook not found")
            if not (body.get("name") and body.get("targetUrl")):
                return _err(400, "name and targetUrl are required")
            fake.webhooks[wid].update(body)
            return jsonify(fake.webhooks[wid])

        @app.delete("/v1/webhooks/<wid>")
        def del_hook(wid: str) -> Any:
            return ("", 204) if fake.webhooks.pop(wid, None) else _err(404, "webhook not found")

        # The conversation service the device websocket client asks for a REST id (recorded frames).
        @app.get("/conversation/api/v1/<kind>/<activity>")
        @app.get("/conversation/api/v1/attachment/<kind>/<activity>")
        def conversation(kind: str, activity: str) -> Any:
            pool = fake.messages if kind == "messages" else fake.actions
            for item_id in pool:
                if raw_uuid(item_id) == activity:
                    return jsonify(id=item_id, objectType="activity")
            return _err(404, "activity not found")

        return app
