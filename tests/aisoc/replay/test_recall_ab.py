"""The recall A/B on real GUIDE evidence: precedent only from earlier tickets, labels folded only after
scoring, and the delta reported with scoring's own verdict."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from aisoc.events import AlertReceived, TruthLabeled
from aisoc.replay import ReplayResult
from tests.aisoc.replay.support import guide_with_grades, run, same


@pytest.fixture(scope="module")
def guide_ab(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    """A recall A/B replay of 400 real GUIDE incidents with the canned model."""
    path = guide_with_grades(tmp_path_factory.mktemp("guide") / "guide.csv", same, incidents=400)
    return run(path, "guide", recall="ab")


def test_precedent_only_ever_comes_from_earlier_tickets(guide_ab: ReplayResult) -> None:
    """Given the recall-on arm, when every precedent a role was shown is checked, then each precedent case
    was created strictly before the ticket it informed, and the recall-off arm was shown none."""
    created = {r.ticket_id: r.created_at for r in guide_ab.arms["on"]}
    shown = 0
    for arm, bus in guide_ab.buses.items():
        for e in bus.audit:
            trace = getattr(e, "trace", None)
            if trace is None or e.case_id is None:
                continue
            if arm == "off":
                assert trace.precedent == []
                continue
            for p in trace.precedent:
                shown += 1
                assert created[p.case_id] < created[e.case_id], (p.case_id, e.case_id)
    assert shown > 50


def test_a_label_is_published_only_after_its_ticket_was_scored(guide_ab: ReplayResult) -> None:
    """Given the recall-on arm's log, when read in order, then each truth.labeled follows every team event of
    its case and precedes the next ticket's alert; exactly the labels a day old by the last ticket were
    published (the default delay); the recall-off arm carries no label at all."""
    assert not any(isinstance(e, TruthLabeled) for e in guide_ab.buses["off"].audit)
    log = list(guide_ab.buses["on"].audit)
    labels = [i for i, e in enumerate(log) if isinstance(e, TruthLabeled)]
    created = {r.ticket_id: datetime.fromisoformat(r.created_at) for r in guide_ab.arms["on"]}
    last = max(created.values())
    assert {log[i].case_id for i in labels} == {
        c for c, t in created.items() if t + timedelta(days=1) <= last
    }
    assert 300 < len(labels) < 400
    for i in labels:
        case = log[i].case_id
        assert all(e.case_id != case for e in log[i + 1 :] if not isinstance(e, TruthLabeled))
        assert i + 1 == len(log) or isinstance(log[i + 1], AlertReceived | TruthLabeled)


def test_the_ab_block_reports_both_arms_and_the_delta(guide_ab: ReplayResult) -> None:
    """Given both arms over the same tickets, when reported, then the delta is on minus off, the top level is
    the recall-on arm, and the verdict says what happened."""
    m = guide_ab.metrics
    ab = m["recall_ab"]
    assert ab["off"]["tickets"] == ab["on"]["tickets"] == m["tickets"] == 400
    for k in ("precision", "recall", "f1"):
        assert ab["delta"][k] == pytest.approx(ab["on"][k] - ab["off"][k])
        assert m[k] == ab["on"][k]
    assert ab["verdict"].startswith(("recall helped", "it did not help", "cannot tell"))
    assert [r.ticket_id for r in guide_ab.arms["off"]] == [r.ticket_id for r in guide_ab.arms["on"]]


def test_recall_on_alone_runs_one_arm_with_no_ab_block(tmp_path: Path) -> None:
    """Given --recall on, when replayed, then one arm runs and recall_ab is null."""
    path = guide_with_grades(tmp_path / "g.csv", same, incidents=30)
    result = run(path, "guide", recall="on")
    assert list(result.arms) == ["on"] and result.metrics["recall_ab"] is None
