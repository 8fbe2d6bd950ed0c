"""The metrics file: scores from the per-ticket results, with :mod:`aisoc.memory.scoring`'s definitions.

Everything here is a pure function of :class:`~aisoc.replay.journal.TicketResult` lists, so the
engine and :func:`recompute` (which reads ``*.tickets.jsonl``) give the same figures. The confusion
matrix, precision, recall, F1, accuracy and per-role accuracy are scoring's own (``confusion``,
``role_accuracy``, ``ab_delta``): tickets sent to human review, unfinished tickets and tickets
without ground truth sit outside every denominator, and a metric with an empty denominator is
null, never 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from aisoc.events import Disposition, Role, Tier2Decision
from aisoc.memory import CaseOutcome, Confusion, ab_delta, confusion, role_accuracy, score
from aisoc.replay.baselines import BASELINES, baseline_confusion, decision_confusion
from aisoc.replay.journal import TicketResult, read_results
from aisoc.replay.labels import format_duration

SCHEMA_VERSION = 2
"""Version of the metrics file's layout (``schema_version``); bumped on incompatible changes."""
MAX_ERRORS = 1000
"""Errors listed one by one in a metrics file; the rest are summed up in one last entry."""


def metrics_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the metrics file."""
    text = resources.files("aisoc.replay").joinpath("metrics.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def scores(results: Sequence[TicketResult]) -> dict[str, Any]:
    """The escalation scores of one arm: counts, the confusion matrix and the four metrics.

    ``human_review`` counts tickets with ground truth that the team sent to a person; like tickets
    the team never finished, they are outside the matrix (``with_truth`` = tp + fp + tn + fn +
    human_review + unfinished).
    """
    c = confusion(r.outcome() for r in results)
    return {
        "tickets": len(results),
        "with_truth": sum(1 for r in results if r.human_escalated is not None),
        "human_review": c.human_review,
        "confusion": {"tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn},
        "precision": c.precision,
        "recall": c.recall,
        "f1": c.f1,
        "accuracy": c.accuracy,
    }


def _matrix(c: Confusion) -> dict[str, Any]:
    return {
        "confusion": {"tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn},
        "precision": c.precision,
        "recall": c.recall,
        "f1": c.f1,
        "accuracy": c.accuracy,
    }


def baselines(results: Sequence[TicketResult]) -> dict[str, dict[str, Any]]:
    """Each baseline's scores on exactly the arm's tickets (the decisions recorded per ticket)."""
    matrices = baseline_confusion([(r.human_escalated, r.baselines) for r in results])
    return {name: {"description": BASELINES[name], **_matrix(c)} for name, c in matrices.items()}


def lift(results: Sequence[TicketResult]) -> dict[str, Any]:
    """The team against its best baseline, on the same tickets.

    Baselines decide every ticket, so the team is scored here on every ticket too: a ticket the team
    did not close (escalated, sent to human review, or unfinished) counts as escalated — a person
    spends time on it, and a true positive among them is not missed. ``f1``, ``precision`` and
    ``recall`` are the team's figures minus the best baseline's (the one with the highest F1).
    ``decided`` makes the other fair comparison: only the tickets the team escalated or closed
    (its usual figures), against the baselines scored on exactly those tickets.
    """
    team = decision_confusion((r.human_escalated, r.team != "closed") for r in results)
    out = _against_best(team, results)
    decided = [r for r in results if r.team in ("escalated", "closed")]
    inner = _against_best(
        decision_confusion((r.human_escalated, r.team == "escalated") for r in decided), decided
    )
    out["decided"] = {
        "tickets": len(decided),
        **{k: inner[k] for k in ("best_baseline", "team", "f1")},
        "baselines": baselines(decided),
    }
    return out


def _against_best(team: Confusion, results: Sequence[TicketResult]) -> dict[str, Any]:
    matrices = baseline_confusion([(r.human_escalated, r.baselines) for r in results])
    scored = {n: c for n, c in matrices.items() if c.f1 is not None}
    best = max(scored, key=lambda n: scored[n].f1 or 0.0) if scored else None
    base = matrices[best] if best else None

    def diff(metric: str) -> float | None:
        a = getattr(team, metric)
        b = getattr(base, metric) if base is not None else None
        return None if a is None or b is None else round(a - b, 6)

    return {
        "best_baseline": best,
        "team": _matrix(team),
        "f1": diff("f1"),
        "precision": diff("precision"),
        "recall": diff("recall"),
    }


def guardrail(results: Sequence[TicketResult], policy: str) -> dict[str, Any]:
    """How often the guardrail overruled a close, and how often the analyst agreed.

    ``right``: overruled tickets the analyst escalated (the close would have missed a true
    positive); ``wrong``: overruled tickets the analyst closed (extra work). Counted per ticket,
    once, under the first rule that fired on it.
    """
    by_rule: dict[str, dict[str, int]] = {}
    for r in results:
        rule = r.overruled
        if rule is None:
            continue
        n = by_rule.setdefault(rule, {"overruled": 0, "right": 0, "wrong": 0})
        n["overruled"] += 1
        if r.human_escalated is True:
            n["right"] += 1
        elif r.human_escalated is False:
            n["wrong"] += 1
    total = {k: sum(n[k] for n in by_rule.values()) for k in ("overruled", "right", "wrong")}
    return {"policy": policy, **total, "by_rule": by_rule}


def cell_of(outcome: CaseOutcome) -> str:
    """The confusion cell of one ticket, by scoring's own definition (``tp``... ``unlabeled``)."""
    c = confusion([outcome])
    for name in ("tp", "fp", "tn", "fn", "human_review", "open", "unlabeled"):
        if getattr(c, name):
            return name
    raise AssertionError(f"scoring counted {outcome.case_id} nowhere")


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile ``p`` (0-100) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _judged(role: str, r: TicketResult) -> bool | None:
    """What ``role``'s answer on ``r`` is judged against (scoring's ``role_accuracy``): Sentinel's
    verdict against a true-positive label, Tier 2's escalate/close against the human's decision
    (its human-review answers abstain); None where the role is not judged on this ticket."""
    if role == Role.SENTINEL.value and r.label is not None and r.sentinel is not None:
        return r.label == Disposition.TRUE_POSITIVE.value
    if role == Role.TIER2.value and r.human_escalated is not None and r.tier2 is not None:
        return None if r.tier2 == Tier2Decision.HUMAN_REVIEW.value else r.human_escalated
    return None


