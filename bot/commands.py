"""Chat commands: parsing, help, and the answers that read the record (explain, case, status, oncall).

Every answer is markdown that fits one Webex message. Untrusted text (alerts, model output, people's
reasons) is cleaned the way cards clean it: secrets redacted, links and mentions made inert. A command
that fails for an expected reason answers why; anything else answers that it failed and is logged —
never a stack trace. Approvals are never decided here: ``approve`` answers with the gate's link.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from rapidfuzz import fuzz, process

from aisoc.bus import Bus
from aisoc.events import Role, duty_title
from aisoc.health import status
from aisoc.memory import CaseState, Memory, Statement
from aisoc.memory.casefile import ActionState, ActionStatus
from aisoc.memory.statements import TRACE_KINDS, WITH_REASON, leads
from bot.answer import CASES_SHOWN, Phraser, case_headline, headline, newest_first, phrase, reasons, render
from bot.directory import Directory
from bot.errors import CommandError
from bot.inbound import ABOUT, Inbound
from bot.lifecycle import LABELS, Lifecycle
from bot.settings import BotSettings
from bot.store import BotStore
from bot.understand import (
    READ_ONLY,
    Catalog,
    Request,
    Subject,
    acted_kinds,
    pointed_kinds,
    quoted_lines,
    strip_mentions,
    understand,
    unknown_name,
)
from bot.webex import Space
from cards import MAX_TEXT_BYTES
from cards.text import clean, utf8_clip, when
from gate.errors import RosterError
from gate.roster import Roster, duty_key

log = logging.getLogger(__name__)

HELP = """**What I can do** — ask in plain words (mention me in a group space); in a case's thread I
know which case you mean.
- *why did it contain WS-042?*, *explain the Shellshock case*, *what happened here?* — what was done
  and why, from the recorded trace and decisions only (`more` in the thread: the full record)
- `case CASE` — the case's path so far and what is still open
- *anything pending for me?*, `pending` — approvals, reviews and approved actions that wait on
  someone (on you first)
- `status` — roles alive, lag, pending, dead letters, my outbox
- `oncall [ROLE]` — who is on call (ir_lead, tier2, soc_manager ...)
- `close CASE tp|fp|benign [reason]` — close it and record the ground truth
- `reopen CASE [reason]` — ask Tier 2 On-Call to look again
- `assign CASE @person` — hand the case to someone
- `done ACTION [note]` — you carried out an approved action in your own console
- `pause ROLE|proposals|all [reason]` — the kill switch; `resume ...` (SOC Manager / IR Lead On-Call)
- `help` — this

In a case's thread, `close tp`, `reopen` and `assign @person` need no case id. Approvals are never
decided in chat: the card's Approve button opens the gate, where you confirm in two steps."""
"""The answer to ``help`` and to anything the bot does not understand."""

CARD_COMMANDS = frozenset({"explain", "ack", "takeover", "more"})
"""What a card submit may ask for (anything else on a submit is ignored): no approvals, no closing."""
_THREADED = frozenset({"close", "reopen", "assign"})
"""Grammar commands whose case a thread supplies when the words do not name one."""
Router = Callable[[str], str | None]
"""A model that names the read-only command a sentence asks for (``explain``, ``case``, ``status``,
``oncall``, ``help``) or None; it can never decide, close or approve."""
_ACTION_ON = {
    "host": "contain or isolate a host",
    "indicator": "block an address or another indicator",
    "user": "disable or reset an account",
}
"""What "that host", "that IP", "that user" would have needed, when no such action is recorded."""
MAX_CASES_LISTED = 5
"""Cases listed when a status question names a host or an IP that several cases hold."""
PENDING_SHOWN = 10
"""Items listed per group of a ``pending`` answer (the rest are counted)."""
RECORD_PAGE = 40
"""Statements per page of ``more``."""


def _code(value: object, limit: int) -> str:
    """Untrusted text for an inline code span: cleaned, its backticks made quotes (they would end the
    span and let the rest render as markdown)."""
    return clean(value, limit, oneline=True).replace("`", "'")


def code_block(text: str, limit: int = 5500) -> str:
    """Untrusted multi-line text as an inert markdown code block (redacted, no mentions or fences)."""
    safe = clean(text, limit).replace("```", "'''")
    return f"```\n{safe}\n```"


