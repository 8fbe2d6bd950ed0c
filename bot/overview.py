"""The SOC at a glance: open cases by severity, and what happened in a window ("what happened overnight?").

Two questions analysts ask most after "why?" have no one case as their subject:

- *which cases are open?* — "any open incidents?", "show me the SEV-1s", "list open cases": the open
  cases, worst first (the IR Lead's SEV, then the newest), each with where it stands and what waits
  on a person;
- *what happened?* over a window — "what happened overnight?", "summary of today", "anything new in the
  last 4 hours?", "what did I miss?": how many alerts came in, what Sentinel, Tier 2 and the IR Lead
  made of them, the decisions people took, and what is still open.

:func:`ask` reads the window and the filters from the words; :func:`answer` computes the answer from
the case memory only (no model). Every answer states its window in the space's time zone, so
"overnight" never has to be guessed at: 18:00 to 08:00 (the span that has begun most recently).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from statistics import fmean
from typing import Literal

from aisoc.memory import CaseRecord, CaseState
from aisoc.memory.records import to_dt
from bot.markup import code
from bot.scope import CaseView
from cards.text import clean, span, when

Mode = Literal["list", "summary"]

LISTED = 10
"""Open cases listed in one answer (the rest are counted)."""
SHIFT = timedelta(hours=8)
"""The window of "what did I miss?", "last shift", "handover": one shift."""
DEFAULT_SUMMARY = timedelta(hours=24)
"""The window of a summary that names none ("give me a summary of the alerts")."""
NIGHT = (time(18), time(8))
"""Overnight: from 18:00 to 08:00 in the space's time zone."""

_SEV_WORDS = {"1": 1, "2": 2, "3": 3, "4": 4, "one": 1, "two": 2, "three": 3, "four": 4}
_SEV = re.compile(r"\bsev(?:erity)?[\s_-]?(?P<n>[1-4]|one|two|three|four)s?\b", re.IGNORECASE)
_NOUNS = re.compile(
    r"\b(?:cases|incidents|alerts|tickets|escalations|sevs|sev[1-4]s|open\s+(?:ones|items)|"
    r"(?:open|active|new|current|live|ongoing)\s+(?:case|incident|alert|ticket))\b",
    re.IGNORECASE,
)
"""Words that ask about the SOC's cases, not one of them."""
_LIST = re.compile(
    r"\b(?:open|active|ongoing|live|current|unresolved|still\s+going|list|show|which|any|what|all)\b",
    re.IGNORECASE,
)
_OPEN = re.compile(r"\b(?:open|active|ongoing|unresolved|still\s+going)\b", re.IGNORECASE)
_COUNT = re.compile(
    r"\bhow\s+many\b|\bnumbers?\b|\bcounts?\b|\bstats\b|\bmetrics\b|\bmtt[ard]\b|\bmean\s+time\b",
    re.IGNORECASE,
)
_SHIFT = re.compile(
    r"\bwhat\s+(?:did|have)\s+i\s+miss(?:ed)?\b|\bwhat'?s\s+new\b|\bwhat\s+is\s+new\b|\banything\s+new\b|"
    r"\b(?:last|previous|my\s+last|the|this|my|our|current)\s+shift\b|\bshift\s+(?:summary|report|recap)\b|\bhand[\s-]?(?:over|off)\b|"
    r"\bcatch\s+me\s+up\b|\brecap\b|\brun[\s-]?down\b|\bdebrief\b|\bsit[\s-]?rep\b",
    re.IGNORECASE,
)
_SUMMARY = re.compile(
    r"\b(?:summar\w*|overview|happened|going\s+on|sum\s+up|report|briefing)\b", re.IGNORECASE
)
_WINDOWS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:overnight|last\s+night|over\s+night|tonight|during\s+the\s+night)\b", re.I), "night"),
    (re.compile(r"\bsince\s+yesterday\b", re.I), "since-yesterday"),
    (re.compile(r"\byesterday\b", re.I), "yesterday"),
    (re.compile(r"\bthis\s+morning\b", re.I), "morning"),
    (re.compile(r"\b(?:this\s+week|so\s+far\s+this\s+week)\b", re.I), "week"),
    (re.compile(r"\b(?:today|so\s+far|todays?|daily)\b", re.I), "today"),
)
_LAST = re.compile(
    r"(?:^|\s)(?P<pre>(?:last|past|previous|in\s+the\s+last|in\s+the\s+past|over\s+the\s+last)\s+)?"
    r"(?P<n>\d{1,3}|an?|one|two|three|four|six|eight|twelve)?\s*"
    r"(?P<unit>h|hrs?|hours?|d|days?|w|wks?|weeks?|m|mins?|minutes?)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "six": 6,
    "eight": 8,
    "twelve": 12,
}


