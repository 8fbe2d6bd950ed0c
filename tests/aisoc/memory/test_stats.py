"""Precedent statistics: analysts' labels per rule, category and indicator, by level, never the
alert's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aisoc import Bus
from aisoc.events import Alert, AlertReceived, Disposition, Indicator, TruthLabeled
from aisoc.memory import Statistics, StatisticsPolicy

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def alert(n: int, days: float, tenant: str = "acme", rule: str | None = "r1", **kw: object) -> Alert:
    """Alert ``n`` created ``days`` after T0."""
    return Alert.model_validate(
        {
            "source": "t",
            "source_id": str(n),
            "tenant": tenant,
            "title": f"alert {n}",
            "rule": rule,
            "severity": 2,
            "created_at": T0 + timedelta(days=days),
            **kw,
        }
    )


def publish(bus: Bus, a: Alert, escalated: bool | None = None) -> None:
    """The alert, and its analyst's label when given."""
    bus.publish(AlertReceived(alert=a, case_id=a.case_id, produced_by={"role": "ingest"}))
    if escalated is not None:
        label = Disposition.TRUE_POSITIVE if escalated else Disposition.BENIGN
        bus.publish(
            TruthLabeled(
                label=label,
                escalated=escalated,
                labeled_by="ana",
                source="t",
                case_id=a.case_id,
                produced_by={"role": "human"},
            )
        )


def test_the_rule_statistic_counts_labels_in_the_window_before_the_alert() -> None:
    """Given a rule that fired five times in 30 days (2 true positives, 2 benign, 1 unlabelled) and once long
    before, when asked about a new alert, then it says so, and the new alert does not count itself."""
    bus = Bus()
    for n, (days, label) in enumerate(
        [(-200, True), (1, True), (2, False), (3, None), (4, True), (5, False)]
    ):
        publish(bus, alert(n, days), label)
    new = alert(99, 6)
    publish(bus, new, True)  # its own label is in the log: it must not count
    s = Statistics(bus.audit, policy=StatisticsPolicy(window_days=30)).for_alert(new)[0]
    assert s.level == "tenant"
    assert (s.subject, s.key, s.level) == ("rule", "r1", "tenant")
    assert (s.fired, s.labelled, s.true_positive, s.benign) == (5, 4, 2, 2)
    assert s.last_true_positive == T0 + timedelta(days=4)
    assert "fired 5 times for this tenant in 30 days" in s.text() and "2 days earlier" in s.text()


def test_team_verdicts_are_not_labels() -> None:
    """Given earlier alerts a role closed but no analyst labelled, when asked, then nothing is labelled."""
    bus = Bus()
    for n in range(4):
        publish(bus, alert(n, n))
    s = Statistics(bus.audit).for_alert(alert(9, 5))
    assert s[0].fired == 4 and s[0].labelled == 0


def test_each_subject_is_shown_for_the_tenant_and_across_tenants() -> None:
    """Given a rule and category labelled only in another tenant, when asked for a new tenant, then the
    rule, the category and all alerts are shown across tenants (the new tenant has fired nothing)."""
    bus = Bus()
    for n in range(4):
        publish(bus, alert(n, n, tenant="globex", category="Exfiltration"), n != 0)
    stats = Statistics(bus.audit)
    shown = stats.for_alert(alert(10, 5, tenant="initech", rule="r1", category="Exfiltration"))
    assert [(s.subject, s.level, s.labelled, s.true_positive) for s in shown] == [
        ("rule", "all_tenants", 4, 3),
        ("category", "all_tenants", 4, 3),
        ("tenant", "all_tenants", 4, 3),
    ]
    own = stats.for_alert(alert(11, 5, tenant="globex", rule="r9"))
    assert [(s.subject, s.level) for s in own] == [("tenant", "tenant"), ("tenant", "all_tenants")]
    assert own[0].text().startswith("alerts fired 4 times for this tenant")


