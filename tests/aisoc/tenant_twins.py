"""Twin alerts: alerts identical apart from their tenant, run through ingest and the role team, and
the checks that each tenant's cases see, decide on and propose about nothing of another tenant.

Every tenant gets the same history (six alerts of the same rule, hosts, users, indicators, titles and
timestamps) and the same new alert ``edr:1001``; only the first tenant's analysts labelled their
history (benign). A tenant name prefixes another, differs by case, by a separator or by a
percent-escape, is unicode, holds the characters Redis Cluster hash tags are made of, or is absent.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aisoc.bus import Bus
from aisoc.cli._team import build_team
from aisoc.events import (
    ActionProposed,
    Alert,
    AlertReceived,
    CaseClosed,
    Disposition,
    Event,
    Indicator,
    IrPlan,
    ProducedBy,
    TruthLabeled,
)
from aisoc.memory import Memory
from aisoc.runtime import RoleContext, RoleTeam
from aisoc.settings import KernelSettings, load_settings
from aisoc.tenants import tenant_of
from tests.support.sources import ListSource

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
"""When every tenant's new alert was created (the history is a day older)."""
HISTORY = 6
"""Earlier alerts per tenant (the labelled tenant's six benign labels close at the floor's bound)."""
SOURCE_ID = "1001"
LABELLED = "acme"
"""The one tenant whose analysts labelled its history (benign)."""

CASE_IDS: dict[str | None, str] = {
    None: "edr:1001",
    "acme": "acme/edr:1001",
    "ACME": "ACME/edr:1001",
    "Acme": "Acme/edr:1001",
    "ac": "ac/edr:1001",
    "acme:eu": "acme%3Aeu/edr:1001",
    "acme-eu": "acme-eu/edr:1001",
    "acme/eu": "acme%2Feu/edr:1001",
    "acme%3Aeu": "acme%253Aeu/edr:1001",
    "acme eu": "acme%20eu/edr:1001",
    "Société Générale": "Soci%C3%A9t%C3%A9%20G%C3%A9n%C3%A9rale/edr:1001",
    "日本支社": "%E6%97%A5%E6%9C%AC%E6%94%AF%E7%A4%BE/edr:1001",
    "{soc}": "%7Bsoc%7D/edr:1001",
    "acme}": "acme%7D/edr:1001",
    "{acme": "%7Bacme/edr:1001",
}
"""Each tenant's case id of ``edr:1001``, spelled out: the ids are stable (a contract, not whatever the
code computes today)."""
TENANTS: tuple[str | None, ...] = tuple(CASE_IDS)
FEW: tuple[str | None, ...] = (None, "acme", "ACME", "acme:eu", "acme-eu", "日本支社", "{soc}", "acme}")
"""The tenants of the slower runs (a durable bus)."""


def twin(tenant: str | None, source_id: str = SOURCE_ID, at: datetime = T0) -> Alert:
    """The alert every tenant sends: only ``tenant`` (and the raw record's ``org``, which names it) differ."""
    return Alert(
        source="edr",
        source_id=source_id,
        tenant=tenant,
        title="Beacon from DC01 to evil.example",
        description="beacon.exe on DC01 contacted evil.example (203.0.113.66) as alice",
        rule="EDR-C2-7",
        category="CommandAndControl",
        severity=2,
        severity_original="Medium",
        created_at=at,
        hosts=["DC01"],
        users=["alice"],
        indicators=[
            Indicator(type="ip", value="203.0.113.66"),
            Indicator(type="domain", value="evil.example"),
            Indicator(type="sha256", value="ab" * 32),
        ],
        techniques=["T1071"],
        raw={"id": source_id, "org": tenant or "", "device": "DC01", "cmd": "beacon.exe --c2 evil.example"},
    )


def history(tenant: str | None) -> list[Alert]:
    """The tenant's earlier alerts: the same for every tenant."""
    return [twin(tenant, f"90{n}", T0 - timedelta(days=1) + timedelta(minutes=n)) for n in range(HISTORY)]


