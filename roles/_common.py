"""Helpers the roles share: the alert as the model sees it, and the canned model's written policy.

The canned model (``--dry-run``) is the documented floor of the team, not a fit to any data set: it
weighs only what every model is shown — the alert's model view, the precedent and the statistics —
by the policy below, with no word lists. In order:

1. **Statistics with enough labels** (at least :data:`MIN_LABELS` analyst labels, the most specific
   level first: the rule/detector in the tenant, across tenants, then the category; and any
   indicator or entity): when at least :data:`ESCALATE_SHARE` of the labelled like alerts were true
   positives, escalate; otherwise close. A missed true positive costs more than a false alarm, so a
   third is enough: a SOC accepts two false alarms for every real incident it catches.
2. **Telling precedent** (similar earlier cases linked by the rule or a strong indicator) when no
   statistic is telling: follow the majority of how they ended.
3. **The alert's own facts** when nothing earlier is known: escalate what the source rates medium
   or worse, or maps to an ATT&CK technique; close the rest as benign.

Confidence grows with the evidence: the number of labels behind a statistic, or a fixed, modest
value for a decision from the alert's own facts (the guardrail's threshold then decides whether a
role may close on so little).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aisoc.runtime import RoleContext
from aisoc.runtime.prompt import RawJson

SEVERITY_POINTS = {"info": 1, "low": 2, "medium": 4, "high": 6, "critical": 8}
"""Severity as priority points (the canned Sentinel's priority and IR Lead's SEV start here)."""
MIN_LABELS = 3
"""A statistic is telling from this many analyst labels on."""
ESCALATE_SHARE = 1 / 3
"""Escalate when at least this share of the labelled like alerts were true positives."""
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


def telling_stat(data: dict[str, Any]) -> dict[str, Any] | None:
    """The statistic the policy follows: the first rule/category one with enough labels, unless an
    indicator with enough labels shows a higher true-positive share."""
    stats = [s for s in data.get("statistics") or [] if int(s.get("labelled") or 0) >= MIN_LABELS]
    ladder = [s for s in stats if s.get("subject") in ("rule", "category")]
    chosen = ladder[0] if ladder else None
    for s in stats:
        if s.get("subject") == "indicator" and (chosen is None or _share(s) > _share(chosen)):
            chosen = s
    return chosen


def _share(stat: dict[str, Any]) -> float:
    n = int(stat.get("labelled") or 0)
    return int(stat.get("true_positive") or 0) / n if n else 0.0


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
    stat = telling_stat(data)
    if stat is not None:
        n, share = int(stat["labelled"]), _share(stat)
        escalate = share >= ESCALATE_SHARE
        margin = (share - ESCALATE_SHARE) / (1 - ESCALATE_SHARE) if escalate else 1 - share / ESCALATE_SHARE
        confidence = round(min(0.95, 0.5 + 0.45 * margin * n / (n + 2)), 2)
        basis = f"{stat.get('text') or stat.get('key')}"
        return Assessment(escalate, confidence, basis, True)
    lean = precedent_lean(data)
    if lean:
        verb = "were true positives or escalated" if lean > 0 else "closed benign"
        return Assessment(lean > 0, 0.7, f"most telling precedent {verb}", True)
    view = data.get("alert") or {}
    severe = SEVERITY_POINTS.get(str(view.get("severity")), 2) >= SEVERITY_POINTS["medium"]
    mapped = bool(view.get("techniques"))
    if severe or mapped:
        why = " and ".join(x for x, on in (("rated medium or worse", severe), ("mapped to ATT&CK", mapped)) if on)
        return Assessment(True, FACTS_CONFIDENCE, f"no history; the alert is {why}", False)
    return Assessment(False, FACTS_CONFIDENCE, "no history; low severity and no ATT&CK mapping", False)