def test_a_policy_that_keeps_tenants_apart_never_crosses_them() -> None:
    """Given all_tenants off, when a tenant has no history of its own, then nothing is shown."""
    bus = Bus()
    for n in range(4):
        publish(bus, alert(n, n, tenant="globex"), True)
    stats = Statistics(bus.audit, policy=StatisticsPolicy(all_tenants=False))
    assert stats.for_alert(alert(10, 5, tenant="initech")) == []
    assert [s.level for s in stats.for_alert(alert(11, 5, tenant="globex"))] == ["tenant", "tenant"]


def test_indicators_with_labels_are_shown_entities_only_within_the_tenant() -> None:
    """Given an IP and a host seen in labelled alerts of two tenants, when asked, then the IP's all-tenant
    figure is shown (too few tenant labels), the host's only within the tenant."""
    ip = Indicator(type="ip", value="203.0.113.9")
    bus = Bus()
    for n in range(3):
        publish(bus, alert(n, n, tenant="globex", rule=None, indicators=[ip], hosts=["web-1"]), True)
    publish(bus, alert(5, 3, tenant="acme", rule=None, hosts=["web-1"]), False)
    shown = Statistics(bus.audit).for_alert(
        alert(9, 4, tenant="acme", rule=None, indicators=[ip], hosts=["web-1"])
    )
    shown = [s for s in shown if s.subject == "indicator"]
    assert [(s.key, s.level, s.labelled, s.true_positive) for s in shown] == [
        ("ip:203.0.113.9", "all_tenants", 3, 3),
        ("host:web-1", "tenant", 1, 0),
    ]


def test_a_later_label_supersedes_and_labels_may_come_first() -> None:
    """Given a label published before its alert and then corrected, when asked, then the last label
    counts once."""
    bus = Bus()
    a = alert(1, 1)
    bus.publish(
        TruthLabeled(
            label=Disposition.BENIGN,
            escalated=False,
            labeled_by="a",
            source="t",
            case_id=a.case_id,
            produced_by={"role": "human"},
        )
    )
    publish(bus, a, True)
    s = Statistics(bus.audit).for_alert(alert(2, 2))[0]
    assert (s.labelled, s.true_positive, s.benign) == (1, 1, 0)


def test_a_wiped_log_rebuilds() -> None:
    """Given statistics folded from one bus, when the log is another (a new epoch), then they start over."""
    bus = Bus()
    publish(bus, alert(1, 1), True)
    stats = Statistics(bus.audit)
    assert stats.for_alert(alert(2, 2))[0].labelled == 1
    stats.audit = Bus().audit
    assert stats.for_alert(alert(2, 2)) == [] and len(stats) == 0


def test_statistics_hold_a_bounded_window_and_answer_as_before_within_it() -> None:
    """Given 600 alerts over 300 days (a 30-day window), then the statistics hold only the alerts
    of about the last window, and a new alert's statistics equal those of unbounded statistics;
    with ``max_cases`` they hold at most that many (plus one eviction batch) at every step."""
    bus = Bus()
    for n in range(600):
        ind = [{"type": "ip", "value": f"198.51.100.{n % 4}"}]
        publish(bus, alert(n, n / 2, rule=f"r{n % 3}", indicators=ind), n % 3 == 0 if n % 2 else None)
    policy = StatisticsPolicy(window_days=30)
    full = Statistics(bus.audit, policy=policy)
    bounded = Statistics(bus.audit, policy=policy, max_cases=1000)
    new = alert(999, 301, rule="r1", indicators=[{"type": "ip", "value": "198.51.100.1"}])
    assert bounded.for_alert(new) == full.for_alert(new)
    assert len(full) == 600 and 60 <= len(bounded) <= 60 + 50 + 1
    peak = 0
    b2 = Bus()
    small = Statistics(b2.audit, policy=StatisticsPolicy(window_days=3650), max_cases=100)
    for n in range(600):
        publish(b2, alert(n, n / 2))
        small.refresh()
        peak = max(peak, len(small))
    assert 100 <= len(small) and peak <= 100 + 5
