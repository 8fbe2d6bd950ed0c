"""Helpers for the replay tests: real data files with their labels rewritten, a recording model,
deterministic event ids, and a replay run in a few lines."""

from __future__ import annotations

import csv
import json
import random
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import Field

from aisoc.logcontext import bound
from aisoc.models import StubChatModel
from aisoc.replay import Replay, ReplayResult, read_records, select
from aisoc.sources import open_source
from aisoc.tenants import case_id_for

DATA = Path(__file__).resolve().parents[3] / "data"
WAZUH = DATA / "wazuh" / "alerts.jsonl"
GUIDE = DATA / "guide" / "evidence.csv"


class Prompt(tuple[str, ...]):
    """A prompt's messages (compared as a plain tuple) and the case it was sent for."""

    case_id: str = "-"


class RecordingModel(StubChatModel):
    """The canned model, keeping every prompt it was sent (the team's whole input, byte for byte)."""

    prompts: list[tuple[str, ...]] = Field(default_factory=list)

    def answer(self, messages: list[BaseMessage]) -> AIMessage:
        prompt = Prompt(str(m.content) for m in messages)
        prompt.case_id = bound().get("case_id", "-")  # the runtime binds the case it works on
        self.prompts.append(prompt)
        return super().answer(messages)


def deterministic_ids(monkeypatch: pytest.MonkeyPatch, seed: int = 7) -> None:
    """Make event ids (and so prompt nonces) the same from run to run: uuid4 from a seeded generator."""
    rng = random.Random(seed)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4))


def wazuh_with_labels(path: Path, relabel: Callable[[list[str]], list[str]]) -> Path:
    """The real Wazuh alerts with their ``label`` fields replaced by ``relabel(labels)`` (CRLF kept)."""
    records = [json.loads(line) for line in WAZUH.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels = relabel([r["label"] for r in records])
    with path.open("w", encoding="utf-8", newline="") as f:
        for r, label in zip(records, labels, strict=True):
            f.write(json.dumps({**r, "label": label}) + "\r\n")
    return path


def guide_with_grades(
    path: Path, relabel: Callable[[list[str]], list[str]], incidents: int | None = None
) -> Path:
    """The real GUIDE evidence rows of the first ``incidents`` incidents, each incident's grade replaced
    by ``relabel(grades)`` (one grade per incident, in order of first appearance)."""
    return guide_regraded(path, lambda pairs: relabel([g for _, g in pairs]), incidents)


def guide_regraded(
    path: Path, regrade: Callable[[list[tuple[str, str]]], list[str]], incidents: int | None = None
) -> Path:
    """Like :func:`guide_with_grades`, with ``regrade`` given ``(ticket id, grade)`` pairs."""
    with GUIDE.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    org, inc, grade_col = header.index("OrgId"), header.index("IncidentId"), header.index("IncidentGrade")
    order: list[str] = []
    grade: dict[str, str] = {}
    for row in rows:
        key = case_id_for("guide", row[inc], row[org])
        if key not in grade:
            order.append(key)
            grade[key] = row[grade_col]
    keep = order[:incidents] if incidents else order
    new = dict(zip(keep, regrade([(k, grade[k]) for k in keep]), strict=True))
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            key = case_id_for("guide", row[inc], row[org])
            if key in new:
                writer.writerow([*row[:grade_col], new[key], *row[grade_col + 1 :]])
    return path


def shuffled(seed: int) -> Callable[[list[str]], list[str]]:
    """A relabeling that permutes the labels at random."""

    def relabel(labels: list[str]) -> list[str]:
        out = list(labels)
        random.Random(seed).shuffle(out)
        return out

    return relabel


def same(labels: list[str]) -> list[str]:
    """The identity relabeling."""
    return list(labels)


def run(
    path: Path,
    source: str,
    *,
    model: Any = None,
    recall: str = "off",
    out: Path | None = None,
    limit: int | None = None,
    **kw: Any,
) -> ReplayResult:
    """Replay ``path`` with the canned model (or ``model``) and return the result."""
    selection = select(read_records(open_source(source, str(path))), limit=limit)
    return Replay(
        model if model is not None else StubChatModel(),
        selection,
        source=source,
        model_spec="stub",
        recall=recall,  # type: ignore[arg-type]
        out=out,
        **kw,
    ).run()


def prompts_by_ticket(prompts: Sequence[tuple[str, ...]]) -> list[tuple[str, tuple[str, ...]]]:
    """Each prompt with the case it was sent for (what the runtime had bound when it was sent)."""
    return [(getattr(p, "case_id", "-"), p) for p in prompts]
