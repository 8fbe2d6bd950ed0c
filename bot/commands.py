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
from typing import Any

from aisoc.bus import Bus
from aisoc.health import status
from aisoc.memory import CaseState, Memory, Statement, UnknownCase
from aisoc.memory.statements import WITH_REASON, leads
from bot.directory import Directory
from bot.errors import CommandError
from bot.inbound import Inbound
from bot.lifecycle import Lifecycle
from bot.settings import BotSettings
from bot.store import BotStore
from bot.webex import Space
from cards import MAX_TEXT_BYTES
from cards.text import clean, utf8_clip, when
from gate.errors import RosterError

log = logging.getLogger(__name__)

HELP = """**What I can do** (type it, or mention me first in a group space)
- `explain CASE` or `explain HOST` — why the team did what it did, from the recorded trace only
- `why did it contain HOST?` — the same, in plain words
- `case CASE` — the case's path so far and what is still open
- `status` — roles alive, lag, pending, dead letters, my outbox
- `oncall [ROLE]` — who is on call (ir_lead, tier2, soc_manager ...)
- `close CASE tp|fp|benign [reason]` — close it and record the ground truth
- `reopen CASE [reason]` — ask Tier 2 On-Call to look again
- `assign CASE @person` — hand the case to someone
- `done ACTION [note]` — you carried out an approved action in your own console
- `pause ROLE|proposals|all [reason]` — the kill switch; `resume ...` (SOC Manager / IR Lead On-Call)
- `help` — this

Approvals are never decided in chat: the card's Approve button opens the gate, where you confirm
in two steps."""
"""The answer to ``help`` and to anything the bot does not understand."""

CARD_COMMANDS = frozenset({"explain", "ack"})
"""What a card submit may ask for (anything else on a submit is ignored): no approvals, no closing."""
_WHY = re.compile(r"^\s*why\b", re.IGNORECASE)
_HOSTISH = re.compile(r"[\w.\-\\$]+")
_FILLER = frozenset({"host", "the", "machine", "box", "server", "endpoint", "it", "that", "this"})


def code_block(text: str, limit: int = 5500) -> str:
    """Untrusted multi-line text as an inert markdown code block (redacted, no mentions or fences)."""
    safe = clean(text, limit).replace("```", "'''")
    return f"```\n{safe}\n```"


def fit(markdown: str) -> str:
    """Cut an answer to Webex's 7,439-byte message limit."""
    return utf8_clip(markdown, MAX_TEXT_BYTES)


def md_line(s: Statement) -> str:
    """One statement as a line of an answer: who, what, and its reason (cleaned, one line)."""
    why = f" — {clean(s.detail, 160, oneline=True)}" if s.detail and s.kind in WITH_REASON else ""
    return f"{clean(s.actor, 120, oneline=True)}: {clean(s.brief, 300, oneline=True)}{why}"