@dataclass(frozen=True)
class Ask:
    """What an overview question asks: a list of open cases or a summary, over which window."""

    mode: Mode
    window: str | None = None
    """``night``, ``today``, ``yesterday``, ``since-yesterday``, ``morning``, ``week``, ``shift``,
    ``last`` (with :attr:`last`), ``day`` (a summary that names no window), or None (open cases of
    any age)."""
    last: timedelta | None = None
    sev: int | None = None
    explicit: bool = False
    """The words name cases, incidents, alerts or a shift: in a case's thread they still ask about
    the SOC, not that case."""


def ask(text: str) -> Ask | None:
    """The overview a sentence asks for, or None when it asks something else.

    >>> ask("any open incidents?")
    Ask(mode='list', window=None, last=None, sev=None, explicit=True)
    >>> ask("what happened overnight?").window
    'night'
    """
    sev_m = _SEV.search(text)
    sev = _SEV_WORDS[sev_m.group("n").lower()] if sev_m else None
    nouns = bool(_NOUNS.search(text)) or sev is not None
    window, last = _window(text)
    shift = bool(_SHIFT.search(text))
    summary = shift or bool(_SUMMARY.search(text)) or bool(_COUNT.search(text))
    explicit = nouns or shift
    if shift and window is None:
        window = "shift"
    if window is not None and (summary or nouns):
        return Ask("summary" if summary or not sev else "list", window, last, sev, explicit)
    if nouns and window is None and _OPEN.search(text):
        return Ask("list", None, None, sev, explicit)
    if summary and nouns and window is None and not sev:
        return Ask("summary", "day", None, None, explicit)
    if nouns and (_LIST.search(text) or sev is not None or text.strip().lower().rstrip("?!. ") in _BARE):
        return Ask("list", window, last, sev, explicit)
    return None


_BARE = frozenset({"cases", "incidents", "open cases", "open incidents", "sevs"})


def _window(text: str) -> tuple[str | None, timedelta | None]:
    for pattern, name in _WINDOWS:
        if pattern.search(text):
            return name, None
    m = _LAST.search(text)
    raw = (m.group("n") or "").lower() if m else ""
    if m and (raw.isdigit() or (m.group("pre") and not (raw == "" and len(m.group("unit")) == 1))):
        n = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw, 1)
        unit = m.group("unit").lower()[0]
        size = {
            "h": timedelta(hours=n),
            "d": timedelta(days=n),
            "w": timedelta(weeks=n),
            "m": timedelta(minutes=n),
        }[unit]
        if timedelta(0) < size <= timedelta(days=31):
            return "last", size
    return None, None


def bounds(a: Ask, now: datetime, tz: tzinfo) -> tuple[datetime, datetime] | None:
    """The window ``a`` names, as aware datetimes ``[start, end)`` (None: no window)."""
    local = now.astimezone(tz)
    midnight = datetime.combine(local.date(), time(0), tz)
    if a.window is None:
        return None
    if a.window == "last" and a.last is not None:
        return now - a.last, now
    if a.window == "today":
        return midnight, now
    if a.window == "yesterday":
        return midnight - timedelta(days=1), midnight
    if a.window == "since-yesterday":
        return midnight - timedelta(days=1), now
    if a.window == "morning":
        return midnight, min(now, midnight + timedelta(hours=12))
    if a.window == "week":
        return midnight - timedelta(days=local.weekday()), now
    if a.window == "shift":
        return now - SHIFT, now
    if a.window == "night":
        evening, morning = NIGHT
        start = datetime.combine(local.date(), evening, tz)
        if local.timetz().replace(tzinfo=None) < evening:
            start -= timedelta(days=1)
        return start, min(now, datetime.combine(start.date() + timedelta(days=1), morning, tz))
    return now - DEFAULT_SUMMARY, now


