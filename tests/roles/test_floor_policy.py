"""The canned model's floor policy, rule by rule, on hand-made statistics (the policy, not a data set)."""

from __future__ import annotations

from typing import Any

import pytest

from roles import Sentinel, Tier2
from roles._common import (
    CATEGORY,
    FACTS_CONFIDENCE,
    FLOOR,
    SPECIFIC,
    TENANT_FALLBACK,
    FloorPolicy,
    assess,
    evidence,
)

LOW = {"severity": "low", "techniques": []}
MEDIUM = {"severity": "medium", "techniques": []}


def stat(
    tp: int, benign: int, subject: str = "rule", level: str = "tenant", key: str = "4625"
) -> dict[str, Any]:
    """A statistic as a role is shown it, with ``tp`` true-positive and ``benign`` benign labels."""
    n = tp + benign
    return {
        "subject": subject,
        "key": key,
        "level": level,
        "fired": n,
        "labelled": n,
        "true_positive": tp,
        "benign": benign,
        "text": f"{subject} {key}: {tp} of {n} true positive",
    }


def shown(*stats: dict[str, Any], alert: dict[str, Any] = MEDIUM) -> dict[str, Any]:
    """What a deciding role is shown: the alert's view and the statistics."""
    return {"alert": alert, "statistics": list(stats)}


# --- the bound --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 6, 20])
def test_the_upper_bound_of_an_all_benign_record_is_wilsons_closed_form(n: int) -> None:
    """Given 0 true positives in n labels, the upper bound is z^2/(n+z^2) (z = 1.645 at 95 %)."""
    z = 1.6448536269514722
    low, high = FLOOR.bounds(0, n)
    assert low == 0.0 and high == pytest.approx(z * z / (n + z * z))


def test_the_bounds_contain_the_share_and_narrow_with_more_labels() -> None:
    """Given the same 20 % share over 10 and 100 labels, both intervals hold it; the larger is narrower."""
    lo10, hi10 = FLOOR.bounds(2, 10)
    lo100, hi100 = FLOOR.bounds(20, 100)
    assert lo10 < lo100 < 0.2 < hi100 < hi10
    assert FLOOR.bounds(0, 0) == (0.0, 1.0)


def test_six_benign_labels_bound_the_share_below_a_third_and_five_do_not() -> None:
    """Given 0 of 6 vs 0 of 5 true positives on the tenant's rule, only the first closes."""
    assert assess(shown(stat(0, 6))).escalate is False
    assert assess(shown(stat(0, 5))).escalate is True


@pytest.mark.parametrize(
    "kwargs",
    [{"close_below": 0}, {"close_below": 1}, {"confidence": 0.4}, {"confidence": 1}, {"min_labelled": 0}],
)
def test_a_policy_without_statistical_meaning_is_refused(kwargs: dict[str, Any]) -> None:
    """Given a threshold outside (0, 1), a confidence outside [0.5, 1) or no minimum count, it is refused."""
    with pytest.raises(ValueError, match="not a floor policy"):
        FloorPolicy(**kwargs)


# --- step 1: the most specific level with data decides ------------------------------------------


def test_a_benign_record_of_the_rule_in_the_tenant_closes_with_the_policys_confidence() -> None:
    """Given 0 of 12 true positives for the rule in the tenant, the floor closes at 95 % and says why."""
    a = assess(shown(stat(0, 12)))
    assert (a.escalate, a.confidence, a.history) == (False, 0.95, True)
    assert "0 of 12" in a.basis and "95%" in a.basis


def test_a_mixed_record_in_the_tenant_is_not_overruled_by_a_benign_record_across_tenants() -> None:
    """Given 2 of 6 in the tenant and 0 of 500 across tenants, the tenant's level decides: escalate."""
    a = assess(shown(stat(2, 4), stat(0, 500, level="all_tenants")))
    assert a.escalate is True and "2 of 6" in a.basis


def test_a_level_below_the_minimum_count_defers_to_the_next() -> None:
    """Given 1 of 2 in the tenant (too few) and 0 of 40 across tenants, the wider level decides: close."""
    a = assess(shown(stat(1, 1), stat(0, 40, level="all_tenants")))
    assert a.escalate is False and "0 of 40" in a.basis
    assert assess(shown(stat(1, 1), stat(0, 40, level="all_tenants")), FloorPolicy(min_labelled=2)).escalate


def test_strong_indicators_come_before_the_rule_across_tenants_and_the_worst_one_counts() -> None:
    """Given two strong indicators (0 of 30 and 3 of 5) and a benign rule across tenants, escalate."""
    ip = stat(0, 30, subject="indicator", level="all_tenants", key="ip:203.0.113.9")
    sha = stat(3, 2, subject="indicator", key="sha256:" + "a" * 64)
    rule = stat(0, 90, level="all_tenants")
    assert evidence([rule, ip, sha]) == [ip, sha]
    assert assess(shown(rule, ip, sha)).escalate is True
    assert assess(shown(rule, ip)).escalate is False


