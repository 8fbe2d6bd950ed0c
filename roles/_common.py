"""Helpers the roles share: the alert as the model sees it, and the canned model's written policy.

The canned model (``--dry-run``) is the documented floor of the team, not a fit to any data set: it
weighs only what every model is shown — the alert's model view and the statistics of analysts'
labels — by the policy below (:class:`FloorPolicy`), with no word lists and no constant read off a
data set. A missed true positive is the costliest error a SOC makes, so the floor escalates unless
the evidence shows, with a stated confidence, that alerts like this one are seldom true positives:

1. **Specific evidence first.** Take the most specific level at which analysts labelled at least
   ``min_labelled`` earlier alerts like this one: the rule/detector in the tenant, then the alert's
   strong indicators (hashes, IPs, domains, URLs...), then the rule across tenants (where the
   statistics settings allow), then the category in the tenant and across tenants. The tenant's
   alerts as a whole, and entities such as a host or a user (which appear in every alert of that
   host or user), are base rates, not evidence about this alert, and never decide.
2. **Close only on a bound, not on a point estimate.** At that level, close when the one-sided
   upper confidence bound (Wilson score, at ``confidence``) of the true-positive share is below
   ``close_below`` — for every statistic of the level (an indicator with a worse record keeps the
   alert open). Otherwise escalate: a level whose labels cannot rule out a high share is not a
   reason to close, and a broader level is not asked to overrule it.
3. **No specific evidence: a base rate may close, by the same bound** (only with ``fallback``
   levels, none by default): the first fallback level with ``min_labelled`` labels (the category in
   the tenant, then the tenant's alerts as a whole) closes when its upper bound is below
   ``close_below``; a base rate never escalates, since it says nothing about this alert.
4. **Otherwise the alert's own facts** (what the team does with recall off): escalate what the
   source rates medium or worse, or maps to an ATT&CK technique; close the rest as benign.

Precedent (similar cases) is not weighed here: how earlier cases *ended* may be a role's own
verdict, and the analysts' labels it could add are already counted in the statistics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Annotated, Any

from pydantic import BeforeValidator

from aisoc.runtime import RoleContext
from aisoc.runtime.prompt import RawJson

SEVERITY_POINTS = {"info": 1, "low": 2, "medium": 4, "high": 6, "critical": 8}
"""Severity as priority points (the canned Sentinel's priority and IR Lead's SEV start here)."""
FACTS_CONFIDENCE = 0.65
"""Confidence of a decision taken on the alert's own facts alone (no history)."""
WEAK_KEYS = ("host:", "user:", "file:", "process:", "device_id:", "account_id:")
"""Indicator statistics that are base rates of an entity (the same host or user shows up everywhere)."""
Level = tuple[str, str | None]
SPECIFIC: tuple[Level, ...] = (("rule", "tenant"), ("indicator", None), ("rule", "all_tenants"))
"""``(subject, level)`` of the evidence about alerts like this one, most specific first (``None``:
whichever level the statistic was shown at)."""
CATEGORY: tuple[Level, ...] = (("category", "tenant"), ("category", "all_tenants"))
"""The category's levels: a group of many rules, a base rate rather than evidence (see ``FloorPolicy``)."""
BASE_RATE: tuple[Level, ...] = (("tenant", "tenant"), ("tenant", "all_tenants"))
"""The tenant's alerts as a whole, then all alerts: base rates (never among the default levels)."""
TENANT_FALLBACK: tuple[Level, ...] = (("category", "tenant"), ("tenant", "tenant"))
"""The tenant's base rates, narrowest first: its alerts of the same category, then all its alerts
(a ``fallback`` of :class:`FloorPolicy`, consulted only when no specific level has data)."""


@dataclass(frozen=True, slots=True)
class FloorPolicy:
    """The canned model's decision rule; every constant has a statistical meaning, none a fit."""

    close_below: float = 1 / 3
    """Close only when the true-positive share is shown below this: a SOC accepts two false alarms
    for every real incident it catches (a missed true positive costs more than a false alarm)."""
    confidence: float = 0.95
    """One-sided confidence of that showing: the conventional 95 %, a 1-in-20 chance that the labels
    looked this benign while the share was in fact at or above ``close_below``."""
    min_labelled: int = 3
    """A level with fewer analyst labels has no data and defers to the next (the statistics' and the
    guardrail's own ``min_labelled``: below three labels a share is one or two anecdotes)."""
    levels: tuple[Level, ...] = SPECIFIC
    """The levels that may decide, most specific first. The category is not among them by default:
    it groups many rules (a Wazuh rule group such as ``windows``, a GUIDE tactic such as
    ``InitialAccess``), so its share is a base rate of the source, which says how often alerts in
    general were true positives, not whether this one is."""
    fallback: tuple[Level, ...] = ()
    """Base-rate levels asked only when no level of ``levels`` has data (policy step 3): the first
    with ``min_labelled`` labels may close by the same bound, never escalate. Empty by default (see
    ``docs/replay.md``, "The canned model is the floor", for what :data:`TENANT_FALLBACK` does)."""

    def __post_init__(self) -> None:
        if not 0 < self.close_below < 1 or not 0.5 <= self.confidence < 1 or self.min_labelled < 1:
            raise ValueError(f"not a floor policy: {self}")

    def bounds(self, true_positive: int, labelled: int) -> tuple[float, float]:
        """One-sided Wilson score bounds ``(lower, upper)`` of the true-positive share at ``confidence``.

        Wilson's interval, unlike the normal approximation, stays within [0, 1] and is not zero-width
        when every label agrees (0 of 6 true positives bounds the share below 31 % at 95 %).
        """
        if labelled <= 0:
            return 0.0, 1.0
        z = NormalDist().inv_cdf(self.confidence)
        n, p = labelled, true_positive / labelled
        centre = p + z * z / (2 * n)
        margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        scale = 1 + z * z / n
        return max(0.0, (centre - margin) / scale), min(1.0, (centre + margin) / scale)