def _sev(rec: CaseRecord) -> int | None:
    plan = rec.output("ir_lead")
    m = re.fullmatch(r"SEV-([1-4])", plan.outcome) if plan is not None else None
    return int(m.group(1)) if m else None


def _in(at: float | None, window: tuple[datetime, datetime] | None) -> bool:
    """Whether a time lies in the window (both ends included; no window: any time)."""
    if at is None:
        return False
    return window is None or window[0] <= to_dt(at) <= window[1]


def _line(
    memory: CaseView, rec: CaseRecord, tz: tzinfo, waiting: Callable[[CaseRecord], str], tenants: bool
) -> str:
    """One open case: SEV, tenant, title, hosts as spelt at the source, id, state, what waits, since when."""
    sev = _sev(rec)
    alert = rec.alert
    title = clean(alert.title if alert else "", 100, oneline=True) or "(alert not recorded)"
    file = memory.case_file(rec.case_id)
    shown = file.alert.hosts if file is not None and file.alert is not None else ()
    hosts = f" [{clean(', '.join(shown[:2]), 80, oneline=True)}]" if shown else ""
    tenant = f"{clean(rec.tenant, 40, oneline=True)}: " if tenants and rec.tenant else ""
    tag = f"**SEV-{sev}** " if sev else ""
    extra = waiting(rec)
    state = rec.state.value.replace("_", " ") + (f"; {extra}" if extra else "")
    age = f" · since {when(to_dt(alert.at), tz)}" if alert else ""
    return f"- {tag}{tenant}{title}{hosts} · `{code(rec.case_id, 120)}` — {state}{age}"


def _order(rec: CaseRecord) -> tuple[int, float]:
    sev = _sev(rec)
    return (sev if sev is not None else 5, -(rec.alert.at if rec.alert else 0.0))


def answer(
    a: Ask,
    memory: CaseView,
    now: datetime,
    tz: tzinfo,
    waiting: Callable[[CaseRecord], str] = lambda rec: "",
) -> str:
    """The markdown answer to ``a`` from the cases ``memory`` holds (``waiting(case)`` says what waits on a
    person there, e.g. "2 approvals waiting on IR Lead On-Call (Lee Chen)")."""
    window = bounds(a, now, tz)
    records = list(memory.cases())
    tenants = len({r.tenant for r in records}) > 1
    if a.mode == "summary" and window is not None:
        return _summary(memory, records, window, a, tz, waiting, tenants)
    open_ = [
        r
        for r in records
        if r.state != CaseState.CLOSED
        and (a.sev is None or _sev(r) == a.sev)
        and (window is None or _in(r.alert.at if r.alert else None, window))
    ]
    what = f"SEV-{a.sev} cases" if a.sev else "cases"
    scope = f" that came in {_window_text(a, window, tz)}" if window else ""
    if not open_:
        return f"**No open {what}{scope}.**" + (_sev_hint(records, a) if a.sev else "")
    open_.sort(key=_order)
    lines = [f"**Open {what}{scope}: {len(open_)}** (worst first)"]
    lines += [_line(memory, r, tz, waiting, tenants) for r in open_[:LISTED]]
    if len(open_) > LISTED:
        lines.append(f"- … {len(open_) - LISTED} more")
    lines.append("Ask *why did it contain HOST?* or `case CASE` for one of them.")
    return "\n".join(lines)


def _sev_hint(records: list[CaseRecord], a: Ask) -> str:
    open_sevs = Counter(s for r in records if r.state != CaseState.CLOSED and (s := _sev(r)) is not None)
    if not open_sevs:
        return ""
    return " Open by SEV: " + ", ".join(f"SEV-{k} {v}" for k, v in sorted(open_sevs.items())) + "."


def _window_text(a: Ask, window: tuple[datetime, datetime], tz: tzinfo) -> str:
    names = {
        "night": "overnight",
        "today": "today",
        "yesterday": "yesterday",
        "since-yesterday": "since yesterday",
        "morning": "this morning",
        "week": "this week",
        "shift": "in the last shift",
        "day": "in the last 24 hours",
    }
    if a.window == "last" and a.last is not None:
        name = f"in the last {_duration(a.last)}"
    else:
        name = names.get(a.window or "", "")
    return f"{name} ({span(window[0], window[1], tz)})"


