"""Interrogation: "why did it contain that host?", from the recorded trace and decisions only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aisoc import Bus
from aisoc.cli import main
from aisoc.events import Event, PrecedentRef, ToolCallRecord
from aisoc.memory import Memory, UnknownCase, check_narrative

from . import factory as f


def published(bus: Bus, evs: list[Event]) -> list[Event]:
    for e in evs:
        bus.publish(e)
    return evs


def story_with_trace() -> list[Event]:
    evs = f.contained("1", "ws-1", ind=[("ip", "203.0.113.9")])
    evs[1] = f.triage(
        "test:1",
        "malicious",
        routed="tier2",
        when=f.at(1),
        precedent=[
            PrecedentRef(
                case_id="test:0", verdict="true_positive", decided_by="human:carol", shared=["ip:203.0.113.9"]
            )
        ],
        tools=[
            ToolCallRecord(
                name="ip_reputation", arguments={"ip": "203.0.113.9"}, result="malicious (feed X)"
            ),
            ToolCallRecord(name="isolate", arguments={}, refused=True),
        ],
    )
    return evs


def test_explain_cites_the_event_of_every_statement() -> None:
    """Given a contained host, when its case is explained, then each statement cites an event of the case."""
    bus = Bus()
    evs = published(bus, story_with_trace())
    expl = Memory(bus.audit).explain("test:1")
    logged = {e.event_id for e in evs}
    assert expl.statements and all(s.event_id in logged for s in expl.statements)
    text = expl.text()
    for line in text.splitlines()[1:]:
        if line.strip().startswith("- "):
            assert re.search(r"\[ev:[0-9a-f]+\]$", line)
    assert expl.case_ids == ("test:1",)


def test_explain_tells_tools_precedent_model_leg_prompt_and_the_human_decisions() -> None:
    """Given a traced story, when explained, then tools, precedent, leg, prompt and approvals are all told."""
    bus = Bus()
    evs = published(bus, story_with_trace())
    expl = Memory(bus.audit).explain("test:1")
    by_kind: dict[str, list[str]] = {}
    for s in expl.statements:
        by_kind.setdefault(s.kind, []).append(f"{s.actor}: {s.text}")
    assert any("ip_reputation" in t and "malicious (feed X)" in t for t in by_kind["tool"])
    assert any("refused" in t for t in by_kind["tool"])
    assert any("precedent case test:0 (true_positive by human:carol" in t for t in by_kind["precedent"])
    assert any("prompt sentinel/3 on model leg primary" in t for t in by_kind["model"])
    assert by_kind["decision"] == [
        "Human alice: approved action act-1 (isolate_host on ws-1) via gate, identity from webex: "
        "confirmed beaconing"
    ]
    assert by_kind["execution"][0].startswith("Human bob: reported carrying out action act-1")
    decision = next(s for s in expl.statements if s.kind == "decision")
    assert decision.event_id == evs[5].event_id


def test_explain_host_answers_why_it_was_contained() -> None:
    """Given two cases, one containing the host, when it is explained, then the containing case leads."""
    bus = Bus()
    published(bus, [f.alert("seen", hosts=["WS-1"], created=f.at(100))])
    evs = published(bus, f.contained("1", "ws-1"))
    expl = Memory(bus.audit).explain_host("ws-1")
    assert expl.case_ids == ("test:1", "test:seen")
    kinds = [s.kind for s in expl.answer if s.case_id == "test:1"]
    assert kinds == ["verdict", "verdict", "plan", "step", "proposal", "decision", "execution", "closure"]
    assert {s.event_id for s in expl.answer if s.kind in ("proposal", "decision", "execution")} == {
        evs[4].event_id,
        evs[5].event_id,
        evs[6].event_id,
    }


def test_unknown_case_or_host_raises() -> None:
    """Given an empty log, when a case or a host is explained, then UnknownCase is raised."""
    mem = Memory(Bus().audit)
    with pytest.raises(UnknownCase):
        mem.explain("test:nope")
    with pytest.raises(UnknownCase):
        mem.explain_host("nobody")


def test_a_narrator_citing_only_the_record_is_kept() -> None:
    """Given a narrator that cites real events on every line, then its prose is the answer."""
    bus = Bus()
    evs = published(bus, f.contained("1", "ws-1"))
    approve, done = evs[5].event_id, evs[6].event_id

    def narrator(record: str) -> str:
        assert f"[ev:{approve}]" in record
        return f"Alice approved isolating ws-1 [ev:{approve}].\nBob carried it out [ev:{done}]."

    expl = Memory(bus.audit).explain("test:1", narrator=narrator)
    assert expl.rejected is None
    assert expl.text().startswith("Alice approved")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("The model was very sure [ev:deadbeef].", "not in the record: deadbeef"),
        ("It isolated ws-1 because of ransomware.", "cites nothing"),
        ("", "empty"),
    ],
)
def test_a_narrator_citing_anything_else_is_rejected(answer: str, reason: str) -> None:
    """Given a narrator inventing or omitting citations, then the deterministic narrative is returned."""
    bus = Bus()
    published(bus, f.contained("1", "ws-1"))
    mem = Memory(bus.audit)
    expl = mem.explain("test:1", narrator=lambda _: answer)
    assert expl.rejected is not None and reason in expl.rejected
    assert expl.text() == expl.deterministic() == mem.explain("test:1").text()


def test_a_line_without_citation_rejects_the_whole_narrative() -> None:
    """Given prose where one line is uncited, then the check rejects it naming the line."""
    reason = check_narrative("Approved [ev:a].\nAnd it was obviously APT29.", frozenset({"a"}))
    assert reason is not None and "APT29" in reason


def test_a_failing_narrator_falls_back_to_the_record() -> None:
    """Given a narrator that raises, then the deterministic narrative is returned with the reason."""
    bus = Bus()
    published(bus, f.contained("1", "ws-1"))

    def broken(_: str) -> str:
        raise TimeoutError("model down")

    expl = Memory(bus.audit).explain("test:1", narrator=broken)
    assert expl.narrative is None and "model down" in (expl.rejected or "")


def test_cli_explains_a_case_and_a_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Given a SQLite bus with a contained host, when `aisoc explain` runs, then it prints the cited story."""
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    with Bus(url) as bus:
        evs = published(bus, f.contained("1", "ws-1"))
    assert main(["explain", "test:1", "--bus", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Why: case test:1") and f"[ev:{evs[5].event_id}]" in out
    snap = tmp_path / "mem.sqlite"
    assert main(["explain", "WS-1", "--bus", url, "--json", "--snapshot", str(snap)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["subject"] == "host WS-1" and data["case_ids"] == ["test:1"]
    assert snap.exists()
    assert main(["explain", "nobody", "--bus", url, "--snapshot", "none"]) == 1
    assert "nothing to explain" in capsys.readouterr().err
