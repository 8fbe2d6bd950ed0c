"""The Procfile and the systemd units start commands that exist, and restart what dies."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from aisoc.cli import main
from tests.support.procfile import read_procfile

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy/systemd").glob("*.service"))


def argv_of(command: str) -> list[str]:
    """The aisoc arguments of a command line (unit placeholders filled in)."""
    argv = shlex.split(command.replace("%i", "sentinel").replace("$AISOC_INGEST_ARGS", ""))
    assert Path(argv[0]).name == "aisoc", command
    return argv[1:]


def help_works(argv: list[str]) -> None:
    """The command parses: ``aisoc ... --help`` exits 0."""
    words = [a for a in argv if not a.startswith("-")][:2]
    with pytest.raises(SystemExit) as done:
        main([*words, "--help"])
    assert done.value.code == 0, argv


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_systemd_unit_runs_an_existing_command_and_restarts(
    unit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every unit's ExecStart is a real aisoc command; it restarts on failure and stops on SIGTERM."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    service = parser["Service"]
    help_works(argv_of(service["ExecStart"]))
    assert service["Restart"] == "always" and service["KillSignal"] == "SIGTERM"
    assert "aisoc.target" in parser["Install"]["WantedBy"]


def test_every_procfile_line_runs_an_existing_command(capsys: pytest.CaptureFixture[str]) -> None:
    """The Procfile names every process and each one parses."""
    procs = read_procfile(ROOT / "Procfile")
    assert {"bot", "gate", "sentinel", "tier2", "ir_lead", "threat_intel", "scheduler"} <= set(procs)
    assert any(name.startswith("ingest") for name in procs)
    for command in procs.values():
        help_works(argv_of(command))
