"""Labels arrive when analysts give them: a label younger than the delay never reaches a prompt."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from aisoc.events import TruthLabeled
from aisoc.replay import LabelClock, Replay, format_duration, parse_duration, read_records, select
from aisoc.sources import open_source
from tests.aisoc.replay.support import (
    RecordingModel,
    deterministic_ids,
    guide_regraded,
    guide_with_grades,
    prompts_by_ticket,
    same,
)
from tests.aisoc.replay.toy import FP, TP, toy_selection

FLIP = {"TruePositive": "BenignPositive", "BenignPositive": "TruePositive", "FalsePositive": "TruePositive"}


def _prompts(monkeypatch: pytest.MonkeyPatch, selection, delay: timedelta) -> list[tuple[str, ...]]:  # type: ignore[no-untyped-def]
    deterministic_ids(monkeypatch)
    model = RecordingModel()
    Replay(model, selection, source="toy", model_spec="stub", recall="on", label_delay=delay).run()
    return model.prompts


def _toy(first_truth):  # type: ignore[no-untyped-def]
    """Four tickets of one rule: the first labelled ``first_truth``, then FP, TP, TP at 00:30, 01:00 and
    03:00."""
    return toy_selection(
        [
            (0, "acme", "r1", first_truth),
            (0.5, "acme", "r1", FP),
            (1, "acme", "r1", TP),
            (3, "acme", "r1", TP),
        ]
    )


def test_a_label_younger_than_the_delay_never_reaches_a_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a first ticket labelled true positive or false positive, when the tickets 30 and 60 minutes
    later run with a 2-hour label delay, then their prompts are byte-identical either way; the ticket
    3 hours later, when the label is known, sees the difference."""
    a = prompts_by_ticket(_prompts(monkeypatch, _toy(TP), timedelta(hours=2)))
    b = prompts_by_ticket(_prompts(monkeypatch, _toy(FP), timedelta(hours=2)))
    early = {"acme/toy:0", "acme/toy:1", "acme/toy:2"}
    assert [p for c, p in a if c in early] == [p for c, p in b if c in early]
    assert [p for c, p in a if c == "acme/toy:3"] != [p for c, p in b if c == "acme/toy:3"]
    late = next(p for c, p in a if c == "acme/toy:3")[-1]
    assert '"labelled":3' in late and '"true_positive":2' in late  # t0 (TP), t1 (FP), t2 (TP) known by 03:00


def test_without_a_delay_the_same_label_shows_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given the same tickets and no label delay, when replayed, then the ticket 30 minutes later already
    sees the first label (the check above can fail)."""
    a = prompts_by_ticket(_prompts(monkeypatch, _toy(TP), timedelta(0)))
    b = prompts_by_ticket(_prompts(monkeypatch, _toy(FP), timedelta(0)))
    assert [p for c, p in a if c == "acme/toy:1"] != [p for c, p in b if c == "acme/toy:1"]


def test_labels_are_published_in_the_order_analysts_give_them() -> None:
    """Given a 2-hour delay, when replayed, then each truth.labeled lands after the alert of the first
    ticket created at or after its label time, and the labels not yet due at the end are never published."""
    sel = _toy(TP)
    result = Replay(
        RecordingModel(), sel, source="toy", model_spec="stub", recall="on", label_delay=timedelta(hours=2)
    ).run()
    log = list(result.buses["on"].audit)
    order = [(e.type, e.case_id) for e in log if e.type in ("alert.received", "truth.labeled")]
    assert order == [
        ("alert.received", "acme/toy:0"),
        ("alert.received", "acme/toy:1"),
        ("alert.received", "acme/toy:2"),
        ("truth.labeled", "acme/toy:0"),  # 02:00 <= 03:00
        ("truth.labeled", "acme/toy:1"),  # 02:30
        ("truth.labeled", "acme/toy:2"),  # 03:00
        ("alert.received", "acme/toy:3"),
    ]
    assert not any(isinstance(e, TruthLabeled) and e.case_id == "acme/toy:3" for e in log)


def test_on_real_guide_incidents_no_prompt_sees_a_label_younger_than_a_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given 220 GUIDE incidents and the grade of every incident created within the day before the 150th
    (and every later one) flipped, when replayed with recall on at the default one-day delay, then every
    prompt up to the 150th incident's is byte-identical; at delay 0 the same flip changes some of them."""
    true = guide_with_grades(tmp_path / "true.csv", same, incidents=220)
    tickets = select(read_records(open_source("guide", str(true)))).tickets
    cut = tickets[150].alert.created_at
    young = {t.ticket_id for t in tickets if t.alert.created_at > cut - timedelta(days=1)}
    assert 10 < len(young) < 200
    flipped = guide_regraded(
        tmp_path / "young.csv", lambda ps: [FLIP[g] if k in young else g for k, g in ps], 220
    )
    upto = {t.ticket_id for t in tickets[:151]}

    def prompts(path: Path, delay: timedelta) -> list[tuple[str, ...]]:
        sel = select(read_records(open_source("guide", str(path))))
        deterministic_ids(monkeypatch)
        model = RecordingModel()
        Replay(model, sel, source="guide", model_spec="stub", recall="on", label_delay=delay).run()
        return [p for cid, p in prompts_by_ticket(model.prompts) if cid in upto]

    day = timedelta(days=1)
    a, b = prompts(true, day), prompts(flipped, day)
    assert len(a) > 150 and a == b
    assert sum('"statistics":' in p[-1] for p in a) >= 20  # statistics were shown, from older labels
    assert prompts(true, timedelta(0)) != prompts(flipped, timedelta(0))


def test_durations_parse_and_print() -> None:
    """Given the spellings the CLI accepts, when parsed and printed, then they round-trip; garbage is
    refused."""
    for text, seconds in (
        ("0", 0),
        ("90s", 90),
        ("30m", 1800),
        ("12h", 43200),
        ("1d", 86400),
        ("2w", 1209600),
    ):
        assert parse_duration(text) == timedelta(seconds=seconds)
        assert format_duration(parse_duration(text)) == text
    assert parse_duration("1.5h") == timedelta(minutes=90) and parse_duration("45") == timedelta(seconds=45)
    for bad in ("", "-1d", "one day", "1y", "1d2h"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_the_clock_releases_labels_in_label_time_order() -> None:
    """Given tickets scored in creation order, when the clock advances, then labels come out once due."""
    sel = toy_selection()
    clock = LabelClock(timedelta(hours=2))
    for t in sel.tickets[:3]:
        clock.add(t)
    assert clock.due(sel.tickets[1].alert.created_at) == []
    assert [t.seq for t in clock.due(sel.tickets[3].alert.created_at)] == [0, 1]
    assert clock.waiting == 1
