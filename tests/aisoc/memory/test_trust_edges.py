"""Memory's edge cases: one tenant key, case-less human decisions filed under their case, projections
identical whatever the fold order and across restarts, and truth imports that name unknown cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from aisoc import Bus
from aisoc.cli import main
from aisoc.events import Event
from aisoc.memory import Memory
from aisoc.tenants import tenant_key

from . import factory as f
from .test_truth_cli import TinySource, labels, use


def memory(events: list[Event], snap: Path | None = None) -> Memory:
    bus = Bus()
    for e in events:
        bus.publish(e)
    mem = Memory(bus.audit, snapshot_path=snap, auto_refresh=False)
    mem.refresh()
    return mem


def test_no_tenant_and_the_empty_tenant_are_one_tenant() -> None:
    """Given one case without a tenant and one with tenant "" (and one of "org1"), when memory is asked about
    the default tenant either way, then both of those cases answer, never org1's."""
    events = [
        *f.contained("a", "WS-1", tenant=None, ind=[("ip", "203.0.113.5")]),
        *f.contained("b", "WS-1", minutes=10, tenant="", ind=[("ip", "203.0.113.5")]),
        *f.contained("c", "WS-1", minutes=20, tenant="org1", ind=[("ip", "203.0.113.5")]),
    ]
    mem = memory(events)
    for default in (None, "", "  "):
        assert tenant_key(default) == ""
        assert mem.cases_with("ip:203.0.113.5", tenant=default) == ["test:a", "test:b"]
    assert sorted(mem.cases_on_host("WS-1", tenant="")) == ["test:a", "test:b"]
    assert mem.rule_history("", "R1").fired == mem.rule_history(None, "R1").fired == 2
    assert mem.case("test:b").alert.tenant is None  # type: ignore[union-attr]


@pytest.mark.parametrize("decision_first", [False, True])
def test_a_decision_published_without_a_case_id_is_filed_under_its_case(
    decision_first: bool, tmp_path: Path
) -> None:
    """Given alice's approval published without a case id (before or after the proposal reaches memory),
    when the case is explained, also after a restart from the snapshot, then her decision is there."""
    story = f.contained("a", "WS-1")[:5]  # alert ... proposal, no decision yet
    decision = f.decided(None, "act-a", who="alice")
    events = [decision, *story] if decision_first else [*story, decision]
    snap = tmp_path / "mem.sqlite"
    mem = memory(events[:3], snap)
    mem.close()
    bus = Bus()
    for e in events:
        bus.publish(e)
    for attempt in range(2):  # a fresh snapshot-less fold, then a restart from the snapshot
        mem = Memory(bus.audit, snapshot_path=snap if attempt else None, auto_refresh=False)
        mem.refresh()
        state = mem.action("act-a")
        assert state is not None and state.case_id == "test:a" and state.action.decided is not None
        assert state.action.decided.by == "alice"
        assert "alice" in mem.explain("test:a").text()
        mem.close()


def test_projections_are_identical_whatever_the_fold_order_and_after_a_restart(tmp_path: Path) -> None:
    """Given an action re-proposed for another host, when folded in either order, with or without a
    restart between the two proposals, then the projections and explain_host's answers are identical."""
    a = f.alert("a", hosts=["WS-9"])
    first = f.proposed("test:a", "act-1", "WS-1", when=f.at(4))
    second = f.proposed("test:a", "act-1", "WS-2", when=f.at(8))
    dumps, answers = [], []
    for order in ([a, first, second], [a, second, first]):
        for restart in (False, True):
            snap = tmp_path / f"{len(dumps)}.sqlite"
            bus = Bus()
            mem = Memory(bus.audit, snapshot_path=snap, auto_refresh=False)
            for e in order:
                bus.publish(e)
                mem.refresh()
                if restart:
                    mem.close()
                    mem = Memory(bus.audit, snapshot_path=snap, auto_refresh=False)
            dumps.append(mem.dump())
            answers.append((mem.cases_on_host("WS-1"), mem.cases_on_host("WS-2")))
            mem.close()
    assert all(d == dumps[0] for d in dumps)
    assert all(x == ([], ["test:a"]) for x in answers), answers


def test_truth_import_reports_unknown_cases_and_strict_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given labels for one case the SOC saw and one it never saw, when imported, then the report names the
    unknown one; with --strict nothing is published and the exit status is 1."""
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    with Bus(url) as bus:
        bus.publish(f.alert("1", source="tiny"))
    use(monkeypatch, lambda name, path: TinySource(path, {"1": "TP", "404": "FP"}))
    assert main(["truth", "import", "t", "--source", "tiny", "--bus", url, "--strict"]) == 1
    assert "1 label(s) for case(s) this SOC has never seen: tiny:404" in capsys.readouterr().err
    assert labels(url) == []
    assert main(["truth", "import", "t", "--source", "tiny", "--bus", url]) == 0
    out = capsys.readouterr().out
    assert "published 2 labels" in out and "never seen: tiny:404" in out
    assert len(labels(url)) == 2
