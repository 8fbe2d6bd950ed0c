"""How the canned model's floor policy depends on its three constants: a sensitivity table.

    python bench/floor_policy.py                      # Wazuh and GUIDE evidence, delays 1d and 0
    python bench/floor_policy.py --data wazuh --delays 1d

The floor's decision depends only on the analysts' labels known when a ticket runs (the statistics
every deciding role is shown), never on the team's own earlier decisions, so its outcome can be
computed without running the team: this walks the tickets in replay order with the replay's own
label clock, statistics and baselines, applies ``roles._common.assess`` (Sentinel and Tier 2 apply
the same policy to the same statistics) and the runtime's guardrail (a close it refuses becomes a
human review), and scores as the replay scores on the same tickets (not closed = escalated). At the
default constants it reproduces ``aisoc replay --dry-run``'s recall-on arm (checked by
``--check FILE``, a replay's tickets JSONL). Figures go to stdout and build/bench/floor-policy.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aisoc.bus import Bus  # noqa: E402
from aisoc.events import AlertReceived, ProducedBy, Role, TruthLabeled  # noqa: E402
from aisoc.memory import Confusion, Statistics  # noqa: E402
from aisoc.replay import select  # noqa: E402
from aisoc.replay.baselines import Baselines, baseline_confusion, decision_confusion  # noqa: E402
from aisoc.replay.labels import LabelClock, parse_duration  # noqa: E402
from aisoc.replay.tickets import read_records  # noqa: E402
from aisoc.runtime import GuardrailPolicy  # noqa: E402
from aisoc.runtime.guardrail import judge  # noqa: E402
from aisoc.sources import open_source  # noqa: E402
from roles._common import (  # noqa: E402
    BASE_RATE,
    CATEGORY,
    FLOOR,
    SPECIFIC,
    TENANT_FALLBACK,
    FloorPolicy,
    Level,
    assess,
    evidence,
)

DATA = {
    "wazuh": ("wazuh", ROOT / "data/wazuh/alerts.jsonl"),
    "guide": ("guide", ROOT / "data/guide/evidence.csv"),
    "guide-incidents": ("guide-incidents", ROOT / "data/guide/incidents.csv.gz"),
}
"""name -> (--source, file) of the data sets."""
CLOSE_BELOW = (1 / 4, 1 / 3, 1 / 2)
CONFIDENCE = (0.5, 0.8, 0.9, 0.95, 0.99)
MIN_LABELLED = (1, 3, 5)
"""The constants varied around the defaults: each a conventional value, not a search (0.5 is the point
estimate itself)."""


@dataclass(frozen=True, slots=True)
class Shown:
    """What the deciding roles of one ticket are shown, and the answer key."""

    ticket_id: str
    data: dict[str, Any]
    stats: list[Any]
    truth: bool | None
    baselines: dict[str, bool]


def walk(name: str, delay: timedelta) -> list[Shown]:
    """Each ticket of data set ``name`` with the statistics it meets at label delay ``delay``."""
    source, path = DATA[name]
    tickets = select(read_records(open_source(source, str(path)))).tickets
    stats, clock, baselines = Statistics(Bus().audit, auto_refresh=False), LabelClock(delay), Baselines()
    out = []
    for t in tickets:
        for known in clock.due(t.alert.created_at):
            baselines.learn(known)
            assert known.truth is not None
            stats.apply(
                TruthLabeled(
                    label=known.truth.label,
                    escalated=known.truth.escalated,
                    labeled_by="bench",
                    source=known.alert.source,
                    case_id=known.ticket_id,
                    produced_by=ProducedBy(role=Role.HUMAN),
                )
            )
        stats.apply(AlertReceived(alert=t.alert, case_id=t.ticket_id, produced_by=ProducedBy(role="ingest")))
        shown = stats.for_alert(t.alert)
        data = {"alert": t.alert.model_view(), "statistics": [s.view() for s in shown]}
        truth = t.truth.escalated if t.truth is not None else None
        out.append(Shown(t.ticket_id, data, shown, truth, baselines.predict(t)))
        clock.add(t)
    return out


def decide(shown: Shown, policy: FloorPolicy, guardrail: GuardrailPolicy) -> str:
    """``escalated``, ``closed`` or ``human_review``: the team's end state under ``policy``."""
    a = assess(shown.data, policy)
    if a.escalate:
        return "escalated"
    return (
        "human_review" if judge(guardrail, "tier2", True, a.confidence, shown.stats).overrules else "closed"
    )


def score(walked: list[Shown], policy: FloorPolicy, guardrail: GuardrailPolicy) -> dict[str, Any]:
    """The team on the baselines' tickets (not closed = escalated), its own figures and the lift."""
    ends = [decide(s, policy, guardrail) for s in walked]
    same = decision_confusion((s.truth, e != "closed") for s, e in zip(walked, ends, strict=True))
    own = decision_confusion(
        (s.truth, e == "escalated") for s, e in zip(walked, ends, strict=True) if e != "human_review"
    )
    base = baseline_confusion([(s.truth, s.baselines) for s in walked])
    best = max(base, key=lambda k: base[k].f1 or 0.0)
    review = sum(1 for s, e in zip(walked, ends, strict=True) if e == "human_review" and s.truth is not None)
    return {
        "same": _fig(same),
        "own": {**_fig(own), "human_review": review},
        "best_baseline": best,
        "baseline_f1": round(base[best].f1 or 0.0, 3),
        "lift": round((same.f1 or 0.0) - (base[best].f1 or 0.0), 3),
        "ends": dict(Counter(ends)),
    }


