"""Work that waits on a person is chased: approved actions not reported done, reviews not picked up,
and the shift handover.

The gate chases approvals (``action.reminded`` / ``action.escalated``). Once an action is approved,
or a review is asked for, the bot chases it the same way: a reminder to whoever must act, then up the
duty's escalation chain in the roster, one step per interval, until someone reports ``done`` or
acknowledges. Each step is a post whose id names the item and the step, so a sweep repeated (or run
by two bot processes) posts each step once. A shift summary is followed by a handover that mentions
the incoming on-call people and links each open approval.

A sweep reads only the cases that can need a nudge (:class:`Waiting`: an approved action not reported
done, a review not picked up), an index kept current from the audit log like the questions' catalog
(:class:`bot.follow.ByCase`), so its cost follows the work waiting and what changed since the last
sweep, not every case in memory. Like the SOC-wide catalog, the index is built in the background at
the bot's start (:meth:`Nudger.warm`), so no sweep on the feed's thread lists every case: a sweep
during that build waits for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from aisoc.bus import AuditLog
from aisoc.events import Event, Role, ShiftSummary
from aisoc.memory import CaseState, Memory
from aisoc.memory.records import ActionRecord, CaseRecord
from bot.directory import Directory
from bot.follow import ByCase, unbounded
from bot.scope import CaseView
from bot.settings import BotSettings
from bot.store import Plan, Post
from cards.text import clean, label
from gate.roster import Person

log = logging.getLogger(__name__)

HANDOVER_DUTIES = (Role.IR_LEAD, Role.TIER2, Role.SOC_MANAGER)
"""Duties named in a shift handover (those the roster holds)."""
LINKS_SHOWN = 10
"""Open approvals linked in one handover (the rest are counted)."""


def _c(text: str | None, limit: int = 120) -> str:
    return clean(text or "", limit, oneline=True)


def approved_not_done(act: ActionRecord) -> bool:
    """Whether an action is approved, not reported done, and has a duty to chase."""
    approved = act.decided is not None and act.decided.value == "approved"
    return approved and act.executed is None and bool(act.duty)


def review_waiting(rec: CaseRecord) -> bool:
    """Whether a case waits on a person to pick up a role's review request."""
    r = rec.review
    return r is not None and r.role != Role.HUMAN.value and rec.state == CaseState.AWAITING_HUMAN


def waits(rec: CaseRecord) -> bool:
    """Whether a case can need a nudge, now or later (only time passing is needed)."""
    return review_waiting(rec) or any(approved_not_done(a) for a in rec.actions.values())


class Waiting(ByCase):
    """The cases that can need a nudge (:func:`waits`), with their records, current with the log."""

    what = "the nudger's index of waiting cases"

    def __init__(
        self, audit: AuditLog, view: Callable[[], CaseView], *, window: Callable[[], object] = unbounded
    ) -> None:
        super().__init__(audit, view, window=window)
        self._cases: dict[str, CaseRecord] | None = None

    @property
    def built(self) -> bool:
        return self._cases is not None

    def _clear(self) -> None:
        self._cases = None

    def _fill(self, view: CaseView) -> None:
        self._cases = {rec.case_id: rec for rec in view.cases() if waits(rec)}

    def _put(self, case_id: str, rec: CaseRecord | None) -> None:
        assert self._cases is not None
        if rec is not None and waits(rec):
            self._cases[case_id] = rec
        else:
            self._cases.pop(case_id, None)

    def current(self) -> list[CaseRecord]:
        """The waiting cases' records, current with the log (built first when it is not; while the
        build at start runs, when it ends).

        Raises:
            Exception: the log or memory could not be read (the sweep is tried again).
        """
        with self._lock:  # a build at start is waited for
            self._follow(None)
            assert self._cases is not None
            return list(self._cases.values())