FLOOR = FloorPolicy()
"""The policy the canned roles apply."""


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not true or false")
    return value


NotBool = BeforeValidator(_no_bool)
"""A number field's first check: ``true``/``false`` is no number (pydantic would read it as 1 or 0,
and ``"confidence": true`` as full confidence). A number written as a string (``"0.9"``) is read."""
Confidence = Annotated[float, NotBool]
"""An answer's confidence (bounded 0-1 by the field): a number, never true or false."""


def asked(chars: int | None = None, items: int | None = None) -> Callable[[dict[str, Any]], None]:
    """A field's ``json_schema_extra``: the size an answer is asked for, tighter than what validates.

    The JSON Schema (what a constrained decoder enforces and a model is shown) gets ``maxLength``
    ``chars`` on the field's strings (also inside ``Optional`` and as a list's items) and
    ``maxItems`` ``items`` on a list; validation keeps the field's own, looser bounds. A small model
    writes to the bound it is given, so these bound its answer's length (``docs/models.md``).
    """

    def tighten(schema: dict[str, Any]) -> None:
        if items is not None and schema.get("type") == "array":
            schema["maxItems"] = min(int(schema.get("maxItems", items)), items)
        for s in (schema, schema.get("items") or {}, *(schema.get("anyOf") or ())):
            if chars is not None and isinstance(s, dict) and s.get("type") == "string":
                s["maxLength"] = min(int(s.get("maxLength", chars)), chars)

    return tighten


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
    """Whether analysts' labels of earlier alerts informed it."""


def _labels(s: dict[str, Any]) -> tuple[int, int]:
    return int(s.get("true_positive") or 0), int(s.get("labelled") or 0)


def evidence(
    stats: Sequence[dict[str, Any]], policy: FloorPolicy = FLOOR, levels: Sequence[Level] | None = None
) -> list[dict[str, Any]]:
    """The statistics of the most specific level with at least ``min_labelled`` labels (policy step 1).

    Args:
        stats: the statistics a role was shown.
        policy: the floor policy (its ``levels`` unless ``levels`` is given).
        levels: the levels to look at instead, in order (the policy's ``fallback``, for step 3).

    Returns:
        That level's statistics (several for strong indicators), or an empty list when no level
        has data.
    """
    for subject, level in policy.levels if levels is None else levels:
        found = [
            s
            for s in stats
            if s.get("subject") == subject
            and (level is None or s.get("level") == level)
            and not (subject == "indicator" and str(s.get("key") or "").startswith(WEAK_KEYS))
            and _labels(s)[1] >= policy.min_labelled
        ]
        if found:
            return found
    return []


def assess(data: dict[str, Any], policy: FloorPolicy = FLOOR) -> Assessment:
    """Apply the written policy (module docstring) to what a role was shown."""
    found = evidence(data.get("statistics") or [], policy)
    if found:
        worst = max(found, key=lambda s: policy.bounds(*_labels(s))[1])
        tp, n = _labels(worst)
        low, bound = policy.bounds(tp, n)
        told = str(worst.get("text") or f"{worst.get('subject')} {worst.get('key')}")
        if bound < policy.close_below:
            basis = (
                f"analysts labelled {tp} of {n} true positive ({told}): at {policy.confidence:.0%} "
                f"confidence the true-positive share is below {bound:.0%}, under {policy.close_below:.0%}"
            )
            return Assessment(False, policy.confidence, basis, True)
        sure = low >= policy.close_below
        basis = (
            f"analysts labelled {tp} of {n} true positive ({told}): a true-positive share of "
            f"{policy.close_below:.0%} or more cannot be ruled out"
        )
        return Assessment(True, policy.confidence if sure else 0.5, basis, True)
    base = evidence(data.get("statistics") or [], policy, policy.fallback) if policy.fallback else []
    if base:
        tp, n = _labels(base[0])
        bound = policy.bounds(tp, n)[1]
        if bound < policy.close_below:
            told = str(base[0].get("text") or f"{base[0].get('subject')} {base[0].get('key')}")
            basis = (
                f"no specific history; the base rate: analysts labelled {tp} of {n} true positive "
                f"({told}): at {policy.confidence:.0%} confidence the share is below {bound:.0%}, "
                f"under {policy.close_below:.0%}"
            )
            return Assessment(False, policy.confidence, basis, True)
    view = data.get("alert") or {}
    severe = SEVERITY_POINTS.get(str(view.get("severity")), 2) >= SEVERITY_POINTS["medium"]
    mapped = bool(view.get("techniques"))
    if severe or mapped:
        why = " and ".join(
            x for x, on in (("rated medium or worse", severe), ("mapped to ATT&CK", mapped)) if on
        )
        return Assessment(True, FACTS_CONFIDENCE, f"no specific history; the alert is {why}", False)
    return Assessment(
        False, FACTS_CONFIDENCE, "no specific history; low severity and no ATT&CK mapping", False
    )


def view_indicators(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The indicators of an alert view as ``{"type", "value", "private"}``: the view writes each as
    one ``type:value`` string (`` (private)`` appended), older layouts as objects."""
    out = []
    for item in view.get("indicators") or []:
        if isinstance(item, dict):
            out.append(
                {"type": item.get("type"), "value": item.get("value"), "private": bool(item.get("private"))}
            )
            continue
        kind, _, value = str(item).partition(":")
        private = value.endswith(" (private)")
        out.append({"type": kind, "value": value.removesuffix(" (private)"), "private": private})
    return out
