"""The periodic roles: exact windows across DST, one fire across replicas, missed fires, reports."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from aisoc import Bus, audit, events, models
from aisoc.runtime import RoleTeam
from aisoc.runtime.scheduler import Retention, Scheduler, fires_between, trigger, window
from integrations.samples import demo_source
from roles import DetectionEngineer, SocManager, ThreatHunter
from tests.aisoc.runtime.test_loop import real_alert

BERLIN = "Europe/Berlin"


@pytest.mark.parametrize(
    ("start", "end", "odd_hours"),
    [
        (datetime(2026, 10, 22, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC), 9),  # clocks go back
        (datetime(2026, 3, 26, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC), 7),  # clocks go forward
    ],
)
def test_shift_windows_chain_without_gap_or_overlap_across_dst(
    start: datetime, end: datetime, odd_hours: int
) -> None:
    """Consecutive SOC Manager windows in Berlin tile time exactly; the one across the change is one
    hour longer (autumn) or shorter (spring), every other one is 8 hours, all fires at local 6/14/22."""
    trig = trigger(SocManager.schedule[0], BERLIN)
    fires = fires_between(trig, start, end)
    windows = [window(trig, f) for f in fires]
    for (s1, e1), (s2, _) in zip(windows, windows[1:], strict=False):
        assert e1 == s2 and s1 < e1
    lengths = Counter((e - s) / timedelta(hours=1) for s, e in windows)
    assert lengths[odd_hours] == 1 and set(lengths) == {8, odd_hours}
    assert {f.astimezone(ZoneInfo(BERLIN)).hour for f in fires} == {6, 14, 22}


def test_monday_tuning_window_starts_on_friday() -> None:
    """Detection Engineer fires 09:00 Monday to Friday; Monday's window covers the weekend."""
    trig = trigger(DetectionEngineer.schedule[0], "UTC")
    start, end = window(trig, datetime(2026, 11, 23, 9, tzinfo=UTC))  # a Monday
    assert start == datetime(2026, 11, 20, 9, tzinfo=UTC) and end.weekday() == 0


def test_two_replicas_fire_once() -> None:
    """Two schedulers on one bus both reach the same fire time: one report is published."""
    bus = Bus()
    a, b = Scheduler(bus, [SocManager()]), Scheduler(bus, [SocManager()])
    (role, _, trig) = a.triggers[0]
    fire = datetime(2026, 11, 25, 14, tzinfo=UTC)
    results = [a.fire(role, trig, fire), b.fire(role, trig, fire)]
    assert sum(r is not None for r in results) == 1
    assert [e.type for e in bus.audit] == ["shift.summary"]


@pytest.mark.redis
def test_a_report_completion_mark_outlives_short_idempotency_marks(redis_url: str, namespace: str) -> None:
    """Given idempotency marks kept one hour (a SOC that bounds Redis memory), when a report is
    published, then its completion mark is kept at least ten days on Redis (a fire is never run
    twice, however late a retry or catch-up asks), while a role's mark keeps the short TTL."""
    bus = Bus(redis_url, namespace=namespace, mark_ttl_s=3600)
    sched = Scheduler(bus, [SocManager()])
    (role, _, trig) = sched.triggers[0]
    fire = datetime(2026, 11, 25, 14, tzinfo=UTC)
    assert sched.fire(role, trig, fire) is not None
    client = bus.client  # type: ignore[attr-defined]
    (fire_mark,) = client.scan_iter(match=bus.key("mark:soc_manager:*"))  # type: ignore[attr-defined]
    assert client.ttl(fire_mark) > 9 * 86400
    bus.publish_many([real_alert()], once=("sentinel", "e1"))
    assert 0 < client.ttl(bus.key("mark:sentinel:e1")) <= 3600  # type: ignore[attr-defined]
    assert sched.fire(role, trig, fire) is None


