"""The answers that read the record: explain, the full record, a case's path, what is pending, the
SOC's status and who is on call.

Every answer comes from the record only (memory's case files, the roster, the bus's health) and is
markdown that fits one Webex message. A question whose subject is unclear gets a short question back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rapidfuzz import fuzz, process

from aisoc.bus import Bus
from aisoc.events import Role, duty_title
from aisoc.health import status
from aisoc.memory import CaseFile, CaseState
from aisoc.memory.casefile import ActionState
from aisoc.memory.statements import TRACE_KINDS, leads
from aisoc.runtime.control import Controls
from bot.answer import CASES_SHOWN, Phraser, case_headline, headline, newest_first, phrase, reasons, render
from bot.catalog import Subject, target_kind
from bot.directory import Directory
from bot.errors import CommandError
from bot.hosts import description
from bot.markup import MORE_HINT, code, code_block, fit_answer, md_line
from bot.names import unknown_name
from bot.scope import CaseView
from bot.settings import BotSettings
from bot.store import BotStore
from bot.understand import Request, acted_kinds, pointed_kinds
from cards.text import clean, when
from gate.errors import RosterError
from gate.roster import Roster, duty_key

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


def taken(subject: Subject) -> list[str]:
    """The line that says which host a question named by its address or described was taken as
    (then a blank line), or nothing."""
    host = clean(subject.value, 160, oneline=True)
    if subject.via_kind == "address":
        return [f"`{code(subject.via, 60)}` is the address on record of host **{host}**.", ""]
    if subject.via_kind == "description":
        said = clean(subject.via, 120, oneline=True)
        return [f"By *{said}* I take host **{host}**: the only host on record whose name fits.", ""]
    return []


def shown_files(memory: CaseView, subject: Subject) -> list[CaseFile]:
    """The case files an answer about a host, an address or a user shows, in the order shown: the
    subject's own order when it puts the case that acted on it first, else newest first."""
    files = [f for c in subject.case_ids[:CASES_SHOWN] if (f := memory.case_file(c)) is not None]
    return files if subject.acted_first else newest_first(files)


def _about(a: ActionState, subject: Subject) -> bool:
    """Whether an action is what the subject names (its target, or the action itself)."""
    value = subject.value.lower()
    return a.action_id.lower() == value or a.action.target.lower() == value