@dataclass
class World:
    """What one run through the team produced, and what each role was sent and shown."""

    bus: Bus
    team: RoleTeam
    tenants: tuple[str | None, ...]
    prompts: list[tuple[str, str, str]] = field(default_factory=list)
    """(case id, role, every message's text) as sent to the model."""
    precedent: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(case id, role) -> the precedent case ids shown."""
    statistics: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    """(case id, role) -> the statistics shown."""

    def events(self) -> list[Event]:
        return list(self.bus.audit)

    def case_of(self, tenant: str | None, source_id: str = SOURCE_ID) -> str:
        return twin(tenant, source_id).case_id


def window(events: Sequence[Event]) -> tuple[datetime, datetime]:
    """A report window holding every event (they occurred when the test ran: no wall-clock guess)."""
    times = [e.occurred_at for e in events]
    return min(times) - timedelta(minutes=1), max(times) + timedelta(minutes=1)


def settings(tmp_path: Path, *, all_tenants: bool) -> KernelSettings:
    """Recall on, statistics across tenants allowed or not, state under ``tmp_path``."""
    return load_settings(
        KernelSettings,
        None,
        recall="on",
        state_dir=str(tmp_path / "state"),
        statistics={"all_tenants": all_tenants},
    )


def run(
    bus: Bus, tmp_path: Path, tenants: Sequence[str | None] = TENANTS, *, all_tenants: bool = False
) -> World:
    """Ingest every tenant's history, label the labelled tenant's, then ingest the twins, each step
    drained through the whole team (canned model, recall on)."""
    team = build_team(settings(tmp_path, all_tenants=all_tenants), bus, dry_run=True, tools=[])
    world = World(bus, team, tuple(tenants))
    _record(world)
    team.consume(ListSource([a for t in tenants for a in history(t)], name="edr"))
    human = ProducedBy(role="human")
    for a in history(LABELLED) if LABELLED in tenants else []:
        bus.publish(
            TruthLabeled(
                case_id=a.case_id,
                label=Disposition.BENIGN,
                escalated=False,
                labeled_by="ana@acme.example",
                source="edr",
                produced_by=human,
            )
        )
    team.consume(ListSource([twin(t) for t in tenants], name="edr"))
    return world


def _record(world: World) -> None:
    """Wrap the team's prompt builder and its recall hooks to keep what each role is sent and shown."""
    team = world.team
    prompt, context, statistics = team.prompt, team.context, team.statistics

    @functools.wraps(prompt)
    def recorded_prompt(role: Any, ctx: RoleContext) -> Any:
        messages = prompt(role, ctx)
        text = "\n".join(str(m.content) for m in messages)
        world.prompts.append((ctx.case_id or "", role.name, text))
        return messages

    def recorded_context(role: str, alert: Alert, case_id: str) -> Any:
        refs = list(context(role, alert, case_id)) if context is not None else []
        world.precedent[(case_id, role)] = [p.case_id for p in refs]
        return refs

    def recorded_statistics(role: str, alert: Alert, case_id: str) -> Any:
        stats = list(statistics(role, alert, case_id)) if statistics is not None else []
        world.statistics[(case_id, role)] = [s.view() for s in stats]
        return stats

    team.prompt = recorded_prompt  # type: ignore[method-assign]
    team.context = recorded_context
    team.statistics = recorded_statistics


# --- the checks -------------------------------------------------------------------------------------


def check_ids(world: World) -> None:
    """Each tenant's twin is one case with its stable id; every case id is of a tenant of the run."""
    received = [e for e in world.events() if isinstance(e, AlertReceived)]
    new = {e.alert.tenant: e.case_id for e in received if e.alert.source_id == SOURCE_ID}
    assert new == {t: CASE_IDS[t] for t in world.tenants}
    assert len(received) == len({e.case_id for e in received}) == len(world.tenants) * (HISTORY + 1)
    for e in received:
        assert e.case_id == e.alert.case_id and tenant_of(e.case_id) == (e.alert.tenant or "")


def tenant_strings(tenant: str | None) -> list[str]:
    """How a tenant shows in a prompt: its name in the alert view, its case ids as JSON strings."""
    ids = [twin(tenant).case_id, *(a.case_id for a in history(tenant))]
    named = [f'"tenant":{json.dumps(tenant, ensure_ascii=False)}'] if tenant else []
    return named + [json.dumps(i, ensure_ascii=False) for i in ids]


def check_prompts(world: World) -> None:
    """Every prompt about a case names its own tenant and carries nothing of another tenant's."""
    assert world.prompts
    for case_id, role, text in world.prompts:
        own = tenant_of(case_id) or None
        assert own in world.tenants, case_id
        if own is not None:
            assert f'"tenant":{json.dumps(own, ensure_ascii=False)}' in text, (case_id, role)
        for other in world.tenants:
            if other == own:
                continue
            for s in tenant_strings(other):
                assert s not in text, (case_id, role, s)