def test_a_restart_shortly_after_a_fire_time_still_runs_it_once() -> None:
    """Catch-up runs a fire missed within the grace time (once, however often it is called) and
    leaves older ones alone."""
    bus = Bus()
    now = datetime(2026, 11, 25, 14, 20, tzinfo=UTC)
    sched = Scheduler(bus, [SocManager()], grace_s=1800, clock=lambda: now)
    assert sched.catch_up() == 1 and sched.catch_up() == 0
    (summary,) = bus.audit
    assert summary.window_end == datetime(2026, 11, 25, 14, tzinfo=UTC)
    late = Scheduler(Bus(), [SocManager()], grace_s=600, clock=lambda: now)
    assert late.catch_up() == 0


def test_apscheduler_jobs_have_misfire_grace_and_coalesce() -> None:
    """The APScheduler 3 jobs do not keep its 1-second default grace."""
    sched = Scheduler(Bus(), [SocManager(), DetectionEngineer(), ThreatHunter()], BERLIN, grace_s=900)
    jobs = {j.id: j for j in sched.blocking().get_jobs()}
    reports = [j for name, j in jobs.items() if name not in ("bus-maintenance", "retries")]
    assert len(reports) == 3 and "bus-maintenance" in jobs and "retries" in jobs
    assert all(j.misfire_grace_time == 900 and j.coalesce for j in reports)


def test_bus_maintenance_trims_what_every_group_acked() -> None:
    """Given alerts one group acked and one it still holds, the scheduler's maintenance trims only
    the acked one; an unreachable bus skips the run instead of killing the scheduler."""
    from aisoc.errors import BusError
    from tests.aisoc.bus_contract import alert_event

    bus = Bus()
    for i in range(3):
        bus.publish(alert_event(i))
    first, *rest = bus.consume("sentinel", "s", types=["alert.received"], count=3)
    first.ack()
    sched = Scheduler(bus, [SocManager()])
    assert sched.maintain() == (1, 0)

    class Down(Bus):  # type: ignore[misc]
        schemes = ()

        def trim(self, stream: str | None = None) -> int:
            raise BusError("Redis at redis://x is unreachable")

    assert Scheduler(Down(), [SocManager()]).maintain() == (0, 0)


def demo_bus() -> Bus:
    bus = Bus()
    RoleTeam(model=models.from_spec("stub"), bus=bus).consume(demo_source())
    return bus


def test_shift_summary_counts_what_happened_in_the_window() -> None:
    """The shift summary counts alerts, verdicts, SEVs, closures, MTTA/MTTR and open approvals of
    the window, and nothing outside it."""
    bus = demo_bus()
    times = [e.occurred_at for e in bus.audit]
    start, end = min(times) - timedelta(seconds=1), max(times) + timedelta(seconds=1)
    (s,) = SocManager().report(list(bus.audit), start, end, "UTC")
    counts = Counter(e.type for e in bus.audit)
    assert s.alerts_received == 12 and sum(s.counts_by_verdict.values()) == counts["triage.verdict"]
    assert sum(s.counts_by_sev.values()) == counts["ir.plan"] and s.cases_closed == counts["case.closed"]
    assert len(s.open_approvals) == counts["action.proposed"] and s.mtta_s is not None
    (empty,) = SocManager().report(list(bus.audit), end, end + timedelta(hours=8), "UTC")
    assert empty.alerts_received == 0 and empty.counts_by_verdict == {}


def test_detection_tuning_flags_a_noisy_rule() -> None:
    """A rule that fired six times with five benign closures is reported as noisy, with numbers."""
    bus = Bus()
    base = real_alert(1).alert
    for n in range(6):
        a = base.model_copy(update={"source_id": f"{base.source_id}-{n}"})
        bus.publish(events.AlertReceived(alert=a, case_id=a.case_id, produced_by={"role": "ingest"}))
        if n < 5:
            bus.publish(
                events.CaseClosed(
                    disposition="benign",
                    reason="expected admin tooling",
                    closed_by={"role": "human", "person": "ana"},
                    case_id=a.case_id,
                    produced_by={"role": "human"},
                )
            )
    now = datetime.now(UTC)
    (t,) = DetectionEngineer().report(
        list(bus.audit), now - timedelta(hours=1), now + timedelta(hours=1), "UTC"
    )
    (rule,) = t.rules
    assert (rule.fired, rule.closed_benign, rule.escalated) == (6, 5, 0)
    assert rule.suggestion and rule.suggestion.startswith("fired 6 times, 5 closed benign")


