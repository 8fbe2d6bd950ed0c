"""Keeping the log: export, restore, retention, and redaction before storage."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aisoc import Bus, audit, events, models
from aisoc.cli import main
from aisoc.errors import BusError, ConfigError
from aisoc.redact import Redactor
from aisoc.runtime import RoleTeam
from integrations.samples import demo_source
from integrations.wazuh import WazuhFileSource


def demo_bus(url: str | None = None, **kw: object) -> Bus:
    bus = Bus(url, **kw)  # type: ignore[arg-type]
    RoleTeam(model=models.from_spec("stub"), bus=bus).consume(demo_source())
    return bus


@pytest.mark.parametrize("target", ["memory", "sqlite", "redis"])
def test_backup_and_restore_round_trip(target: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A SOC's whole audit log exported and restored into an empty bus of any kind is the same log,
    case by case, and restoring starts no work."""
    source = demo_bus()
    result = audit.export(source, tmp_path / "backup.jsonl.gz")
    assert result.count == len(source.audit) > 12
    if target == "redis":
        url = request.getfixturevalue("redis_url")
        empty = Bus(url, namespace=request.getfixturevalue("namespace"))
    else:
        empty = Bus(f"sqlite:///{tmp_path}/restored.db" if target == "sqlite" else None)
    assert audit.restore(empty, result.path) == result.count
    assert [e.to_dict() for e in empty.audit] == [e.to_dict() for e in source.audit]
    case = next(e.case_id for e in source.audit if e.type == "ir.plan")
    assert empty.audit.for_case(case) == source.audit.for_case(case)
    assert empty.consume("sentinel", "s", types=["alert.received"]) == []
    with pytest.raises(BusError, match="not empty"):
        audit.restore(empty, result.path)


def test_an_invalid_export_restores_nothing_and_names_the_line(tmp_path: Path) -> None:
    """One bad line anywhere: nothing is written, the error names the line."""
    result = audit.export(demo_bus(), tmp_path / "b.jsonl.gz")
    lines = gzip.open(result.path, "rt").read().splitlines()
    bad = json.loads(lines[5])
    bad["event"]["priority"] = 99
    lines[5] = json.dumps(bad)
    broken = tmp_path / "broken.jsonl.gz"
    with gzip.open(broken, "wt") as f:
        f.write("\n".join(lines) + "\n")
    empty = Bus()
    with pytest.raises(audit.AuditFileError, match="line 6"):
        audit.restore(empty, broken)
    assert len(empty.audit) == 0


def test_export_one_case_and_from_a_time(tmp_path: Path) -> None:
    """--case keeps one case's events; --since keeps what occurred at or after the time."""
    bus = demo_bus()
    case = next(e.case_id for e in bus.audit if e.type == "ir.plan")
    one = audit.export(bus, tmp_path / "c.jsonl.gz", case_id=case)
    assert [e.event_id for e in audit.read_export(one.path)] == [e.event_id for e in bus.audit.for_case(case)]
    later = audit.export(bus, tmp_path / "s.jsonl.gz", since=datetime.now(UTC) + timedelta(days=1))
    assert later.count == 0


