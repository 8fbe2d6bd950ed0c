"""``aisoc truth import``: analyst dispositions become truth.labeled events that memory folds."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from aisoc import Bus
from aisoc.cli import cmd_truth, main
from aisoc.events import Alert, Disposition, TruthLabeled
from aisoc.memory import Memory
from aisoc.sources import Rejected, Truth

from . import factory as f


class TinySource:
    """A recorded source of three tickets (one unreadable, one without an outcome)."""

    name = "tiny"

    def __init__(self, path: str | None, grades: dict[str, str]) -> None:
        self.path, self.grades = path, grades

    def poll(self) -> Iterable[Alert | Rejected]:
        return [a for a, _ in self.records() if isinstance(a, Alert)]

    def records(self) -> Iterable[tuple[Alert | Rejected, Truth | None]]:
        for sid, grade in self.grades.items():
            alert = f.alert(sid, source="tiny").alert
            if grade == "?":
                yield alert, None
            else:
                tp = grade == "TP"
                yield (
                    alert,
                    Truth(tp, Disposition.TRUE_POSITIVE if tp else Disposition.FALSE_POSITIVE, "label"),
                )
        yield Rejected("no id", "{}", "tiny"), None


class PollOnly:
    name = "poll-only"

    def poll(self) -> Iterable[Alert | Rejected]:
        return []


def use(monkeypatch: pytest.MonkeyPatch, factory: Any) -> None:
    monkeypatch.setattr(cmd_truth, "open_source", factory)


def labels(url: str) -> list[TruthLabeled]:
    with Bus(url) as bus:
        return [e for e in bus.audit if isinstance(e, TruthLabeled)]


def test_import_publishes_one_label_per_known_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given three tickets, when imported, then each known outcome becomes a truth.labeled of its case."""
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    use(monkeypatch, lambda name, path: TinySource(path, {"1": "TP", "2": "FP", "3": "?"}))
    assert main(["truth", "import", "tickets.jsonl", "--source", "tiny", "--bus", url]) == 0
    assert "published 2 labels from tiny; 0 unchanged, 1 without a known outcome, 1 unreadable" in (
        capsys.readouterr().out
    )
    got = {e.case_id: (e.label, e.escalated, e.source) for e in labels(url)}
    assert got == {
        "tiny:1": (Disposition.TRUE_POSITIVE, True, "tiny"),
        "tiny:2": (Disposition.FALSE_POSITIVE, False, "tiny"),
    }
    with Bus(url) as bus:
        rec = Memory(bus.audit).case("tiny:1")
        assert rec is not None and rec.truth is not None and rec.truth.labeled_by == "analyst"


def test_reimport_skips_unchanged_and_supersedes_changed_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given an import, when a regraded file is imported, then only the changed label is published."""
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    use(monkeypatch, lambda name, path: TinySource(path, {"1": "TP", "2": "FP"}))
    main(["truth", "import", "a", "--source", "tiny", "--bus", url])
    use(monkeypatch, lambda name, path: TinySource(path, {"1": "TP", "2": "TP"}))
    assert main(["truth", "import", "b", "--source", "tiny", "--bus", url, "--labeled-by", "erin"]) == 0
    assert "published 1 labels from tiny; 1 unchanged" in capsys.readouterr().out
    assert len(labels(url)) == 3
    with Bus(url) as bus:
        truth = Memory(bus.audit).case("tiny:2").truth  # type: ignore[union-attr]
        assert truth is not None and (truth.label, truth.escalated, truth.labeled_by) == (
            "true_positive",
            True,
            "erin",
        )


def test_dry_run_publishes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given --dry-run, when imported, then no label reaches the log."""
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    use(monkeypatch, lambda name, path: TinySource(path, {"1": "TP"}))
    assert main(["truth", "import", "a", "--source", "tiny", "--bus", url, "--dry-run"]) == 0
    assert labels(url) == []


def test_a_source_without_decisions_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a source that only polls alerts, when imported, then the command fails with the reason."""
    use(monkeypatch, lambda name, path: PollOnly())
    assert main(["truth", "import", "a", "--source", "poll-only", "--bus", "memory://"]) == 1
    assert "does not carry the analyst's decisions" in capsys.readouterr().err