class Reader:
    """The reading answers, over the record.

    Args:
        settings: the bot's settings (time zone, case links).
        bus: the bus (health).
        directory: roster and approvers.
        store: the outbox (status shows it).
        memory: the case memory (built by the caller on first use).
        phraser: a model that may phrase answers (kept only when its citations check out), or None.
    """

    def __init__(
        self,
        settings: BotSettings,
        bus: Bus,
        directory: Directory,
        store: BotStore,
        memory: Callable[[], CaseView],
        *,
        phraser: Phraser | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.directory = directory
        self.store = store
        self._memory = memory
        self.phraser = phraser

    @property
    def memory(self) -> CaseView:
        """The case memory."""
        return self._memory()

    def clarify(self, req: Request) -> str:
        """A short question back: which of these did you mean?"""
        said = {c.via for c in req.candidates}
        described = len(said) == 1 and all(c.via_kind == "description" for c in req.candidates)
        lines = [
            f"Which host do you mean by *{clean(said.pop(), 120, oneline=True)}*? Several fit:"
            if described
            else "Which one do you mean?"
        ]
        for c in req.candidates:
            n = len(c.case_ids)
            where = f" — {n} cases" if n > 1 and c.kind != "case" else ""
            lines.append(f"- {clean(c.label(), 200, oneline=True)}{where}")
        lines.append("Ask again with that name, or inside the case's thread.")
        return "\n".join(lines)

    def which_case(self, subject: Subject) -> str:
        """A host's, IP's or user's cases to pick from, newest first: a case's status is one case's."""
        lines = [
            *taken(subject),
            f"{clean(subject.label(), 160, oneline=True)} is in {len(subject.case_ids)} cases; which one?",
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
                f"Nothing is recorded about `{code(named, 120)}`: no case, host, IP, user "
                "or action by that name."
            )
        said = description(text)
        if said is not None:
            return (
                f"No host on record fits *{clean(said[0], 120, oneline=True)}*: ask about it by its name "
                "or address (for example *why did it contain WS-042?*), or inside the case's thread."
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
        asked = self.directory.person(a.asked) if a.asked else None  # reminded: asked by email
        held = self.directory.approver(a.duty)
        name = asked.name if asked is not None else a.asked or (held.name if held else None)
        title = self.directory.roster.title(a.duty) if self.directory.roster.duties() else duty_title(a.duty)
        return f"{title} ({clean(name, 120, oneline=True)})" if name else title

    def explain(self, subject: Subject, asked: str = "") -> str:
        """What happened to the subject and where it stands, then why — from the record only.

        Args:
            subject: what the question is about.
            asked: the question: a case's actions of the kind it asks about lead ("is it contained
                yet?" opens with the isolation).
        """
        tz = self.settings_tz()
        if subject.kind == "case":
            file = self.memory.case_file(subject.value)
            if file is None:
                raise CommandError(f"Nothing is recorded about `{code(subject.value, 120)}`.")
            acted = acted_kinds(asked)
            actions = sorted(file.actions(), key=lambda a: target_kind(a.action.kind) not in acted)
            heads = [headline(a, tz, self.waiting_on(a)) for a in actions] or [case_headline(file, tz)]
            lines = reasons(file)
            title = clean(subject.title or subject.value, 160, oneline=True)
            body = render(heads, lines, tz, self.link, phrase(lines, self.phraser))
            return fit_answer(f"**{title}** · `{code(subject.value, 120)}`\n\n{body}", MORE_HINT)
        shown = shown_files(self.memory, subject)
        order = "the one that acted on it first" if subject.acted_first else "newest first"
        parts = [
            *taken(subject),
            f"**{clean(subject.label(), 160, oneline=True)}** — {len(subject.case_ids)} case(s), {order}",
        ]
        for file in shown:
            acts = [a for a in file.actions() if _about(a, subject)]
            heads = [headline(a, tz, self.waiting_on(a)) for a in acts] or [case_headline(file, tz)]
            title = clean(file.alert.title if file.alert else file.case_id, 160, oneline=True)
            parts.append(f"\n**{title}** · `{code(file.case_id, 120)}`\n")
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
            raise CommandError(f"Nothing is recorded about `{code(case_id, 120)}`.")
        page = next((int(a) for a in args if a.isdigit()), 1)
        said = [s for s in file.statements() if s.kind not in TRACE_KINDS or s.kind == "precedent"]
        start = (max(page, 1) - 1) * RECORD_PAGE
        chunk = said[start : start + RECORD_PAGE]
        if not chunk:
            raise CommandError(f"The record of `{code(case_id, 120)}` has no page {page}.")
        tz = self.settings_tz()
        lines = [f"**Record of `{code(case_id, 120)}`** (page {page})"]
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
                aid = code(a.action_id, 80)
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
        cid = code(case_id, 120)
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
            raise CommandError(f"No case `{code(case_id, 120)}` is recorded.")
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
        controls = Controls(self.bus)  # the bus's kill switch (a worker's own `paused` setting is its own)
        controls.refresh(force=True)
        for scope, why in sorted(controls.described().items()):
            lines.append(f"paused: {scope} by {why['by']} at {why['at']}: {why['reason'] or 'no reason'}")
        lines.append(
            f"bot outbox: {counts.get('queued', 0)} queued, {counts.get('sent', 0)} sent, "
            f"{counts.get('dead', 0)} given up"
        )
        return "**SOC status**\n" + code_block("\n".join(lines))

    def oncall(self, role: str | None, *, strict: bool = True) -> str:
        """Who holds each duty now (names only: asking who is on call notifies nobody); ``strict``:
        words that name no duty are said so (``oncall wizard``), else they are the question's own
        ("who has the pager?") and every duty is listed."""
        roster = self.directory.roster
        try:
            named = duty_named(roster, role.split()) if role else None
        except RosterError as e:
            if strict:
                raise CommandError(str(e)) from e
            named = None
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
