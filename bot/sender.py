"""The one outbound worker: posts from the store's outbox to the space, in order per room.

- A post is marked sent only after Webex accepted it; a restart resends whatever is still queued.
- Each room keeps its order and its own pace (``room_interval_s``); a 429 holds that room for the
  ``Retry-After`` Webex gave, without counting a failure — nobody else ever waits on Webex.
- 5xx and timeouts are retried with backoff up to ``max_attempts``; a refused card is retried as text,
  a refused thread reply without its parent; a refused edit becomes a threaded reply saying what
  happened. A post given up raises at most one notice per ``error_notice_interval_s`` in the SOC space.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.errors import RateLimited, Refused, Unavailable, WebexError
from bot.settings import BotSettings
from bot.store import BotStore, Plan, Post, StoredPost
from bot.webex import Space
from cards.text import clean

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 300.0
"""Longest wait between two tries of a failing post."""
_PRIVATE = ("_textonly", "_noparent")


@dataclass(frozen=True)
class Sent:
    """What one send step did: ``sent``, ``edited``, ``replied`` (edit refused), ``rate_limited``,
    ``retry``, ``degraded`` or ``dead``."""

    post_id: str
    room_id: str
    outcome: str
    message_id: str | None = None
    detail: str | None = None


def _ctx(post: StoredPost) -> dict[str, Any]:
    return {"case_id": post.case_id, "event_id": post.source_event_id}


class Sender:
    """Sends queued posts one at a time (run it in one thread: ``start()``, or ``send_one()`` in tests).

    Args:
        store: the outbox.
        space: Webex or the local preview.
        settings: pacing, attempts, notice throttle, the SOC room.
        clock: wall-clock seconds (injected by tests; holds survive restarts, so not monotonic).
    """

    def __init__(
        self, store: BotStore, space: Space, settings: BotSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.space = space
        self.settings = settings
        self.clock = clock
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one step ---------------------------------------------------------------------------------

    def send_one(self) -> Sent | None:
        """Send the next due post, if any; returns what happened."""
        post = self.store.next_due(self.clock())
        if post is None:
            self.tick()
            return None
        try:
            result = self._deliver(post)
        except RateLimited as e:
            self.store.block_room(post.room_id, self.clock() + e.retry_after, f"429: {e}")
            log.warning("room %s rate limited for %gs", post.room_id, e.retry_after, extra=_ctx(post))
            return Sent(post.post_id, post.room_id, "rate_limited", detail=str(e))
        except Unavailable as e:
            return self._retry(post, str(e))
        except Refused as e:
            return self._refused(post, e)
        if self.settings.room_interval_s:
            self.store.block_room(post.room_id, self.clock() + self.settings.room_interval_s, "pace")
        return result

    def _deliver(self, post: StoredPost) -> Sent:
        if post.op == "update":
            return self._edit(post)
        body = {k: v for k, v in post.body.items() if k not in _PRIVATE}
        body["roomId"] = post.room_id
        parent = None if post.body.get("_noparent") else self._parent(post)
        if parent:
            body["parentId"] = parent
        message = self.space.create_message(body)
        self.store.mark_sent(post.post_id, str(message["id"]))
        log.info("posted %s (%s) to %s", post.post_id, post.kind, post.room_id, extra=_ctx(post))
        return Sent(post.post_id, post.room_id, "sent", str(message["id"]))

    def _parent(self, post: StoredPost) -> str | None:
        if post.thread == "parent":
            return post.parent_message_id
        if post.thread != "reply" or not post.case_id:
            return None
        root = self.store.thread_root(post.case_id)
        if root is not None and root.state == "sent" and root.message_id:
            return root.message_id
        # The root was given up (or never queued in this room): this post opens the thread instead.
        self.store.reroot(post.case_id, post.post_id)
        return None

    def _edit(self, post: StoredPost) -> Sent:
        target = self.store.get(post.target_post_id or "")
        if target is not None and target.state == "sent" and target.message_id:
            try:
                self.space.update_message(target.message_id, {"roomId": target.room_id, **post.body})
            except Refused as e:
                log.info("edit of %s refused (%s); replying instead", target.post_id, e, extra=_ctx(post))
                return self._edit_fallback(post, target, f"edit refused: {e}")
            self.store.mark_sent(post.post_id, target.message_id)
            return Sent(post.post_id, post.room_id, "edited", target.message_id)
        return self._edit_fallback(post, target, "the card to edit was never posted")

    def _edit_fallback(self, post: StoredPost, target: StoredPost | None, why: str) -> Sent:
        if post.fallback is None:
            self.store.mark_sent(post.post_id, "", note=why)
            return Sent(post.post_id, post.room_id, "skipped", detail=why)
        body = {**post.fallback, "roomId": post.room_id}
        root = self.store.thread_root(post.case_id) if post.case_id else None
        parent = root.message_id if root is not None and root.state == "sent" else None
        if parent is None and target is not None and target.thread in ("root", "none"):
            parent = target.message_id
        if parent:
            body["parentId"] = parent
        message = self.space.create_message(body)
        self.store.mark_sent(post.post_id, str(message["id"]), note=why)
        return Sent(post.post_id, post.room_id, "replied", str(message["id"]), detail=why)

    def _retry(self, post: StoredPost, error: str) -> Sent:
        attempts = self.store.mark_failed(post.post_id, error)
        if attempts >= self.settings.max_attempts:
            return self._dead(post, f"gave up after {attempts} attempts: {error}")
        wait = min(MAX_BACKOFF_S, 2.0**attempts)
        self.store.block_room(post.room_id, self.clock() + wait, f"retry: {error}")
        log.warning(
            "post %s failed (%s); retry %d in %gs", post.post_id, error, attempts, wait, extra=_ctx(post)
        )
        return Sent(post.post_id, post.room_id, "retry", detail=error)

    def _refused(self, post: StoredPost, e: WebexError) -> Sent:
        body = dict(post.body)
        if post.op == "create" and body.get("attachments") and not body.get("_textonly"):
            body.pop("attachments")
            body["_textonly"] = True
            self.store.degrade(post.post_id, body)
            self.store.mark_failed(post.post_id, f"card refused, retrying as text: {e}")
            return Sent(post.post_id, post.room_id, "degraded", detail=str(e))
        if post.op == "create" and post.thread in ("reply", "parent") and not body.get("_noparent"):
            body["_noparent"] = True
            self.store.degrade(post.post_id, body)
            self.store.mark_failed(post.post_id, f"refused in thread, retrying in the room: {e}")
            return Sent(post.post_id, post.room_id, "degraded", detail=str(e))
        return self._dead(post, f"refused: {e}")

    # --- giving up and telling people (rarely) ----------------------------------------------------

    def _dead(self, post: StoredPost, error: str) -> Sent:
        self.store.mark_dead(post.post_id, error)
        log.error("post %s (%s) given up: %s", post.post_id, post.kind, error, extra=_ctx(post))
        if not post.notice:
            pending = int(self.store.meta("notice_pending") or 0) + 1
            self.store.set_meta("notice_pending", str(pending))
            self.store.set_meta("notice_last_error", error)
            self.tick()
        return Sent(post.post_id, post.room_id, "dead", detail=error)

    def tick(self) -> bool:
        """Post the pending error notice if the throttle allows; returns whether one was queued."""
        pending = int(self.store.meta("notice_pending") or 0)
        if not pending:
            return False
        last = float(self.store.meta("notice_at") or 0)
        now = self.clock()
        if last and now - last < self.settings.error_notice_interval_s:
            return False
        error = clean(self.store.meta("notice_last_error") or "", 400, oneline=True)
        text = (
            f"⚠️ The bot could not post {pending} message(s) since its last notice. Last error: {error}. "
            "`aisoc bot outbox --dead` lists them; `aisoc bot outbox --retry ID` sends one again."
        )
        notice = Post(
            post_id=f"notice:{uuid.uuid4().hex}",
            room_id=self.settings.soc_room,
            body={"markdown": text},
            kind="notice",
            notice=True,
        )
        self.store.apply(Plan(posts=[notice]))
        self.store.set_meta("notice_at", str(now))
        self.store.set_meta("notice_pending", "0")
        return True

    # --- the loop ---------------------------------------------------------------------------------

    def pump(self, limit: int = 1000) -> list[Sent]:
        """Send every post that is due now (tests and the demo); returns what happened, in order."""
        out: list[Sent] = []
        for _ in range(limit):
            sent = self.send_one()
            if sent is None:
                break
            out.append(sent)
        return out

    def poke(self) -> None:
        """New posts were queued: wake the loop."""
        self._wake.set()

    def run(self, poll_s: float = 1.0) -> None:
        """Loop until ``stop()``: send what is due, sleep until the next room opens or a poke."""
        while not self.stopping.is_set():
            try:
                if self.send_one() is not None:
                    continue
                wake = self.store.next_wakeup()
                delay = poll_s if wake is None else min(poll_s, max(0.02, wake - self.clock()))
            except Exception:  # the store or the space misbehaves: never die, never spin
                log.exception("sender loop error; retrying")
                delay = 2.0
            self._wake.wait(delay)
            self._wake.clear()

    def start(self) -> Sender:
        """Run the loop in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="bot-sender", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and wait for it."""
        self.stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
