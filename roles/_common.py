"""Helpers the roles share: the alert as the model sees it, and the canned model's written policy.

The canned model (``--dry-run``) is the documented floor of the team, not a fit to any data set: it
weighs only what every model is shown — the alert's model view, the precedent and the statistics —
by the policy below, with no word lists and no constant read off a data set. In order:

1. **Statistics** (analysts' labels of earlier alerts): estimate the chance that this alert is a
   true positive by shrinking from the general to the specific — all alerts, then the category
   and the rule/detector across tenants, then the tenant's alerts, its category and its rule —
   each level's true-positive share pulled towards the level above by :data:`PSEUDO_LABELS`
   labels' worth (with few labels a level says little, with many it speaks for itself). Escalate
   when the estimate reaches :data:`ESCALATE_SHARE`: a missed true positive costs more than a
   false alarm, so a SOC accepts two false alarms for every real incident it catches.
2. **Telling precedent** (similar earlier cases linked by the rule or a strong indicator) when no
   label is known yet: follow the majority of how they ended.
3. **The alert's own facts** when nothing earlier is known: escalate what the source rates medium
   or worse, or maps to an ATT&CK technique; close the rest as benign.

Confidence grows with the distance between the estimate and the threshold (or is a fixed, modest
value for a decision on the alert's facts alone); the guardrail's threshold then decides whether a
role may close on so little.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aisoc.runtime import RoleContext
from aisoc.runtime.prompt import RawJson

SEVERITY_POINTS = {"info": 1, "low": 2, "medium": 4, "high": 6, "critical": 8}
"""Severity as priority points (the canned Sentinel's priority and IR Lead's SEV start here)."""
PSEUDO_LABELS = 1.0
"""How many labels' worth of the wider level's estimate a narrower level starts from."""
ESCALATE_SHARE = 1 / 3
"""Escalate when the estimated chance of a true positive reaches this (two false alarms per catch)."""
FACTS_CONFIDENCE = 0.65
"""Confidence of a decision taken on the alert's own facts alone (no history)."""
WEAK_KEYS = ("host:", "user:", "file:", "process:", "device_id:", "account_id:")
"""Shared indicators that say little on their own (the same host or user shows up everywhere)."""
THREAT_VERDICTS = ("true_positive", "malicious", "escalate", "escalated")
BENIGN_VERDICTS = ("benign", "false_positive", "close", "closed")


def alert_view(ctx: RoleContext) -> RawJson:
    """The alert's model view with the raw record bounded (what every role is shown)."""
    return ctx.alert_json()


def decision_data(ctx: RoleContext) -> dict[str, Any]:
    """The statistics a deciding role is shown (nothing when recall is off or nothing is known)."""
    return {"statistics": [s.view() for s in ctx.statistics]} if ctx.statistics else {}


@dataclass(frozen=True, slots=True)
class Assessment:
    """The canned policy's reading of what a role was shown."""

    escalate: bool
    confidence: float
    basis: str
    """What the decision rests on, in words (goes into the answer's summary)."""
    history: bool
    """Whether earlier alerts (statistics or precedent) informed it."""


def estimate(data: dict[str, Any]) -> tuple[float, int, str] | None:
    """The chance that the alert is a true positive, from the statistics shown (policy step 1).

    Returns:
        ``(estimate, labels behind it, the most specific statistic's sentence)``, or None when no
        statistic holds a label.
    """
    by = {(s.get("subject"), s.get("level")): s for s in data.get("statistics") or []}
    if not any(int(s.get("labelled") or 0) for s in by.values()):
        return None

    def shrink(subject: str, level: str, prior: float) -> float:
        s = by.get((subject, level)) or {}
        n, tp = int(s.get("labelled") or 0), int(s.get("true_positive") or 0)
        return (tp + PSEUDO_LABELS * prior) / (n + PSEUDO_LABELS)

    base = shrink("tenant", "all_tenants", 0.5)
    wide = shrink("rule", "all_tenants", shrink("category", "all_tenants", base))
    prior = (wide + shrink("tenant", "tenant", base)) / 2
    p = shrink("rule", "tenant", shrink("category", "tenant", prior))
    labelled = [s for s in by.values() if int(s.get("labelled") or 0) and s.get("subject") != "indicator"]
    labels = sum(int(s.get("labelled") or 0) for s in labelled)
    told = labelled[0].get("text") if labelled else None
    return p, labels, str(told or "earlier labelled alerts")


def precedent_lean(data: dict[str, Any]) -> int:
    """+1 when telling precedent mostly ended escalated/true positive, -1 when mostly benign, else 0.

    Only precedent linked by the same rule or by a strong indicator counts: sharing a host or a
    user with an unrelated case is not evidence about this alert.
    """
    bad = good = 0
    for p in data.get("precedent") or []:
        strong = any(not str(s).startswith(WEAK_KEYS) for s in p.get("shared_indicators") or [])
        if not (p.get("same_rule") or strong):
            continue
        verdict = str(p.get("verdict") or "")
        if verdict in THREAT_VERDICTS:
            bad += 1
        elif verdict in BENIGN_VERDICTS:
            good += 1
    if bad == good:
        return 0
    return 1 if bad > good else -1


def assess(data: dict[str, Any]) -> Assessment:
    """Apply the written policy (module docstring) to what a role was shown."""
    known = estimate(data)
    if known is not None:
        p, labels, told = known
        escalate = p >= ESCALATE_SHARE
        room = 1 - ESCALATE_SHARE if escalate else ESCALATE_SHARE
        confidence = round(min(0.95, 0.5 + 0.5 * abs(p - ESCALATE_SHARE) / room), 2)
        basis = f"estimated {p:.0%} chance of a true positive from {labels} analyst labels ({told})"
        return Assessment(escalate, confidence, basis, True)
    lean = precedent_lean(data)
    if lean:
        verb = "were true positives or escalated" if lean > 0 else "closed benign"
        return Assessment(lean > 0, 0.7, f"most telling precedent {verb}", True)
    view = data.get("alert") or {}
    severe = SEVERITY_POINTS.get(str(view.get("severity")), 2) >= SEVERITY_POINTS["medium"]
    mapped = bool(view.get("techniques"))
    if severe or mapped:
        why = " and ".join(
            x for x, on in (("rated medium or worse", severe), ("mapped to ATT&CK", mapped)) if on
        )
        return Assessment(True, FACTS_CONFIDENCE, f"no history; the alert is {why}", False)
    return Assessment(False, FACTS_CONFIDENCE, "no history; low severity and no ATT&CK mapping", False)
