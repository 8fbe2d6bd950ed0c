"""Chat commands: what a message or card submit asks for, and who answers it.

A message becomes a :class:`bot.understand.Request` (the mention removed, quotes told apart, the case
of its thread supplied); reading answers come from :class:`bot.reading.Reader`, changes from
:class:`bot.lifecycle.Lifecycle`. Every answer is markdown that fits one Webex message (see
:mod:`bot.markup`). A command that fails for an expected reason answers why; anything else answers
that it failed and is logged — never a stack trace. Approvals are never decided here: ``approve``
answers with the gate's link.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aisoc.bus import Bus
from aisoc.events import duty_title
from aisoc.memory import CaseRecord, CaseState, Memory
from aisoc.memory.casefile import ActionStatus
from bot import overview
from bot.answer import Phraser
from bot.catalog import Catalog, Subject, tenant_named
from bot.directory import Directory
from bot.edits import command_line, not_again
from bot.errors import CommandError
from bot.hosts import AddressBook
from bot.inbound import ABOUT, Inbound
from bot.lifecycle import LABELS, Lifecycle, closure
from bot.livecatalog import LiveCatalog
from bot.markup import code, fit
from bot.mentions import plain, quoted_lines, split_quote, strip_mentions
from bot.names import TRIM
from bot.reading import Reader, shown_files, taken
from bot.scope import CaseView, Scope, TenantView
from bot.settings import BotSettings
from bot.store import BotStore
from bot.understand import GRAMMAR, READ_ONLY, Request, intent, small_talk, understand
from bot.webex import Space

log = logging.getLogger(__name__)

HELP = """**What I can do** — ask in plain words (mention me in a group space); in a case's thread I
know which case you mean.
- *why did it contain WS-042?*, *explain the Shellshock case*, *what happened here?* — what was done
  and why, from the recorded trace and decisions only (`more` in the thread: the full record)
- `case CASE` — the case's path so far and what is still open
- *anything pending for me?*, `pending` — approvals, reviews and approved actions that wait on
  someone (on you first)
- *any open incidents?*, *show me the SEV-1s*, *what happened overnight?*, *what did I miss?* — open
  cases worst first; what came in and what people decided over a time (today, the last 4 hours ...)