class Nudger:
    """Chases approved-not-done actions and unacknowledged reviews; writes the shift handover.

    Args:
        settings: intervals and rooms.
        memory: the case memory (its records say what waits on whom).
        directory: the roster and approval links.
    """

    def __init__(self, settings: BotSettings, memory: Callable[[], Memory], directory: Directory) -> None:
        self.settings = settings
        self._memory = memory
        self.directory = directory
        self._waiting: Waiting | None = None
        self._making = threading.Lock()

    @property
    def waiting(self) -> Waiting:
        """The index of the cases that can need a nudge, over the log memory folds (made on first use,
        whichever thread asks first: memory is built on first use too)."""
        if self._waiting is None:
            with self._making:
                if self._waiting is None:
                    memory = self._memory()
                    self._waiting = Waiting(memory.audit, self._memory, window=lambda: self._memory().cold)
        return self._waiting

    def warm(self) -> bool:
        """Build the index of waiting cases now, unless a sweep built it already (the bot's start runs
        this in the background: a sweep that comes meanwhile waits for it, and nothing builds it
        twice; failing, the next sweep builds it).

        Returns:
            Whether this call built it.
        """
        try:
            waiting = self.waiting
        except Exception:
            log.exception("memory could not be read at start; the next sweep tries again")
            return False
        return waiting.warm()

    def sweep(self, now: float) -> Plan:
        """The reminders and escalations due at ``now`` (seconds since the epoch), read from the
        waiting cases only (:class:`Waiting`).

        Raises:
            Exception: the log or memory could not be read (the feed tries again next interval).
        """
        return Plan(posts=[p for rec in self.waiting.current() for p in self.due(rec, now)])

    def due(self, rec: CaseRecord, now: float) -> list[Post]:
        """One case's reminders and escalations due at ``now``: its approved actions not reported
        done, then its review not picked up."""
        posts = [p for act in rec.actions.values() if (p := self._done(rec, act, now)) is not None]
        post = self._review(rec, now)
        return [*posts, post] if post is not None else posts

    def _step(self, since: float, now: float, every: float) -> int:
        return int((now - since) // every) if now > since else 0

    def _chase(
        self, duty: Role, first: list[Person], step: int, reminders: int, at: datetime
    ) -> tuple[str, list[Person]]:
        """Whom step ``step`` asks: ``first`` for the reminders, then one more of the chain (as it
        stands at ``at``, the sweep's time) per step."""
        if step <= reminders:
            return f"Reminder {step}", first
        chain = [p for p in self.directory.roster.chain(duty, at) if p not in first]
        if not chain:
            return f"Reminder {step}", first
        level = min(step - reminders, len(chain))
        return f"Escalated (level {level})", [*first, *chain[:level]]

    def _done(self, rec: CaseRecord, act: ActionRecord, now: float) -> Post | None:
        if not approved_not_done(act):
            return None
        assert act.decided is not None and act.duty is not None
        step = self._step(act.decided.at, now, self.settings.done_remind_after_s)
        if step < 1:
            return None
        duty = Role(act.duty)
        executors = self.directory.roster.executors(duty) if self.directory.roster.duties() else []
        decider = self.directory.person(act.decided.by)
        first = executors or ([decider] if decider else [])
        head, whom = self._chase(duty, first, step, self.settings.done_reminders, _at(now))
        what = f"{label(act.kind).lower()} {_c(act.target)}"
        text = (
            f"⏰ {head}: {what} was approved by {_c(act.decided.by or 'the gate')} and is not reported done. "
            f"{', '.join(p.mention for p in whom) or 'Whoever carries it out'}: carry it out, then reply "
            f"`done {_c(act.action_id, 80)} [note]` here."
        )
        return self._post(f"nudge:done:{act.action_id}:{step}", rec.case_id, text)

    def _review(self, rec: CaseRecord, now: float) -> Post | None:
        r = rec.review
        if r is None or not review_waiting(rec):
            return None
        step = self._step(r.at, now, self.settings.review_sla_minutes * 60.0)
        if step < 1:
            return None
        duty = Role(r.duty)
        held = self.directory.roster.on_call(duty, _at(now)) if self.directory.roster.duties() else None
        first = [held.person] if held else []
        head, whom = self._chase(duty, first, step, self.settings.review_reminders, _at(now))
        text = (
            f"⏰ {head}: the review of **{_c(rec.case_id)}** is not picked up "
            f"({self.settings.review_sla_minutes} min SLA). "
            f"{', '.join(p.mention for p in whom) or 'Tier 2'}: use Acknowledge on the review card."
        )
        return self._post(f"nudge:review:{r.event_id}:{step}", rec.case_id, text)

    def _post(self, post_id: str, case_id: str, text: str) -> Post:
        return Post(
            post_id=post_id,
            room_id=self.settings.case_room_for(case_id),
            body={"markdown": text},
            case_id=case_id,
            thread="case",
            kind="nudge",
        )

    def handover(self, event: Event) -> Post | None:
        """After a shift summary: the incoming on-call people mentioned, each open approval linked."""
        if not isinstance(event, ShiftSummary):
            return None
        roster = self.directory.roster
        duties = [d for d in HANDOVER_DUTIES if d in roster.duties()]
        held = [
            f"{roster.title(d)} {h.person.mention}"
            for d in duties
            if (h := roster.on_call(d, event.window_end))
        ]
        lines = [f"**Shift handover** — incoming: {', '.join(held) or 'no on-call roster configured'}."]
        memory = self._memory()
        for a in event.open_approvals[:LINKS_SHOWN]:
            file = memory.case_file(a.case_id)
            proposal = file.proposal(a.action_id) if file is not None else None
            url = self.directory.approval_url(proposal) if proposal is not None else None
            what = f"{label(a.kind.value).lower()} {_c(a.target)} ({_c(a.case_id)})"
            lines.append(f"- [{what}]({url})" if url else f"- {what}")
        rest = len(event.open_approvals) - LINKS_SHOWN
        if rest > 0:
            lines.append(f"- and {rest} more open approval(s)")
        if not event.open_approvals:
            lines.append("No approval is open.")
        return Post(
            post_id=f"{event.event_id}:handover",
            room_id=self.settings.soc_room,
            body={"markdown": "\n".join(lines)},
            thread="none",
            source_event_id=event.event_id,
            kind="handover",
        )


def _at(now: float) -> datetime:
    """The sweep's time as the roster takes it (the roster is asked at the sweep's time, not the
    wall clock's: the two agree in production, and a frozen sweep must see its own shift)."""
    return datetime.fromtimestamp(now, UTC)
