"""Interrogation: "why did it contain that host?", answered from the recorded trace and decisions only.

An optional narrator (any callable ``text -> prose``, for example a small LLM) may rephrase the
deterministic narrative, but only if every line of its answer cites events of the narrative as
``[ev:EVENT_ID]`` and it cites nothing else; otherwise its answer is rejected and the deterministic
narrative stands. An agent must never sound smarter than it actually was.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aisoc.errors import AisocError
from aisoc.memory.casefile import CaseFile
from aisoc.memory.statements import Statement

log = logging.getLogger(__name__)

Narrator = Callable[[str], str]
"""Rephrases the deterministic narrative (given as text) into prose that keeps the citations."""

NARRATOR_INSTRUCTIONS = (
    "Rephrase the case record below as a short plain-language answer. Use only facts stated in it. "
    "End every line or sentence group with the citations [ev:ID] of the statements it relies on; "
    "cite nothing else and never invent an id."
)
"""What a narrator built on a chat model should be told before the record."""

KEY_KINDS = frozenset({"verdict", "plan", "proposal", "decision", "execution", "closure", "label", "review"})
"""Statement kinds that make up the short answer (the rest is the supporting record)."""

_CITATION = re.compile(r"\[ev:([A-Za-z0-9_.:-]+)\]")
_MENTION = re.compile(r"ev:([A-Za-z0-9_.:-]+)")


class UnknownCase(AisocError, LookupError):
    """Raised when memory has nothing recorded about the case or host asked for."""


@dataclass(frozen=True)
class Explanation:
    """The answer to "why?": statements (each citing its event) and, when accepted, a narrator's prose."""

    subject: str
    case_ids: tuple[str, ...]
    statements: tuple[Statement, ...]
    answer: tuple[Statement, ...]
    narrative: str | None = None
    rejected: str | None = None

    @property
    def event_ids(self) -> frozenset[str]:
        """The ids of every event the explanation may cite."""
        return frozenset(s.event_id for s in self.statements)

    def deterministic(self) -> str:
        """The narrative built from the record alone: the short answer, then the full record."""
        lines = [f"Why: {self.subject}"]
        if self.answer:
            lines.append("Answer:")
            lines += [f"  - {s.render()}" for s in self.answer]
        lines.append("Record:")
        for cid in self.case_ids:
            lines.append(f"  case {cid}")
            lines += [f"    - {s.render()}" for s in self.statements if s.case_id == cid]
        return "\n".join(lines)

    def text(self) -> str:
        """The narrator's accepted prose, or else the deterministic narrative."""
        return self.narrative if self.narrative is not None else self.deterministic()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible form (for ``aisoc explain --json`` and the bot)."""
        return {
            "subject": self.subject,
            "case_ids": list(self.case_ids),
            "answer": [s.to_dict() for s in self.answer],
            "statements": [s.to_dict() for s in self.statements],
            "narrative": self.narrative,
            "narrator_rejected": self.rejected,
        }


def check_narrative(text: str, allowed: frozenset[str]) -> str | None:
    """Check a narrator's answer against the record.

    Args:
        text: the narrator's prose.
        allowed: the event ids of the record.

    Returns:
        None when every non-empty line cites at least one event and every event id mentioned is in
        ``allowed``; otherwise the reason the answer is rejected.
    """
    if not text.strip():
        return "the answer is empty"
    unknown = sorted(set(_MENTION.findall(text)) - allowed)
    if unknown:
        return f"the answer cites events that are not in the record: {', '.join(unknown[:5])}"
    for line in text.splitlines():
        if line.strip() and not _CITATION.search(line):
            return f"a line cites nothing: {line.strip()[:80]!r}"
    return None


def narrate(expl: Explanation, narrator: Narrator | None) -> Explanation:
    """Let ``narrator`` rephrase ``expl``; keep its prose only if every citation checks out."""
    if narrator is None:
        return expl
    try:
        prose = narrator(expl.deterministic())
    except Exception as e:  # a broken narrator must not break the answer
        log.warning("narrator failed for %s: %s", expl.subject, e)
        return replace(expl, rejected=f"the narrator failed: {type(e).__name__}: {e}")
    reason = check_narrative(prose, expl.event_ids)
    if reason is not None:
        log.info("narrator answer for %s rejected: %s", expl.subject, reason)
        return replace(expl, rejected=reason)
    return replace(expl, narrative=prose.strip())


def explain_case(file: CaseFile | None, case_id: str) -> Explanation:
    """Explain one case from its file (every recorded event of it).

    Raises:
        UnknownCase: nothing is recorded for the case.
    """
    if file is None or not file.events:
        raise UnknownCase(f"nothing is recorded about case {case_id!r}")
    said = tuple(file.statements())
    return Explanation(
        subject=f"case {case_id}",
        case_ids=(case_id,),
        statements=said,
        answer=tuple(s for s in said if s.kind in KEY_KINDS),
    )


def explain_host(host: str, files: Sequence[CaseFile]) -> Explanation:
    """Explain what was done to ``host`` across the cases that touched it.

    The short answer lists, per case, the final verdicts and every proposal, decision and execution
    of an action that targeted the host; the record holds each case's whole story.

    Raises:
        UnknownCase: no case touched the host.
    """
    if not files:
        raise UnknownCase(f"no recorded case touched host {host!r}")
    name = host.lower()
    said: list[Statement] = []
    answer: list[Statement] = []
    for file in files:
        targeted = {a.action_id for a in file.record.actions.values() if a.target.lower() == name}
        case_said = file.statements()
        said += case_said
        for s in case_said:
            if s.action_id is not None:
                if s.action_id in targeted and s.kind in KEY_KINDS | {"step"}:
                    answer.append(s)
            elif s.kind in KEY_KINDS:
                answer.append(s)
    return Explanation(
        subject=f"host {host}",
        case_ids=tuple(f.case_id for f in files),
        statements=tuple(said),
        answer=tuple(answer),
    )
