"""Every quality figure a replay writes stands beside the baselines computed on exactly its tickets:
the team's own figures (human review and unfinished tickets apart), per-role accuracy, each recall
arm, after a sample or a limit, and when tickets fail or go to human review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aisoc.cli import main
from aisoc.models import from_spec
from aisoc.replay import BASELINES, RoleCall, TicketResult, build_metrics, metrics_schema, per_role
from aisoc.replay.labels import DEFAULT_LABEL_DELAY
from tests.aisoc.replay.support import WAZUH, guide_with_grades, run, same
from tests.aisoc.replay.test_resume import StopAfter


def _n(matrix: dict[str, Any]) -> int:
    return sum(matrix["confusion"].values())


def _by_hand(pairs: list[tuple[bool, bool]]) -> dict[str, int]:
    """The confusion counts of (human escalated, decided to escalate) pairs."""
    n = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    for human, escalate in pairs:
        n[("tp" if human else "fp") if escalate else ("fn" if human else "tn")] += 1
    return n


def test_the_teams_own_figures_stand_beside_baselines_on_exactly_the_tickets_it_decided(
    tmp_path: Path,
) -> None:
    """Given real GUIDE incidents and a model answering garbage to some prompts (those tickets go to human
    review), when replayed, then the file holds each baseline scored on exactly the tickets inside the
    team's own confusion matrix (the same count, the decisions recorded per ticket), beside the lift on
    every ticket, where both the team and the baselines count every ticket with a label."""
    data = guide_with_grades(tmp_path / "g.csv", same, incidents=80)
    result = run(data, "guide", model=from_spec("stub?garbage=0.3"), out=tmp_path / "m.json")
    m = json.loads((tmp_path / "m.json").read_text())
    jsonschema.validate(m, metrics_schema())
    assert m["human_review"] > 0
    decided = [
        r for r in result.arms["off"] if r.team in ("escalated", "closed") and r.human_escalated is not None
    ]
    assert sum(m["confusion"].values()) == len(decided) == m["lift"]["decided"]["tickets"]
    block = m["lift"]["decided"]["baselines"]
    assert set(block) == set(BASELINES)
    for name, b in block.items():
        assert _n(b) == len(decided), name
        assert b["confusion"] == _by_hand([(bool(r.human_escalated), r.baselines[name]) for r in decided])
    best = m["lift"]["decided"]["best_baseline"]
    assert m["lift"]["decided"]["f1"] == pytest.approx(m["f1"] - block[best]["f1"], abs=1e-6)
    # on every ticket: the team (review = escalated) and the baselines have the same denominators
    assert _n(m["lift"]["team"]) == m["with_truth"] == 80
    assert all(_n(b) == 80 for b in m["baselines"].values())


def test_each_roles_accuracy_stands_beside_the_baselines_on_the_tickets_it_was_judged_on() -> None:
    """Given ticket results where Sentinel and Tier 2 answered some tickets (Tier 2 once for a human), when
    per-role figures are computed, then each judged role carries each baseline's accuracy on exactly the
    tickets it was judged on (Sentinel against a true-positive label, Tier 2 against the human's
    decision, its human-review answer left out), and a role no label judges carries none."""

    def t(
        n: int, label: str, human: bool, sentinel: str, tier2: str | None, esc_all: bool, prev: bool
    ) -> TicketResult:
        decisions = {"escalate_all": esc_all, "majority_or_escalate": True, "majority_or_close": False}
        return TicketResult(
            arm="off", seq=n, ticket_id=f"t:{n}", created_at="2024-01-01T00:00:00+00:00", label=label,
            human_escalated=human, team="closed", cell="tn", sentinel=sentinel, tier2=tier2,
            roles=("sentinel",) if tier2 is None else ("sentinel", "tier2"),
            calls=(RoleCall("sentinel"),) + ((RoleCall("tier2"),) if tier2 else ()),
            baselines=decisions | {"previous_rule": prev},
        )  # fmt: skip

    results = [
        t(0, "true_positive", True, "malicious", "escalate", True, True),
        t(1, "benign", False, "benign", None, True, False),
        t(2, "false_positive", False, "benign", "human_review", True, True),
        t(3, "benign", True, "malicious", "close", True, False),  # escalated by the human, not a TP label
    ]
    roles = per_role(results, ["sentinel", "tier2", "ir_lead"])
    # Sentinel is judged on all four (threat verdict vs true-positive label): 1 TP label of 4
    assert roles["sentinel"]["accuracy"] == pytest.approx(3 / 4)
    assert roles["sentinel"]["baselines"] == {
        "escalate_all": 1 / 4, "majority_or_escalate": 1 / 4,
        "majority_or_close": 3 / 4, "previous_rule": 3 / 4,
    }  # fmt: skip
    # Tier 2 is judged on tickets 0 and 3 (escalate/close vs the human); its human-review answer abstains
    assert roles["tier2"]["accuracy"] == pytest.approx(1 / 2)
    assert roles["tier2"]["baselines"] == {
        "escalate_all": 1.0, "majority_or_escalate": 1.0, "majority_or_close": 0.0, "previous_rule": 1 / 2,
    }  # fmt: skip
    assert roles["ir_lead"]["accuracy"] is None and roles["ir_lead"]["baselines"] is None


def test_an_interrupted_ab_compares_the_arms_on_the_same_tickets(tmp_path: Path) -> None:
    """Given a recall A/B stopped in its recall-on arm after 4 tickets, when the metrics are written, then
    the A/B's arms, its delta and each arm's lift are computed on the 4 tickets both arms finished (never
    all of recall off against 4 of recall on)."""
    data = guide_with_grades(tmp_path / "g.csv", same, incidents=12)
    result = run(data, "guide", recall="ab", out=tmp_path / "m.json", progress=StopAfter("on", 4))
    assert result.interrupted and len(result.arms["off"]) == 12 and len(result.arms["on"]) == 4
    ab = json.loads((tmp_path / "m.json").read_text())["recall_ab"]
    assert ab["off"]["tickets"] == ab["on"]["tickets"] == 4
    assert _n(ab["lift"]["off"]["team"]) == _n(ab["lift"]["on"]["team"]) == 4


def test_a_guardrail_overrule_for_a_severe_alert_fits_the_schema() -> None:
    """Given a ticket whose close the guardrail refused because the alert is severe (a documented rule),
    when the metrics are built, then they count it per rule and still match the metrics file's schema."""
    r = TicketResult(
        arm="on", seq=0, ticket_id="t:0", created_at="2024-01-01T00:00:00+00:00", label="true_positive",
        human_escalated=True, team="escalated", cell="tp", sentinel="benign", roles=("sentinel", "tier2"),
        calls=(RoleCall("sentinel", guardrail="severe_alert"), RoleCall("tier2")),
        baselines=dict.fromkeys(BASELINES, True),
    )  # fmt: skip
    m = build_metrics(
        run_id="replay-x", generated_at="2024-01-01T00:00:00+00:00", source="toy", model="stub",
        arms={"on": [r]}, roles=["sentinel", "tier2"], wall_s=0.1, errors=[],
        label_delay=DEFAULT_LABEL_DELAY, guardrail_policy="p",
    )  # fmt: skip
    assert m["guardrail"]["by_rule"] == {"severe_alert": {"overruled": 1, "right": 1, "wrong": 0}}
    jsonschema.validate(m, metrics_schema())


