"""The Procfile and the systemd units start commands that exist, and restart what dies."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from aisoc.cli import main
from tests.gate.production import GUNICORN
from tests.support.procfile import read_procfile

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy/systemd").glob("*.service"))


def argv_of(command: str) -> list[str]:
    """The aisoc arguments of a command line (unit placeholders filled in)."""
    argv = shlex.split(command.replace("%i", "sentinel").replace("$AISOC_INGEST_ARGS", ""))
    assert Path(argv[0]).name == "aisoc", command
    return argv[1:]


def is_gate_pages(command: str) -> bool:
    """Whether a command line is the gate's documented gunicorn command (from any install path)."""
    argv = shlex.split(command)
    return Path(argv[0]).name == "gunicorn" and shlex.join(["gunicorn", *argv[1:]]) == shlex.join(
        shlex.split(GUNICORN)
    )


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
    if not is_gate_pages(service["ExecStart"]):
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


HARDENING = ROOT / "deploy/systemd/aisoc-.service.d/hardening.conf"
"""The drop-in systemd applies to every ``aisoc-*.service`` (a unit-name prefix drop-in)."""
MAX_EXPOSURE = 4.0
"""The highest ``systemd-analyze security`` exposure a unit may have."""


def read_unit(path: Path) -> configparser.ConfigParser:
    """A unit file as sections of keys (the last value of a repeated key wins, as for scalars)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_limits_restarts_in_unit_and_memory_in_service(unit: Path) -> None:
    """Start limits sit in [Unit] (systemd ignores them in [Service]) and every unit caps its memory."""
    parsed = read_unit(unit)
    assert {"StartLimitIntervalSec", "StartLimitBurst"} <= set(parsed["Unit"]), unit.name
    assert not {"StartLimitIntervalSec", "StartLimitBurst"} & set(parsed["Service"]), unit.name
    assert parsed["Service"].get("MemoryMax", "").rstrip("GM").isdigit(), unit.name


def test_the_hardening_drop_in_applies_to_every_unit_and_keeps_files_private() -> None:
    """Every unit is named ``aisoc-*`` so the prefix drop-in applies; it sets the sandbox and UMask=0077."""
    assert all(u.name.startswith("aisoc-") for u in UNITS)
    service = read_unit(HARDENING)["Service"]
    assert service["UMask"] == "0077"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    }.items():
        assert service[key] == value, key


def test_systemd_analyze_rates_every_unit_at_most_4(tmp_path: Path) -> None:
    """Given the units and the drop-in installed under a root, every unit's exposure is at most 4.0."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip(
            "systemd-analyze is not installed here (Debian package systemd): the score is not checked"
        )
    system = tmp_path / "etc/systemd/system"
    shutil.copytree(ROOT / "deploy/systemd", system)
    for unit in UNITS:
        name = unit.name.replace("@.", "@sentinel.")
        done = subprocess.run(
            [tool, "security", "--offline=yes", f"--root={tmp_path}", "--no-pager", name],
            capture_output=True,
            text=True,
            timeout=60,
        )
        found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
        assert found, (name, done.stdout[-500:], done.stderr[-500:])
        assert float(found.group(1)) <= MAX_EXPOSURE, (name, found.group(0))
        assert "Unknown key" not in done.stderr, (name, done.stderr)


def test_the_gate_pages_run_the_documented_gunicorn_command_with_their_own_keys() -> None:
    """The gate's unit runs exactly the gunicorn command docs/gate.md documents (the one the HTTPS
    browser test runs), as its own user, with the session-key environment file no other unit reads."""
    units = {u.name: u.read_text() for u in UNITS}
    gate = units["aisoc-gate.service"]
    (exec_start,) = [line for line in gate.splitlines() if line.startswith("ExecStart=")]
    assert is_gate_pages(exec_start.removeprefix("ExecStart="))
    assert "User=aisoc-gate" in gate and "EnvironmentFile=-/etc/aisoc/gate.env" in gate
    assert GUNICORN in (ROOT / "docs/gate.md").read_text()
    others = [text for name, text in units.items() if name != "aisoc-gate.service"]
    assert others and not any("EnvironmentFile=-/etc/aisoc/gate.env" in text for text in others)
    assert "aisoc-gate-worker.service" in (ROOT / "deploy/systemd/aisoc.target").read_text()


def test_the_settings_file_operations_md_starts_from_loads_in_every_process(tmp_path: Path) -> None:
    """Given the aisoc.toml of docs/operations.md with its placeholders filled by real keys, when
    the kernel, the gate and the bot read it, then each accepts it (a documented example that a
    process refuses is a first deployment that does not start)."""
    from aisoc.settings import KernelSettings, load_settings
    from bot.settings import load_bot_settings
    from gate.settings import load_gate_settings

    text = (ROOT / "docs/operations.md").read_text()
    section = text[text.index("## Installing with systemd") : text.index("## Kill switch")]
    (toml,) = re.findall(r"```toml\n(.*?)```", section, re.S)
    keys = iter(["k7Hq2Lm9Xw4Rt8Vb1Nc6Zp3Ys5Ud0Ej" + c for c in "ABCDEF"])
    config = tmp_path / "aisoc.toml"
    config.write_text(re.sub(r"<[a-z ]+>", lambda _: next(keys), toml))
    kernel = load_settings(KernelSettings, config)
    assert kernel.bus.startswith("redis://") and kernel.durability == "fsync"
    assert load_gate_settings(config).base_url == "https://gate.example.com"
    assert load_bot_settings(config).public_url == "https://soc-bot.example.com"
