"""The metrics file: the architecture's confusion matrix, human review outside the denominators, the
documented keys and schema, and every figure recomputable from the per-ticket JSONL."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aisoc.replay import (
    RoleCall,
    RunFiles,
    TicketResult,
    metrics_schema,
    per_role,
    percentile,
    read_results,
    recompute,
    scores,
)
from tests.aisoc.replay.support import WAZUH, guide_with_grades, run, same

KEYS = [
    "schema_version",
    "run_id",
    "generated_at",
    "source",
    "model",
    "label_delay",
    "label_delay_s",
    "tickets",
    "with_truth",
    "human_review",
    "confusion",
    "precision",
    "recall",
    "f1",
    "accuracy",
    "per_role",
    "baselines",
    "lift",
    "guardrail",
    "recall_ab",
    "wall_s",
    "errors",
]
"""The metrics file's keys: issue 8's, with issue 17's label delay, baselines, lift and guardrail."""
ROLE_KEYS = [
    "n",
    "accuracy",
    "baselines",
    "p50_ms",
    "p95_ms",
    "tool_calls",
    "tool_calls_per_ticket",
    "tokens",
    "tokens_per_ticket",
]


def ticket(n: int, human: bool | None, team: str, **kw: Any) -> TicketResult:
    """A ticket result with the human's and the team's decision."""
    label = None if human is None else ("true_positive" if human else "benign")
    return TicketResult(
        arm="off",
        seq=n,
        ticket_id=f"t:{n}",
        created_at="2024-01-01T00:00:00+00:00",
        label=label,
        human_escalated=human,
        team=team,
        cell="?",
        **kw,
    )


def test_the_confusion_matrix_is_the_architectures() -> None:
    """Given each combination of human and team decision, when scored, then TP/FN/FP/TN are as defined."""
    results = [
        ticket(0, True, "escalated"),  # TP: human escalated, team escalated to IR Lead
        ticket(1, True, "closed"),  # FN: human escalated, team closed (Sentinel or Tier 2)
        ticket(2, False, "escalated"),  # FP: human closed, team escalated
        ticket(3, False, "closed"),  # TN: both closed
        ticket(4, False, "closed"),
    ]
    s = scores(results)
    assert s["confusion"] == {"tp": 1, "fp": 1, "tn": 2, "fn": 1}
    assert (s["precision"], s["recall"], s["accuracy"]) == (0.5, 0.5, 0.6)
    assert s["f1"] == pytest.approx(0.5)


def test_human_review_is_counted_apart_and_outside_every_denominator() -> None:
    """Given tickets sent to human review, when scored, then they are counted but change no metric."""
    base = [ticket(0, True, "escalated"), ticket(1, True, "closed"), ticket(2, False, "closed")]
    more = base + [
        ticket(3, True, "human_review"),
        ticket(4, False, "human_review"),
        ticket(5, None, "closed"),
    ]
    a, b = scores(base), scores(more)
    assert b["human_review"] == 2 and b["tickets"] == 6 and b["with_truth"] == 5
    assert {k: b[k] for k in ("confusion", "precision", "recall", "f1", "accuracy")} == {
        k: a[k] for k in ("confusion", "precision", "recall", "f1", "accuracy")
    }


def test_empty_denominators_give_null_not_zero() -> None:
    """Given a team that escalated nothing and no human escalation, when scored, then the metrics are null."""
    s = scores([ticket(0, False, "closed"), ticket(1, False, "human_review")])
    assert (s["precision"], s["recall"], s["f1"], s["accuracy"]) == (None, None, None, 1.0)
    assert scores([])["accuracy"] is None


def test_per_role_latency_tool_calls_and_tokens_per_ticket_worked() -> None:
    """Given role calls on tickets, when summarised, then n, percentiles and per-ticket sums hold."""
    calls = [
        (RoleCall("sentinel", 10.0, 1, 100, 20),),
        (RoleCall("sentinel", 20.0, 0, 50, 10), RoleCall("tier2", 5.0, 3, 200, 40)),
        (RoleCall("sentinel", 30.0, 2, 0, 0),),
    ]
    results = [ticket(n, True, "closed", calls=c) for n, c in enumerate(calls)]
    roles = per_role(results, ["sentinel", "tier2", "ir_lead"])
    assert list(roles) == ["sentinel", "tier2", "ir_lead"] and list(roles["sentinel"]) == ROLE_KEYS
    s = roles["sentinel"]
    assert (s["n"], s["p50_ms"], s["p95_ms"], s["tool_calls"], s["tokens"]) == (3, 20.0, 30.0, 3, 180)
    assert s["tool_calls_per_ticket"] == 1.0 and s["tokens_per_ticket"] == 60.0
    assert roles["tier2"]["tokens_per_ticket"] == 240.0 and roles["tier2"]["accuracy"] is None
    assert roles["ir_lead"] == {k: 0 if k in ("n", "tool_calls", "tokens") else None for k in ROLE_KEYS}
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile([1, 2], 95) == 2 and percentile([], 50) is None


