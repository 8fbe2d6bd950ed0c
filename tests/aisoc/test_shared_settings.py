"""The setting helpers the gate and the bot share: one time-zone check, one store-URL reading."""

from __future__ import annotations

from pathlib import Path

import pytest

from aisoc.bus import Bus
from aisoc.errors import ConfigError
from aisoc.sqlitedb import store_url_path
from bot.settings import load_bot_settings
from bot.store import store_path
from gate.settings import load_gate_settings


def test_an_unknown_zone_is_refused_by_name_in_the_gate_and_the_bot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a misspelt zone in [bot], a rotation and an override, each load fails naming the zone."""
    monkeypatch.delenv("WEBEX_ACCESS_TOKEN", raising=False)
    config = tmp_path / "aisoc.toml"
    config.write_text('[bot]\ntimezone = "Europe/Londn"\n')
    with pytest.raises(ConfigError, match="unknown time zone 'Europe/Londn'"):
        load_bot_settings(str(config))
    roster = (
        '[roster.people.alice]\nname = "Alice"\nemail = "alice@example.org"\n'
        '[[roster.duties.ir_lead.rotations]]\npeople = ["alice"]\nstart = 2026-01-05\ntimezone = "{rot}"\n'
        '[[roster.duties.ir_lead.overrides]]\nperson = "alice"\nstart = 2026-02-01T09:00:00\n'
        'end = 2026-02-02T09:00:00\ntimezone = "{ovr}"\n'
    )
    for rot, ovr in [("Mars/Olympus", "UTC"), ("Europe/London", "Nowhere/Else")]:
        config.write_text(roster.format(rot=rot, ovr=ovr))
        with pytest.raises(ConfigError, match="unknown time zone"):
            load_gate_settings(str(config))
    config.write_text(roster.format(rot="Europe/London", ovr="America/New_York"))
    assert load_gate_settings(str(config)).roster.duties


def test_store_urls_read_the_same_for_the_gate_and_the_bot(tmp_path: Path) -> None:
    """Given store settings, the shared reading maps them to a file or memory and refuses other schemes."""
    assert store_url_path("memory://") == ":memory:"
    assert store_url_path(f"sqlite:///{tmp_path}/b.db") == f"{tmp_path}/b.db"
    for bad in ("postgres://x", "sqlite://relative.db", "", "redis://localhost"):
        with pytest.raises(ValueError, match="expected memory:// or sqlite:///PATH"):
            store_url_path(bad)
    bus = Bus(f"sqlite:///{tmp_path}/soc.db")
    assert store_path(bus, None, None) == str(tmp_path / "soc.bot.db")
    assert store_path(Bus(), None, None) == ":memory:"
    assert store_path(bus, "memory://", None) == ":memory:"


def test_the_bound_of_a_stream_no_group_reads_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given `ungrouped_max_len` in the environment, when a process opens its bus from its settings, then
    the bus trims a stream no group reads to that bound (the default is 100,000)."""
    from aisoc.bus import open_bus
    from aisoc.settings import KernelSettings

    assert open_bus(KernelSettings()).ungrouped_max_len == 100_000
    monkeypatch.setenv("AISOC_UNGROUPED_MAX_LEN", "2500")
    assert open_bus(KernelSettings()).ungrouped_max_len == 2500