def ceiling(walked: list[Shown], policy: FloorPolicy) -> dict[str, Any]:
    """The best any judgment could do while tickets without specific evidence keep the recall-off
    behaviour: every ticket with evidence decided right (escalate exactly the true positives), the
    others as the policy's step 3 decides them."""
    pairs = []
    for s in walked:
        known = bool(evidence(s.data["statistics"], policy))
        pairs.append((s.truth, s.truth if known else assess(s.data, policy).escalate))
    c = decision_confusion(pairs)
    without = [s for s in walked if not evidence(s.data["statistics"], policy) and s.truth is not None]
    return {
        **_fig(c),
        "without_evidence": len(without),
        "without_evidence_tp": sum(1 for s in without if s.truth),
        "tickets": sum(1 for s in walked if s.truth is not None),
    }


def _fig(c: Confusion) -> dict[str, Any]:
    r = {"precision": c.precision, "recall": c.recall, "f1": c.f1}
    return {k: None if v is None else round(v, 3) for k, v in r.items()}


def check(walked: list[Shown], path: Path) -> int:
    """Tickets whose end state here differs from a replay's recall-on arm in ``path``."""
    ends = {s.ticket_id: decide(s, FLOOR, GuardrailPolicy()) for s in walked}
    off = 0
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if r.get("arm") == "on" and ends.get(r["ticket_id"]) != r["team"]:
            off += 1
    return off


LEVELS: dict[str, tuple[tuple[Level, ...], tuple[Level, ...]]] = {
    "specific": (SPECIFIC, ()),
    "+category": (SPECIFIC + CATEGORY, ()),
    "+base rates": (SPECIFIC + CATEGORY + BASE_RATE, ()),
    "specific, tenant fallback": (SPECIFIC, TENANT_FALLBACK),
    "specific, wide fallback": (SPECIFIC, TENANT_FALLBACK + (CATEGORY[1], BASE_RATE[1])),
}
"""The evidence ladders compared, as ``(levels, fallback)``: the default; with the category, then the
base rates too, as levels that decide either way; and with base rates as a fallback that may only
close when nothing specific is known (the tenant's category and alerts; then across tenants too)."""


def sensitivity(
    name: str, delay: str, walked: list[Shown], guardrail: GuardrailPolicy | None = None
) -> list[dict[str, Any]]:
    """Every policy of the grid on one data set and delay (printed as it goes), under ``guardrail``
    (the default settings' when None)."""
    guardrail = guardrail or GuardrailPolicy()
    rows = []
    for cb, conf, mn, levels in itertools.product(CLOSE_BELOW, CONFIDENCE, MIN_LABELLED, LEVELS):
        ladder, fallback = LEVELS[levels]
        policy = FloorPolicy(
            close_below=cb, confidence=conf, min_labelled=mn, levels=ladder, fallback=fallback
        )
        r: dict[str, Any] = {"data": name, "delay": delay, "close_below": round(cb, 3), "confidence": conf}
        r |= {"min_labelled": mn, "levels": levels} | score(walked, policy, guardrail)
        rows.append(r)
        same, own = r["same"], r["own"]
        print(
            f"{name} {delay} below {cb:.2f} conf {conf:.2f} min {mn} {levels}: F1 {same['f1']} "
            f"(P {same['precision']}, R {same['recall']}), lift {r['lift']:+.3f} over {r['best_baseline']}; "
            f"own F1 {own['f1']}, review {own['human_review']}{' <- default' if policy == FLOOR else ''}",
            flush=True,
        )
    return rows


def ceilings(name: str, delay: str, walked: list[Shown]) -> list[dict[str, Any]]:
    """The ceiling at each minimum count of the grid (printed)."""
    base = baseline_confusion([(s.truth, s.baselines) for s in walked])
    best = max(base, key=lambda k: base[k].f1 or 0.0)
    rows = []
    for mn in MIN_LABELLED:
        top = ceiling(walked, FloorPolicy(min_labelled=mn))
        rows.append({"data": name, "delay": delay, "min_labelled": mn, "ceiling": top, "best_baseline": best})
        print(
            f"{name} {delay} min {mn}: {top['without_evidence']} of {top['tickets']} tickets without "
            f"specific evidence ({top['without_evidence_tp']} true positives); ceiling F1 {top['f1']} "
            f"(P {top['precision']}), best baseline {best} {base[best].f1:.3f}",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="wazuh,guide", help=f"data sets ({', '.join(DATA)})")
    p.add_argument("--delays", default="1d,0", help="label delays (default 1d,0)")
    p.add_argument("--check", type=Path, help="a replay's tickets JSONL to compare the default policy with")
    p.add_argument(
        "--min-confidence",
        type=float,
        help="the guardrail's min_confidence instead of the settings' default (an experiment: 0 lets "
        "the point estimate's closes stand)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "build/bench/floor-policy.json")
    args = p.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for name, delay in itertools.product(args.data.split(","), args.delays.split(",")):
        walked = walk(name, parse_duration(delay))
        if args.check:
            print(f"{name} {delay}: {check(walked, args.check)} tickets differ from {args.check}")
        guardrail = (
            GuardrailPolicy(min_confidence=args.min_confidence) if args.min_confidence is not None else None
        )
        rows += ceilings(name, delay, walked) + sensitivity(name, delay, walked, guardrail)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
