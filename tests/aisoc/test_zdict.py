"""The Redis bus's compression dictionaries: released ones never change, every value reads back."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import pytest

from aisoc.bus import zdict

RELEASED = {1: "36278c94b6da650bb0f90a7a4f5902b1a4a1c51cdf1d27830f76083e5ba40f11"}
"""sha256 of every released dictionary: entries written with one must read back forever."""


@pytest.mark.parametrize("version", sorted(RELEASED))
def test_a_released_dictionary_never_changes(version: int) -> None:
    """Rewriting a released dictionary would make every entry written with it unreadable."""
    assert hashlib.sha256(zdict.dictionary(version)).hexdigest() == RELEASED[version]
    assert zdict.CURRENT in RELEASED


def test_real_events_round_trip_and_store_smaller_than_plain_zlib() -> None:
    """Every real Wazuh alert record reads back byte for byte; on raw records (which the dictionary
    barely knows) it stores no larger than plain zlib on average and at most a few dozen bytes more
    on any one (the prefix byte and the dictionary's id)."""
    lines = (Path(__file__).parents[2] / "data/wazuh/alerts.jsonl").read_bytes().splitlines()
    ours = plain = 0
    for line in lines:
        stored = zdict.compress(line)
        assert stored[0] == zdict.CURRENT and zdict.decompress(stored) == line
        ours, plain = ours + len(stored), plain + len(zlib.compress(line, zdict.LEVEL))
        assert len(stored) <= len(zlib.compress(line, zdict.LEVEL)) + 32
    assert ours <= plain


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (b"", "empty"),
        (b"\xff" + zlib.compress(b"{}"), "dictionary 255, which this release lacks"),
        (b"\x01garbage", "not a deflate stream"),
        (zdict.compress(b"x" * 5000)[:-4], "truncated"),
    ],
)
def test_values_that_do_not_inflate_are_refused_with_the_reason(stored: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        zdict.decompress(stored)