def role_baselines(results: Sequence[TicketResult], role: str) -> dict[str, float | None] | None:
    """Each baseline's accuracy on exactly the tickets ``role`` is judged on, against what the role is
    judged against (a baseline's escalation stands for Sentinel's threat verdict); None for a role no
    label can judge. The figure a role's accuracy stands beside."""
    if role not in (Role.SENTINEL.value, Role.TIER2.value):
        return None
    pairs = [(t, r.baselines or {}) for r in results if (t := _judged(role, r)) is not None]
    out: dict[str, float | None] = {}
    for name in BASELINES:
        decided = [(t, d[name]) for t, d in pairs if name in d]
        out[name] = sum(t == e for t, e in decided) / len(decided) if decided else None
    return out


def per_role(results: Sequence[TicketResult], roles: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """Per role: tickets worked (``n``), accuracy against the truth (null where no label can judge
    the role) beside each baseline's accuracy on exactly the tickets the role was judged on,
    latency percentiles over its invocations, tool calls and tokens (total and per ticket worked).

    Args:
        results: one arm's ticket results.
        roles: role slugs to report even when they never ran (n = 0).
    """
    accuracy = role_accuracy(r.outcome() for r in results)
    ms: dict[str, list[float]] = {r: [] for r in roles}
    tickets: dict[str, set[str]] = {r: set() for r in roles}
    tools: dict[str, int] = dict.fromkeys(roles, 0)
    tokens: dict[str, int] = dict.fromkeys(roles, 0)
    for r in results:
        for c in r.calls:
            ms.setdefault(c.role, []).append(c.ms)
            tickets.setdefault(c.role, set()).add(r.ticket_id)
            tools[c.role] = tools.get(c.role, 0) + c.tool_calls
            tokens[c.role] = tokens.get(c.role, 0) + c.input_tokens + c.output_tokens
    out: dict[str, dict[str, Any]] = {}
    for role in ms:  # the team's roles in case order, then any other role that ran
        n = len(tickets[role])
        acc = accuracy.get(role)
        p50, p95 = percentile(ms[role], 50), percentile(ms[role], 95)
        out[role] = {
            "n": n,
            "accuracy": None if acc is None or acc.no_ground_truth else acc.accuracy,
            "baselines": role_baselines(results, role),
            "p50_ms": None if p50 is None else round(p50, 3),
            "p95_ms": None if p95 is None else round(p95, 3),
            "tool_calls": tools[role],
            "tool_calls_per_ticket": tools[role] / n if n else None,
            "tokens": tokens[role],
            "tokens_per_ticket": tokens[role] / n if n else None,
        }
    return out


def recall_ab(off: Sequence[TicketResult], on: Sequence[TicketResult]) -> dict[str, Any]:
    """The recall A/B block: both arms' scores, the deltas (on minus off), scoring's verdict, and
    each arm's lift over its best baseline — all on the tickets both arms finished (an A/B
    interrupted in its recall-on arm compares the tickets done in both, never N against fewer).

    ``delta`` and ``verdict`` are scoring's, on each arm's own figures (human review apart), so the
    arms' denominators differ when they send different tickets to a person; ``delta_same_tickets``
    compares them on exactly the same tickets, scored as beside the baselines (not closed =
    escalated): the lift blocks' team figures, on minus off."""
    both = {r.ticket_id for r in off} & {r.ticket_id for r in on}
    off = [r for r in off if r.ticket_id in both]
    on = [r for r in on if r.ticket_id in both]
    ab = ab_delta(score(r.outcome() for r in off), score(r.outcome() for r in on))
    lifts = {"off": lift(off), "on": lift(on)}

    def same(metric: str) -> float | None:
        a, b = lifts["off"]["team"][metric], lifts["on"]["team"][metric]
        return None if a is None or b is None else round(b - a, 6)

    return {
        "off": scores(off),
        "on": scores(on),
        "delta": {m: ab.deltas[m] for m in ("precision", "recall", "f1")},
        "delta_same_tickets": {m: same(m) for m in ("precision", "recall", "f1")},
        "verdict": ab.verdict,
        "lift": lifts,
    }


def build_metrics(
    *,
    run_id: str,
    generated_at: str,
    source: str,
    model: str,
    arms: Mapping[str, Sequence[TicketResult]],
    roles: Iterable[str],
    wall_s: float,
    errors: Sequence[Mapping[str, Any]],
    label_delay: timedelta,
    guardrail_policy: str,
) -> dict[str, Any]:
    """Assemble the metrics file (the keys docs/replay.md documents, in that order).

    The top-level scores, ``per_role``, ``baselines``, ``lift`` and ``guardrail`` are the recall-on
    arm's when there is one (what the SOC runs by default), else the recall-off arm's;
    ``recall_ab`` is filled when both arms ran.
    """
    main = arms.get("on", arms.get("off", []))
    listed = [dict(e) for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        stages: dict[str, int] = {}
        for e in errors[MAX_ERRORS:]:
            stages[str(e.get("stage"))] = stages.get(str(e.get("stage")), 0) + 1
        by_stage = ", ".join(f"{stage} {n}" for stage, n in sorted(stages.items()))
        listed.append(
            {
                "ticket_id": None,
                "stage": "errors",
                "message": f"{len(errors) - MAX_ERRORS} more errors not listed (by stage: {by_stage})",
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "generated_at": generated_at,
        "source": source,
        "model": model,
        "label_delay": format_duration(label_delay),
        "label_delay_s": label_delay.total_seconds(),
        **scores(main),
        "per_role": per_role(main, roles),
        **proof(main, guardrail_policy),
        "recall_ab": recall_ab(arms["off"], arms["on"]) if "off" in arms and "on" in arms else None,
        "wall_s": round(wall_s, 3),
        "errors": listed,
    }


def proof(results: Sequence[TicketResult], guardrail_policy: str) -> dict[str, Any]:
    """``baselines``, ``lift`` and ``guardrail`` of one arm (the keys beside the team's scores)."""
    return {
        "baselines": baselines(results),
        "lift": lift(results),
        "guardrail": guardrail(results, guardrail_policy),
    }


def split_arms(results: Iterable[TicketResult]) -> dict[str, list[TicketResult]]:
    """Group ticket results by arm (``off`` / ``on``), each in replay order, the last line per
    ticket winning (a resumed run never writes a ticket twice, but a hand-merged file might)."""
    arms: dict[str, dict[str, TicketResult]] = {}
    for r in results:
        arms.setdefault(r.arm, {})[r.ticket_id] = r
    return {arm: sorted(by_id.values(), key=lambda r: r.seq) for arm, by_id in arms.items()}


def recompute(
    tickets_jsonl: str | Path, roles: Iterable[str] = (), guardrail_policy: str = ""
) -> dict[str, Any]:
    """Recompute every figure of a metrics file from its ``*.tickets.jsonl``.

    Returns:
        the scores of the main arm (``tickets``, ``with_truth``, ``human_review``, ``confusion``,
        ``precision``, ``recall``, ``f1``, ``accuracy``) and ``per_role``, ``baselines``, ``lift``,
        ``guardrail``, ``recall_ab``, as :func:`build_metrics` computes them (``guardrail.policy``
        is ``guardrail_policy``).
    """
    arms = split_arms(read_results(Path(tickets_jsonl)))
    main = arms.get("on", arms.get("off", []))
    return {
        **scores(main),
        "per_role": per_role(main, roles),
        **proof(main, guardrail_policy),
        "recall_ab": recall_ab(arms["off"], arms["on"]) if "off" in arms and "on" in arms else None,
    }
