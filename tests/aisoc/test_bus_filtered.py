"""A stream full of other types never hides the wanted entries behind it (found by issue 17's label clock,
which publishes a day's labels to the cases stream at once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aisoc import Bus
from aisoc.events import Disposition, TriageVerdict, TruthLabeled, Verdict


def _label(n: int) -> TruthLabeled:
    return TruthLabeled(
        label=Disposition.BENIGN,
        escalated=False,
        labeled_by="ana",
        source="t",
        case_id=f"t:{n}",
        produced_by={"role": "human"},
    )


def _verdict() -> TriageVerdict:
    return TriageVerdict(
        verdict=Verdict.SUSPICIOUS,
        confidence=0.9,
        priority=8,
        summary="routed",
        routed_to="tier2",
        case_id="t:999",
        produced_by={"role": "sentinel"},
    )


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_batch_of_other_types_does_not_end_a_read(tmp_path: Path, backend: str) -> None:
    """Given 120 labels and then one verdict on the cases stream, when a group that wants verdicts reads
    10 at a time without blocking, then it gets the verdict in one call, and a drain delivers it."""
    url = "memory://" if backend == "memory" else f"sqlite:///{tmp_path / 'soc.db'}"
    bus = Bus(url)
    bus.publish_many([_label(n) for n in range(120)])
    bus.publish(_verdict())
    got = bus.consume("tier2", "c", types=["triage.verdict"], count=10)
    assert [d.event.type for d in got] == ["triage.verdict"]

    seen: list[str] = []
    bus.subscribe("tier3", lambda d: (seen.append(d.event.type), d.ack()), types=["triage.verdict"], count=10)
    bus.drain()
    assert seen == ["triage.verdict"]
