"""The on-call roster: who holds a duty at a moment, who comes next, and who may decide.

Duties use the role slugs ("IR Lead On-Call" is ``ir_lead``). Rotations hand over at a local wall-clock
time in their own time zone, so a 09:00 Europe/London handover stays at 09:00 across DST changes.

    roster = Roster(settings.roster)
    roster.on_call("ir_lead")                    # OnCall(person=Person(...), since=..., until=...)
    roster.chain("ir_lead")                      # [on call, then the escalation chain]
    roster.authorize("alice", "ir_lead")         # Authorization(allowed=True, basis="on call", ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aisoc.events import ROLE_TITLES, Role, duty_title, utcnow
from gate.errors import RosterError
from gate.settings import DutyConfig, RosterSettings, RotationConfig, identity_key


@dataclass(frozen=True, slots=True)
class Person:
    """Someone the roster can name."""

    id: str
    name: str
    email: str
    aliases: tuple[str, ...] = ()

    @property
    def mention(self) -> str:
        """How the Webex bot mentions this person in markdown."""
        return mention(self)

    def label(self) -> str:
        """``Name <email>`` for pages and logs."""
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who holds a duty at a moment, since when, until when, and why (a rotation or an override)."""

    duty: Role
    person: Person
    since: datetime | None
    until: datetime | None
    source: str
    """``rotation`` or ``override``."""
    timezone: str = "UTC"
    """The rotation's (or override's) time zone, for showing ``since`` and ``until`` (which are UTC)."""

    def local(self, when: datetime) -> datetime:
        """``when`` in this duty's time zone."""
        return when.astimezone(ZoneInfo(self.timezone))


@dataclass(frozen=True, slots=True)
class Authorization:
    """Whether a person may decide a request for a duty now, on what basis, or why not."""

    allowed: bool
    basis: str
    """``on call``, ``approver group``, ``escalated to``; empty when refused."""
    reason: str


def mention(person: Person) -> str:
    """Return the Webex markdown mention ``<@personEmail:EMAIL|Name>``."""
    return f"<@personEmail:{person.email}|{person.name}>"


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return utcnow()
    if at.tzinfo is None:
        raise RosterError(f"time {at.isoformat()} has no time zone")
    return at