def test_retention_archives_before_it_trims(tmp_path: Path) -> None:
    """Entries older than the cut-off are written to an archive that reads back, then trimmed."""
    bus = Bus()
    old = [
        events.ControlPaused(
            scope="sentinel",
            by="a",
            produced_by={"role": "human"},
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        for _ in range(3)
    ]
    new = [events.ControlResumed(scope="sentinel", by="a", produced_by={"role": "human"})]
    for e in [*old, *new]:
        bus.publish(e)
    result = audit.retain(bus, datetime(2026, 6, 1, tzinfo=UTC), tmp_path / "archive")
    assert result is not None and result.count == 3
    assert [e.event_id for e in audit.read_export(result.path)] == [e.event_id for e in old]
    assert [e.event_id for e in bus.audit] == [new[0].event_id]
    assert audit.retain(bus, datetime(2026, 6, 1, tzinfo=UTC), tmp_path / "archive") is None


WAZUH = Path(__file__).parents[2] / "data/wazuh/alerts.jsonl"


def _case_ids(bus: Bus, kind: str) -> list[str | None]:
    return [e.case_id for e in bus.audit if e.type == kind]


def test_a_log_trimmed_by_retention_restores_whole_from_its_archives_and_export(tmp_path: Path) -> None:
    """Given real Wazuh alerts worked by the team and a log that retention trimmed to its newest
    entries, when the archives and the latest export are imported (oldest first, an overlapping
    older export among them) into an empty bus, then the whole log is back once, re-ingesting the
    source publishes nothing, and every proposal is in the log for the gate to reopen."""
    from aisoc.sources import ingest

    bus = Bus()
    RoleTeam(model=models.from_spec("stub"), bus=bus).consume(WazuhFileSource(WAZUH))
    whole = [e.event_id for e in bus.audit]
    early = audit.export(bus, tmp_path / "before-retention.jsonl.gz")  # overlaps the archive
    archive = audit.retain(bus, None, tmp_path / "archive", max_entries=len(whole) // 3)
    assert archive is not None and 0 < archive.count < len(whole)
    latest = audit.export(bus, tmp_path / "latest.jsonl.gz")

    only_latest = Bus()
    audit.restore(only_latest, latest.path)
    assert ingest(WazuhFileSource(WAZUH), only_latest).published > 0  # what the archive held comes back

    restored = Bus()
    assert audit.restore(restored, archive.path, early.path, latest.path) == len(whole)
    assert [e.event_id for e in restored.audit] == whole
    proposals = [e.event_id for e in audit.read_export(early.path) if e.type == "action.proposed"]
    assert proposals and [e.event_id for e in restored.audit if e.type == "action.proposed"] == proposals
    again = ingest(WazuhFileSource(WAZUH), restored)
    assert again.published == 0 and again.duplicates == len(_case_ids(restored, "alert.received"))


def test_files_of_one_log_given_newest_first_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    """Given an archive and the export taken after it, when they are imported newest first, then the
    import is refused with the order to use and the bus stays empty."""
    bus = demo_bus()
    archive = audit.retain(bus, None, tmp_path / "archive", max_entries=len(bus.audit) // 2)
    assert archive is not None
    latest = audit.export(bus, tmp_path / "latest.jsonl.gz")
    empty = Bus()
    with pytest.raises(audit.AuditFileError, match="oldest first"):
        audit.restore(empty, latest.path, archive.path)
    assert len(empty.audit) == 0


def test_explain_of_an_archived_case_names_the_case_and_where_retention_put_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a case that retention archived, when the operator asks aisoc explain for it, then the
    answer names it as a case (not a host) and gives the command that finds it in the archives;
    with no archives, no such hint; a plain host name keeps the host answer."""
    url = f"sqlite:///{tmp_path}/soc.db"
    bus = demo_bus(url)
    case = next(e.case_id for e in bus.audit if e.type == "alert.received")
    config = tmp_path / "aisoc.toml"
    config.write_text(f'[aisoc]\nbus = "{url}"\naudit_archive_dir = "{tmp_path}/archive"\n')
    explain = ["--config", str(config), "explain", str(case), "--snapshot", "none"]
    audit.retain(bus, None, tmp_path / "archive", max_entries=1)
    assert main(explain) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"aisoc explain: no case '{case}' in the audit log (nor a host of that name)")
    assert f"zgrep -l '\"{case}\"' {tmp_path}/archive/audit-*.jsonl.gz" in err
    config.write_text(f'[aisoc]\nbus = "{url}"\naudit_archive_dir = "{tmp_path}/none"\n')
    assert main(explain) == 1
    assert "retention" not in capsys.readouterr().err
    assert main(["--config", str(config), "explain", "WS-404", "--snapshot", "none"]) == 1
    assert "no recorded case touched host 'WS-404'" in capsys.readouterr().err


def test_an_export_that_cannot_be_written_is_named_and_leaves_nothing_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a backup path under a file (not a directory) and a bus that fails mid-export, when the
    operator exports, then the CLI names the path (exit 2, no traceback), and a failed export leaves
    no partial file next to the backups."""
    url = f"sqlite:///{tmp_path}/soc.db"
    bus = demo_bus(url)
    (tmp_path / "backup").write_text("a file, not a directory")
    assert main(["audit", "export", "--bus", url, "-o", str(tmp_path / "backup" / "soc.jsonl.gz")]) == 2
    assert f"aisoc audit: {tmp_path}/backup/soc.jsonl.gz: cannot write: " in capsys.readouterr().err

    first = list(bus.audit.entries())[:3]

    def failing(*_: Any, **__: Any) -> Any:
        yield from first
        raise BusError("Redis at redis://127.0.0.1:6399/0 is unreachable")

    bus.audit.scan = failing  # type: ignore[method-assign]  # what an export reads
    out = tmp_path / "backups"
    with pytest.raises(BusError):
        audit.export(bus, out / "soc.jsonl.gz")
    assert list(out.iterdir()) == []


def test_audit_cli_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """aisoc audit export / import work from the command line between SQLite files."""
    src = f"sqlite:///{tmp_path}/src.db"
    demo_bus(src)
    assert main(["audit", "export", "--bus", src, "-o", str(tmp_path / "x.jsonl.gz")]) == 0
    assert (
        main(["audit", "import", "--bus", f"sqlite:///{tmp_path}/dst.db", str(tmp_path / "x.jsonl.gz")]) == 0
    )
    assert "restored" in capsys.readouterr().out
    assert main(["audit", "retain", "--bus", src]) == 2
    assert "retention is off" in capsys.readouterr().err


def test_configured_secrets_are_redacted_before_events_are_stored() -> None:
    """A real Wazuh alert carrying a password on its command line is stored without it; ids and
    the case id are untouched."""
    alerts = [
        a
        for a in WazuhFileSource(Path(__file__).parents[2] / "data/wazuh/alerts.jsonl").poll()
        if isinstance(a, events.Alert)
    ]
    leaky = next(a for a in alerts if "P@ssword1" in json.dumps(a.raw))
    bus = Bus(redactor=Redactor(presets=["secrets"]))
    e = events.AlertReceived(alert=leaky, case_id=leaky.case_id, produced_by={"role": "ingest"})
    bus.publish(e)
    (stored,) = bus.audit
    assert "P@ssword1" not in stored.to_json() and "[REDACTED]" in stored.to_json()
    assert (stored.event_id, stored.case_id, stored.alert.source_id) == (
        e.event_id,
        e.case_id,
        leaky.source_id,
    )
    clean = events.ControlPaused(scope="all", by="ana", produced_by={"role": "human"})
    assert Redactor(presets=["secrets"])(clean) is clean


def test_bad_redaction_settings_are_named() -> None:
    """An unknown preset or a broken pattern stops the process with the setting's name."""
    with pytest.raises(ConfigError, match="redact_presets"):
        Redactor(presets=["everything"])
    with pytest.raises(ConfigError, match="redact_patterns"):
        Redactor(patterns=["(unclosed"])