def _tenant_alerts(bus: Bus, tenant: str | None, n: int, benign: int) -> None:
    base = real_alert(1).alert
    for i in range(n):
        a = base.model_copy(update={"source_id": f"1001-{i}", "tenant": tenant})
        case_id = a.case_id
        bus.publish(events.AlertReceived(alert=a, case_id=case_id, produced_by={"role": "ingest"}))
        if i < benign:
            bus.publish(
                events.CaseClosed(
                    disposition="benign",
                    reason="expected admin tooling",
                    closed_by={"role": "human", "person": "ana"},
                    case_id=case_id,
                    produced_by={"role": "human"},
                )
            )


def test_reports_are_per_tenant_when_the_soc_serves_several_and_unchanged_for_one() -> None:
    """Given two organisations whose incident ids collide (acme: 6 alerts, 5 closed benign; globex:
    2 alerts) and the default tenant (1 alert), then the SOC Manager and the Detection Engineer each
    publish one report per tenant, named by it, counting only its cases; with one tenant only, one
    report without a tenant, equal to the report of the same cases before tenants existed."""
    bus = Bus()
    _tenant_alerts(bus, "acme", 6, 5)
    _tenant_alerts(bus, "globex", 2, 0)
    _tenant_alerts(bus, None, 1, 0)
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    shifts = SocManager().report(list(bus.audit), start, end, "UTC")
    assert [(s.tenant, s.alerts_received, s.cases_closed) for s in shifts] == [  # type: ignore[attr-defined]
        (None, 1, 0),
        ("acme", 6, 5),
        ("globex", 2, 0),
    ]
    assert shifts[1].summary.startswith("acme: 6 alerts received")  # type: ignore[attr-defined]
    tunings = DetectionEngineer().report(list(bus.audit), start, end, "UTC")
    assert [t.tenant for t in tunings] == [None, "acme", "globex"]  # type: ignore[attr-defined]
    (acme_rule,) = tunings[1].rules  # type: ignore[attr-defined]
    assert (acme_rule.fired, acme_rule.closed_benign) == (6, 5) and acme_rule.suggestion
    (globex_rule,) = tunings[2].rules  # type: ignore[attr-defined]
    assert (globex_rule.fired, globex_rule.closed_benign, globex_rule.suggestion) == (2, 0, None)
    one = Bus()
    _tenant_alerts(one, "acme", 6, 5)
    (alone,) = SocManager().report(list(one.audit), start, end, "UTC")
    assert alone.tenant is None and alone.summary.startswith("6 alerts received")  # type: ignore[attr-defined]
    (tuned,) = DetectionEngineer().report(list(one.audit), start, end, "UTC")
    assert tuned.tenant is None and tuned.rules == tunings[1].rules  # type: ignore[attr-defined]


def test_hunt_proposal_finds_repeated_hosts_and_shared_indicators() -> None:
    """The Threat Hunter links the sample's cases that share a host or an indicator."""
    bus = demo_bus()
    now = datetime.now(UTC)
    (h,) = ThreatHunter().report(list(bus.audit), now - timedelta(hours=1), now + timedelta(hours=1), "UTC")
    kinds = Counter(f.kind for f in h.findings)
    repeated = next(f for f in h.findings if f.kind == "repeated_host")
    assert repeated.indicators == ["host:Win11Client"] and len(repeated.case_ids) >= 3
    assert kinds["shared_indicator"] >= 1


def test_the_scheduler_process_beats_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """`aisoc scheduler` publishes a heartbeat that `aisoc status` lists, and exits 0 on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from aisoc.health import status

    url = f"sqlite:///{tmp_path}/soc.db"
    env = {**os.environ, "AISOC_STATE_DIR": str(tmp_path / "state"), "AISOC_RECALL": "off"}
    proc = subprocess.Popen([sys.executable, "-m", "aisoc", "scheduler", "--bus", url], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not status(Bus(url)).others:
            time.sleep(0.2)
        (beat,) = status(Bus(url)).others
        assert beat.role == "scheduler" and beat.alive
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        proc.kill()


class Flaky(SocManager):
    """The SOC Manager whose report fails its first ``failures`` times."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def report(self, *args: Any, **kwargs: Any) -> list[events.Event]:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("the report's store is down")
        return super().report(*args, **kwargs)


