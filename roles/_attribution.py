"""An actor attribution stands only on evidence that exists in the case, and names it.

Threat Intel may name a threat actor only when at least one item of its evidence names something the
case record holds:

- an **indicator of the case rated by a lookup**: a value of the alert (indicator, host or user) that a
  reputation tool of this very invocation was asked about without error;
- a **technique of the case**: an ATT&CK id the alert carries;
- a **precedent case with that actor**: a case id that ``case_lookup`` answered, in this invocation, with
  a Threat Intel attribution to the same actor.

Evidence items that name none of these are dropped; with none left the actor is dropped, and the note
(which goes into the trace) says why. ``["trust me"]`` keeps no actor.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aisoc.events import Alert, ToolCallRecord

LOOKUP_TOOLS = frozenset(
    {"ioc_reputation", "falcon_ioc_lookup", "zscaler_url_lookup", "zscaler_sandbox_report", "tanium_question"}
)
"""Tools whose answer rates an indicator."""
_TECHNIQUE = re.compile(r"\bT\d{4}(?:\.\d{3})?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Attribution:
    """What survives of a claimed attribution: the actor (or None), the evidence kept, and a note."""

    actor: str | None
    evidence: list[str]
    note: str | None


def _looked_up(calls: Iterable[ToolCallRecord]) -> str:
    """The arguments of the successful lookups, as one lowercase text."""
    return "\n".join(
        json.dumps(c.arguments, default=str).lower()
        for c in calls
        if c.name in LOOKUP_TOOLS and not c.refused and c.error is None
    )


def _precedent_cases(calls: Iterable[ToolCallRecord], actor: str) -> set[str]:
    """Case ids that ``case_lookup`` answered with an attribution to ``actor``."""
    found: set[str] = set()
    for c in calls:
        if c.name != "case_lookup" or c.refused or c.error is not None:
            continue
        try:
            answer = json.loads(c.result)
        except ValueError:
            continue
        intel = answer.get("threat_intel") if isinstance(answer, dict) else None
        if isinstance(intel, dict) and str(intel.get("actor") or "").strip().lower() == actor.lower():
            found.add(str(answer.get("case_id") or "").lower())
    return found - {""}


def _grounds(item: str, indicators: set[str], techniques: set[str], cases: set[str]) -> bool:
    text = item.lower()
    if any(t.upper() in techniques for t in _TECHNIQUE.findall(item)):
        return True
    return any(v in text for v in indicators | cases)


def check_attribution(
    actor: str | None, evidence: Sequence[str], alert: Alert | None, calls: Sequence[ToolCallRecord]
) -> Attribution:
    """Keep ``actor`` only if an evidence item names a looked-up indicator, a technique or a precedent
    case of the case record (see the module docstring)."""
    if not actor:
        return Attribution(None, [], None)
    looked_up = _looked_up(calls)
    values = (
        {v.lower() for v in (*alert.hosts, *alert.users, *(i.value for i in alert.indicators))}
        if alert
        else set()
    )
    indicators = {v for v in values if len(v) >= 4 and json.dumps(v)[1:-1] in looked_up}
    techniques = set(alert.techniques) if alert else set()
    cases = _precedent_cases(calls, actor)
    kept = [e for e in evidence if _grounds(e, indicators, techniques, cases)]
    if kept:
        return Attribution(actor, kept, None)
    return Attribution(
        None,
        [],
        f"actor {actor!r} dropped: no evidence item names an indicator of the case rated by a lookup, a "
        f"technique of the case or a precedent case with that actor (claimed: {list(evidence)[:5]})",
    )
