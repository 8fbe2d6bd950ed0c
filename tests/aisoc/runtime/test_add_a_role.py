"""Adding a role is one file in roles/ plus one line in the Procfile; no other role changes, and the
rest of the SOC — cards, the gate, the bot, memory's explain, the scheduler — handles the new role."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest

from aisoc import Bus, events, models
from aisoc.cli import main
from aisoc.events import CaseClosed, ReviewRequested, utcnow
from aisoc.runtime import RoleTeam
from aisoc.runtime.scheduler import Scheduler, last_fire
from aisoc.sources import ingest
from bot.service import Bot
from bot.settings import DEFAULT_CARDS, NoiseSettings
from bot.store import BotStore
from cards import render
from gate.evidence import case_view
from gate.service import Gate
from gate.store import State
from integrations.samples import demo_source
from roles import IrLead, ThreatIntel, Tier2
from tests.bot.factory import WallClock, bot_settings, gate_settings, settle
from tests.support.procfile import Supervisor
from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[3]

SECOND_OPINION = textwrap.dedent('''
    """Second Opinion: asks a person to look again when Sentinel closed an alert without confidence."""

    from __future__ import annotations

    from typing import Any

    from pydantic import BaseModel

    from aisoc.events import Event, Line, ReviewRequested, Role, TriageVerdict
    from aisoc.runtime import AgentRole, RoleContext


    class Answer(BaseModel):
        agree: bool
        reason: str


    class OpinionGiven(Event):
        """The role's own event type: its opinion on a closure, whichever way it went (test types
        start with "test.": the catalogue test ignores them)."""

        TYPE = "test.second_opinion"
        STREAM = "cases"

        agree: bool
        reason: Line


    class SecondOpinion(AgentRole):
        name = "second_opinion"
        subscribes = ("triage.verdict",)
        emits = ("test.second_opinion", "case.review_requested")
        budget = 3
        schema = Answer
        prompt_version = "second_opinion/1"
        system_prompt = "You check Sentinel's closures: would you close it too?"

        def accepts(self, event: Event) -> bool:
            return isinstance(event, TriageVerdict) and event.routed_to == "closed"

        def data(self, ctx: RoleContext) -> dict[str, Any]:
            v = ctx.latest(TriageVerdict)
            return {"alert": ctx.alert_json(), "confidence": v.confidence if v else None}

        def handle(self, ctx: RoleContext, output: Any) -> list[Event]:
            said = ctx.make(OpinionGiven, agree=output.agree, reason=output.reason)
            if output.agree:
                return [said]
            return [said, ctx.make(ReviewRequested, role=self.name, reason=output.reason, duty=Role.TIER2)]

        def stub_answer(self, data: dict[str, Any]) -> dict[str, Any]:
            unsure = (data.get("confidence") or 0) < 0.7
            return {"agree": not unsure, "reason": "closed without confidence; a person should look"}
''')

STALE_CLOSER = textwrap.dedent('''
    """Stale Closer: every morning, closes the cases nobody touched for 14 days (open approvals lapse)."""

    from __future__ import annotations

    from collections.abc import Iterable
    from datetime import datetime, timedelta
    from typing import Any

    from aisoc.events import CaseClosed, ClosedBy, Event
    from aisoc.memory import CaseState, fold_cases
    from aisoc.runtime import ScheduledRole

    STALE_AFTER = timedelta(days=14)


    class StaleCloser(ScheduledRole):
        name = "stale_closer"
        schedule = ("30 7 * * *",)
        emits = ("case.closed",)
        prompt_version = "stale_closer/1"

        def report(
            self, events: Iterable[Event], start: datetime, end: datetime, tz: str, memory: Any = None
        ) -> list[Event]:
            out: list[Event] = []
            for case in fold_cases(events, until=end).values():
                idle = end.timestamp() - case.record.last_activity()
                if case.state != CaseState.CLOSED and idle >= STALE_AFTER.total_seconds():
                    out.append(
                        CaseClosed(
                            case_id=case.case_id,
                            disposition="benign",
                            reason="no activity for 14 days; reopen it if it still matters",
                            closed_by=ClosedBy(role=self.name),
                            produced_by=self.producer(),
                        )
                    )
            return out
''')


@dataclass
class Added:
    """The log the added roles' processes left, and the role files they ran from."""

    roles: Path
    db: Path

    def bus(self, tmp_path: Path) -> Bus:
        """A bus over this test's own copy of the log."""
        copy = tmp_path / "soc.db"
        with sqlite3.connect(self.db) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        return Bus(f"sqlite:///{copy}")

    def module(self, name: str) -> ModuleType:
        """Import an added role's file on its own (the test process has the standard roles/)."""
        spec = importlib.util.spec_from_file_location(f"added_{name}", self.roles / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = sys.modules.get(spec.name)
        if module is None:  # registered first: pydantic resolves the file's annotations through it
            module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        return module


@pytest.fixture(scope="module")
def added(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Added]:
    """Given a copy of roles/ with one new agent role and one new scheduled role, and a Procfile with
    one new line, when the Procfile's Sentinel and the new role run as processes over a SQLite bus and
    the demo alerts come in, then the log holds their work."""
    tmp = tmp_path_factory.mktemp("added")
    shutil.copytree(ROOT / "roles", tmp / "roles", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp / "roles" / "second_opinion.py").write_text(SECOND_OPINION)
    (tmp / "roles" / "stale_closer.py").write_text(STALE_CLOSER)
    result = Added(tmp / "roles", tmp / "soc.db")
    result.module("second_opinion")  # this process reads the log too: it knows the role's own events
    procfile = tmp / "Procfile"
    procfile.write_text((ROOT / "Procfile").read_text() + "second_opinion: aisoc worker second_opinion\n")
    url = f"sqlite:///{tmp}/soc.db"
    sup = Supervisor(
        procfile,
        {
            "PYTHONPATH": str(tmp),
            "AISOC_BUS": url,
            "AISOC_RECALL": "off",
            "AISOC_STATE_DIR": str(tmp / "state"),
        },
        tmp / "logs",
        only=["sentinel", "second_opinion"],
    ).start()
    bus = Bus(url)
    done = False
    try:
        ingest(demo_source(), bus)
        deadline = time.monotonic() + 180  # two processes starting on a loaded 2-core machine
        while not done and time.monotonic() < deadline:
            verdicts = [e for e in bus.audit if isinstance(e, events.TriageVerdict)]
            done = len(verdicts) == 12 and all(
                bus.seen("second_opinion", v.event_id) for v in verdicts if v.routed_to == "closed"
            )
            time.sleep(0 if done else 0.2)
    finally:
        codes = sup.stop()
        bus.close()
    logs = "\n".join(f"--- {name}\n{sup.tail(name)}" for name in ("sentinel", "second_opinion"))
    assert done, f"the two processes did not finish the demo alerts in 180 s\n{logs}"
    assert codes == {"sentinel": 0, "second_opinion": 0}, logs
    yield result


def reviews(bus: Bus) -> list[ReviewRequested]:
    return [e for e in bus.audit if isinstance(e, ReviewRequested) and e.role == "second_opinion"]


def test_a_new_role_runs_from_one_file_and_one_procfile_line(added: Added, tmp_path: Path) -> None:
    """Then the new role's events are on the bus under its own slug, one per closure Sentinel was
    unsure of, and every standard role file is byte for byte what it was."""
    bus = added.bus(tmp_path)
    unsure = [
        v
        for v in bus.audit
        if isinstance(v, events.TriageVerdict) and v.routed_to == "closed" and v.confidence < 0.7
    ]
    asked = reviews(bus)
    assert len(asked) == len(unsure) > 0
    assert {e.causation_id for e in asked} == {v.event_id for v in unsure}
    assert all(e.produced_by.role == "second_opinion" for e in asked)
    for original in (ROOT / "roles").glob("*.py"):
        assert (added.roles / original.name).read_bytes() == original.read_bytes()


def test_the_new_roles_reviews_become_cards_the_bot_posts(added: Added, tmp_path: Path) -> None:
    """Given the log, when the bot consumes it, then each review of the new role is a posted card
    naming it, and nothing the bot read was dead-lettered."""
    bus = added.bus(tmp_path)
    clock = WallClock()
    bot = Bot(
        bot_settings(None, state_dir=tmp_path / "bot"), bus=bus, gate_settings=gate_settings(), clock=clock
    )
    try:
        settle(bot, clock)
        assert bot.preview is not None
        posted = [json.dumps(m["attachments"]) for m in bot.preview.messages() if m["attachments"]]
    finally:
        bot.close()
    asked = reviews(bus)
    assert sum("Second Opinion could not decide" in p for p in posted) == len(asked)
    assert [d for d in bus.dead_letters() if d.group == "bot"] == []


def test_a_new_scheduled_role_closes_stale_cases_and_the_gate_cancels_their_requests(
    added: Added, tmp_path: Path
) -> None:
    """Given the rest of the team and the gate working the log in-process, when the new scheduled role
    fires a fortnight later, then it closes every open case under its own slug, the gate cancels the
    pending requests naming it, step one shows the closure, and the bot posts the closures as cards
    once its noise policy names them."""
    bus = added.bus(tmp_path)
    gate = Gate(bus, gate_settings())
    team = RoleTeam(model=models.from_spec("stub"), bus=bus, roles=[Tier2, IrLead, ThreatIntel])
    team.on_action_proposed(gate)
    team.subscribe()
    bus.drain()
    pending = gate.store.pending()
    assert pending
    closer = added.module("stale_closer").StaleCloser()
    sched = Scheduler(bus, [closer])
    (_, _, trig) = sched.triggers[0]
    fire = last_fire(trig, utcnow() + timedelta(days=16))
    assert fire is not None
    closures = sched.fire(closer, trig, fire)
    assert closures and all(
        isinstance(e, CaseClosed) and e.produced_by.role == "stale_closer" for e in closures
    )
    bus.drain()
    for req in pending:
        done = gate.get(req.request_id)
        assert done.state == State.CANCELLED and "by stale_closer" in (done.reason or "")
    view = case_view(bus, pending[0])
    assert any("Stale Closer: closed the case as benign" in line for line in view.timeline)
    card = render(closures[0])
    assert "Stale Closer" in json.dumps(card.content)
    clock = WallClock()
    noise = NoiseSettings(card=[*DEFAULT_CARDS, "case.closed:stale_closer"])
    bot = Bot(
        bot_settings(None, state_dir=tmp_path / "bot", noise=noise),
        bus=bus,
        gate=gate,
        gate_settings=gate.settings,
        clock=clock,
    )
    try:
        settle(bot, clock)
        assert bot.preview is not None
        texts = [m["markdown"] for m in bot.preview.messages()]
    finally:
        bot.close()
        gate.close()
    assert sum("Closed by Stale Closer" in t for t in texts) == len(closures)
    assert [d for d in bus.dead_letters() if d.group in ("bot", "gate")] == []


def test_explain_cites_the_new_roles_events(
    added: Added, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a case the new role reviewed, when `aisoc explain` runs, then its review is a statement
    in its own name citing its event."""
    bus = added.bus(tmp_path)
    review = reviews(bus)[0]
    assert main(["explain", str(review.case_id), "--bus", bus.url]) == 0
    out = capsys.readouterr().out
    assert f"Second Opinion: asked Tier 2 Analyst to review: {review.reason} [ev:{review.event_id}]" in out
    assert main(["explain", str(review.case_id), "--bus", bus.url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (said,) = [s for s in data["statements"] if s["event_id"] == review.event_id and s["lead"]]
    assert (said["role"], said["kind"], said["facts"]["raised_by"]) == (
        "second_opinion",
        "review",
        "second_opinion",
    )


def test_the_scheduler_runs_a_new_scheduled_role_by_its_slug(added: Added, tmp_path: Path) -> None:
    """Given the roles copy on the path, when `aisoc scheduler --run stale_closer` runs, then it is
    found and fires (exit 0) instead of being refused for its slug."""
    bus = added.bus(tmp_path)
    bus.close()
    env = {
        **os.environ,
        "PYTHONPATH": str(added.roles.parent),
        "AISOC_BUS": f"sqlite:///{tmp_path / 'soc.db'}",
        "AISOC_RECALL": "off",
        "AISOC_STATE_DIR": str(tmp_path / "state"),
    }
    run = subprocess.run(
        [sys.executable, "-m", "aisoc", "scheduler", "--run", "stale_closer"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "stale_closer: window" in run.stderr


def test_the_gate_and_bot_processes_decode_the_new_roles_own_event_type(added: Added, tmp_path: Path) -> None:
    """Given the log with the new role's own event type, when the gate worker and the bot run as
    processes (the roles copy on their path) with a noise policy that cards that type, then neither
    dead-letters anything, and the bot posts one generic card per opinion."""
    bus = added.bus(tmp_path)
    given = [e for e in bus.audit if e.type == "test.second_opinion"]
    assert len(given) >= len(reviews(bus)) > 0
    bus.close()
    port = free_port()
    (tmp_path / "aisoc.toml").write_text(
        f"[bot.noise]\ncard = {json.dumps([*DEFAULT_CARDS, 'test.second_opinion'])}\n"
    )
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"gate: aisoc gate worker\nbot: aisoc bot serve --port {port}\n")
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    env = {
        "PYTHONPATH": str(added.roles.parent),
        "AISOC_CONFIG": str(tmp_path / "aisoc.toml"),
        "AISOC_BUS": url,
        "AISOC_STATE_DIR": str(tmp_path / "state"),
        "WEBEX_ACCESS_TOKEN": "",
    }
    sup = Supervisor(procfile, env, tmp_path / "logs").start()
    store = BotStore(str(tmp_path / "soc.bot.db"))
    watch = Bus(url)
    try:
        deadline = time.monotonic() + 180  # a loaded machine: the bot imports for a minute
        while time.monotonic() < deadline:
            posted = sum(p.kind == "test.second_opinion" for p in store.posts())
            # Both processes up (the gate's first beat) before they are stopped: a stop signal that
            # lands while a process still imports ends it by the signal, not by its own shutdown.
            gate_up = any(info.get("role") == "gate" for info in watch.heartbeats().values())
            if posted >= len(given) and gate_up:
                break
            time.sleep(0.3)
    finally:
        watch.close()
        codes = sup.stop()
    cards = [p for p in store.posts() if p.kind == "test.second_opinion"]
    store.close()
    assert codes == {"gate": 0, "bot": 0}, sup.tail("bot") + sup.tail("gate")
    assert len(cards) == len(given), sup.tail("bot")
    bus = Bus(url)
    assert [d for d in bus.dead_letters() if d.group in ("bot", "gate")] == []
    bus.close()