FIRE = datetime(2026, 11, 25, 14, tzinfo=UTC)
"""A SOC Manager fire time (14:00 UTC); the next one is at 22:00."""


def test_a_failed_report_is_retried_with_backoff_and_published_once() -> None:
    """Given a report that fails twice, when the clock passes each backoff, then it is retried after
    one minute, then two, and published exactly once; nothing runs before a backoff has passed."""
    bus, role = Bus(), Flaky(failures=2)
    with time_machine.travel(FIRE, tick=False) as traveller:
        sched = Scheduler(bus, [role])
        (_, _, trig) = sched.triggers[0]
        assert sched.fire(role, trig, FIRE) is None and role.calls == 1
        traveller.shift(timedelta(seconds=59))
        assert sched.run_retries() == 0 and role.calls == 1
        traveller.shift(timedelta(seconds=2))
        assert sched.run_retries() == 0 and role.calls == 2
        traveller.shift(timedelta(seconds=119))
        assert sched.run_retries() == 0 and role.calls == 2
        traveller.shift(timedelta(seconds=2))
        assert sched.run_retries() == 1 and role.calls == 3
        assert sched.retries == {} and sched.done(role, trig, FIRE)
        traveller.shift(timedelta(hours=1))
        assert sched.run_retries() == 0 and sched.catch_up() == 0
    assert [e.type for e in bus.audit] == ["shift.summary"]


def test_a_failed_fire_is_caught_up_after_a_restart(tmp_path: Path) -> None:
    """Given a fire that failed and a scheduler that then restarted, when the new one catches up within
    the grace time, then the report is published (the lock marks completion, not start)."""
    bus = Bus(f"sqlite:///{tmp_path / 'soc.db'}")
    with time_machine.travel(FIRE + timedelta(minutes=1), tick=False) as traveller:
        first = Scheduler(bus, [Flaky(failures=1)])
        (role, _, trig) = first.triggers[0]
        assert first.fire(role, trig, FIRE) is None and not first.done(role, trig, FIRE)
        traveller.shift(timedelta(minutes=10))
        restarted = Scheduler(bus, [SocManager()])
        assert restarted.catch_up() == 1
        assert restarted.catch_up() == 0
    assert [e.type for e in bus.audit] == ["shift.summary"]


def test_a_fire_that_keeps_failing_gives_up_at_the_next_fire() -> None:
    """Given a report that always fails, then retries back off (1, 2, 4 ... at most 30 minutes) and
    stop before the role's next fire (22:00), with the window named in the log."""
    bus, role = Bus(), Flaky(failures=10_000)
    with time_machine.travel(FIRE, tick=False) as traveller:
        sched = Scheduler(bus, [role])
        (_, _, trig) = sched.triggers[0]
        sched.fire(role, trig, FIRE)
        waits = []
        while sched.retries:
            (pending,) = sched.retries.values()
            waits.append((pending.due - datetime.now(UTC)).total_seconds())
            traveller.move_to(pending.due)
            sched.run_retries()
        assert waits[:6] == [60, 120, 240, 480, 960, 1800] and set(waits[6:]) == {1800}
        assert datetime.now(UTC) < FIRE + timedelta(hours=8)
    assert len(bus.audit) == 0


def test_reports_read_the_audit_incrementally_and_keep_a_bounded_window() -> None:
    """Given reports fired over two weeks, then each fire reads only what was published since the last,
    closed cases quiet for longer than the horizon leave RAM, and a case active again is read back whole."""
    bus = Bus()
    with time_machine.travel(FIRE - timedelta(hours=1), tick=False) as traveller:
        sched = Scheduler(bus, [SocManager()])
        (role, _, trig) = sched.triggers[0]
        received = real_alert()
        alert = received.alert
        bus.publish(received)
        closed = events.CaseClosed(
            case_id=alert.case_id,
            produced_by=events.ProducedBy(role="human"),
            closed_by=events.ClosedBy(role="human", person="a@example.com"),
            disposition="benign",
            reason="tested",
        )
        bus.publish(closed)
        traveller.move_to(FIRE)
        assert sched.fire(role, trig, FIRE) is not None
        assert sched.feed.refresh() == 1  # only the report just published
        assert len(sched.feed) == 3
        traveller.shift(timedelta(days=15))
        sched.feed.refresh()
        assert len(sched.feed) == 0 and sched.feed.cursor == bus.audit.last_id()
        label = events.TruthLabeled(
            case_id=alert.case_id,
            produced_by=events.ProducedBy(role="human"),
            label="benign",
            escalated=False,
            labeled_by="a@example.com",
            source="test",
        )
        bus.publish(label)
        assert sched.feed.refresh() == 1
        assert [e.type for e in sched.feed.events()] == ["alert.received", "case.closed", "truth.labeled"]


