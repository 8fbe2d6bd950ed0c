"""Tenants: the case-id rule, the deployment's tenant policy at ingest, and real multi-tenant data."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from aisoc.bus import Bus
from aisoc.cli import main
from aisoc.events import Alert, AlertReceived
from aisoc.memory import Memory
from aisoc.settings import KernelSettings
from aisoc.sources import Rejected, ingest, open_source
from aisoc.tenants import Tenancy, case_id_for, tenant_key
from tests.integrations.vendor_data import xsoar_incidents

GUIDE = Path(__file__).resolve().parents[2] / "data" / "guide" / "evidence.csv"


class Listed:
    """A source that yields what it is given, once per poll."""

    name = "listed"

    def __init__(self, items: list[Alert | Rejected]) -> None:
        self.items = items

    def poll(self) -> list[Alert | Rejected]:
        return self.items


def test_single_tenant_ids_stay_plain_and_a_tenant_prefixes_its_own() -> None:
    """Given the default tenant (None or ""), then the id is source:source_id; another tenant prefixes it."""
    assert case_id_for("xsoar", "1001") == case_id_for("xsoar", "1001", "") == "xsoar:1001"
    assert case_id_for("xsoar", "1001", "acme") == "acme/xsoar:1001"
    assert tenant_key(None) == tenant_key("") == ""


def test_a_tenant_cannot_forge_another_tenants_or_the_default_ids() -> None:
    """Given tenants holding the separators, then their ids stay distinct from every other tenant's."""
    forged = case_id_for("xsoar", "1001", "evil/acme")
    assert forged == "evil%2Facme/xsoar:1001" != case_id_for("xsoar", "1001", "acme")
    assert case_id_for("x", "1", "a:b") != case_id_for("a", "b/x:1")


def test_the_tenancy_files_declared_default_and_source_tenants() -> None:
    """Given declared tenants and a default, then the default keeps plain ids, a source's own tenant fills
    a gap (and binds the source to it), and an undeclared tenant is refused by name."""
    policy = Tenancy(frozenset({"acme", "globex"}), default="home")
    assert policy.assign("home") is None and policy.assign("globex") == "globex"
    with pytest.raises(ValueError, match="tenant 'initech' is not declared"):
        policy.assign("initech")
    acmes = Tenancy(frozenset({"acme", "globex"}), default="home", source_tenant="acme")
    assert acmes.assign(None) == acmes.assign("acme") == "acme"
    with pytest.raises(ValueError, match="tenant 'globex' from a source of tenant 'acme'"):
        acmes.assign("globex")
    settings = KernelSettings(tenants=["a"], default_tenant="b")
    assert settings.tenancy("a") == Tenancy(frozenset({"a"}), "b", "a")


def test_two_organisations_xsoar_incident_1001_are_two_cases(tmp_path: Path) -> None:
    """Given two organisations' XSOAR exports that both hold incident 1001, when both are ingested twice,
    then there are two cases, each published once, with the tenant in the id."""
    incident = dict(xsoar_incidents()[0], id="1001")
    for org in ("acme", "globex"):
        (tmp_path / f"{org}.json").write_text(json.dumps([dict(incident, account=org)]))
    bus = Bus()
    for _ in range(2):
        for org in ("acme", "globex"):
            ingest(open_source("xsoar", str(tmp_path / f"{org}.json")), bus)
    received = [e for e in bus.audit if isinstance(e, AlertReceived)]
    assert sorted(e.case_id for e in received) == ["acme/xsoar:1001", "globex/xsoar:1001"]
    assert {e.alert.tenant for e in received} == {"acme", "globex"}


def test_ingest_refuses_an_undeclared_tenant_and_stamps_the_sources_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given declared tenants, when an export of an unknown organisation and a tenant-less Wazuh file for
    one customer are ingested, then the first is dead-lettered with the reason and the second is filed
    under the customer named by --tenant."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AISOC_TENANTS", '["acme"]')
    bus = f"sqlite:///{tmp_path / 'soc.db'}"
    (tmp_path / "x.json").write_text(json.dumps([dict(xsoar_incidents()[0], id="7", account="initech")]))
    wazuh = Path(__file__).resolve().parents[2] / "data" / "wazuh" / "alerts.jsonl"
    assert main(["ingest", "xsoar", str(tmp_path / "x.json"), "--bus", bus]) == 0
    assert main(["ingest", "wazuh", str(wazuh), "--bus", bus, "--limit", "2", "--tenant", "acme"]) == 0
    assert "0 published, 0 duplicate(s), 1 rejected" in capsys.readouterr().out
    (letter,) = Bus(bus).dead_letters()
    assert "tenant 'initech' is not declared" in letter.reason and '"source_id":"7"' in letter.payload
    ids = [e.case_id for e in Bus(bus).audit if isinstance(e, AlertReceived)]
    assert len(ids) == 2 and all(i.startswith("acme/wazuh:") for i in ids)