- `status` — roles alive, lag, pending, dead letters, my outbox
- `oncall [ROLE]` — who is on call (ir_lead, tier2, soc_manager ...)
- `close CASE tp|fp|benign [reason]` — close it and record the ground truth
- `reopen CASE [reason]` — ask Tier 2 On-Call to look again
- `assign CASE @person` — hand the case to someone
- `done ACTION [note]` — you carried out an approved action in your own console
- `ack CASE` — take a review that waits on a person (the card's Acknowledge); `takeover CASE` — take
  one someone else holds
- `pause ROLE|proposals|all [reason]` — the kill switch; `resume ...` (SOC Manager / IR Lead On-Call)
- `help` — this

In a case's thread, `close tp`, `reopen`, `assign @person` and `ack` need no case id. Approvals are never
decided in chat: the card's Approve button opens the gate, where you confirm in two steps."""
"""The answer to ``help`` and to anything the bot does not understand."""

SOC_WIDE = frozenset({"status", "pause", "resume"})
"""Commands about the whole SOC that a room bound to tenants may not use: ``status`` names the cases
every role worked last, the kill switch stops every tenant's work."""
SOC_WIDE_HELP = ("- `status`", "- `pause")
"""The lines of :data:`HELP` a room bound to tenants does not see."""

SMALL_TALK_ANSWERS = {
    "thanks": "You're welcome.",
    "noted": "👍",
    "hello": "Hi! Ask me in plain words about a case, a host or an IP (*why did it contain WS-042?*), "
    "or `help` for everything I can do.",
}
"""One line for a message that only thanks, acknowledges or greets (see :func:`bot.understand.small_talk`)."""
ACK_WHICH = (
    "Acknowledge which review? Use **Acknowledge** on its card, or say `ack` in the review card's thread "
    "(`ack CASE` anywhere); `pending` lists the reviews that wait."
)
"""The answer to ``ack`` that names no review: one line, never the command list."""
CLOSE_WHICH = (
    "Close which case? Say `close CASE tp|fp|benign [reason]`, or `close tp|fp|benign [reason]` in the "
    "case's thread."
)
"""The answer to ``close`` that names no case."""
PAUSE_ALL = (
    "Nothing was paused. `pause all` stops every role (the kill switch): say it alone, or with its reason "
    "after a colon or a dash (`pause all: REASON`); `pause ROLE [reason]` stops one role."
)
"""The answer to "pause all notifications ..." ("all" says of what, not which roles)."""
PLAINLY = {
    "close": (
        "close the case",
        "`close tp|fp|benign [reason]` in its thread (`close CASE tp|fp|benign [reason]`)",
    ),
    "reopen": ("reopen the case", "`reopen [reason]` in its thread (`reopen CASE [reason]`)"),
    "assign": ("hand the case to someone", "`assign @person` in its thread (`assign CASE @person`)"),
    "ack": ("take the review", "`ack` in the review card's thread (`ack CASE`)"),
    "takeover": ("take the review from who holds it", "`takeover CASE`"),
    "done": ("record the action as carried out", "`done ACTION [note]`"),
    "pause": ("pause roles (the kill switch)", "`pause ROLE|proposals|all [reason]`"),
    "resume": ("resume paused roles", "`resume ROLE|proposals|all [reason]`"),
    "approve": ("open the gate's approval", "`approve ACTION` (it gives the gate's link)"),
    "reject": ("open the gate's approval", "`reject ACTION` (it gives the gate's link)"),
}
"""For a command talked about, not given (:func:`bot.understand.talked_about`): what it would do, and
how to say it plainly."""
UNCLEAR = "I did not understand that."
"""The answer in a thread to what is not understood and not a question ("interesting", "hmm ok"): one
line, never the command list (a busy space's threads are not spammed with it)."""
UNCLEAR_QUESTION = (
    "I did not understand that. Ask about this case in plain words (*why was it contained?*, *who "
    "approved it?*), or `help` for everything I can do."
)
"""The answer in a thread to a question not understood: one line that points to ``help``."""
_ASKED = re.compile(
    r"[?？]\W*$|^(?:what|who|whom|whose|when|where|which|how|why|is|are|was|were|do|does|did|can|could|"
    r"should|would|will|has|have)\b",
    re.IGNORECASE,
)


def is_question(text: str) -> bool:
    """Whether a sentence is a question: it ends in a question mark or begins with a question word."""
    return bool(_ASKED.search(text.strip()))


CARD_COMMANDS = frozenset({"explain", "ack", "takeover", "more"})
"""What a card submit may ask for (anything else on a submit is ignored): no approvals, no closing."""
_THREADED = frozenset({"close", "reopen", "assign"})
"""Grammar commands whose case a thread supplies when the words do not name one."""
Router = Callable[[str], str | None]
"""A model that names the read-only command a sentence asks for (``explain``, ``case``, ``status``,
``oncall``, ``help``) or None; it can never decide, close or approve."""
CLOSE_FILLER = frozenset({"it", "this", "that", "the", "case", "incident", "alert", "one", "as", "a", "an"})
"""Words people put between ``close`` and its label ("close it as fp", "close this case fp")."""
PLEASE = frozenset(
    """please pls plz plse kindly now asap when whenever you u can could get chance for me us thanks thx
    ty then go ahead and""".split()
)
"""Asking words around a command's own words ("close it pls", "close this when you can")."""
THANKS = frozenset("please pls plz plse thanks thx ty".split())
"""What may end a close's reason and is not one ("close it as fp, scanner pls")."""
ACK_FILLER = (
    CLOSE_FILLER
    | PLEASE
    | frozenset(
        """review i i'll ill im i'm will take taking taken got mine on ok okay sure yes yep here too also
    ticket number nr num id # 👍""".split()
    )
)
"""Words said with ``ack`` that name no case ("ack it", "acknowledged, I'll take it")."""
_IDLIKE = re.compile(r"[\d_:\-]")


def _word(word: str) -> str:
    return word.lower().strip(TRIM)


def close_words(args: Sequence[str]) -> tuple[str, ...]:
    """``close``'s words without the filler and the asking before the label: "close it as fp scanner"
    is ``close fp scanner``, "close it pls" is ``close`` (the reason after the label is kept as said,
    less a trailing "thanks")."""
    out: list[str] = []
    labelled = False
    for word in _spelt_labels(args):
        if not labelled and (
            _word(word) in CLOSE_FILLER or _word(word) in PLEASE or not any(c.isalnum() for c in word)
        ):
            continue
        labelled, before = labelled or _word(word) in LABELS, labelled
        if before and len(out) > 0 and _word(out[-1]) in LABELS and not any(c.isalnum() for c in word):
            continue  # "close it as benign - nightly build": the dash sets the reason apart
        out.append(word if before else word.rstrip("?!.,;"))  # "close wazuh:1001?": the id
    while out and _word(out[-1]) in THANKS:
        out.pop()
    return tuple(out)


_SPELT = {"true": "tp", "false": "fp"}
"""A label spelt out ("as a true positive", "false-positive"): its first word, ``positive`` after it."""


def _spelt_labels(args: Sequence[str]) -> list[str]:
    """``close``'s words with a label spelt out as the label (the words before a label only: the reason
    after it is kept as said)."""
    out: list[str] = []
    i = 0
    while i < len(args):
        word = _word(args[i])
        first, _, second = word.replace("_", "-").partition("-")
        if first in _SPELT and second.startswith("positive"):
            out.append(_SPELT[first] + args[i][len(args[i].rstrip("?!.,;:")) :])
        elif word in _SPELT and i + 1 < len(args) and _word(args[i + 1]).startswith("positive"):
            out.append(_SPELT[word] + args[i + 1][len(args[i + 1].rstrip("?!.,;:")) :])
            i += 1
        else:
            out.append(args[i])
        if _word(out[-1]) in LABELS:
            return [*out, *args[i + 1 :]]
        i += 1
    return out


def ack_words(args: Sequence[str]) -> tuple[str, ...] | None:
    """The case ``ack`` names: ``()`` when its words name none ("ack it pls", "acknowledged, I'll take
    it"), ``(CASE,)`` for an id; None when it says more than that (not an acknowledgement to act on)."""
    # a word without a letter or a digit ("-", "—") is punctuation, not a case
    said = [
        w.strip(TRIM).lstrip("#") for w in args if _word(w) not in ACK_FILLER and any(c.isalnum() for c in w)
    ]
    if not said:
        return ()
    if len(said) == 1 and _IDLIKE.search(said[0]):
        return (said[0],)  # "ack 1234", "ack case #1234"
    return None


_NOT = re.compile(r"\b(?:not|no|wait|cancel|don'?t|never|stop|undo)\b|\?", re.IGNORECASE)


def _remark(text: str, rest: Sequence[str], catalog: Catalog) -> bool:
    """Whether what follows an ``ack`` is a remark of its own ("ack - looking now", "ack. checking the
    logs"): set apart by punctuation, neither a question nor a refusal, naming nothing on record and
    asking for no command; the ack then stands alone."""
    if not rest:
        return False
    words = text.split()
    before = " ".join(words[: len(words) - len(rest)])
    said = " ".join(rest)
    return (
        re.search(r"[,.;:!-](?:\s|$)", before) is not None
        and not _NOT.search(said)
        and intent(said)[0] not in GRAMMAR
        and not catalog.find(said)
    )


def ack_split(args: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """An ``ack``'s own words (filler and at most one case id) and what the message says after them:
    "ack, why did it contain that host?" is ``()`` and the question."""
    head: list[str] = []
    for i, word in enumerate(args):
        if ack_words([*head, word]) is None:
            return tuple(head), tuple(args[i:])
        head.append(word)
    return tuple(head), ()


@dataclass(frozen=True)
class Desk:
    """What one conversation reads and acts through: the case memory as it may see it (every
    tenant's cases, or only those of the tenants its room and its person are bound to), and the reader
    and lifecycle over it."""

    memory: Callable[[], CaseView]
    reader: Reader
    lifecycle: Lifecycle
    catalog: LiveCatalog
    """What its questions may name, kept current from the log."""
    scope: Scope = Scope()
    """The room's and the person's tenants."""

    @property
    def tenants(self) -> frozenset[str] | None:
        """The tenants it sees (maybe none); None: every tenant (the SOC's staff in its rooms)."""
        return self.scope.tenants

    @property
    def view(self) -> CaseView:
        """The case memory as the room sees it."""
        return self.memory()


class Commands:
    """The command handler the receiver calls (``commands(inbound) -> message body``).

    Args:
        settings: the bot's settings (time zone, state directory).
        bus: the bus (audit log, health, publishing).
        directory: roster, links and the gate.
        store: the outbox (status shows it).
        space: to look up mentioned people.
        memory: builds the case memory on first use (explain).
        phraser: a model that may phrase answers (kept only when its citations check out), or None.
        router: a model that places text the grammar cannot into one read-only command, or None.
    """

    def __init__(
        self,
        settings: BotSettings,
        bus: Bus,
        directory: Directory,
        store: BotStore,
        space: Space,
        memory: Callable[[], Memory],
        *,
        phraser: Phraser | None = None,
        router: Router | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.phraser = phraser
        self.clock = clock
        self.router = router
        self.settings = settings
        self.bus = bus
        self.directory = directory
        self.store = store
        self.space = space
        self._memory_factory = memory
        self._memory: Memory | None = None
        self._memory_lock = threading.Lock()
        self._changed: set[str] = set()
        """Keys of the inbounds whose command changed something (the lifecycle says so)."""
        self.addresses = AddressBook(bus.audit)
        """Which hosts each address is, per tenant: read from each alert once, for every catalog
        (the feed keeps it current: ``Feed(keep_up=...)``)."""
        self._desks: dict[Scope, Desk] = {}
        soc = self.desk(None)
        self.reader, self.lifecycle = soc.reader, soc.lifecycle

    @property
    def memory(self) -> Memory:
        """The case memory (built once, on first use, whichever thread asks first)."""
        if self._memory is None:
            with self._memory_lock:
                if self._memory is None:
                    self._memory = self._memory_factory()
        return self._memory

    def desk(self, room_id: str | None, person: str | None = None) -> Desk:
        """What a person in a room reads and acts through: the one place a conversation is scoped to
        the tenants its room (``[bot] tenant_rooms``) and its person (``[bot] people_tenants``, by
        email) are bound to, both when both are; unbound, it sees every tenant."""
        scope = Scope(
            self.settings.room_tenants(room_id) if room_id else None, self.settings.person_tenants(person)
        )
        desk = self._desks.get(scope)
        if desk is None:

            def view() -> CaseView:
                return self.memory if scope.tenants is None else TenantView(self.memory, scope)

            lifecycle = Lifecycle(self.bus, self.directory, self.space, self.store, view, self._changed.add)
            reader = Reader(self.settings, self.bus, self.directory, self.store, view, phraser=self.phraser)
            catalog = LiveCatalog(self.bus.audit, view, self.addresses, window=lambda: self.memory.cold)
            desk = self._desks[scope] = Desk(view, reader, lifecycle, catalog, scope)
        return desk

    def promise_warm(self) -> None:
        """Say that :meth:`warm` will run in the background: a question that comes before it built
        the SOC-wide scope's catalog waits for that build (:meth:`release_warm` if it will not run), at
        most ``warm_wait_s`` (then it builds one itself)."""
        self.desk(None).catalog.promise(self.settings.warm_wait_s)

    def release_warm(self) -> None:
        """:meth:`warm` has run or will not: questions no longer wait for it."""
        self.desk(None).catalog.release()

    def warm(self) -> bool:
        """Build the SOC-wide conversation scope's catalog now, unless a question built it already
        (the bot's start runs this in the background: a question that comes meanwhile waits for it,
        and nothing builds it twice).

        Returns:
            Whether this call built it.
        """
        return self.desk(None).catalog.warm()  # failing, the first question builds it

    def keep_up(self, limit: int) -> int:
        """Read a page of the log into the bot's own read models: the hosts' addresses, then each
        conversation scope's catalog once a question built it (the feed's keep-up).

        Returns:
            How many audit entries were read (0: all current).
        """
        read = self.addresses.follow(limit)
        for desk in list(self._desks.values()):
            read += desk.catalog.follow(limit)
        return read

    def desk_of(self, inbound: Inbound) -> Desk:
        """The desk of the room an inbound came from and the person who sent it."""
        return self.desk(inbound.room_id, inbound.person_email)

    def __call__(self, inbound: Inbound) -> dict[str, Any] | None:
        """Answer one inbound; never raises. The body names the case a reading answer is about
        (:data:`bot.inbound.ABOUT`), so a follow-up in its thread ("more", "who approved it?") is
        about that case."""
        about: str | None = None
        try:
            answer, about = self.reply(inbound)
        except CommandError as e:
            answer = f"⚠️ {e}"
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("command %r failed (ref %s)", inbound.text[:200], ref)
            answer = f"Sorry, that failed inside the bot (ref `{ref}`, logged). `help` lists what I can do."
        if answer is None:
            return None
        return {"markdown": fit(answer), **({ABOUT: about} if about else {})}

    def thread_case(self, inbound: Inbound) -> str | None:
        """The case whose thread the message (or the clicked card) is in, if any."""
        root = inbound.parent_id if inbound.kind == "message" else inbound.message_id
        post = self.store.by_message(root) if root else None
        return post.case_id if post is not None else None

    def conversation_case(self, inbound: Inbound) -> str | None:
        """The case a conversation begun at top level is about: what the bot's latest answer in
        this message's thread was about (None outside such a thread)."""
        if inbound.kind != "message" or not inbound.parent_id:
            return None
        if self.store.by_message(inbound.parent_id) is not None:
            return None  # a thread of the bot's own post: thread_case says which case, if any
        return self.store.reply_case(inbound.parent_id)

    def text(self, inbound: Inbound, *, everyone: bool = False) -> str:
        """The message without the bot's mention (``everyone``: without anyone's), wherever it stands."""
        me = self.space.me()
        shown = str(me.get("displayName") or "")
        names = {self.settings.bot_name, shown, shown.split(" ")[0] if " " in shown else ""}
        return strip_mentions(inbound.text, inbound.html, str(me.get("id") or ""), names, everyone=everyone)

    def request(self, inbound: Inbound, desk: Desk | None = None) -> Request:
        """What one message or card submit asks for (of the cases the room may see)."""
        desk = desk or self.desk_of(inbound)
        memory = desk.view
        here = self.thread_case(inbound)
        if inbound.kind == "action":
            cmd = str(inbound.inputs.get("cmd") or "")
            case_id = str(inbound.inputs.get("case_id") or "") or here
            rec = memory.case(case_id) if case_id else None
            title = rec.alert.title if rec is not None and rec.alert else ""
            sub = Subject("case", case_id, (case_id,), title) if rec is not None and case_id else None
            if cmd in ("explain", "more") and sub is None:
                raise CommandError(f"Nothing is recorded about `{code(case_id or '', 120)}`.")
            return Request(cmd, (case_id,) if case_id else (), sub)
        text, quoted = map(plain, split_quote(self.text(inbound), quoted_lines(inbound.html)))
        if inbound.html and "spark-mention" in inbound.html:
            alone = plain(split_quote(self.text(inbound, everyone=True), quoted_lines(inbound.html))[0])
            if alone != text and (said := small_talk(alone)):
                return Request(said, text=text)  # "@Alice @AISOC thanks!"
        # Questions in the thread of an earlier answer are about that answer's case; commands that
        # change something take a case from the words or from a case's own thread only.
        about = here or self.conversation_case(inbound)
        with desk.catalog.reading() as catalog:
            req = understand(text, catalog, about, quoted)
            if req.command in ("ack", "takeover"):
                return self._ack_request(req, memory, catalog, (here, about, quoted))
        if req.command == "close":
            req = replace(req, args=close_words(req.args))
        if req.command == "done" and here:
            req = replace(req, args=self._done_words(memory, here, req.args))
        # A case id of another tenant still names a case (refused as such), never this thread's label.
        named = bool(req.args) and (memory.case(req.args[0]) is not None or bool(tenant_named(req.args[0])))
        if req.command in _THREADED and here and not named:
            return Request(req.command, (here, *req.args), text=text)
        if req.command == "unknown" and self.router is not None:
            routed = self.router(text)
            if routed in READ_ONLY and routed not in ("more",):
                if routed != "explain":
                    return Request(routed, (), text=text)
                with desk.catalog.reading() as catalog:
                    return understand(routed + " " + text, catalog, about)
        return req

    def glance(self, text: str, desk: Desk | None = None) -> str:
        """The SOC at a glance (:mod:`bot.overview`): open cases, or what happened over a window, of
        the cases the room may see."""
        desk = desk or self.desk(None)
        memory = desk.view
        wanted = overview.ask(text) or overview.Ask("list")
        now = datetime.fromtimestamp(self.clock(), UTC)

        def waiting(rec: CaseRecord) -> str:
            """What waits on a person in an open case: its approvals (on whom), or the review asked for."""
            awaiting = [a for x in rec.actions if (a := memory.action(x)) is not None and a.awaiting]
            if awaiting:
                who = desk.reader.waiting_on(awaiting[0])
                n = len(awaiting)
                return f"{n} approval{'s' if n > 1 else ''} waiting" + (f" on {who}" if who else "")
            if rec.state == CaseState.AWAITING_HUMAN and rec.review is not None:
                return f"review asked of {duty_title(rec.review.duty)}"
            return ""

        return overview.answer(wanted, memory, now, desk.reader.settings_tz(), waiting)

    def _ack_request(
        self, req: Request, memory: CaseView, catalog: Catalog, where: tuple[str | None, str | None, str]
    ) -> Request:
        """``ack``'s (or ``takeover``'s) case: "ack", "ack it pls" in a review's thread that review;
        "ack 1234" the case it names. A question after it ("ack, why did it contain that host?") is
        asked too (:attr:`Request.question`); anything else said with it makes it no ack to act on."""
        here, about, quoted = where
        head, rest = ack_split(req.args)
        question = None
        if rest and intent(" ".join(rest))[0] in READ_ONLY:
            question = understand(" ".join(rest), catalog, about, quoted)
        if question is None and not _remark(req.text, rest, catalog):
            head = req.args
        words = ack_words(head)
        if words:
            case: tuple[str, ...] = (self._case_named(memory, catalog, words[0]),)
        else:
            case = (here,) if here and words == () else ()
        return Request(req.command, case, text=req.text, question=question)

    @staticmethod
    def _case_named(memory: CaseView, catalog: Catalog, word: str) -> str:
        """A case id as typed, or the one case whose source's id it is ("ack 1234" for ``xsoar:1234``),
        found in the conversation's catalog: one direct lookup, never a read of every case.

        Raises:
            CommandError: several cases have that source id.
        """
        if ":" in word or "/" in word or memory.case(word) is not None:
            return word
        hits = catalog.with_source_id(word)
        if len(hits) > 1:
            shown = ", ".join(f"`{code(c, 80)}`" for c in hits[:5])
            raise CommandError(f"`{code(word, 80)}` is the id of several cases ({shown}): name one.")
        return hits[0] if hits else word

    def _done_words(self, memory: CaseView, case_id: str, args: tuple[str, ...]) -> tuple[str, ...]:
        """``done [note]`` in a case's thread: the case's one approved action when the words name none
        (with two or more, the person must say which)."""
        if args and (memory.action(args[0]) is not None or _IDLIKE.search(args[0])):
            return args  # an id, known or mistyped, is never swapped for another action
        file = memory.case_file(case_id)
        approved = [a for a in file.actions() if a.status == ActionStatus.APPROVED] if file else []
        return (approved[0].action_id, *args) if len(approved) == 1 else args

    def answer(self, inbound: Inbound) -> str | None:
        """Dispatch one inbound."""
        return self.reply(inbound)[0]

    def reply(self, inbound: Inbound) -> tuple[str | None, str | None]:
        """Dispatch one inbound: the answer, and the case it is about (a reading answer about one
        case, or the first case an answer about a host or an indicator shows)."""
        if inbound.kind == "action" and str(inbound.inputs.get("cmd") or "") not in CARD_COMMANDS:
            log.warning("card submit %s with unknown cmd %r ignored", inbound.id, inbound.inputs.get("cmd"))
            return None, None
        desk = self.desk_of(inbound)
        req = self.request(inbound, desk)
        if req.question is None:
            answer = self._once(req, inbound, desk)
            return answer, self.answered_case(req, desk) if answer is not None else None
        # "ack, why did it contain that host?": the ack's one line, then the answer; each part says
        # its own failure, so a refused ack still answers the question
        said = [self._part(req, inbound, desk), self._part(req.question, inbound, desk)]
        return "\n\n".join(s for s in said if s) or None, self.answered_case(req.question, desk)

    def _part(self, req: Request, inbound: Inbound, desk: Desk) -> str | None:
        try:
            return self._once(req, inbound, desk)
        except CommandError as e:
            return f"⚠️ {e}"

    def _once(self, req: Request, inbound: Inbound, desk: Desk) -> str | None:
        """Run a request; a state-changing command is run once per message: an edit of a message
        whose command already changed something runs nothing (:mod:`bot.edits`)."""
        line = command_line(req) if inbound.kind == "message" else None
        if line is not None and inbound.edited and (ran := self.store.ran(inbound.id)) is not None:
            return not_again(ran, line)
        try:
            answer = self.run(req, inbound, desk)
        finally:
            changed = inbound.key in self._changed
            self._changed.discard(inbound.key)
        if line is not None and changed:
            self.store.note_ran(inbound.id, line)
        return answer

    def answered_case(self, req: Request, desk: Desk | None = None) -> str | None:
        """The case an answer to ``req`` is about (None for a question back, a list, a command)."""
        sub = req.subject
        if req.command not in ("explain", "case", "more") or sub is None or req.candidates:
            return None
        if sub.kind == "case":
            return sub.value
        if req.command == "case" and len(sub.case_ids) > 1:
            return None  # answered with the cases to pick from
        files = shown_files((desk or self.desk(None)).view, sub)
        return files[0].case_id if files else None

    def run(self, req: Request, inbound: Inbound, desk: Desk | None = None) -> str | None:
        """Run one understood request, reading and acting through the room's desk."""
        desk = desk or self.desk_of(inbound)
        reader, lifecycle = desk.reader, desk.lifecycle
        verb, args = req.command, list(req.args)
        who = inbound.person_email or inbound.person_id
        if verb == "help":
            return HELP if desk.tenants is None else tenant_help()
        if verb in SOC_WIDE and desk.tenants is not None:
            raise CommandError(desk.scope.soc_wide(verb))
        if verb in SMALL_TALK_ANSWERS:
            return SMALL_TALK_ANSWERS[verb]
        if verb == "talked":
            does, said = PLAINLY.get(args[0] if args else "", ("change something", "`help`"))
            return (
                f"I changed nothing: that reads as talk about `{args[0] if args else 'a command'}`, not a "
                f"request. To {does}, say it plainly, on its own: {said}."
            )
        if verb in ("explain", "case", "more"):
            if req.candidates:
                return reader.clarify(req)
            if req.subject is None:
                raise CommandError(reader.unplaced(req.text))
            if verb == "case":
                if req.subject.kind != "case" and len(req.subject.case_ids) > 1:
                    return reader.which_case(req.subject)
                if req.subject.kind == "case":
                    return reader.case(req.subject.value)
                return "\n".join([*taken(req.subject), reader.case(req.subject.case_ids[0])])
            if verb == "more":
                return reader.record(req.subject, args)
            return reader.explain(req.subject, req.text)
        if verb == "status":
            return reader.status()
        if verb == "pending":
            return reader.pending(inbound.person_email, mine=bool(args))
        if verb == "cases":
            return self.glance(req.text, desk)
        if verb == "oncall":
            # `oncall wizard` names a duty that is not one; "who has the pager?" names none
            asked = _word(req.text.split()[0]) not in ("oncall", "on-call") if req.text else False
            return reader.oncall(" ".join(args) or None, strict=not asked)
        if verb == "close" and len(args) >= 2:
            return lifecycle.close(args[0], args[1], " ".join(args[2:]), who, inbound.key)
        if verb == "close":
            # "can you close it", "please close this case": the label (and the case) are asked for
            if not args:
                return CLOSE_WHICH
            return lifecycle.closing(args[0], threaded=args[0] == self.thread_case(inbound))
        if verb == "reopen" and args:
            return lifecycle.reopen(args[0], " ".join(args[1:]), who, inbound.key)
        if verb == "assign" and len(args) >= 1:
            return lifecycle.assign(args[0], args[1:], inbound, who)
        if verb in ("ack", "takeover"):
            return self._ack(args, inbound, desk, takeover=verb == "takeover")
        if verb == "done" and args:
            return lifecycle.done(args[0], " ".join(args[1:]), who, inbound.key)
        if verb == "pause" and len(args) > 1 and args[0].lower() == "all":
            # "pause all notifications": "all" says of what; the kill switch for everything is asked
            # for alone or with its reason set apart ("pause all", "pause all: storm", "pause all - x")
            raise CommandError(PAUSE_ALL)
        if verb in ("pause", "resume") and args:
            return lifecycle.control(args[0], " ".join(args[1:]), who, inbound.key, pause=verb == "pause")
        if verb in ("approve", "reject", "deny") and args:
            return lifecycle.approve_hint(args[0])
        if inbound.kind == "message" and inbound.parent_id:
            # in a thread of a busy space: "interesting", "hmm ok" get one line, a question a pointer
            return UNCLEAR_QUESTION if is_question(req.text) else UNCLEAR
        return f"I did not understand that.\n\n{HELP}"

    def _ack(self, args: Sequence[str], inbound: Inbound, desk: Desk, *, takeover: bool) -> str | None:
        """Take a review (a review card's Acknowledge, or ``ack`` typed): the card is edited to say who
        holds it. Typed, it needs a review that waits on a person, and it is answered in one line."""
        if not args:
            return ACK_WHICH
        case_id, memory = args[0], desk.view
        who = inbound.person_email or inbound.person_id
        if inbound.kind == "message":
            rec = memory.case(case_id)
            if rec is None and memory.action(case_id) is not None:
                shown = code(case_id, 80)
                return (
                    f"`{shown}` is an action, not a review: its approval is decided in the gate "
                    f"(`approve {shown}` gives the link); `done {shown}` records that you carried it out."
                )
            waits = rec is not None and rec.review is not None and rec.review.open
            if rec is not None and not waits and closure(rec) is None:  # a closed case: said below
                return (
                    f"Nothing to acknowledge on **{code(case_id, 120)}**: no review of it waits on a person "
                    "(`assign CASE @person` hands a case to someone, `pending` lists what waits)."
                )
        said = desk.lifecycle.ack(case_id, who, inbound.key, inbound.message_id, takeover=takeover)
        if said is None and inbound.kind == "message":
            return f"You hold the review of **{code(case_id, 120)}** now; its card says so."
        return said


def tenant_help() -> str:
    """:data:`HELP` as a room bound to tenants sees it: without the SOC-wide commands."""
    return "\n".join(line for line in HELP.splitlines() if not line.startswith(SOC_WIDE_HELP))