def fit(markdown: str, limit: int = MAX_TEXT_BYTES) -> str:
    """Cut an answer to Webex's 7,439-byte message limit, keeping its markdown well-formed: a code
    block cut open is closed again (whatever the text's characters)."""
    if len(markdown.encode("utf-8")) <= limit:
        return markdown
    close = "\n```"
    cut = utf8_clip(markdown, limit - len(close.encode("utf-8")))
    return cut + close if cut.count("```") % 2 else cut


MORE_HINT = "Reply `more` in this thread for the full record."
"""How an answer offers the rest (a follow-up in Webex, never a CLI)."""


def fit_answer(body: str, tail: str, limit: int = MAX_TEXT_BYTES) -> str:
    """``body`` then ``tail``, whole lines dropped from the end of the body until both fit one message."""
    lines = body.split("\n")
    size = len(tail.encode("utf-8")) + 1
    kept: list[str] = []
    for line in lines:
        n = len(line.encode("utf-8")) + 1
        if size + n > limit:
            if not kept:
                kept.append(fit(line, limit - size))
            kept.append("…")
            break
        kept.append(line)
        size += n
    return "\n".join(kept) + "\n\n" + tail


def _about(a: ActionState, subject: Subject) -> bool:
    """Whether an action is what the subject names (its target, or the action itself)."""
    value = subject.value.lower()
    return a.action_id.lower() == value or a.action.target.lower() == value


def md_line(s: Statement) -> str:
    """One statement as a line of an answer: who, what, and its reason (cleaned, one line)."""
    why = f" — {clean(s.detail, 160, oneline=True)}" if s.detail and s.kind in WITH_REASON else ""
    return f"{clean(s.actor, 120, oneline=True)}: {clean(s.brief, 300, oneline=True)}{why}"


CLOSE_FILLER = frozenset({"it", "this", "that", "the", "case", "incident", "alert", "one", "as", "a", "an"})
"""Words people put between ``close`` and its label ("close it as fp", "close this case fp")."""


def close_words(args: Sequence[str]) -> tuple[str, ...]:
    """``close``'s words without the filler before the label: "close it as fp scanner" is
    ``close fp scanner`` (the reason after the label is kept as said)."""
    out: list[str] = []
    labelled = False
    for word in args:
        if not labelled and word.lower() in CLOSE_FILLER:
            continue
        labelled = labelled or word.lower().strip(".,;:!") in LABELS
        out.append(word)
    return tuple(out)


_IDLIKE = re.compile(r"[\d_:\-]")
_QUOTED = re.compile(r"^\s*>")


