"""Tenant isolation end to end: alerts identical apart from the tenant, through ingest and the team
(canned model, in-process bus, recall on). See ``tests/aisoc/tenant_twins.py`` for the twins and checks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from aisoc.bus import Bus
from aisoc.events import AlertReceived, CampaignDetected, HuntProposal
from aisoc.memory import Memory
from aisoc.runtime.builtin_tools import case_lookup_tool, serving
from aisoc.sources import ingest
from aisoc.tenants import Tenancy, case_id_for, tenant_of
from aisoc.tools import ToolError
from roles import DetectionEngineer, SocManager, ThreatHunter
from tests.aisoc import tenant_twins as tw
from tests.support.sources import ListSource


def test_identical_alerts_of_fifteen_tenants_are_fifteen_cases_that_never_meet(tmp_path: Path) -> None:
    """Given fifteen tenants (prefixes, case and separator variants, percent-escapes, unicode, hash-tag
    braces, the default) sending the same history and the same alert, when they run through the team
    with recall on and statistics within the tenant, then each tenant's alert is its own case with its
    stable id; prompts, precedent, statistics, proposals, causes, traces and explanations of a case
    hold nothing of another tenant; and only the tenant whose analysts labelled its history closes."""
    world = tw.run(Bus(), tmp_path)
    tw.check_all(world)
    assert tw.check_proposals(world) > 0
    assert tw.closed_by_sentinel(world) == {t: t == tw.LABELLED for t in tw.TENANTS}


def test_statistics_cross_tenants_only_when_the_settings_allow_and_then_as_numbers(tmp_path: Path) -> None:
    """Given statistics across tenants allowed, then the other tenants' alerts are shown the labelled
    tenant's labels as counts across all tenants (and close on them), never its cases or entities."""
    tenants = ("acme", "ACME", "acme:eu", None)
    world = tw.run(Bus(), tmp_path, tenants, all_tenants=True)
    tw.check_all(world, all_tenants=True)
    assert tw.closed_by_sentinel(world) == dict.fromkeys(tenants, True)
    for t in tenants:
        shown = world.statistics[(world.case_of(t), "sentinel")]
        assert any(s["level"] == "all_tenants" and s["labelled"] == tw.HISTORY for s in shown)


def test_the_same_alert_again_is_a_duplicate_of_its_own_tenant_only() -> None:
    """Given every tenant's twin ingested, when all are ingested again (one with blanks around its
    tenant), then none is published twice; a tenant ingested later is not a duplicate of any other."""
    bus = Bus()
    first = ingest(ListSource([tw.twin(t) for t in tw.TENANTS[:-1]], name="edr"), bus)
    assert first.published == len(tw.TENANTS) - 1 and first.duplicates == 0
    again = [tw.twin(t) for t in tw.TENANTS[:-1]] + [tw.twin("  acme ")]
    second = ingest(ListSource(again, name="edr"), bus)
    assert second.published == 0 and second.duplicates == len(again)
    late = ingest(ListSource([tw.twin(tw.TENANTS[-1])], name="edr"), bus)
    assert late.published == 1 and late.case_ids == [tw.CASE_IDS[tw.TENANTS[-1]]]
    ids = [e.case_id for e in bus.audit if isinstance(e, AlertReceived)]
    assert sorted(ids) == sorted(tw.CASE_IDS.values())


def test_declared_tenants_file_missing_and_refuse_unknown_tenants_by_exact_name() -> None:
    """Given declared tenants, then an alert of a tenant differing only by case or separator is
    dead-lettered naming it; an alert without a tenant (or a blank one) is the default tenant's."""
    bus = Bus()
    tenancy = Tenancy(frozenset({"acme", "ACME", "acme:eu"}))
    alerts = [tw.twin(t) for t in ("acme", "ACME", "acme:eu", "Acme", "acme-eu", "acme/eu", None, " ")]
    stats = ingest(ListSource(alerts, name="edr"), bus, tenancy=tenancy)
    assert stats.case_ids == ["acme/edr:1001", "ACME/edr:1001", "acme%3Aeu/edr:1001", "edr:1001"]
    assert stats.rejected == 3 and stats.duplicates == 1
    reasons = sorted(d.reason for d in bus.dead_letters())
    assert [r.split("tenant ", 1)[1].split(" is")[0] for r in reasons] == ["'Acme'", "'acme-eu'", "'acme/eu'"]


