"""The kill switch and the recall flag, end to end through the team and the CLI."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from aisoc import Bus, events, models
from aisoc.cli import main
from aisoc.cli._team import build_team
from aisoc.errors import ConfigError
from aisoc.runtime import RoleTeam
from aisoc.runtime.control import Controls, check_scope
from aisoc.settings import KernelSettings, load_settings
from integrations.samples import demo_source

HUMAN = events.ProducedBy(role="human")


def run(bus: Bus, **kw: object) -> Counter[str]:
    team = RoleTeam(model=models.from_spec("stub"), bus=bus, **kw)  # type: ignore[arg-type]
    team.consume(demo_source())
    return Counter(e.type for e in bus.audit)


def test_a_paused_role_takes_no_work_until_resumed() -> None:
    """Given Sentinel paused on the bus, alerts wait (nothing triaged, nothing lost); after resume
    the same team triages them all."""
    bus = Bus()
    bus.publish(
        events.ControlPaused(scope="sentinel", by="ana", reason="model misbehaving", produced_by=HUMAN)
    )
    team = RoleTeam(model=models.from_spec("stub"), bus=bus)
    team.consume(demo_source())
    assert Counter(e.type for e in bus.audit)["triage.verdict"] == 0
    (alerts,) = [s for s in bus.stats().streams if s.name == "alerts"]
    assert alerts.length == 12 and all(g.pending == 0 for g in alerts.groups)
    bus.publish(events.ControlResumed(scope="sentinel", by="ana", produced_by=HUMAN))
    team.controls.refresh(force=True)
    bus.drain()
    assert Counter(e.type for e in bus.audit)["triage.verdict"] == 12


def test_pausing_proposals_withholds_every_action_and_asks_ir_lead() -> None:
    """With proposals paused, plans are still written but no action reaches a person; IR Lead
    On-Call is asked to review each plan instead."""
    normal = run(Bus())
    bus = Bus()
    bus.publish(events.ControlPaused(scope="proposals", by="ana", produced_by=HUMAN))
    paused = run(bus)
    assert paused["ir.plan"] == normal["ir.plan"] > 0 and paused["action.proposed"] == 0
    reviews = [e for e in bus.audit if isinstance(e, events.ReviewRequested)]
    assert len(reviews) == normal["ir.plan"] and all(r.duty == "ir_lead" for r in reviews)
    assert "proposals are paused (by ana)" in reviews[0].reason and "isolate_host" in (
        reviews[0].details or ""
    )


def test_all_pauses_every_role_and_settings_can_pause_from_the_start() -> None:
    """'all' on the bus, or a scope in the settings, stops the roles before they take work."""
    bus = Bus()
    bus.publish(events.ControlPaused(scope="all", by="ana", produced_by=HUMAN))
    assert run(bus)["triage.verdict"] == 0
    assert run(Bus(), paused=["sentinel"])["triage.verdict"] == 0


def test_pause_and_resume_from_the_cli_are_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """aisoc pause/resume publish control events with who and why; listing shows what is paused."""
    url = f"sqlite:///{tmp_path}/soc.db"
    assert main(["pause", "tier2", "--reason", "bad tuning", "--by", "ana", "--bus", url]) == 0
    assert main(["pause", "--bus", url]) == 0
    assert "paused: tier2" in capsys.readouterr().out
    assert main(["resume", "tier2", "--by", "ana", "--bus", url]) == 0
    assert [(e.type, e.scope, e.by) for e in Bus(url).audit] == [
        ("control.paused", "tier2", "ana"),
        ("control.resumed", "tier2", "ana"),
    ]
    assert main(["pause", "Everyone!", "--bus", url]) == 2
    with pytest.raises(ConfigError):
        check_scope("not a scope")


def test_the_recall_flag_plugs_memory_into_prompts_and_off_means_nothing() -> None:
    """recall=on: Sentinel, Tier 2 and IR Lead are shown precedent from earlier cases (recorded in
    their traces); recall=off: no precedent anywhere."""

    def traces(recall: str) -> list[events.Trace]:
        settings = load_settings(KernelSettings, None, recall=recall)
        bus = Bus()
        build_team(settings, bus, dry_run=True, tools=[]).consume(demo_source())
        return [e.trace for e in bus.audit if getattr(e, "trace", None) is not None]

    on = [t for t in traces("on") if t.precedent]
    assert on and {t.role for t in on} <= {"sentinel", "tier2", "ir_lead"}
    assert all(p.case_id for t in on for p in t.precedent)
    assert not [t for t in traces("off") if t.precedent]


def test_status_shows_what_is_paused_by_whom_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given Sentinel paused on the bus and proposals paused in the settings, when the operator runs
    aisoc status, then both are shown (who, why, how to resume) in text and JSON; after resume, not."""
    monkeypatch.setenv("COLUMNS", "200")  # the table's cells whole
    url = f"sqlite:///{tmp_path}/soc.db"
    config = tmp_path / "aisoc.toml"
    config.write_text(f'[aisoc]\nbus = "{url}"\npaused = ["proposals"]\n')
    assert main(["pause", "sentinel", "--reason", "first deploy", "--by", "ana", "--bus", url]) == 0
    capsys.readouterr()
    main(["--config", str(config), "status"])
    out = capsys.readouterr().out
    assert "paused: sentinel by ana at " in out and ": first deploy; 'aisoc resume sentinel'" in out
    assert "paused: proposals by the settings ('paused')" in out
    assert out.count("(paused)") == 1  # Sentinel's row; proposals are no role
    main(["--config", str(config), "status", "--json"])
    paused = json.loads(capsys.readouterr().out)["paused"]
    assert paused["sentinel"]["by"] == "ana" and paused["sentinel"]["reason"] == "first deploy"
    assert set(paused) == {"sentinel", "proposals"}
    assert main(["resume", "sentinel", "--bus", url]) == 0
    capsys.readouterr()
    main(["--config", str(config), "status"])
    assert "paused: sentinel" not in capsys.readouterr().out