def test_guide_replay_never_recalls_across_its_600_organisations() -> None:
    """Given every GUIDE incident (644 organisations; 16 incident ids used by two of them), when ingested
    and each case asks for precedent, then no incident is merged with another organisation's and no
    precedent comes from another organisation."""
    source = open_source("guide", str(GUIDE))
    alerts = [a for a, _ in source.records() if isinstance(a, Alert)]
    orgs_of: dict[str, set[str]] = defaultdict(set)
    for a in alerts:
        orgs_of[a.source_id].add(a.tenant or "")
    shared = {i for i, orgs in orgs_of.items() if len(orgs) > 1}
    assert len({a.tenant for a in alerts}) >= 600 and len(shared) >= 10
    bus = Bus()
    stats = ingest(Listed(list(alerts)), bus)
    assert stats.published == len(alerts) == len({a.case_id for a in alerts}) and stats.duplicates == 0
    tenant_of = {a.case_id: a.tenant for a in alerts}
    mem = Memory(bus.audit)
    recalled = 0
    for a in alerts:
        for p in mem.recall_similar(a.case_id, k=10):
            recalled += 1
            assert tenant_of[p.case_id] == a.tenant, (a.case_id, p.case_id)
    assert recalled > 1000


def test_the_threat_hunter_links_cases_of_one_tenant_unless_told_and_then_says_so() -> None:
    """Given two organisations whose cases share a host name and a C2 address, then the hunt finds no
    lead across them; with hunting across tenants allowed, the leads appear and say "across tenants"."""
    from datetime import UTC, datetime, timedelta

    from aisoc.events import HuntProposal, Indicator, ProducedBy
    from roles import ThreatHunter

    t0 = datetime(2026, 11, 25, 10, tzinfo=UTC)
    received = []
    for n, org in enumerate(["acme", "acme", "globex"]):
        a = Alert(
            source="edr",
            source_id=str(n),
            tenant=org,
            title="beacon",
            severity=3,
            created_at=t0 + timedelta(minutes=n),
            hosts=["DC01"],
            indicators=[Indicator(type="ip", value="203.0.113.66")],
        )
        by = ProducedBy(role="ingest")
        received.append(AlertReceived(alert=a, case_id=a.case_id, produced_by=by, occurred_at=a.created_at))
    end = t0 + timedelta(hours=2)
    apart = ThreatHunter().report(received, t0, end, "UTC")[0]
    assert isinstance(apart, HuntProposal)
    assert [(f.kind, f.case_ids) for f in apart.findings] == [
        ("shared_indicator", ["acme/edr:0", "acme/edr:1"])
    ]
    assert "of tenant acme" in apart.findings[0].summary
    hunter = ThreatHunter()
    hunter.across_tenants = True
    together = hunter.report(received, t0, end, "UTC")[0]
    assert isinstance(together, HuntProposal)
    assert {f.kind for f in together.findings} == {"repeated_host", "shared_indicator"}
    assert all("across tenants" in f.summary and len(f.case_ids) == 3 for f in together.findings)


def test_the_tenant_of_a_case_id_is_the_tenant_it_was_made_for() -> None:
    """Given case ids made for the default tenant and for tenants with separators, percent signs and
    blanks in their names (and source ids with '/' and ':'), the tenant read back from each id is the
    tenant it was made for."""
    from aisoc.tenants import case_id_for, tenant_of

    for tenant in (None, "", "acme", "a/b", "x:y", "%41", " spaced "):
        for source_id in ("1001", "a/b:c", "acme/wazuh:1"):
            assert tenant_of(case_id_for("wazuh", source_id, tenant)) == (tenant or "").strip()


def test_truth_import_files_labels_under_the_tenant_ingest_filed_the_alerts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given the same real Wazuh records ingested for customer acme (``--tenant acme``) and for the
    default tenant, when acme's labels are imported with ``--tenant acme``, then every label lands on
    acme's cases and none on the default tenant's (whose statistics and precedent must not learn
    from acme's analysts); without ``--tenant`` they land on the default tenant's cases only."""
    monkeypatch.chdir(tmp_path)
    export = tmp_path / "acme.jsonl"
    lines = (Path(__file__).resolve().parents[2] / "data" / "wazuh" / "alerts.jsonl").read_text().splitlines()
    export.write_text("\n".join(lines[:3]) + "\n")
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    assert main(["ingest", "wazuh", str(export), "--bus", url, "--tenant", "acme"]) == 0
    assert main(["ingest", "wazuh", str(export), "--bus", url, "--from-start"]) == 0
    assert main(["truth", "import", str(export), "--source", "wazuh", "--bus", url, "--tenant", "acme"]) == 0
    mem = Memory(Bus(url).audit)
    labelled = {r.case_id for r in mem.cases() if r.truth is not None}
    assert len(labelled) == 3 and all(c.startswith("acme/wazuh:") for c in labelled)
    capsys.readouterr()
