"""Adding a role is one file in roles/ plus one line in the Procfile; no other role changes."""

from __future__ import annotations

import shutil
import textwrap
import time
from pathlib import Path

from aisoc import Bus, events
from aisoc.sources import ingest
from integrations.samples import demo_source
from tests.support.procfile import Supervisor

ROOT = Path(__file__).resolve().parents[3]

SECOND_OPINION = textwrap.dedent('''
    """Second Opinion: asks a person to look again at suspicious alerts Sentinel closed."""

    from __future__ import annotations

    from typing import Any

    from pydantic import BaseModel

    from aisoc.events import Event, ReviewRequested, Role, TriageVerdict
    from aisoc.runtime import AgentRole, RoleContext


    class Answer(BaseModel):
        agree: bool
        reason: str


    class SecondOpinion(AgentRole):
        name = "second_opinion"
        subscribes = ("triage.verdict",)
        emits = ("case.review_requested",)
        budget = 3
        schema = Answer
        prompt_version = "second_opinion/1"
        system_prompt = "You check Sentinel's closures of suspicious alerts."

        def accepts(self, event: Event) -> bool:
            return isinstance(event, TriageVerdict) and event.routed_to == "closed"

        def data(self, ctx: RoleContext) -> dict[str, Any]:
            v = ctx.latest(TriageVerdict)
            return {"alert": ctx.alert_json(), "verdict": v.verdict if v else None}

        def handle(self, ctx: RoleContext, output: Any) -> list[Event]:
            if output.agree:
                return []
            return [ctx.make(ReviewRequested, role=self.name, reason=output.reason, duty=Role.TIER2)]

        def stub_answer(self, data: dict[str, Any]) -> dict[str, Any]:
            closed_suspicious = data.get("verdict") == "suspicious"
            return {"agree": not closed_suspicious, "reason": "closed while suspicious; a person should look"}
''')


def test_a_new_role_runs_from_one_file_and_one_procfile_line(tmp_path: Path) -> None:
    """Given a copy of roles/ with one new file and a Procfile with one new line, when the Procfile's
    Sentinel and the new role run as processes, the new role's events appear on the bus under its
    own slug, and every standard role file is byte for byte what it was."""
    shutil.copytree(ROOT / "roles", tmp_path / "roles", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "roles" / "second_opinion.py").write_text(SECOND_OPINION)
    procfile = tmp_path / "Procfile"
    procfile.write_text((ROOT / "Procfile").read_text() + "second_opinion: aisoc worker second_opinion\n")
    url = f"sqlite:///{tmp_path}/soc.db"
    sup = Supervisor(
        procfile,
        {
            "PYTHONPATH": str(tmp_path),
            "AISOC_BUS": url,
            "AISOC_RECALL": "off",
            "AISOC_STATE_DIR": str(tmp_path / "state"),
        },
        tmp_path / "logs",
        only=["sentinel", "second_opinion"],
    ).start()
    bus = Bus(url)
    try:
        ingest(demo_source(), bus)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            verdicts = [e for e in bus.audit if isinstance(e, events.TriageVerdict)]
            if len(verdicts) == 12 and all(
                bus.seen("second_opinion", v.event_id) for v in verdicts if v.routed_to == "closed"
            ):
                break
            time.sleep(0.2)
    finally:
        codes = sup.stop()
    assert codes == {"sentinel": 0, "second_opinion": 0}, sup.tail("second_opinion")
    closed_suspicious = [
        v
        for v in bus.audit
        if isinstance(v, events.TriageVerdict) and v.routed_to == "closed" and v.verdict == "suspicious"
    ]
    asked = [e for e in bus.audit if isinstance(e, events.ReviewRequested) and e.role == "second_opinion"]
    assert len(asked) == len(closed_suspicious)
    assert all(e.produced_by.role == "second_opinion" for e in asked)
    for original in (ROOT / "roles").glob("*.py"):
        assert (tmp_path / "roles" / original.name).read_bytes() == original.read_bytes()