def check_precedent(world: World) -> None:
    """Precedent comes from the case's own tenant only, and each tenant's new alert is shown some."""
    shown_new = set()
    for (case_id, _role), ids in world.precedent.items():
        own = {a.case_id for a in history(tenant_of(case_id) or None)}
        assert set(ids) <= own - {case_id}, (case_id, ids)
        if ids and case_id in {world.case_of(t) for t in world.tenants}:
            shown_new.add(case_id)
    assert shown_new == {world.case_of(t) for t in world.tenants}
    for e in world.events():
        trace = getattr(e, "trace", None)
        for p in trace.precedent if trace is not None else ():
            assert e.case_id is not None and tenant_of(p.case_id) == tenant_of(e.case_id), (e.case_id, p)


def check_statistics(world: World, *, all_tenants: bool) -> None:
    """Counts within a tenant are the tenant's own; counts across tenants appear only when allowed,
    as numbers (no case id, no entity of another tenant)."""
    for (case_id, role), stats in world.statistics.items():
        tenant = tenant_of(case_id) or None
        for s in stats:
            assert s["level"] in ("tenant", "all_tenants")
            if s["level"] == "all_tenants":
                assert all_tenants, (case_id, role, s)
                assert s["subject"] != "indicator" or not s["key"].startswith(("host:", "user:"))
            elif tenant != LABELLED:
                assert s["labelled"] == 0, (case_id, role, s)
        if not all_tenants and tenant != LABELLED:
            assert all(s["labelled"] == 0 for s in stats), (case_id, role)


def closed_by_sentinel(world: World) -> dict[str | None, bool]:
    """Whether Sentinel closed each tenant's new alert."""
    closed = {
        e.case_id for e in world.events() if isinstance(e, CaseClosed) and e.closed_by.role == "sentinel"
    }
    return {t: world.case_of(t) in closed for t in world.tenants}


def check_proposals(world: World) -> int:
    """Each proposal is about its own case's plan and targets an entity of its own case's alert."""
    events = world.events()
    alerts = {e.case_id: e.alert for e in events if isinstance(e, AlertReceived)}
    plans = {e.event_id: e for e in events if isinstance(e, IrPlan)}
    by_id = {e.event_id: e for e in events}
    proposals = [e for e in events if isinstance(e, ActionProposed)]
    for p in proposals:
        assert p.case_id is not None
        alert = alerts[p.case_id]
        entities = {*alert.hosts, *alert.users, *(i.value for i in alert.indicators)}
        assert p.target in entities
        assert plans[p.plan_event_id].case_id == p.case_id
        cause = by_id[p.causation_id] if p.causation_id else None
        assert cause is not None and cause.case_id == p.case_id
    return len(proposals)


def check_causes_and_traces(world: World) -> None:
    """Every event's cause is of its own case, and every trace's shared parts are its own case's events."""
    events = world.events()
    by_id = {e.event_id: e for e in events}
    for e in events:
        if e.causation_id and e.causation_id in by_id:
            assert by_id[e.causation_id].case_id == e.case_id, (e.type, e.case_id)
        trace = getattr(e, "trace", None)
        if trace is None:
            continue
        for m in trace.messages:
            for part in m.parts:
                ref = by_id.get(part.event_id)
                assert ref is not None and ref.case_id == e.case_id, (e.case_id, part.event_id)
        for role, text, exact in trace.rebuilt_messages(by_id.get):
            assert exact, (e.case_id, role)
            if role == "human" and tenant_of(e.case_id or ""):
                own = tenant_of(e.case_id or "")
                assert f'"tenant":{json.dumps(own, ensure_ascii=False)}' in text


def check_explanations(world: World) -> None:
    """Each case's explanation is about that case alone; a host's is about one tenant's cases."""
    mem = Memory(world.bus.audit)
    per_case: dict[str, set[str]] = defaultdict(set)
    for e in world.events():
        if e.case_id:
            per_case[e.case_id].add(e.event_id)
    for tenant in world.tenants:
        case_id = world.case_of(tenant)
        expl = mem.explain(case_id)
        assert expl.case_ids == (case_id,) and expl.subject == f"case {case_id}"
        assert expl.event_ids <= per_case[case_id]
        own = {world.case_of(tenant), *(a.case_id for a in history(tenant))}
        host = mem.explain_host("DC01", tenant=tenant, limit=50)
        assert set(host.case_ids) == own == set(mem.cases_on_host("dc01", tenant=tenant))
        assert {s.case_id for s in host.statements} <= own


def check_all(world: World, *, all_tenants: bool = False) -> None:
    check_ids(world)
    check_prompts(world)
    check_precedent(world)
    check_statistics(world, all_tenants=all_tenants)
    check_causes_and_traces(world)
    check_explanations(world)
