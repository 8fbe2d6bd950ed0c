"""The kill switch and the recall flag, end to end through the team and the CLI."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from aisoc import Bus, events, models
from aisoc.cli import main
from aisoc.cli._team import build_team
from aisoc.errors import ConfigError
from aisoc.runtime import RoleTeam
from aisoc.runtime.control import check_scope
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