def test_the_report_feed_survives_a_restart_from_its_saved_cursor(tmp_path: Path) -> None:
    """Given a scheduler whose feed is saved, when it restarts, then the new process reads only what
    was published since (not the log from its start), holds the same window, publishes the next
    report once, and that report equals the one a scheduler that never restarted publishes."""
    bus = Bus(f"sqlite:///{tmp_path / 'soc.db'}")
    path = tmp_path / "state" / "feed.sqlite"
    with time_machine.travel(FIRE - timedelta(hours=3), tick=False) as traveller:
        for n in range(6):
            a = real_alert().alert.model_copy(update={"source_id": f"f-{n}"})
            bus.publish(
                events.AlertReceived(alert=a, case_id=a.case_id, produced_by=real_alert().produced_by)
            )
        traveller.move_to(FIRE)
        first = Scheduler(bus, [SocManager()], feed_path=path)
        (role, _, trig) = first.triggers[0]
        assert first.fire(role, trig, FIRE) is not None
        held = [e.event_id for e in first.feed.events()]
        cursor = first.feed.cursor
        first.feed.close()  # the process stops
        for n in range(6, 9):
            a = real_alert().alert.model_copy(update={"source_id": f"f-{n}"})
            bus.publish(
                events.AlertReceived(alert=a, case_id=a.case_id, produced_by=real_alert().produced_by)
            )
        again = Scheduler(bus, [SocManager()], feed_path=path)
        assert again.feed.cursor == cursor and [e.event_id for e in again.feed.events()] == held
        assert again.fire(role, trig, FIRE) is None  # done before the restart: not reported twice
        assert again.feed.refresh() == 4  # the report published after the first read, 3 new alerts
        nxt = FIRE + timedelta(hours=8)
        traveller.move_to(nxt)
        (after_restart,) = again.fire(role, trig, nxt) or []
        never = Scheduler(Bus(f"sqlite:///{tmp_path / 'soc.db'}"), [SocManager()])
        fresh = never.feed
        fresh.refresh()
        start, end = window(trig, nxt)
        (uninterrupted,) = role.report(fresh.events(), start, end, "UTC")
        keep = {"event_id", "occurred_at"}
        assert after_restart.model_dump(exclude=keep) == uninterrupted.model_dump(exclude=keep)
        assert after_restart.alerts_received == 3  # type: ignore[attr-defined]


def test_scheduled_retention_archives_then_trims_by_age_and_size_and_spares_unacked_and_control(
    tmp_path: Path,
) -> None:
    """Given a month of alerts nobody consumed yet and an old pause, when the scheduled retention keeps
    7 days, then the old entries are archived to the named folder before the audit is trimmed, the
    unacked alerts are still delivered, the control stream is whole; a size limit then trims further."""
    bus = Bus(f"sqlite:///{tmp_path / 'soc.db'}")
    base = real_alert()
    with time_machine.travel(datetime(2026, 11, 1, tzinfo=UTC), tick=False) as traveller:
        bus.publish(
            events.ControlPaused(scope="sentinel", by="a", produced_by=events.ProducedBy(role="human"))
        )
        for day in range(30):
            traveller.move_to(datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=day))
            a = base.alert.model_copy(update={"source_id": f"r-{day}"})
            bus.publish(events.AlertReceived(alert=a, case_id=a.case_id, produced_by=base.produced_by))
        archive = tmp_path / "named-by-the-operator"
        sched = Scheduler(bus, [SocManager()], retention=Retention(7, 0, archive))
        assert sched.retain() == 1 + 22
        assert len(bus.audit) == 8
        (file,) = archive.iterdir()
        assert sum(1 for _ in audit.read_export(file)) == 23
        delivered = bus.consume("sentinel", "s", types=["alert.received"], count=100)
        assert len(delivered) == 30  # retention never takes an entry a group has not acked
        assert [e.event.type for e in bus.read("control")] == ["control.paused"]
        sized = Scheduler(bus, [SocManager()], retention=Retention(0, 5, archive))
        assert sized.retain() == 0  # another run holds the retention lease
        traveller.shift(timedelta(hours=1))
        assert sized.retain() == 3 and len(bus.audit) == 5
        assert Scheduler(bus, [SocManager()]).retain() == 0  # off by default
        assert "retention" in {j.id for j in sized.blocking().get_jobs()}