@pytest.fixture(scope="module")
def wazuh_ab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recall A/B replay of the real Wazuh alerts with the canned model (metrics file path)."""
    out = tmp_path_factory.mktemp("wazuh") / "metrics.json"
    run(WAZUH, "wazuh", recall="ab", out=out)
    return out


def test_the_metrics_file_has_exactly_the_documented_keys_and_matches_its_schema(wazuh_ab: Path) -> None:
    """Given a replay's metrics file, when read, then its keys are the documented ones and it validates."""
    m = json.loads(wazuh_ab.read_text())
    assert list(m) == KEYS
    assert list(m["confusion"]) == ["tp", "fp", "tn", "fn"]
    assert all(list(r) == ROLE_KEYS for r in m["per_role"].values())
    assert set(m["per_role"]) == {"sentinel", "tier2", "ir_lead", "threat_intel"}
    assert list(m["recall_ab"]) == ["off", "on", "delta", "delta_same_tickets", "verdict", "lift"] and list(
        m["recall_ab"]["delta"]
    ) == [
        "precision",
        "recall",
        "f1",
    ]
    jsonschema.Draft202012Validator.check_schema(metrics_schema())
    jsonschema.validate(m, metrics_schema())
    assert (m["schema_version"], m["source"], m["model"], m["tickets"], m["with_truth"]) == (
        2,
        "wazuh",
        "stub",
        89,
        89,
    )


def test_every_figure_is_recomputed_from_the_per_ticket_jsonl(wazuh_ab: Path) -> None:
    """Given the per-ticket JSONL beside the metrics, when counted by hand, then every figure matches."""
    m = json.loads(wazuh_ab.read_text())
    lines = [json.loads(x) for x in RunFiles(wazuh_ab).tickets.read_text().splitlines()]
    for arm, block in (("on", m), ("on", m["recall_ab"]["on"]), ("off", m["recall_ab"]["off"])):
        mine = [x for x in lines if x["arm"] == arm]
        by_hand = Counter()
        for x in mine:
            if x["human_escalated"] is None or x["team"] in ("human_review", "open"):
                continue
            esc = x["team"] == "escalated"
            by_hand[("t" if esc == x["human_escalated"] else "f") + ("p" if esc else "n")] += 1
        assert {k: by_hand[k] for k in ("tp", "fp", "tn", "fn")} == block["confusion"]
        assert Counter(x["cell"] for x in mine if x["cell"] in ("tp", "fp", "tn", "fn")) == +by_hand
        tp, fp, fn, tn = (by_hand[k] for k in ("tp", "fp", "fn", "tn"))
        assert block["precision"] == pytest.approx(tp / (tp + fp))
        assert block["recall"] == pytest.approx(tp / (tp + fn))
        assert block["accuracy"] == pytest.approx((tp + tn) / (tp + fp + fn + tn))
        assert block["human_review"] == sum(1 for x in mine if x["cell"] == "human_review")
    sentinel_ms = sorted(
        c["ms"] for x in lines if x["arm"] == "on" for c in x["calls"] if c["role"] == "sentinel"
    )
    assert m["per_role"]["sentinel"]["p95_ms"] == sentinel_ms[-(-95 * len(sentinel_ms) // 100) - 1]
    assert m["recall_ab"]["delta"]["f1"] == pytest.approx(
        m["recall_ab"]["on"]["f1"] - m["recall_ab"]["off"]["f1"]
    )
    again = recompute(RunFiles(wazuh_ab).tickets, m["per_role"], m["guardrail"]["policy"])
    assert {k: again[k] for k in again} == {k: m[k] for k in again}


def test_unreadable_and_duplicate_records_are_errors_of_the_source_stage(tmp_path: Path) -> None:
    """Given a file with a broken line and a duplicate, when replayed, then both are reported, not scored."""
    lines = WAZUH.read_bytes().splitlines(keepends=True)[:5]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(lines) + b"{not json\r\n" + lines[0])
    result = run(bad, "wazuh", out=tmp_path / "m.json")
    m = result.metrics
    assert m["tickets"] == 5 and [e["stage"] for e in m["errors"]] == ["source", "source"]
    assert "duplicate" in m["errors"][1]["message"] and m["errors"][1]["ticket_id"].startswith("wazuh:")
    assert len(read_results(RunFiles(tmp_path / "m.json").tickets)) == 5


def test_a_failing_role_is_reported_and_its_ticket_goes_to_human_review(tmp_path: Path) -> None:
    """Given a model answering garbage for some prompts, when replayed, then those tickets go to human
    review (counted apart) and each failure is listed as an error of its role."""
    from aisoc.models import from_spec

    data = guide_with_grades(tmp_path / "g.csv", same, incidents=60)
    result = run(data, "guide", model=from_spec("stub?garbage=0.3"))
    m = result.metrics
    failures = [e for e in m["errors"] if e["stage"] in m["per_role"]]
    assert failures and all("invalid output" in e["message"] for e in failures)
    assert m["human_review"] >= len({e["ticket_id"] for e in failures if e["stage"] == "sentinel"}) > 0
    c = m["confusion"]
    assert c["tp"] + c["fp"] + c["tn"] + c["fn"] + m["human_review"] == m["with_truth"] == 60
