"""The answer to "why did it contain that host?": what happened and where it stands, then the reasons.

The first line says what actually happened to the subject — proposed by whom and when, approved or
rejected by whom, carried out by whom, or still awaiting whom and until when. Then the reasons, a few
readable lines from the record (the alert and its indicators, Sentinel's verdict, Tier 2's findings
and evidence, the IR Lead's reasoning and the precedent it was shown, Threat Intel's rating), each
citing the record with a short human reference that links to the case. Questions about a host or an
indicator group by case, newest first, with each case's title.

A model may phrase the answer (:func:`phrase`), but only if every sentence cites the record and every
name and number it uses is in the lines it cites; otherwise the deterministic text stands.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from aisoc.events import duty_title, role_title
from aisoc.memory import CaseFile, CaseState
from aisoc.memory.casefile import ActionState, ActionStatus
from aisoc.memory.records import to_dt
from aisoc.memory.statements import Statement
from cards.text import clean, label, when

log = logging.getLogger(__name__)

Phraser = Callable[[str], str]
"""A model asked to phrase the answer: instructions and numbered lines in, prose out."""

PHRASE_INSTRUCTIONS = (
    "Rephrase the numbered lines below as a short plain-language answer for a SOC analyst. Use only "
    "facts stated in them. End every sentence with the references [n] of the lines it relies on; never "
    "invent a name, number, host or reference."
)
"""What the phrasing model is told before the lines."""

DONE_WORDS: dict[str, str] = {
    "isolate_host": "isolated",
    "disable_account": "disabled",
    "reset_credentials": "given new credentials",
    "revoke_sessions": "signed out (sessions revoked)",
    "block_indicator": "blocked",
    "kill_process": "stopped (process killed)",
    "quarantine_file": "quarantined",
    "collect_forensics": "collected for forensics",
    "patch_system": "patched",
    "restore_system": "restored",
}
"""How "X was ..." reads for each action kind (any other kind: "acted on")."""
REASON_KINDS = ("alert", "verdict", "plan", "intel", "rating", "review", "closure", "label")
"""Lead statements that give a reason, in the order an analyst reads them."""
SUPPORT_KINDS = frozenset({"finding", "evidence", "precedent"})
"""Supporting statements shown under their lead (Tier 2's findings, the precedent IR Lead was shown)."""
SUPPORT_SHOWN = 3
"""Supporting statements per lead."""
CASES_SHOWN = 3
"""Cases in one answer about a host or an indicator (the rest are counted)."""
_REF = re.compile(r"\[(\d{1,3})\]")
_FACTUAL = re.compile(r"[A-Za-z]*\d[\w.:\-]*|\b[A-Z][\w\-]*[A-Z0-9][\w\-]*\b|\b[A-Z][a-z]{2,}\b")
"""Tokens that carry a fact (numbers, ids, host names, proper names) and must be in the cited lines."""


@dataclass(frozen=True)
class Line:
    """One line of an answer: its text and the statement it cites."""

    text: str
    cite: Statement
    case_id: str


def _short(actor: str) -> str:
    return actor.replace("Human ", "").replace(" Analyst", "")


def _who(step_by: str | None, fallback: str) -> str:
    return clean(step_by or fallback, 120, oneline=True)


def headline(a: ActionState, tz: tzinfo, waiting_on: str | None) -> str:
    """What happened to one action and where it stands, in one sentence."""
    act = a.action
    target = clean(act.target or "the target", 120, oneline=True)
    done = DONE_WORDS.get(act.kind, "acted on")
    what = label(act.kind or "action").lower()
    p = a.proposed
    proposed = f"proposed by {role_title(p.by or 'ir_lead')} at {when(to_dt(p.at), tz)}" if p else "proposed"
    d, x = a.decided, a.executed
    status = a.status
    if status == ActionStatus.EXECUTED and x is not None:
        by = f", approved by {_who(d.by, 'the gate')}" if d else ""
        return (
            f"**{target} was {done}** — carried out by {_who(x.by, 'a person')} at {when(to_dt(x.at), tz)}"
            f"{by} ({proposed})."
        )
    if status == ActionStatus.APPROVED and d is not None:
        who = f" {waiting_on} must carry it out and report `done {act.action_id}`." if waiting_on else ""
        return (
            f"**{target} is not {done} yet**: {what} was approved by {_who(d.by, 'the gate')} at "
            f"{when(to_dt(d.at), tz)} ({proposed}); nobody has reported it done.{who}"
        )
    if status in (ActionStatus.REJECTED, ActionStatus.CANCELLED, ActionStatus.EXPIRED) and d is not None:
        by = f" by {_who(d.by, 'the gate')}" if d.by else ""
        return (
            f"**{target} was not {done}**: {what} was {proposed}, then {status.value}{by} at "
            f"{when(to_dt(d.at), tz)}."
        )
    deadline = f" until {when(a.deadline, tz)}" if a.deadline else ""
    asked = waiting_on or (duty_title(a.duty) if a.duty else "a person")
    return (
        f"**{target} is not {done}**: {what} was only {proposed}; it awaits a decision by {asked}{deadline}. "
        "The AI executes nothing."
    )


def case_headline(file: CaseFile, tz: tzinfo) -> str:
    """Where a case stands when no action of it is asked about."""
    rec = file.record
    state = file.state
    if state == CaseState.CLOSED and rec.closed is not None:
        by = rec.closed.person or label(rec.closed.role)
        return (
            f"**Closed as {label(rec.closed.disposition).lower()}** by {clean(by, 120, oneline=True)} at "
            f"{when(to_dt(rec.closed.at), tz)}."
        )
    if state == CaseState.AWAITING_HUMAN and rec.review is not None and not rec.actions:
        asked = when(to_dt(rec.review.at), tz)
        return f"**Waiting for {duty_title(rec.review.duty)} to review it** (asked {asked})."
    return f"**Open — {label(state.value).lower()}**; no action on a real system was proposed."


def reasons(file: CaseFile, target: str | None = None) -> list[Line]:
    """The reasons the record gives, one line per role output, with its supporting findings."""
    said = file.statements()
    support: dict[str, list[Statement]] = {}
    for s in said:
        if not s.lead and s.kind in SUPPORT_KINDS and s.facts.get("case_id", "") is not None:
            support.setdefault(s.event_id, []).append(s)
    lines: list[Line] = []
    for kind in REASON_KINDS:
        for s in said:
            if s.kind != kind or (not s.lead and kind != "rating"):
                continue
            if kind == "rating" and target and target.lower() not in str(s.facts.get("value", "")).lower():
                continue
            lines.append(Line(_reason_text(s, support.get(s.event_id, [])), s, file.case_id))
    return lines


def _seq(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, tuple) else []


def _reason_text(s: Statement, support: Sequence[Statement]) -> str:
    who = _short(s.actor)
    if s.kind == "alert":
        f = s.facts
        marks = [m for k in ("hosts", "users", "indicators") for m in _seq(f.get(k))]
        shown = ", ".join(marks[:6]) + (f" (+{len(marks) - 6})" if len(marks) > 6 else "")
        text = f"Alert: {s.brief}, rule {f.get('rule') or 'none'}"
        text += f"; indicators: {shown}" if shown else ""
    else:
        why = f" — {s.detail.rstrip('.')}" if s.detail and s.detail not in s.brief else ""
        text = f"{who}: {s.brief}{why}"
    extra = [x.brief for x in support[:SUPPORT_SHOWN]]
    if extra:
        text += "; " + "; ".join(extra)
    return clean(text, 420, oneline=True)


def reference(line: Line, tz: tzinfo, link: Callable[[str], str | None]) -> str:
    """A short human reference to the cited record ("Sentinel 10:02"), linked to the case."""
    ref = f"{_short(line.cite.actor)} {line.cite.at.astimezone(tz):%H:%M}"
    url = link(line.case_id)
    return f"[{clean(ref, 60, oneline=True)}]({url})" if url else f"({clean(ref, 60, oneline=True)})"


def check_phrasing(text: str, lines: Sequence[Line]) -> str | None:
    """Whether a model's phrasing holds to the record: None when it does, else why not.

    Every sentence must cite at least one line as ``[n]``, cite only lines that exist, and use no
    name, number or identifier that its cited lines do not contain.
    """
    if not text.strip():
        return "empty"
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text.strip()):
        if not sentence.strip():
            continue
        refs = [int(n) for n in _REF.findall(sentence)]
        if not refs:
            return f"a sentence cites nothing: {sentence[:80]!r}"
        if any(n < 1 or n > len(lines) for n in refs):
            return f"a sentence cites a line that does not exist: {sentence[:80]!r}"
        source = " ".join(lines[n - 1].text for n in refs).lower()
        body = _REF.sub("", sentence)
        for token in _FACTUAL.findall(body):
            if token.lower().strip(".:-") not in source:
                return f"{token!r} is not in the cited record"
    return None