def test_case_lookup_refuses_every_look_alike_tenants_case() -> None:
    """Given a role working acme's case, then case_lookup answers about acme's cases only: the same
    incident of ACME, acme:eu, acme-eu, acme%3Aeu or the default tenant is refused."""
    world_bus = Bus()
    ingest(ListSource([tw.twin(t) for t in tw.TENANTS], name="edr"), world_bus)
    lookup = case_lookup_tool(world_bus)
    with serving("acme/edr:1001"):
        assert lookup.invoke({"case_id": "acme/edr:1001"})["case_id"] == "acme/edr:1001"
        for t in tw.TENANTS:
            if t != "acme":
                with pytest.raises(ToolError, match="another tenant"):
                    lookup.invoke({"case_id": tw.CASE_IDS[t]})


def test_the_tenant_read_back_from_every_case_id_is_its_own() -> None:
    """Given the twins' ids and ids whose source id holds separators, escapes and braces, then the
    tenant read back is the tenant the id was made for, and no two tenants share an id."""
    for t, case_id in tw.CASE_IDS.items():
        assert tenant_of(case_id) == (t or "")
        for source_id in ("acme/edr:1001", "%7B}", "{soc}:1", "a/b"):
            assert tenant_of(case_id_for("edr", source_id, t)) == (t or "")
    ids = {case_id_for("edr", s, t) for t in tw.TENANTS for s in ("1001", "acme/edr:1001", "x")}
    assert len(ids) == 3 * len(tw.TENANTS)


def test_the_report_roles_keep_the_twins_apart(tmp_path: Path) -> None:
    """Given the twins worked by the team, then the shift summary and the tuning report come one per
    tenant, naming it and counting its cases only; the hunt links no cases across tenants, and each
    tenant's campaign (same indicators everywhere) is its own, with its own id."""
    world = tw.run(Bus(), tmp_path, tw.FEW)
    events = world.events()
    start, end = tw.window(events)
    for role in (SocManager(), DetectionEngineer()):
        reports = role.report(events, start, end, "UTC")
        assert sorted((r.tenant or "") for r in reports) == sorted((t or "") for t in tw.FEW)
        for r in reports:
            if r.tenant:
                assert r.summary.startswith(f"{r.tenant}: ")
    hunt = ThreatHunter().report(events, start, end, "UTC")[0]
    soon = tw.T0 + timedelta(hours=1)  # campaigns: the alerts' creation within the week before
    _, *campaigns = ThreatHunter().report(events, start, soon, "UTC", memory=Memory(world.bus.audit))
    assert isinstance(hunt, HuntProposal) and hunt.findings
    for f in hunt.findings:
        assert len({tenant_of(c) for c in f.case_ids}) == 1, f
    assert sorted((c.tenant or "") for c in campaigns if isinstance(c, CampaignDetected)) == sorted(
        (t or "") for t in tw.FEW
    )
    for c in campaigns:
        assert isinstance(c, CampaignDetected)
        assert {tenant_of(i) for i in c.case_ids} == {c.tenant or ""} and len(c.case_ids) == tw.HISTORY + 1
    assert len({c.campaign_id for c in campaigns if isinstance(c, CampaignDetected)}) == len(tw.FEW)


LONG = "x" * 250
"""A tenant whose case ids are longer than a short text field (256) and still fit a case id (320)."""


def test_a_long_tenants_precedent_and_report_case_ids_are_never_cut(tmp_path: Path) -> None:
    """Given a tenant whose case ids are 259 characters, when its twins run through the team and the
    report roles, then the precedent shown and the case ids in hunt leads and shift summaries are its
    real case ids (before, each was cut to 256 characters: ``.../edr:9`` for ``.../edr:900``, which
    may be another case)."""
    world = tw.run(Bus(), tmp_path, (LONG, "acme"))
    tw.check_precedent(world)
    received = {e.case_id for e in world.events() if isinstance(e, AlertReceived)}
    start, end = tw.window(world.events())
    hunt = ThreatHunter().report(world.events(), start, end, "UTC")[0]
    cited = {c for f in hunt.findings for c in f.case_ids}
    for summary in SocManager().report(world.events(), start, end, "UTC"):
        cited |= {n.case_id for n in getattr(summary, "notable", [])}
        cited |= {a.case_id for a in getattr(summary, "open_approvals", [])}
    assert any(tenant_of(c) == LONG for c in cited) and cited <= received


def test_an_alert_whose_case_id_cannot_be_stored_is_dead_lettered_and_the_rest_published() -> None:
    """Given a tenant whose percent-quoted name makes the case id longer than a case id may be (40
    CJK characters: an id of 369), when it is ingested between two other tenants' alerts, then it is
    dead-lettered with the reason and the others are published (before, ingest raised mid-batch)."""
    bus = Bus()
    alerts = [tw.twin("acme"), tw.twin("日" * 40), tw.twin("ACME")]
    stats = ingest(ListSource(alerts, name="edr"), bus)
    assert stats.case_ids == ["acme/edr:1001", "ACME/edr:1001"] and stats.rejected == 1
    (letter,) = bus.dead_letters()
    assert "case id" in letter.reason and "369 characters" in letter.reason and "edr" in letter.reason
    assert '"source_id":"1001"' in letter.payload


