"""The kernel CLI, settings errors, ingest (dedupe, rejects) and the tools seam."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from aisoc import Bus, events
from aisoc.cli import main
from aisoc.errors import ConfigError
from aisoc.settings import KernelSettings, load_settings
from aisoc.sources import CursorStore, Rejected, ingest
from aisoc.tools import ToolError, ToolSet, tool
from tests.aisoc.bus_contract import alert_event


def test_events_schema_prints_every_type(capsys: pytest.CaptureFixture[str]) -> None:
    """`aisoc events schema` prints a JSON Schema per event type; one type can be asked for."""
    assert main(["events", "schema"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    assert "ir.plan" in schemas and "properties" in schemas["ir.plan"]
    assert main(["events", "schema", "action.decided"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == ["action.decided"]
    assert main(["events", "schema", "no.such"]) == 2
    assert "unknown event type" in capsys.readouterr().err


def test_bus_dlq_list_and_replay_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Dead letters are listed with their reasons and replayed by id; a bad id is an error."""
    url = f"sqlite:///{tmp_path}/soc.db"
    bus = Bus(url, max_deliveries=1)
    bus.publish(alert_event(1))
    (d,) = bus.consume("sentinel", "s", types=["alert.received"])
    d.fail("model unreachable")
    dl_id = bus.dead_letters()[0].id
    assert main(["bus", "dlq", "list", "--bus", url]) == 0
    out = capsys.readouterr().out
    assert "model unreachable" in out and "alerts/sentinel" in out
    assert main(["bus", "dlq", "list", "--bus", url, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["group"] == "sentinel" and listed["encoding"] == "utf-8" and listed["id"] == dl_id
    assert listed["event_id"] and json.loads(listed["payload"])["type"] == "alert.received"
    assert main(["bus", "dlq", "replay", dl_id, "--bus", url]) == 0
    assert main(["bus", "dlq", "replay", dl_id, "--bus", url]) == 1
    assert "no dead letter" in capsys.readouterr().out
    assert main(["bus", "stats", "--bus", url, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["dead_letters"] == 0
    (alerts,) = [s for s in stats["streams"] if s["name"] == "alerts"]
    assert alerts["groups"][0]["lag"] == 1  # the replayed entry waits for its group


def test_wrong_settings_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad setting is refused with its name, where it comes from and what was expected."""
    cfg = tmp_path / "aisoc.toml"
    cfg.write_text('[aisoc]\nrecall = "maybe"\n')
    with pytest.raises(ConfigError) as e:
        load_settings(KernelSettings, cfg)
    assert "'recall'" in str(e.value) and "'on' or 'off'" in str(e.value) and "aisoc.toml" in str(e.value)
    monkeypatch.setenv("AISOC_CONFIG", str(tmp_path / "missing.toml"))
    assert main(["bus", "stats"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_settings_precedence_flags_over_env_over_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Flags beat environment variables, which beat the settings file, which beats defaults."""
    cfg = tmp_path / "aisoc.toml"
    cfg.write_text('[aisoc]\nnamespace = "from-file"\nmodel = "local"\n')
    monkeypatch.setenv("AISOC_NAMESPACE", "from-env")
    s = load_settings(KernelSettings, cfg)
    assert (s.namespace, s.model, s.bus) == ("from-env", "local", "memory://")
    assert load_settings(KernelSettings, cfg, namespace="from-flag").namespace == "from-flag"


class _Source:
    name = "test"

    def __init__(self, items: list[events.Alert | Rejected]) -> None:
        self.items = items

    def poll(self) -> Iterator[events.Alert | Rejected]:
        yield from self.items


def test_ingest_publishes_each_case_once_and_dead_letters_rejects() -> None:
    """The same alert polled twice is one case; an unparseable record lands in the DLQ."""
    bus = Bus()
    a = alert_event(1).alert
    updated = a.model_copy(update={"title": "updated upstream"})
    stats = ingest(_Source([a, Rejected("no timestamp", '{"x":1}', "test"), updated]), bus)
    assert (stats.published, stats.duplicates, stats.rejected) == (1, 1, 1)
    assert [e.case_id for e in bus.audit] == [a.case_id]
    again = ingest(_Source([a]), bus)
    assert again.published == 0 and again.duplicates == 1
    (dl,) = bus.dead_letters()
    assert dl.reason == "test: no timestamp" and dl.payload == '{"x":1}'


def test_cursor_store_survives_a_restart(tmp_path: Path) -> None:
    """A saved cursor is there for the next process."""
    CursorStore(tmp_path / "cursors.json").set("xsoar", "2026-01-01T00:00:00Z")
    assert CursorStore(tmp_path / "cursors.json").get("xsoar") == "2026-01-01T00:00:00Z"


def test_tools_are_offered_by_whitelist_and_validate_arguments() -> None:
    """A tool built from a function validates its arguments; a ToolSet offers whitelisted tools."""

    @tool()
    def lookup(ip: str, limit: int = 5) -> dict[str, object]:
        """Reputation of an IP address."""
        return {"ip": ip, "limit": limit}

    assert lookup.description == "Reputation of an IP address."
    assert lookup.invoke({"ip": "1.2.3.4"}) == {"ip": "1.2.3.4", "limit": 5}
    with pytest.raises(ToolError, match="bad arguments"):
        lookup.invoke({"ip": "1.2.3.4", "limit": "many"})
    tools = ToolSet([lookup])
    assert [t.name for t in tools.allowed(["nope", "lookup"])] == ["lookup"]


def test_every_aisoc_process_raises_the_young_gc_threshold_and_freezes_its_start_up_heap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given CPython's default collector thresholds, when the CLI starts a command, then the
    young-generation threshold is raised (and never lowered by a second call) and the start-up heap
    is frozen out of the collector's scans."""
    import gc

    from aisoc import tuning
    from aisoc.cli import main
    from aisoc.tuning import GC_THRESHOLD0, tune_gc

    monkeypatch.setattr(tuning, "_frozen", False)
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        gc.unfreeze()
        assert main(["events", "list"]) == 0
        assert gc.get_threshold() == (GC_THRESHOLD0, 10, 10)
        assert gc.get_freeze_count() > 0
        gc.set_threshold(50_000, 10, 10)
        assert tune_gc() == (50_000, 10, 10)
        assert gc.get_threshold()[0] == 50_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)


def test_library_code_leaves_the_garbage_collector_to_the_entry_points() -> None:
    """Given the kernel's modules, when any of them is read, then only ``aisoc/tuning.py`` (the
    policy the entry points apply) imports ``gc``: memory and replay do not change the process's
    collector on their own."""
    import ast

    root = Path(__file__).resolve().parents[2] / "aisoc"
    touching = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if "gc" in names:
                touching.append(str(path.relative_to(root)))
    assert touching == ["tuning.py"]


def test_the_memory_folds_inside_the_policy_its_entry_point_hands_it() -> None:
    """Given a memory opened with the CLI's ``gc_paused`` policy, when it folds the log, then the
    collector is off during the fold and on again afterwards; opened without, the collector is
    never touched."""
    import gc

    from aisoc.memory import Memory
    from aisoc.tuning import gc_paused

    bus = Bus()
    seen: list[bool] = []

    @contextmanager
    def spy() -> Iterator[None]:
        with gc_paused():
            seen.append(gc.isenabled())
            yield

    bus.publish(alert_event(1))
    assert gc.isenabled()
    mem = Memory(bus.audit, auto_refresh=False, bulk=spy)
    assert mem.refresh() == 1
    assert seen == [False] and gc.isenabled()
    plain = Memory(bus.audit, auto_refresh=False)
    gc.disable()
    try:
        assert plain.refresh() == 1
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_explain_a_host_from_the_cli_is_global_unless_a_tenant_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given two tenants' cases on one host, `aisoc explain HOST` (an operator's command, which its
    help says searches every tenant) cites both, and `--tenant` keeps to one."""
    from tests.aisoc.memory import factory as f

    url = f"sqlite:///{tmp_path}/soc.db"
    bus = Bus(url)
    for e in [*f.contained("1", "ws-1"), f.alert("other", hosts=["WS-1"], tenant="org2")]:
        bus.publish(e)
    bus.close()
    cases = {}
    for tenant in (None, "org2", ""):
        extra = [] if tenant is None else ["--tenant", tenant]
        assert main(["explain", "ws-1", "--bus", url, "--snapshot", "none", "--json", *extra]) == 0
        cases[tenant] = json.loads(capsys.readouterr().out)["case_ids"]
    assert sorted(cases[None]) == ["org2/test:other", "test:1"]
    assert (cases["org2"], cases[""]) == (["org2/test:other"], ["test:1"])
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    assert "searches every tenant" in " ".join(capsys.readouterr().out.split())