@pytest.mark.parametrize("delay", ["0", "1d"])
@pytest.mark.parametrize(
    "selection",
    [["--sample", "30", "--stratify", "--seed", "5"], ["--limit", "25"]],
    ids=["stratified-sample", "limit"],
)
def test_after_a_selection_every_arm_and_delay_scores_team_and_baselines_on_the_same_tickets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], selection: list[str], delay: str
) -> None:
    """Given the real Wazuh alerts cut by a sample or a limit, when replayed A/B at a label delay, then in
    each arm the team (review = escalated) and every baseline count exactly the selected tickets with a
    label, and the team's own figures and the baselines beside them count exactly the decided ones."""
    out = tmp_path / "w.json"
    argv = ["replay", str(WAZUH), "--source", "wazuh", "--dry-run", "--no-progress", "--recall", "ab"]
    assert main([*argv, *selection, "--label-delay", delay, "--out", str(out)]) == 0
    capsys.readouterr()
    m = json.loads(out.read_text())
    jsonschema.validate(m, metrics_schema())
    n = int(selection[1])
    assert m["tickets"] == m["with_truth"] == n
    for arm in ("off", "on"):
        lift = m["recall_ab"]["lift"][arm]
        scores = m["recall_ab"][arm]
        assert scores["tickets"] == _n(lift["team"]) == n
        assert lift["decided"]["tickets"] == sum(scores["confusion"].values())
        for b in lift["decided"]["baselines"].values():
            assert _n(b) == lift["decided"]["tickets"]
    assert all(_n(b) == n for b in m["baselines"].values())
    assert m["lift"] == m["recall_ab"]["lift"]["on"]


def test_the_ab_delta_on_every_ticket_compares_the_same_tickets_when_review_differs() -> None:
    """Given an A/B where recall off sends one true positive to human review and recall on closes it,
    when scored, then ``delta`` (scoring's, each arm's decided tickets) compares 3 tickets with 4, while
    ``delta_same_tickets`` compares the arms on the same 4 tickets (review = escalated, as beside the
    baselines) and equals the difference of the arms' lift figures."""
    from aisoc.replay import recall_ab

    def t(arm: str, n: int, human: bool, team: str) -> TicketResult:
        return TicketResult(
            arm=arm, seq=n, ticket_id=f"t:{n}", created_at="2024-01-01T00:00:00+00:00",
            label="true_positive" if human else "benign", human_escalated=human, team=team, cell="?",
            baselines=dict.fromkeys(BASELINES, True),
        )  # fmt: skip

    off = [t("off", 0, True, "escalated"), t("off", 1, True, "human_review"), t("off", 2, False, "closed")]
    off.append(t("off", 3, False, "escalated"))
    on = [t("on", 0, True, "escalated"), t("on", 1, True, "closed"), t("on", 2, False, "closed")]
    on.append(t("on", 3, False, "escalated"))
    ab = recall_ab(off, on)
    assert sum(ab["off"]["confusion"].values()) == 3 and sum(ab["on"]["confusion"].values()) == 4
    same = ab["delta_same_tickets"]
    # every ticket, review = escalated: off P 2/3 R 1 F1 0.8; on P 1/2 R 1/2 F1 0.5
    assert same == {
        "precision": pytest.approx(1 / 2 - 2 / 3, abs=1e-6),
        "recall": pytest.approx(-1 / 2, abs=1e-6),
        "f1": pytest.approx(0.5 - 0.8, abs=1e-6),
    }
    for m in ("precision", "recall", "f1"):
        lifted = ab["lift"]["on"]["team"][m] - ab["lift"]["off"]["team"][m]
        assert same[m] == pytest.approx(lifted, abs=1e-6)