class Commands:
    """The command handler the receiver calls (``commands(inbound) -> message body``).

    Args:
        settings: the bot's settings (time zone, state directory).
        bus: the bus (audit log, health, publishing).
        directory: roster, links and the gate.
        store: the outbox (status shows it).
        space: to look up mentioned people.
        memory: builds the case memory on first use (explain).
    """

    def __init__(
        self,
        settings: BotSettings,
        bus: Bus,
        directory: Directory,
        store: BotStore,
        space: Space,
        memory: Callable[[], Memory],
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.directory = directory
        self.store = store
        self.space = space
        self._memory_factory = memory
        self._memory: Memory | None = None
        self.lifecycle = Lifecycle(bus, directory, space, store)

    @property
    def memory(self) -> Memory:
        """The case memory (built on first use)."""
        if self._memory is None:
            self._memory = self._memory_factory()
        return self._memory

    def __call__(self, inbound: Inbound) -> dict[str, Any] | None:
        """Answer one inbound; never raises."""
        try:
            if inbound.kind == "action":
                cmd = str(inbound.inputs.get("cmd") or "")
                if cmd not in CARD_COMMANDS:
                    log.warning("card submit %s with unknown cmd %r ignored", inbound.id, cmd)
                    return None
                words = [cmd, str(inbound.inputs.get("case_id") or "")]
            else:
                words = self.words(inbound.text)
            answer = self.run(words, inbound)
        except CommandError as e:
            answer = f"⚠️ {e}"
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("command %r failed (ref %s)", inbound.text[:200], ref)
            answer = f"Sorry, that failed inside the bot (ref `{ref}`, logged). `help` lists what I can do."
        return None if answer is None else {"markdown": fit(answer)}

    def words(self, text: str) -> list[str]:
        """The command's words, without the bot's name in front (how group spaces address it)."""
        text = text.strip()
        names = {self.settings.bot_name.lower(), str(self.space.me().get("displayName") or "").lower()}
        for name in sorted((n for n in names if n), key=len, reverse=True):
            for prefix in (f"@{name}", name):
                if text.lower().startswith(prefix):
                    text = text[len(prefix) :].lstrip(" ,:")
                    break
        return text.lstrip("/").split()

    def run(self, words: Sequence[str], inbound: Inbound) -> str | None:
        """Dispatch one parsed command."""
        if not words:
            return HELP
        verb, args = words[0].lower(), list(words[1:])
        if _WHY.match(" ".join(words)):
            return self.why(args)
        who = inbound.person_email or inbound.person_id
        if verb == "help":
            return HELP
        if verb == "explain" and args:
            return self.explain(args[0])
        if verb == "case" and args:
            return self.case(args[0])
        if verb == "status":
            return self.status()
        if verb == "oncall":
            return self.oncall(" ".join(args) or None)
        if verb == "close" and len(args) >= 2:
            return self.lifecycle.close(args[0], args[1], " ".join(args[2:]), who, inbound.id)
        if verb == "reopen" and args:
            return self.lifecycle.reopen(args[0], " ".join(args[1:]), who, inbound.id)
        if verb == "assign" and len(args) >= 1:
            return self.lifecycle.assign(args[0], args[1:], inbound, who)
        if verb == "ack" and args:
            return self.lifecycle.ack(args[0], who, inbound.id)
        if verb == "done" and args:
            return self.lifecycle.done(args[0], " ".join(args[1:]), who, inbound.id)
        if verb in ("pause", "resume") and args:
            return self.lifecycle.control(args[0], " ".join(args[1:]), who, inbound.id, pause=verb == "pause")
        if verb in ("approve", "reject", "deny") and args:
            return self.lifecycle.approve_hint(args[0])
        return f"I did not understand that.\n\n{HELP}"

    # --- reading the record -----------------------------------------------------------------------

    def explain(self, subject: str) -> str:
        """Why the team did what it did on a case, or to a host, from the recorded trace only."""
        try:
            if self.memory.case_file(subject) is not None:
                expl = self.memory.explain(subject)
            else:
                expl = self.memory.explain_host(subject)
        except UnknownCase as e:
            raise CommandError(
                f"Nothing is recorded about `{clean(subject, 120, oneline=True)}`: not a case id, and no "
                "case touched a host by that name."
            ) from e
        head = f"**Why: {clean(subject, 200, oneline=True)}** — from the recorded trace and decisions only"
        if expl.narrative is not None or not expl.answer:
            return f"{head}\n{code_block(expl.text())}"
        shown = "\n".join(f"- {s.render()}" for s in expl.answer)
        more = len(expl.statements) - len(expl.answer)
        tail = (
            f"\n{more} more recorded statement(s): `aisoc explain {clean(subject, 200, oneline=True)}`"
            if more > 0
            else ""
        )
        return f"{head}\n{code_block(shown)}{tail}"

    def why(self, args: Sequence[str]) -> str:
        """ "why did it contain HOST?": the last host-like word is the subject."""
        words = [w.strip("?!.,'\"`") for w in args]
        candidates = [w for w in words if w and w.lower() not in _FILLER and _HOSTISH.fullmatch(w)]
        if not candidates:
            raise CommandError("Ask about a host or a case: `why did it contain WS-042?` or `explain CASE`.")
        return self.explain(candidates[-1])

    def case(self, case_id: str) -> str:
        """A case's path so far and what is open."""
        file = self.memory.case_file(case_id)
        if file is None:
            raise CommandError(f"No case `{clean(case_id, 120, oneline=True)}` is recorded.")
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
            duties = [roster.resolve_duty(role)] if role else roster.duties()
        except RosterError as e:
            raise CommandError(str(e)) from e
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