def test_entities_and_base_rates_are_not_evidence_and_leave_the_alerts_own_facts() -> None:
    """Given only a host's, the category's and the tenant's all-benign records, the alert's facts decide."""
    base = [
        stat(0, 80, subject="indicator", key="host:win11client"),
        stat(0, 80, subject="indicator", key="user:snell"),
        stat(0, 80, subject="category"),
        stat(0, 80, subject="category", level="all_tenants"),
        stat(0, 80, subject="tenant", key=""),
        stat(0, 800, subject="tenant", key="", level="all_tenants"),
    ]
    assert evidence(base) == []
    medium, low = assess(shown(*base)), assess(shown(*base, alert=LOW))
    assert (medium.escalate, medium.confidence, medium.history) == (True, FACTS_CONFIDENCE, False)
    assert (low.escalate, low.confidence) == (False, FACTS_CONFIDENCE)


def test_the_category_decides_only_when_the_policy_lists_it() -> None:
    """Given a benign category record, a policy listing the category closes on it; the default does not."""
    cat = stat(0, 80, subject="category")
    assert assess(shown(cat)).escalate is True
    assert assess(shown(cat), FloorPolicy(levels=SPECIFIC + CATEGORY)).escalate is False


# --- step 2: escalations say how sure they are --------------------------------------------------


def test_an_escalation_is_confident_only_when_the_lower_bound_reaches_the_threshold() -> None:
    """Given 9 of 10 true positives, escalate at 95 %; given 2 of 6 (cannot rule out), escalate at 0.5."""
    assert assess(shown(stat(9, 1))).confidence == 0.95
    assert assess(shown(stat(2, 4))).confidence == 0.5


# --- step 3: nothing known ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alert", "escalate"),
    [(LOW, False), (MEDIUM, True), ({"severity": "info", "techniques": ["T1059"]}, True), ({}, False)],
)
def test_without_history_the_alerts_own_facts_decide(alert: dict[str, Any], escalate: bool) -> None:
    """Given no statistics, escalate medium-or-worse or ATT&CK-mapped alerts, close the rest."""
    a = assess({"alert": alert})
    assert (a.escalate, a.history) == (escalate, False)


# --- step 3: a base rate as the fallback (only when the policy lists one) ---------------------------

FALLBACK = FloorPolicy(fallback=TENANT_FALLBACK)


def test_a_benign_base_rate_closes_only_with_a_fallback_and_only_by_the_bound() -> None:
    """Given no specific evidence and the tenant's category at 0 of 12 true positives, the default
    policy escalates the medium alert on its facts; a policy with the tenant fallback closes it
    with the policy's confidence, saying it rests on the base rate."""
    cat = stat(0, 12, subject="category", key="windows")
    assert assess(shown(cat)).escalate is True
    a = assess(shown(cat), FALLBACK)
    assert (a.escalate, a.confidence, a.history) == (False, 0.95, True)
    assert "base rate" in a.basis and "0 of 12" in a.basis


def test_a_base_rate_that_cannot_rule_out_a_high_share_leaves_the_facts() -> None:
    """Given the tenant's category at 2 of 8 true positives (bound above a third), the facts decide:
    the medium alert is escalated and the low one closed — a base rate never escalates."""
    cat = stat(2, 6, subject="category", key="windows")
    medium, low = assess(shown(cat), FALLBACK), assess(shown(cat, alert=LOW), FALLBACK)
    assert (medium.escalate, medium.confidence, medium.history) == (True, FACTS_CONFIDENCE, False)
    assert (low.escalate, low.confidence, low.history) == (False, FACTS_CONFIDENCE, False)
    bad = stat(9, 1, subject="category", key="windows")
    assert assess(shown(bad, alert=LOW), FALLBACK).escalate is False


def test_the_fallback_takes_the_narrowest_base_rate_with_data_and_never_overrules_evidence() -> None:
    """Given the category with two labels (too few) and the tenant's alerts at 0 of 40, the tenant's
    alerts decide; given the tenant's rule at 3 of 6 as well, the specific evidence escalates."""
    few = stat(0, 2, subject="category", key="windows")
    tenant = stat(0, 40, subject="tenant", key="")
    mixed_cat = stat(4, 4, subject="category", key="windows")
    assert evidence([few, tenant], FALLBACK, FALLBACK.fallback) == [tenant]
    assert assess(shown(few, tenant), FALLBACK).escalate is False
    assert assess(shown(mixed_cat, tenant), FALLBACK).escalate is True  # the category has data
    assert assess(shown(stat(3, 3), tenant), FALLBACK).escalate is True
    wide = stat(0, 400, subject="tenant", key="", level="all_tenants")
    assert assess(shown(wide), FALLBACK).escalate is True  # across tenants is not the tenant's


# --- the roles apply it ---------------------------------------------------------------------------


def test_sentinel_and_tier2_answer_with_the_same_decision_and_confidence() -> None:
    """Given a benign record and then a true-positive record, both canned roles close, then escalate."""
    benign, bad = shown(stat(0, 12)), shown(stat(9, 1))
    s, t = Sentinel().stub_answer(benign), Tier2().stub_answer({**benign, "sentinel": {}})
    assert (s["verdict"], s["confidence"], t["decision"], t["confidence"]) == ("benign", 0.95, "close", 0.95)
    s, t = Sentinel().stub_answer(bad), Tier2().stub_answer({**bad, "sentinel": {}})
    assert (s["verdict"], t["decision"]) == ("malicious", "escalate")
    assert s["priority"] >= 7