def split_quote(text: str, quotes: frozenset[str] = frozenset()) -> tuple[str, str]:
    """A message's own words and the lines it quotes (``> ...`` in its text, or ``quotes``: the lines
    of its html's ``<blockquote>``), each folded to one line: the quote is context, never the question."""
    own: list[str] = []
    quoted: list[str] = []
    for line in text.splitlines():
        if _QUOTED.match(line):
            quoted.append(line.lstrip(" >"))
        elif quotes and " ".join(line.split()) in quotes:
            quoted.append(line)
        else:
            own.append(line)
    return " ".join(" ".join(own).split()), " ".join(" ".join(quoted).split())


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
    ) -> None:
        self.phraser = phraser
        self.router = router
        self.settings = settings
        self.bus = bus
        self.directory = directory
        self.store = store
        self.space = space
        self._memory_factory = memory
        self._memory: Memory | None = None
        self.lifecycle = Lifecycle(bus, directory, space, store, lambda: self.memory)

    @property
    def memory(self) -> Memory:
        """The case memory (built on first use)."""
        if self._memory is None:
            self._memory = self._memory_factory()
        return self._memory

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

    def text(self, inbound: Inbound) -> str:
        """The message without the bot's mention, wherever it stands."""
        me = self.space.me()
        shown = str(me.get("displayName") or "")
        names = {self.settings.bot_name, shown, shown.split(" ")[0] if " " in shown else ""}
        return strip_mentions(inbound.text, inbound.html, str(me.get("id") or ""), names)

    def request(self, inbound: Inbound) -> Request:
        """What one message or card submit asks for."""
        here = self.thread_case(inbound)
        if inbound.kind == "action":
            cmd = str(inbound.inputs.get("cmd") or "")
            case_id = str(inbound.inputs.get("case_id") or "") or here
            rec = self.memory.case(case_id) if case_id else None
            title = rec.alert.title if rec is not None and rec.alert else ""
            sub = Subject("case", case_id, (case_id,), title) if rec is not None and case_id else None
            if cmd in ("explain", "more") and sub is None:
                raise CommandError(f"Nothing is recorded about `{_code(case_id or '', 120)}`.")
            return Request(cmd, (case_id,) if case_id else (), sub)
        text, quoted = split_quote(self.text(inbound), quoted_lines(inbound.html))
        # Questions in the thread of an earlier answer are about that answer's case; commands that
        # change something take a case from the words or from a case's own thread only.
        about = here or self.conversation_case(inbound)
        req = understand(text, Catalog(self.memory), about, quoted)
        if req.command == "close":
            req = replace(req, args=close_words(req.args))
        if req.command == "done" and here:
            req = replace(req, args=self._done_words(here, req.args))
        if req.command in _THREADED and here and not self._names_case(req.args):
            return Request(req.command, (here, *req.args), text=text)
        if req.command == "unknown" and self.router is not None:
            routed = self.router(text)
            if routed in READ_ONLY and routed not in ("more",):
                return (
                    understand(routed + " " + text, Catalog(self.memory), about)
                    if routed == "explain"
                    else Request(routed, ())
                )
        return req

    def _names_case(self, args: Sequence[str]) -> bool:
        return bool(args) and self.memory.case(args[0]) is not None

    def _done_words(self, case_id: str, args: tuple[str, ...]) -> tuple[str, ...]:
        """``done [note]`` in a case's thread: the case's one approved action when the words name none
        (with two or more, the person must say which)."""
        if args and (self.memory.action(args[0]) is not None or _IDLIKE.search(args[0])):
            return args  # an id, known or mistyped, is never swapped for another action
        file = self.memory.case_file(case_id)
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
        req = self.request(inbound)
        answer = self.run(req, inbound)
        return answer, self.answered_case(req) if answer is not None else None

    def answered_case(self, req: Request) -> str | None:
        """The case an answer to ``req`` is about (None for a question back, a list, a command)."""
        sub = req.subject
        if req.command not in ("explain", "case", "more") or sub is None or req.candidates:
            return None
        if sub.kind == "case":
            return sub.value
        if req.command == "case" and len(sub.case_ids) > 1:
            return None  # answered with the cases to pick from
        files = [f for c in sub.case_ids[:CASES_SHOWN] if (f := self.memory.case_file(c)) is not None]
        return newest_first(files)[0].case_id if files else None

    def run(self, req: Request, inbound: Inbound) -> str | None:
        """Run one understood request."""
        verb, args = req.command, list(req.args)
        who = inbound.person_email or inbound.person_id
        if verb == "help":
            return HELP
        if verb in ("explain", "case", "more"):
            if req.candidates:
                return self.clarify(req)
            if req.subject is None:
                raise CommandError(self.unplaced(req.text))
            if verb == "case":
                if req.subject.kind != "case" and len(req.subject.case_ids) > 1:
                    return self.which_case(req.subject)
                return self.case(req.subject.case_ids[0] if req.subject.kind != "case" else req.subject.value)
            if verb == "more":
                return self.record(req.subject, args)
            return self.explain(req.subject)
        if verb == "status":
            return self.status()
        if verb == "pending":
            return self.pending(inbound.person_email, mine=bool(args))
        if verb == "oncall":
            return self.oncall(" ".join(args) or None)
        if verb == "close" and len(args) >= 2:
            return self.lifecycle.close(args[0], args[1], " ".join(args[2:]), who, inbound.id)
        if verb == "reopen" and args:
            return self.lifecycle.reopen(args[0], " ".join(args[1:]), who, inbound.id)
        if verb == "assign" and len(args) >= 1:
            return self.lifecycle.assign(args[0], args[1:], inbound, who)
        if verb == "ack" and args:
            return self.lifecycle.ack(args[0], who, inbound.id, inbound.message_id)
        if verb == "takeover" and args:
            return self.lifecycle.ack(args[0], who, inbound.id, inbound.message_id, takeover=True)
        if verb == "done" and args:
            return self.lifecycle.done(args[0], " ".join(args[1:]), who, inbound.id)
        if verb in ("pause", "resume") and args:
            return self.lifecycle.control(args[0], " ".join(args[1:]), who, inbound.id, pause=verb == "pause")
        if verb in ("approve", "reject", "deny") and args:
            return self.lifecycle.approve_hint(args[0])
        return f"I did not understand that.\n\n{HELP}"

    # --- reading the record -----------------------------------------------------------------------

    def clarify(self, req: Request) -> str:
        """A short question back: which of these did you mean?"""
        lines = ["Which one do you mean?"]
        for c in req.candidates:
            n = len(c.case_ids)
            where = f" — {n} cases" if n > 1 and c.kind != "case" else ""
            lines.append(f"- {clean(c.label(), 200, oneline=True)}{where}")
        lines.append("Ask again with that name, or inside the case's thread.")
        return "\n".join(lines)

    def which_case(self, subject: Subject) -> str:
        """A host's, IP's or user's cases to pick from, newest first: a case's status is one case's."""
        lines = [
            f"{clean(subject.label(), 160, oneline=True)} is in {len(subject.case_ids)} cases; which one?"
        ]
        lines += [f"- {self._title(c)}" for c in subject.case_ids[:MAX_CASES_LISTED]]
        if len(subject.case_ids) > MAX_CASES_LISTED:
            lines.append(f"- … {len(subject.case_ids) - MAX_CASES_LISTED} more")
        lines.append("Ask `case CASE` with one of them, or ask inside the case's thread.")
        return "\n".join(lines)

    def unplaced(self, text: str) -> str:
        """Why no subject was found: a name the record does not hold, or no name at all."""
        named = unknown_name(text)
        if named:
            return (
                f"Nothing is recorded about `{_code(named, 120)}`: no case, host, IP, user "
                "or action by that name."
            )
        pointed, acted = pointed_kinds(text), acted_kinds(text)
        if pointed and acted:
            # "why did it contain that host?" with no containment on record: say so, from the record.
            kinds = pointed & acted or pointed
            what = " or ".join(_ACTION_ON[k] for k in ("host", "indicator", "user") if k in kinds)
            return (
                f"No action to {what} is recorded, so none was carried out. Ask about a host, IP or "
                "case by name, or inside the case's thread."
            )
        return (
            "Which case, host, IP or user? For example *why did it contain WS-042?*, "
            "*explain the Shellshock case*, or ask inside the case's thread."
        )

    def link(self, case_id: str) -> str | None:
        """The case's link (``case_url``), for the answer's references."""
        return self.settings.case_link(case_id)

    def waiting_on(self, a: ActionState) -> str | None:
        """Who must act on an action now: the executors once approved, else the person asked."""
        if a.duty is None:
            return None
        if a.status.value == "approved":
            people = self.directory.roster.executors(a.duty) if self.directory.roster.duties() else []
            names = ", ".join(p.name for p in people) or (a.decided.by if a.decided and a.decided.by else "")
            return clean(names, 200, oneline=True) or None
        asked = a.asked
        held = self.directory.approver(a.duty)
        name = asked or (held.name if held else None)
        title = self.directory.roster.title(a.duty) if self.directory.roster.duties() else duty_title(a.duty)
        return f"{title} ({clean(name, 120, oneline=True)})" if name else title

    def explain(self, subject: Subject) -> str:
        """What happened to the subject and where it stands, then why — from the record only."""
        tz = self.settings_tz()
        if subject.kind == "case":
            file = self.memory.case_file(subject.value)
            if file is None:
                raise CommandError(f"Nothing is recorded about `{_code(subject.value, 120)}`.")
            heads = [headline(a, tz, self.waiting_on(a)) for a in file.actions()] or [case_headline(file, tz)]
            lines = reasons(file)
            title = clean(subject.title or subject.value, 160, oneline=True)
            body = render(heads, lines, tz, self.link, phrase(lines, self.phraser))
            return fit_answer(f"**{title}** · `{_code(subject.value, 120)}`\n\n{body}", MORE_HINT)
        shown = [f for c in subject.case_ids[:CASES_SHOWN] if (f := self.memory.case_file(c)) is not None]
        parts = [
            f"**{clean(subject.label(), 160, oneline=True)}** — {len(subject.case_ids)} case(s), newest first"
        ]
        for file in newest_first(shown):
            acts = [a for a in file.actions() if _about(a, subject)]
            heads = [headline(a, tz, self.waiting_on(a)) for a in acts] or [case_headline(file, tz)]
            title = clean(file.alert.title if file.alert else file.case_id, 160, oneline=True)
            parts.append(f"\n**{title}** · `{_code(file.case_id, 120)}`\n")
            parts.append(render(heads, reasons(file, subject.value)[:4], tz, self.link))
        rest = len(subject.case_ids) - len(shown)
        if rest > 0:
            parts.append(f"\n{rest} older case(s) also name it: ask about one by its id.")
        return fit_answer("\n".join(parts), MORE_HINT)

    def record(self, subject: Subject, args: Sequence[str]) -> str:
        """The full record of a case (``more``, ``more 2`` ...), readable, a page at a time."""
        case_id = subject.value if subject.kind == "case" else subject.case_ids[0]
        file = self.memory.case_file(case_id)
        if file is None:
            raise CommandError(f"Nothing is recorded about `{_code(case_id, 120)}`.")
        page = next((int(a) for a in args if a.isdigit()), 1)
        said = [s for s in file.statements() if s.kind not in TRACE_KINDS or s.kind == "precedent"]
        start = (max(page, 1) - 1) * RECORD_PAGE
        chunk = said[start : start + RECORD_PAGE]
        if not chunk:
            raise CommandError(f"The record of `{_code(case_id, 120)}` has no page {page}.")
        tz = self.settings_tz()
        lines = [f"**Record of `{_code(case_id, 120)}`** (page {page})"]
        lines += [f"- {when(s.at, tz)} {md_line(s)}" for s in chunk]
        tail = (
            f"`more {page + 1}` for the next page."
            if start + RECORD_PAGE < len(said)
            else "End of the record."
        )
        return fit_answer("\n".join(lines), tail)

    def pending(self, email: str | None, *, mine: bool) -> str:
        """What waits on someone now, from the record: proposals awaiting a decision, approved actions
        nobody reported done, reviews asked for; what waits on the asker first."""
        tz = self.settings_tz()
        me = self.directory.person(email) if email else None
        mine_lines: list[str] = []
        others: list[str] = []
        for rec in self.memory.cases():
            for a in (self.memory.action(x) for x in rec.actions):
                if a is None or a.status.value not in ("awaiting", "approved"):
                    continue
                who = self._owners(a)
                title = self._title(rec.case_id)
                aid = _code(a.action_id, 80)
                what = clean(
                    f"{a.action.kind.replace('_', ' ')} {a.action.target}".strip(), 160, oneline=True
                )
                if a.awaiting:
                    until = f" until {when(a.deadline, tz)}" if a.deadline else ""
                    line = f"- decide *{what}* (`{aid}`) — {title} — {self.waiting_on(a)}{until}"
                else:
                    line = (
                        f"- carry out *{what}* (`{aid}`, approved) — {title} — "
                        f"{self.waiting_on(a) or 'whoever carries it out'}, then `done {aid}`"
                    )
                (mine_lines if me is not None and me.email.lower() in who else others).append(line)
            if rec.state == CaseState.AWAITING_HUMAN and rec.review is not None:
                duty = Role(rec.review.duty)
                held = self.directory.approver(duty)
                title = self._title(rec.case_id)
                name = f" ({clean(held.name, 120, oneline=True)})" if held else ""
                line = f"- review {title} — {self.directory.roster.title(duty)}{name}"
                is_mine = (
                    me is not None and held is not None and (held.email or "").lower() == me.email.lower()
                )
                (mine_lines if is_mine else others).append(line)
        shown = PENDING_SHOWN
        lines: list[str] = []
        if me is not None or mine:
            lines.append("**Waiting on you**" if mine_lines else "**Nothing is waiting on you.**")
            lines += mine_lines[:shown] + (
                [f"- … {len(mine_lines) - shown} more"] if len(mine_lines) > shown else []
            )
        if others or not lines:
            lines.append("**Waiting on others**" if lines else "**Waiting**")
            lines += others[:shown] or ["- nothing: no approval, review or approved action is open."]
            if len(others) > shown:
                lines.append(f"- … {len(others) - shown} more")
        return "\n".join(lines)

    def _title(self, case_id: str) -> str:
        rec = self.memory.case(case_id)
        title = rec.alert.title if rec is not None and rec.alert is not None else ""
        cid = _code(case_id, 120)
        return f"{clean(title, 120, oneline=True)} · `{cid}`" if title else f"`{cid}`"

    def _owners(self, a: ActionState) -> set[str]:
        """The emails of who must act on an action now (the person asked or on call; once approved,
        its executors, else its approver)."""
        roster = self.directory.roster
        if a.duty is None:
            return set()
        if a.status.value == "approved":
            people = roster.executors(a.duty) if roster.duties() else []
            found = [p.email for p in people] or [a.decided.by if a.decided and a.decided.by else ""]
        else:
            held = self.directory.approver(a.duty)
            found = [a.asked or (held.email if held else None) or ""]
        out: set[str] = set()
        for f in found:
            person = self.directory.person(f)
            out.add((person.email if person is not None else f).lower())
        return out - {""}

    def case(self, case_id: str) -> str:
        """A case's path so far and what is open."""
        file = self.memory.case_file(case_id)
        if file is None:
            raise CommandError(f"No case `{_code(case_id, 120)}` is recorded.")
        alert = file.alert
        title = clean(alert.title if alert else "", 200, oneline=True)
        hosts = f" [{clean(', '.join(alert.hosts[:3]), 120, oneline=True)}]" if alert and alert.hosts else ""
        closed = file.record.closed
        state = (
            f"closed as {closed.disposition} by {clean(closed.person or closed.role, 120, oneline=True)}"
            if closed is not None and file.state == CaseState.CLOSED
            else f"open ({file.state.value.replace('_', ' ')})"
        )
        lines = [f"**Case {clean(case_id, 200, oneline=True)}** — {title}{hosts}", f"State: {state}"]
        actions = file.actions()
        if actions:
            waiting = sum(1 for a in actions if a.awaiting)
            lines.append(f"Approvals: {waiting} waiting, {len(actions) - waiting} decided")
        lines += [f"- {md_line(s)}" for s in leads(file.statements()) if s.kind != "alert"]
        return "\n".join(lines)

    def status(self) -> str:
        """Roles alive, lag, pending, dead letters, and the bot's outbox."""
        counts = self.store.counts()
        lines = status(self.bus).lines()
        lines.append(
            f"bot outbox: {counts.get('queued', 0)} queued, {counts.get('sent', 0)} sent, "
            f"{counts.get('dead', 0)} given up"
        )
        return "**SOC status**\n" + code_block("\n".join(lines))

    def oncall(self, role: str | None) -> str:
        """Who holds each duty now (names only: asking who is on call notifies nobody)."""
        roster = self.directory.roster
        try:
            named = duty_named(roster, role.split()) if role else None
        except RosterError as e:
            raise CommandError(str(e)) from e
        duties = [named] if named else roster.duties()
        if not duties:
            return "No on-call roster is configured (`[roster]` in aisoc.toml)."
        lines = ["**On call now**"]
        for duty in duties:
            held = roster.on_call(duty)
            if held is None:
                lines.append(f"- {roster.title(duty)}: nobody")
                continue
            until = f" until {when(held.until, self.settings_tz())}" if held.until else ""
            lines.append(f"- {roster.title(duty)}: {clean(held.person.name, 120, oneline=True)}{until}")
        return "\n".join(lines)

    def settings_tz(self) -> Any:
        """The display time zone."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.settings.timezone)


DUTY_FUZZY = 85.0
"""Smallest rapidfuzz ratio for a misspelt duty ("ir_led", "tier 2 oncal")."""


def duty_named(roster: Roster, words: Sequence[str]) -> Role | None:
    """The duty named somewhere in ``words`` ("IR lead", "tier2 please"), spelt exactly or nearly;
    None when there are no words (the question's filler words are already gone: "right now").

    Raises:
        RosterError: the words name no duty; the message lists the duties.
    """
    spans = [" ".join(words[i : i + n]) for n in (3, 2, 1) for i in range(len(words) - n + 1)]
    names = roster.duty_names()
    for span in spans:
        if (role := names.get(duty_key(span))) is not None:
            return role
    for span in spans:
        found = process.extractOne(duty_key(span), list(names), scorer=fuzz.ratio, score_cutoff=DUTY_FUZZY)
        if found:
            return names[found[0]]
    if words:
        roster.resolve_duty(" ".join(words))  # raises, listing the duties
    return None