class Roster:
    """Queries over the ``[roster]`` settings (immutable; build a new one when the file changes).

    Args:
        settings: the roster table.
    """

    def __init__(self, settings: RosterSettings | None = None) -> None:
        self.settings = settings or RosterSettings()
        self.people: dict[str, Person] = {
            pid: Person(pid, p.name, p.email, tuple(p.aliases)) for pid, p in self.settings.people.items()
        }
        # RosterSettings refuses an identity that names two people, so each key has one owner.
        self._index: dict[str, str] = {
            identity_key(key): pid
            for pid, person in self.people.items()
            for key in (pid, person.email, *person.aliases)
        }

    # --- people and duties ------------------------------------------------------------------------

    def person(self, person_id: str) -> Person:
        """Return the person with this roster id.

        Raises:
            RosterError: nobody has that id.
        """
        try:
            return self.people[person_id]
        except KeyError:
            raise RosterError(f"unknown person {person_id!r}") from None

    def find(self, identity: str | None) -> Person | None:
        """Return the person an identity (roster id, email or alias, any case) names, or None."""
        if not identity:
            return None
        pid = self._index.get(identity_key(identity))
        return self.people[pid] if pid else None

    def duties(self) -> list[Role]:
        """The configured duties, in settings order."""
        return list(self.settings.duties)

    def duty(self, role: Role | str) -> DutyConfig:
        """Return a duty's settings (an empty duty when it is not configured)."""
        return self.settings.duties.get(Role(role), DutyConfig())

    def title(self, role: Role | str) -> str:
        """Return a duty's display name."""
        return self.duty(role).name or duty_title(role)

    def duty_names(self) -> dict[str, Role]:
        """Every name of every duty (slug, display name, role and duty titles), as :func:`duty_key`."""
        return {
            duty_key(name): role
            for role in Role
            for name in (role.value, self.title(role), ROLE_TITLES[role], duty_title(role))
        }

    def resolve_duty(self, text: str) -> Role:
        """Return the duty a slug or display name names ("ir_lead", "IR Lead On-Call", "ir lead").

        Raises:
            RosterError: nothing matches; the message lists the duties.
        """
        role = self.duty_names().get(duty_key(text))
        if role is not None:
            return role
        known = ", ".join(f"{r.value} ({self.title(r)})" for r in self.duties()) or "none configured"
        raise RosterError(f"unknown duty {text!r}; duties: {known}")

    # --- who is on call ---------------------------------------------------------------------------

    def on_call(self, role: Role | str, at: datetime | None = None) -> OnCall | None:
        """Return who holds the duty at ``at`` (now by default): the newest covering override wins,
        else the newest rotation that has started; None when nobody does."""
        at, duty, r = _aware(at), self.duty(role), Role(role)
        for o in reversed(duty.overrides):
            if o.start_at <= at < o.end_at:
                start, end = o.start_at.astimezone(UTC), o.end_at.astimezone(UTC)
                return OnCall(r, self.person(o.person), start, end, "override", o.timezone)
        rotation, index = self._rotation_at(duty, at)
        if rotation is None:
            return None
        since, until = self._turn(rotation, index)
        starts = [_start_instant(x) for x in duty.rotations if _start_instant(x) > at]
        starts += [o.start_at.astimezone(UTC) for o in duty.overrides if o.start_at > at]
        cut = min([until, *starts])
        person = self.person(rotation.people[index % len(rotation.people)])
        return OnCall(r, person, since, cut, "rotation", rotation.timezone)

    def _rotation_at(self, duty: DutyConfig, at: datetime) -> tuple[RotationConfig | None, int]:
        started = [x for x in duty.rotations if _start_instant(x) <= at]
        if not started:
            return None, 0
        rotation = max(started, key=_start_instant)
        tz = ZoneInfo(rotation.timezone)
        day = at.astimezone(tz).date()
        if at < _handover(rotation, day):
            day -= timedelta(days=1)
        return rotation, (day - rotation.start).days // rotation.days

    def _turn(self, rotation: RotationConfig, index: int) -> tuple[datetime, datetime]:
        first = rotation.start + timedelta(days=index * rotation.days)
        return _handover(rotation, first), _handover(rotation, first + timedelta(days=rotation.days))

    def chain(self, role: Role | str, at: datetime | None = None) -> list[Person]:
        """Return who to ask, in order: whoever is on call, then the escalation chain (duty slugs in
        the chain resolve to whoever holds that duty); each person once."""
        at = _aware(at)
        out: list[Person] = []
        current = self.on_call(role, at)
        if current is not None:
            out.append(current.person)
        for entry in self.duty(role).escalation:
            if entry in {x.value for x in Role} and entry not in self.people:
                held = self.on_call(entry, at)
                person = held.person if held else None
            else:
                person = self.person(entry)
            if person is not None and person not in out:
                out.append(person)
        return out

    def approvers(self, role: Role | str) -> list[Person]:
        """Return the duty's approver group (people who may decide besides whoever is on call)."""
        return [self.person(p) for p in self.duty(role).approvers]

    def executors(self, role: Role | str) -> list[Person]:
        """Return the duty's executor group (people who carry out its approved actions)."""
        return [self.person(p) for p in self.duty(role).executors]

    # --- authorization ----------------------------------------------------------------------------

    def authorize(
        self,
        person_id: str,
        role: Role | str,
        at: datetime | None = None,
        *,
        assignee: str | None = None,
    ) -> Authorization:
        """Decide whether ``person_id`` may decide a request needing ``role`` at ``at`` (now).

        Allowed when the person is on call for the duty right now, is in its approver group, or is
        ``assignee`` (the request was escalated to them). Otherwise the reason names who may.
        """
        at = _aware(at)
        person = self.people.get(person_id)
        title = self.title(role)
        if person is None:
            return Authorization(False, "", f"{person_id} is not in the on-call roster.")
        current = self.on_call(role, at)
        if current is not None and current.person.id == person.id:
            return Authorization(True, "on call", f"{person.name} is on call for {title}.")
        if person.id in self.duty(role).approvers:
            return Authorization(
                True, "approver group", f"{person.name} is in the approver group of {title}."
            )
        if assignee is not None and assignee == person.id:
            return Authorization(True, "escalated to", f"The request was escalated to {person.name}.")
        who = f"{current.person.name} is" if current else "nobody is"
        group = ", ".join(p.name for p in self.approvers(role)) or "nobody"
        return Authorization(
            False,
            "",
            f"{person.name} is not on call for {title} ({who} right now) and not in its approver group "
            f"({group}).",
        )

    def authorize_done(self, person_id: str, role: Role | str, decided_by: str | None) -> Authorization:
        """Decide whether ``person_id`` may record an approved action of duty ``role`` as carried out.

        Allowed: whoever decided it (``decided_by``, a roster id), the duty's approver group, or its
        executor group. Otherwise the reason names who may.
        """
        person = self.people.get(person_id)
        if person is None:
            return Authorization(False, "", f"{person_id} is not in the on-call roster.")
        title = self.title(role)
        if decided_by is not None and person.id == decided_by:
            return Authorization(True, "decided", f"{person.name} decided this request.")
        if person.id in self.duty(role).approvers:
            return Authorization(
                True, "approver group", f"{person.name} is in the approver group of {title}."
            )
        if person.id in self.duty(role).executors:
            return Authorization(
                True, "executor group", f"{person.name} is in the executor group of {title}."
            )
        decider = self.people.get(decided_by) if decided_by else None
        who = [f"{decider.name} (who decided it)"] if decider else []
        who += [
            f"the approver group of {title} ({', '.join(p.name for p in self.approvers(role)) or 'nobody'})"
        ]
        who += [f"its executor group ({', '.join(p.name for p in self.executors(role)) or 'nobody'})"]
        return Authorization(
            False,
            "",
            f"{person.name} may not record this as done: only {', '.join(who[:-1])} or {who[-1]} may.",
        )

    def may_audit(self, person_id: str) -> bool:
        """Whether a person may read the decision audit: an auditor or anyone named in a duty."""
        if person_id in self.settings.auditors:
            return True
        for duty in self.settings.duties.values():
            named = {p for r in duty.rotations for p in r.people} | {o.person for o in duty.overrides}
            if person_id in named | set(duty.approvers) | set(duty.executors) | set(duty.escalation):
                return True
        return False


def _handover(rotation: RotationConfig, day: date) -> datetime:
    tz = ZoneInfo(rotation.timezone)
    local = datetime.combine(day, rotation.handover, tzinfo=tz)
    # In UTC: a handover inside a DST gap lands on the first real instant after it, and differences
    # between instants are real durations (same-zone arithmetic in Python ignores DST changes).
    return local.astimezone(UTC)


def _start_instant(rotation: RotationConfig) -> datetime:
    return _handover(rotation, rotation.start)


def duty_key(text: str) -> str:
    """A duty's name as names are compared: case, dashes and underscores do not count."""
    return text.strip().lower().replace("-", " ").replace("_", " ")