def phrase(lines: Sequence[Line], phraser: Phraser | None) -> str | None:
    """A model's phrasing of the lines, kept only if :func:`check_phrasing` accepts it."""
    if phraser is None or not lines:
        return None
    numbered = "\n".join(f"[{n}] {line.text}" for n, line in enumerate(lines, 1))
    try:
        prose = phraser(f"{PHRASE_INSTRUCTIONS}\n\n{numbered}")
    except Exception as e:  # a broken model must not break the answer
        log.warning("the phrasing model failed: %s", e)
        return None
    why = check_phrasing(prose, lines)
    if why is not None:
        log.info("the phrasing model's answer was replaced by the record's text: %s", why)
        return None
    return prose.strip()


def render(
    headlines: Sequence[str],
    lines: Sequence[Line],
    tz: tzinfo,
    link: Callable[[str], str | None],
    phrased: str | None = None,
) -> str:
    """Headlines, then the reasons (the model's accepted phrasing, or the record's lines) with references."""
    # Markdown paragraphs (a blank line between): Webex and the preview join single newlines.
    if phrased is not None:
        why = _REF.sub(lambda m: reference(lines[int(m.group(1)) - 1], tz, link), clean(phrased, 3000))
    else:
        why = "\n".join(f"- {line.text} {reference(line, tz, link)}" for line in lines)
    return "\n\n".join([*headlines, why] if why else headlines)


def newest_first(files: Sequence[CaseFile]) -> list[CaseFile]:
    """Case files ordered by their latest activity, newest first."""

    def at(f: CaseFile) -> datetime:
        return max((e.occurred_at for e in f.events), default=datetime.min)

    return sorted(files, key=at, reverse=True)
