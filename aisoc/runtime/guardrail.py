"""Guardrails any model obeys: the runtime, not the prompt, decides whether a role may close a case.

A role that wants to close a case is overruled when

- ``true_positive_precedent``: the statistics it was shown say alerts like this one were true
  positives — for some rule, category or indicator, the most specific statistic with at least
  ``min_labelled`` analyst labels (the tenant's before all tenants'; the tenant's base rate does
  not count) has a true-positive share of at least ``tp_share``; or
- ``low_confidence``: its own confidence is below ``min_confidence``; or
- ``severe_alert``: the source rated the alert ``max_close_severity`` or worse (by default high or
  critical): a model alone never closes what the detection itself calls severe — whatever an
  attacker wrote into the alert for the model to read (a prompt injection), a person decides.

An overruled close goes to the next tier instead (Sentinel's to Tier 2) or, from the last tier that
may close, to human review; the reason is in the event a person reads (the verdict's summary, the
review's reason) and every deciding role's trace records the policy in force and what it decided.
No prompt can talk past it: the check runs on the validated answer, after the model has spoken.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aisoc.events import CaseClosed, Event, GuardrailCheck
from aisoc.events.alert import SEVERITY_NAMES
from aisoc.memory import Stat

log = logging.getLogger(__name__)

TRUE_POSITIVE_PRECEDENT = "true_positive_precedent"
LOW_CONFIDENCE = "low_confidence"
SEVERE_ALERT = "severe_alert"
RULES = (TRUE_POSITIVE_PRECEDENT, SEVERE_ALERT, LOW_CONFIDENCE)
"""The guardrail's rules, in the order they are checked."""


class GuardrailPolicy(BaseModel):
    """The routing policy the runtime enforces (settings table ``[aisoc.guardrail]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    """Off: roles close whatever they like (the decision is still recorded in their traces)."""
    roles: tuple[str, ...] = ("sentinel", "tier2")
    """The roles whose closes are checked."""
    min_confidence: float = Field(default=0.6, ge=0, le=1)
    """A role may not close a case when its confidence is below this."""
    tp_share: float = Field(default=0.5, gt=0, le=1)
    """A role may not close a case when alerts like it were true positives at least this often..."""
    min_labelled: int = Field(default=3, ge=1)
    """...counted over at least this many analyst labels (rule, category or indicator statistics)."""
    max_close_severity: Literal["low", "medium", "high", "critical"] | None = "high"
    """A role may not close an alert its source rated this severe or worse (None, "" or "off": a role
    may close any severity)."""

    @field_validator("max_close_severity", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() in ("", "none", "off") else value

    def describe(self) -> str:
        """The policy in one line (what every trace records)."""
        if not self.enabled:
            return "guardrail off"
        severe = (
            f", on alerts rated below {self.max_close_severity}"
            if self.max_close_severity is not None
            else ""
        )
        return (
            f"closes by {', '.join(self.roles)} need confidence >= {self.min_confidence:g} and no "
            f"statistic with >= {self.min_labelled} labels at a true-positive share >= {self.tp_share:g}"
            f"{severe}"
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the guardrail decided about one answer."""

    closes: bool
    rule: str | None = None
    reason: str | None = None

    @property
    def overrules(self) -> bool:
        """True when the role's close is refused."""
        return self.rule is not None


def judge(
    policy: GuardrailPolicy,
    role: str,
    closes: bool,
    confidence: float | None,
    stats: Sequence[Stat],
    severity: int | None = None,
) -> Verdict:
    """Decide whether ``role`` may close: the policy's rules against its confidence and statistics.

    Args:
        policy: the policy in force.
        role: the role's slug.
        closes: whether the role's answer closes the case (nothing to check otherwise).
        confidence: the role's stated confidence (None: the role states none; only the precedent
            rule applies).
        stats: the statistics the role was shown.
        severity: the alert's normalized severity (0 info ... 4 critical; None: unknown).

    Returns:
        The verdict; ``rule`` is set when the close is refused.
    """
    if not closes or not policy.enabled or role not in policy.roles:
        return Verdict(closes)
    for s in telling(stats, policy.min_labelled):
        share = s.tp_share
        if share is not None and share >= policy.tp_share:
            return Verdict(
                True,
                TRUE_POSITIVE_PRECEDENT,
                f"guardrail: {role} may not close it: analysts labelled {s.true_positive} of {s.labelled} "
                f"earlier alerts of {s.subject} {s.key} ({s.level.replace('_', ' ')}) true positive "
                f"({share:.0%} >= {policy.tp_share:.0%})",
            )
    limit = policy.max_close_severity
    if limit is not None and severity is not None and severity >= SEVERITY_NAMES.index(limit):
        return Verdict(
            True,
            SEVERE_ALERT,
            f"guardrail: {role} may not close it: the source rated the alert {SEVERITY_NAMES[severity]} "
            f"({limit} or worse is for a person to close)",
        )
    if confidence is not None and confidence < policy.min_confidence:
        return Verdict(
            True,
            LOW_CONFIDENCE,
            f"guardrail: {role} may not close it at confidence {confidence:.2f} "
            f"(below {policy.min_confidence:.2f})",
        )
    return Verdict(True)


def telling(stats: Sequence[Stat], min_labelled: int) -> list[Stat]:
    """Per rule, category and indicator, the most specific statistic with at least ``min_labelled``
    labels: the tenant's own history, when there is enough of it, speaks before all tenants'. The
    tenant's alerts as a whole are not "alerts like this one" and are left out."""
    best: dict[tuple[str, str], Stat] = {}
    for s in stats:
        if s.subject == "tenant" or s.labelled < min_labelled:
            continue
        seen = best.get((s.subject, s.key))
        if seen is None or (seen.level != "tenant" and s.level == "tenant"):
            best[(s.subject, s.key)] = s
    return list(best.values())


def closes_case(results: Iterable[Event]) -> bool:
    """Whether a role's result events close the case."""
    return any(isinstance(e, CaseClosed) for e in results)


def record(policy: GuardrailPolicy, verdict: Verdict) -> GuardrailCheck:
    """The trace's record of the policy and the verdict."""
    return GuardrailCheck(
        policy=policy.describe(), closes=verdict.closes, overruled=verdict.rule, reason=verdict.reason
    )


def overruled_by(results: Iterable[Event]) -> str | None:
    """The guardrail rule that overruled the role behind ``results`` (from their traces), if any."""
    for e in results:
        trace: Any = getattr(e, "trace", None)
        check = getattr(trace, "guardrail", None) if trace is not None else None
        if check is not None and check.overruled:
            return str(check.overruled)
    return None