@pytest.mark.redis
def test_redis_keys_and_entries_follow_retention(redis_url: str, namespace: str, tmp_path: Path) -> None:
    """Given 40 alerts worked by the team on real Redis, when work streams are trimmed and retention
    keeps the audit at 30 entries, then (counted in Redis) every work stream is empty once acked,
    per-case index keys exist only for cases still in the audit and hold only ids still there,
    and every idempotency mark carries a TTL no longer than the configured one."""
    bus = Bus(redis_url, namespace=namespace, mark_ttl_s=600, trim_every=0)
    team = RoleTeam(model=models.from_spec("stub"), bus=bus)
    team.subscribe()
    base = real_alert()
    for n in range(40):
        a = base.alert.model_copy(update={"source_id": f"k-{n}"})
        bus.publish(events.AlertReceived(alert=a, case_id=a.case_id, produced_by=base.produced_by))
    bus.drain()
    while batch := bus.consume("gate", "g", streams=["actions"], count=100):  # the gate's group
        bus.ack_many(batch)
    client = bus.client  # type: ignore[attr-defined]

    def keys(kind: str) -> list[str]:
        return list(client.scan_iter(match=bus.key(f"{kind}:*"), count=1000))  # type: ignore[attr-defined]

    assert len(keys("case")) == 40
    sched = Scheduler(bus, [SocManager()], retention=Retention(0, 30, tmp_path / "archive"))
    trimmed, _ = sched.maintain()
    assert trimmed > 40
    for stream in ("alerts", "cases", "actions"):
        assert client.xlen(bus.key(stream)) == 0, stream  # type: ignore[attr-defined]
    assert sched.retain() > 0 and len(bus.audit) == 30
    kept = {e.event_id for e in bus.audit}
    live = {e.case_id for e in bus.audit if e.case_id}
    assert {k.rsplit("case:", 1)[1] for k in keys("case")} == live
    for case_id in live:
        assert {e.event_id for e in bus.audit.for_case(case_id)} <= kept
        assert len(client.lrange(bus.key(f"case:{case_id}"), 0, -1)) == len(bus.audit.for_case(case_id))  # type: ignore[attr-defined]
    marks = keys("mark")
    assert len(marks) >= 40 and all(0 < client.ttl(m) <= 600 for m in marks)


def test_a_damaged_saved_feed_is_moved_aside_and_the_log_read_again(tmp_path: Path) -> None:
    """Given a saved report feed whose held row was overwritten with garbage, when the scheduler
    restarts on it, then it starts, reads the log again to the same window, and keeps the damaged
    file beside the new one."""
    import sqlite3

    from aisoc.runtime.feed import AuditFeed

    bus = Bus()
    for n in range(4):
        a = real_alert().alert.model_copy(update={"source_id": f"d-{n}"})
        bus.publish(events.AlertReceived(alert=a, case_id=a.case_id, produced_by=real_alert().produced_by))
    path = tmp_path / "feed.sqlite"
    first = AuditFeed(bus.audit, path=path)
    first.refresh()
    held = [e.event_id for e in first.events()]
    first.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE held SET data = '{garbage' WHERE seq = 2")
    db.commit()
    db.close()
    again = AuditFeed(bus.audit, path=path)
    assert again.refresh() == 4 and [e.event_id for e in again.events()] == held
    assert (tmp_path / "feed.sqlite.damaged-1").exists()
