"""The team never sees the label: shuffled ground truth leaves every prompt byte-identical.

The prompts are what a recording model received (system message and data block, nonce included:
event ids are made deterministic so two runs can be compared byte for byte).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aisoc.replay import read_records, select
from aisoc.sources import open_source
from tests.aisoc.replay.support import (
    RecordingModel,
    deterministic_ids,
    guide_regraded,
    guide_with_grades,
    prompts_by_ticket,
    run,
    same,
    shuffled,
    wazuh_with_labels,
)


def _prompts(monkeypatch: pytest.MonkeyPatch, path: Path, source: str, recall: str) -> list[tuple[str, ...]]:
    deterministic_ids(monkeypatch)
    model = RecordingModel()
    run(path, source, model=model, recall=recall)
    return model.prompts


def test_shuffled_wazuh_labels_leave_every_prompt_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the Wazuh alerts twice, labels shuffled, when replayed, then the model got the same bytes."""
    true = wazuh_with_labels(tmp_path / "true.jsonl", same)
    fake = wazuh_with_labels(tmp_path / "shuffled.jsonl", shuffled(3))
    assert true.read_bytes() != fake.read_bytes()
    a = _prompts(monkeypatch, true, "wazuh", "off")
    b = _prompts(monkeypatch, fake, "wazuh", "off")
    assert len(a) > 89 and a == b
    assert not any('"label"' in part for p in a for part in p)


def test_shuffled_guide_grades_leave_every_prompt_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given GUIDE incidents twice, grades shuffled, when replayed, then the model received the same bytes."""
    true = guide_with_grades(tmp_path / "true.csv", same, incidents=150)
    fake = guide_with_grades(tmp_path / "shuffled.csv", shuffled(5), incidents=150)
    assert true.read_bytes() != fake.read_bytes()
    a = _prompts(monkeypatch, true, "guide", "off")
    b = _prompts(monkeypatch, fake, "guide", "off")
    assert len(a) >= 150 and a == b
    assert not any(
        g in part for p in a for part in p for g in ("TruePositive", "BenignPositive", "IncidentGrade")
    )


FLIP = {"TruePositive": "BenignPositive", "BenignPositive": "TruePositive", "FalsePositive": "TruePositive"}


def test_with_recall_a_ticket_prompts_never_depend_on_its_own_or_later_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given recall on and the grade of every ticket from the 100th on flipped, when replayed, then every
    prompt up to and including the 100th ticket's is byte-identical, and later ones learned from it."""
    cut = 100
    true = guide_with_grades(tmp_path / "true.csv", same, incidents=220)
    order = [t.ticket_id for t in select(read_records(open_source("guide", str(true)))).tickets]
    late_ids = set(order[cut:])
    late = guide_regraded(
        tmp_path / "late.csv", lambda pairs: [FLIP[g] if k in late_ids else g for k, g in pairs], 220
    )
    a = prompts_by_ticket(_prompts(monkeypatch, true, "guide", "on"))
    b = prompts_by_ticket(_prompts(monkeypatch, late, "guide", "on"))
    unaffected = set(order[: cut + 1])  # the first flipped ticket included
    before_a = [p for cid, p in a if cid in unaffected]
    before_b = [p for cid, p in b if cid in unaffected]
    assert len(before_a) > cut and before_a == before_b
    assert sum('"precedent":' in p[-1] for p in before_a) >= 5  # recall was on and showed precedent
    assert a != b  # later tickets did learn from the (different) earlier outcomes
