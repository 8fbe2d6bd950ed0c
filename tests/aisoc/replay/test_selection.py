"""Which tickets a replay runs: chronological order, --limit, a stratified and reproducible --sample."""

from __future__ import annotations

from collections import Counter

import pytest

from aisoc.replay import read_records, select
from aisoc.sources import open_source
from tests.aisoc.replay.support import WAZUH


def wazuh() -> list:  # type: ignore[type-arg]
    """The real Wazuh records with their truth."""
    return list(read_records(open_source("wazuh", str(WAZUH))))


def test_tickets_run_in_chronological_order_and_limit_keeps_the_earliest() -> None:
    """Given the Wazuh alerts in file order, when selected, then they are in creation order, numbered, and
    --limit keeps the earliest."""
    everything = select(wazuh())
    times = [t.alert.created_at for t in everything.tickets]
    assert times == sorted(times) and [t.seq for t in everything.tickets] == list(range(89))
    first = select(wazuh(), limit=10)
    assert [t.ticket_id for t in first.tickets] == [t.ticket_id for t in everything.tickets[:10]]


def test_a_stratified_sample_keeps_the_label_mix_and_is_reproducible() -> None:
    """Given 52 TP and 37 FP alerts, when 50 are sampled stratified, then 29 TP and 21 FP come out, the same
    ones for the same seed, in chronological order."""
    a = select(wazuh(), sample=50, stratify=True, seed=7)
    b = select(wazuh(), sample=50, stratify=True, seed=7)
    c = select(wazuh(), sample=50, stratify=True, seed=8)
    assert Counter(t.stratum for t in a.tickets) == {"true_positive": 29, "false_positive": 21}
    assert (
        [t.ticket_id for t in a.tickets]
        == [t.ticket_id for t in b.tickets]
        != [t.ticket_id for t in c.tickets]
    )
    assert [t.alert.created_at for t in a.tickets] == sorted(t.alert.created_at for t in a.tickets)


def test_sample_and_limit_must_make_sense() -> None:
    """Given --stratify without --sample, or a zero limit, when selected, then it is refused."""
    with pytest.raises(ValueError, match="--stratify needs --sample"):
        select(wazuh(), stratify=True)
    with pytest.raises(ValueError, match="positive"):
        select(wazuh(), limit=0)
    assert len(select(wazuh(), sample=500).tickets) == 89  # a sample larger than the set is the set