def test_a_process_starting_later_does_not_log_old_pauses_as_news(caplog: pytest.LogCaptureFixture) -> None:
    """Given a pause and a resume long done, when a process folds the kill switch at start, then no
    warning reports them as if they happened now; a scope still paused is logged once; a change
    after that is a warning."""
    bus = Bus()
    bus.publish(events.ControlPaused(scope="tier2", by="ana", produced_by=HUMAN))
    bus.publish(events.ControlResumed(scope="tier2", by="ana", produced_by=HUMAN))
    bus.publish(events.ControlPaused(scope="sentinel", by="bo", reason="model swap", produced_by=HUMAN))
    controls = Controls(bus)
    with caplog.at_level("INFO", logger="aisoc.runtime.control"):
        controls.refresh(force=True)
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "sentinel is paused (by bo at " in caplog.records[0].getMessage()
    assert controls.scopes() == {"sentinel"}
    caplog.clear()
    bus.publish(events.ControlResumed(scope="sentinel", by="bo", produced_by=HUMAN))
    with caplog.at_level("INFO", logger="aisoc.runtime.control"):
        controls.refresh(force=True)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "kill switch: sentinel resumed by bo")
    ]


def test_pausing_a_role_the_team_does_not_run_is_refused_and_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a typo in the kill switch ('sentinal'), when the operator pauses it, then the CLI
    refuses with the team's roles (exit 2) and nothing is recorded; a real role, 'proposals' and a
    resume of any scope still work."""
    url = f"sqlite:///{tmp_path}/soc.db"
    assert main(["pause", "sentinal", "--reason", "model misbehaving", "--bus", url]) == 2
    err = capsys.readouterr().err
    assert "this team has no role 'sentinal'; it runs detection_engineer, ir_lead, sentinel" in err
    assert len(Bus(url).audit) == 0
    assert main(["pause", "proposals", "--bus", url]) == 0
    assert main(["pause", "threat_hunter", "--bus", url]) == 0
    assert main(["resume", "sentinal", "--bus", url]) == 0
    assert [e.scope for e in Bus(url).audit] == ["proposals", "threat_hunter", "sentinal"]