def _duration(d: timedelta) -> str:
    """``3 hours``, ``1 day``, ``45 minutes``, ``2 hours 5 minutes``: how people say a duration."""
    minutes = int(d.total_seconds() // 60)
    if minutes > 60 and minutes % 60 and minutes < 24 * 60:
        return f"{_duration(timedelta(hours=minutes // 60))} {_duration(timedelta(minutes=minutes % 60))}"
    if minutes < 1:
        return f"{int(d.total_seconds())} seconds"
    if minutes % (24 * 60) == 0:
        n, unit = minutes // (24 * 60), "day"
    elif minutes % 60 == 0:
        n, unit = minutes // 60, "hour"
    else:
        n, unit = minutes, "minute"
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _summary(
    memory: CaseView,
    records: list[CaseRecord],
    window: tuple[datetime, datetime],
    a: Ask,
    tz: tzinfo,
    waiting: Callable[[CaseRecord], str],
    tenants: bool,
) -> str:
    def inside(at: float | None) -> bool:
        return _in(at, window)

    received = [r for r in records if r.alert is not None and inside(r.alert.at)]
    sentinel: Counter[str] = Counter()
    tier2: Counter[str] = Counter()
    sevs: Counter[int] = Counter()
    decisions: Counter[str] = Counter()
    done = reviews = 0
    closed: list[CaseRecord] = []
    for r in records:
        s, t, p = r.output("sentinel"), r.output("tier2"), r.output("ir_lead")
        if s is not None and inside(s.at):
            sentinel["closed" if s.route == "closed" else "to Tier 2"] += 1
        if t is not None and inside(t.at):
            tier2[t.outcome.replace("_", " ")] += 1
        if p is not None and inside(p.at) and (sev := _sev(r)) is not None:
            sevs[sev] += 1
        for act in r.actions.values():
            if act.decided is not None and inside(act.decided.at):
                decisions[act.decided.value] += 1
            if act.executed is not None and inside(act.executed.at):
                done += 1
        if r.review is not None and inside(r.review.at):
            reviews += 1
        if r.closed is not None and r.state == CaseState.CLOSED and inside(r.closed.at):
            closed.append(r)
    if a.sev is not None:
        received = [r for r in received if _sev(r) == a.sev]
    lines = [f"**The SOC {_window_text(a, window, tz)}**"]
    by_tenant = Counter(r.tenant or "default" for r in received)
    per = (
        f" ({', '.join(f'{clean(k, 40, oneline=True)} {v}' for k, v in sorted(by_tenant.items()))})"
        if tenants
        else ""
    )
    lines.append(f"- Alerts in: **{len(received)}**{per}")
    if sentinel:
        lines.append(f"- Sentinel: {sentinel['closed']} closed, {sentinel['to Tier 2']} to Tier 2")
    if tier2:
        lines.append("- Tier 2: " + ", ".join(f"{v} {k}" for k, v in sorted(tier2.items())))
    if sevs:
        lines.append("- IR Lead plans: " + ", ".join(f"SEV-{k} {v}" for k, v in sorted(sevs.items())))
    if decisions or done:
        parts = [f"{v} {k}" for k, v in sorted(decisions.items())] + (
            [f"{done} reported done"] if done else []
        )
        lines.append("- People's decisions on actions: " + ", ".join(parts))
    if closed:
        people = sum(1 for r in closed if r.closed is not None and r.closed.person)
        took = [r.closed.at - r.alert.at for r in closed if r.closed is not None and r.alert is not None]
        mean = (
            f"; mean time from alert to close {_duration(timedelta(seconds=round(fmean(took))))}"
            if took
            else ""
        )
        lines.append(f"- Closed: {len(closed)} ({people} by a person){mean}")
    if reviews:
        lines.append(f"- Reviews asked for: {reviews}")
    still = sorted((r for r in received if r.state != CaseState.CLOSED), key=_order)
    if still:
        lines.append(f"**Still open from then: {len(still)}** (worst first)")
        lines += [_line(memory, r, tz, waiting, tenants) for r in still[: LISTED // 2]]
        if len(still) > LISTED // 2:
            lines.append(f"- … {len(still) - LISTED // 2} more: ask *open cases*")
    elif received:
        lines.append("Nothing from then is still open.")
    return "\n".join(lines)