@pytest.mark.parametrize("name", ["\x00all", "acme\x1fother:x", "ac\u202eme", "\x7f", "ac\nme"])
def test_a_tenant_name_with_control_or_format_characters_is_refused(name: str) -> None:
    """Given a tenant name holding control or format characters (the separators memory's indexes and
    statistics use inside keys: ``\\x00all`` is the slot of counts across tenants, so its alerts were
    shown every tenant's labels "for this tenant"), then the alert is refused where it is made, and a
    deployment's tenant for a source is refused the same way."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="control or format character"):
        tw.twin(name)
    with pytest.raises(ValueError, match="control or format character"):
        Tenancy(source_tenant=name).assign(None)


def test_one_tenant_name_in_two_unicode_spellings_is_one_tenant() -> None:
    """Given one organisation's name written composed (NFC, as typed in the settings) and decomposed
    (NFD, as some systems export it), then both spellings are one tenant: one case id, the second a
    duplicate, and a declared tenant accepts either (before, the same incident was two cases, and the
    decomposed spelling was refused as undeclared)."""
    import unicodedata

    composed, decomposed = "Société Générale", unicodedata.normalize("NFD", "Société Générale")
    assert composed != decomposed
    bus = Bus()
    tenancy = Tenancy(frozenset({composed}))
    stats = ingest(ListSource([tw.twin(decomposed), tw.twin(composed)], name="edr"), bus, tenancy=tenancy)
    assert stats.case_ids == [tw.CASE_IDS[composed]] and stats.duplicates == 1 and stats.rejected == 0
    assert Tenancy(frozenset({decomposed})).assign(composed) == composed
    assert case_id_for("edr", "1001", decomposed) == tw.CASE_IDS[composed]
    assert tenant_of(tw.CASE_IDS[composed].replace("%C3%A9", "e%CC%81")) == composed


def test_a_source_given_to_one_tenant_cannot_file_alerts_under_another() -> None:
    """Given a source ingested for one customer (``aisoc ingest ... --tenant acme``), when a record of
    it names another tenant (a look-alike, or a real other customer), then that alert is dead-lettered
    naming both, like a webhook sender bound to its tenant; its alerts naming none or acme are acme's
    (before, a customer's own feed could file alerts, and so statistics, into another customer's)."""
    bus = Bus()
    tenancy = Tenancy(frozenset({"acme", "globex"}), source_tenant="acme")
    alerts = [tw.twin(None), tw.twin(" acme"), tw.twin("globex"), tw.twin("ACME")]
    stats = ingest(ListSource(alerts, name="edr"), bus, tenancy=tenancy)
    assert stats.case_ids == ["acme/edr:1001"] and stats.duplicates == 1 and stats.rejected == 2
    globex, look_alike = (d.reason for d in bus.dead_letters())
    assert "an alert of tenant 'globex' from a source of tenant 'acme'" in globex
    assert "tenant 'ACME' is not declared" in look_alike


def test_a_case_known_only_by_its_id_is_reported_under_the_tenant_its_id_names() -> None:
    """Given a tenant's case whose alert is not in the window's log (a label imported for it, its alert
    gone by retention) written with the decomposed spelling of the tenant, beside a case of that tenant
    with its alert, then the shift summary is one report for that one tenant (before, the report roles
    read the id's tenant by their own rule, not ``tenant_key``'s, and split one tenant in two)."""
    import unicodedata

    from aisoc.events import Disposition, ProducedBy, TruthLabeled

    tenant = "Société"
    alert = tw.twin(tenant)
    label = TruthLabeled(
        case_id=case_id_for("edr", "77", unicodedata.normalize("NFD", tenant)).replace("%C3%A9", "e%CC%81"),
        label=Disposition.BENIGN,
        escalated=False,
        labeled_by="ana",
        source="edr",
        produced_by=ProducedBy(role="human"),
        occurred_at=tw.T0,
    )
    assert "e%CC%81" in (label.case_id or "")
    opened = AlertReceived(
        alert=alert, case_id=alert.case_id, produced_by=ProducedBy(role="ingest"), occurred_at=tw.T0
    )
    start, end = tw.T0 - timedelta(days=1), tw.T0 + timedelta(days=1)
    reports = SocManager().report([opened, label], start, end, "UTC")
    assert [r.tenant for r in reports] in ([None], [tenant])
