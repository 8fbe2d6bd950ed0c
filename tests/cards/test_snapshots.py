"""Snapshots of every card: any change to what a person sees shows up as a reviewed diff.

Regenerate after an intended change with ``UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/cards``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cards import Card, digest_card, render
from tests.cards.report_factories import closures
from tests.cards.samples import sample_events

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS", "") == "1"
SAMPLES = sample_events()


def compare(name: str, card: Card) -> None:
    """Compare ``card`` with its stored snapshot (or store it when UPDATE_SNAPSHOTS=1)."""
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(card.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 and review the new file"
    assert json.loads(text) == json.loads(path.read_text(encoding="utf-8")), f"{name} changed (see the diff)"


@pytest.mark.parametrize(("name", "event", "ctx"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_card_matches_snapshot(name: str, event: object, ctx: object) -> None:
    """Given a fixed real-data event, when rendered, then the card equals its reviewed snapshot."""
    compare(name, render(event, ctx))  # type: ignore[arg-type]


def test_digest_matches_snapshot() -> None:
    """Given Sentinel's closures of the real FP alerts, when digested, then the card equals its snapshot."""
    events, alerts = closures()
    compare("sentinel_digest", digest_card(events, alerts=alerts))


def test_rendering_is_deterministic() -> None:
    """Given the same event twice, when rendered, then both cards are byte-for-byte equal."""
    _, event, ctx = SAMPLES[4]
    assert json.dumps(render(event, ctx).to_dict()) == json.dumps(render(event, ctx).to_dict())


def test_no_stale_snapshots() -> None:
    """Given the snapshot folder, when listed, then every file belongs to a current sample."""
    expected = {f"{name}.json" for name, _, _ in SAMPLES} | {"sentinel_digest.json"}
    assert {p.name for p in SNAPSHOTS.glob("*.json")} == expected
