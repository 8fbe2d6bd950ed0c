"""The catalog a question is matched against is built once and kept current from the audit log: after
any sequence of real events it answers as a catalog built afresh from memory would, each room sees
only its tenants' cases, and a log that cannot be read loses nothing."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aisoc.bus import Bus
from aisoc.events import (
    ActionDecided,
    ActionExecuted,
    Alert,
    AlertReceived,
    CaseClosed,
    ClosedBy,
    ProducedBy,
    ReviewRequested,
    Role,
    TruthLabeled,
)
from aisoc.memory import Memory
from bot.catalog import Catalog
from bot.hosts import AddressBook
from bot.livecatalog import LiveCatalog
from bot.scope import CaseView, Scope, TenantView
from bot.understand import understand
from tests.bot.counting import Counting
from tests.bot.story import ISOLATE, NEIGHBOURS, SHELLSHOCK, publish_story, tenant_action, tenant_case
from tests.bot.two_tenants import GLOBEX_ONLY
from tests.gate.factory import T0

QUESTIONS = (
    "why did it contain Linux-Server?",
    "why did it contain linux-sever?",
    "what happened to linux-server.lab.local?",
    "explain the shellshock case",
    "why did it isolate the linux box?",
    "why was 10.0.2.9 isolated?",
    "why was 10.0.2.8 blocked?",
    "what about vboxuser?",
    "tell me about wazuh-server",
    "why did you isolate that host?",
    "what did we block?",
    f"explain {SHELLSHOCK}",
    f"explain {tenant_case(SHELLSHOCK, 'globex')}",
    f"explain {ISOLATE}",
    "explain WS-042",
    "what happened on the windows server?",
)
"""Questions that reach every part of the catalog: names, near misses, first DNS labels, titles,
descriptions, addresses, the latest targets, case and action ids."""
THREADS = (None, SHELLSHOCK, tenant_case(SHELLSHOCK, "acme"), tenant_case(NEIGHBOURS[0], "globex"))


class Log:
    """An audit log that can be swapped for another under its readers (Redis restarted empty)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus.audit, name)


def _by(role: str) -> ProducedBy:
    return ProducedBy(role=role)


def _alert(n: int, host: str, tenant: str | None = None, title: str = "Logon failure burst") -> AlertReceived:
    """A real-shaped Wazuh alert of case ``wazuh:n`` whose agent ``host`` reports an address."""
    a = Alert(
        source="wazuh",
        source_id=str(n),
        tenant=tenant,
        title=title,
        severity=2,
        created_at=T0 + timedelta(minutes=n),
        hosts=[host],
        raw={"agent": {"name": host, "ip": f"10.7.0.{n % 250 + 1}"}},
    )
    return AlertReceived(alert=a, case_id=a.case_id, produced_by=_by("ingest"), occurred_at=a.created_at)


def _views(memory: Memory) -> dict[str, CaseView]:
    return {
        "soc": memory,
        "acme": TenantView(memory, Scope(room=frozenset({"acme"}))),
        "globex": TenantView(memory, Scope(room=frozenset({"globex"}))),
        "nobody": TenantView(memory, Scope(room=frozenset({"acme"}), person=frozenset({"globex"}))),
    }


def _answers(catalog: Catalog) -> list[Any]:
    return [understand(q, catalog, thread) for q in QUESTIONS for thread in THREADS]


def _same_as_rebuilt(live: dict[str, LiveCatalog], memory: Memory, book: AddressBook) -> None:
    for scope, view in _views(memory).items():
        rebuilt = Catalog(view, book)
        with live[scope].reading() as catalog:
            assert catalog.dump() == rebuilt.dump(), scope
            assert _answers(catalog) == _answers(rebuilt), scope


def _live(log: Any, memory: Memory, book: AddressBook) -> dict[str, LiveCatalog]:
    views = _views(memory)
    return {scope: LiveCatalog(log, lambda v=view: v, book, batch=3) for scope, view in views.items()}


def _day(bus: Bus, tenant: str | None) -> None:
    publish_story(bus, T0, tenant)


def test_the_live_catalog_answers_as_a_rebuilt_one_after_every_kind_of_event() -> None:
    """Given the real Shellshock day of the SOC itself, of acme and of globex, each room's live catalog
    built once, when new cases come (one spelling a host another way), an action is decided without a
    case id and carried out, a case is closed, labelled, reopened and closed again, and the log is
    wiped and filled again, then after each step every room's catalog holds and answers what a catalog
    built afresh from memory would."""
    log = Log(Bus())
    memory, book = Memory(log), AddressBook(log)
    live = _live(log, memory, book)
    _day(log.bus, None)
    _same_as_rebuilt(live, memory, book)  # built on the first question
    for tenant in ("acme", "globex"):
        _day(log.bus, tenant)
    _same_as_rebuilt(live, memory, book)
    log.bus.publish(_alert(1, "ws-042", "acme"))
    log.bus.publish(_alert(2, "WS-042", "acme", title="Shellshock probe"))
    log.bus.publish(_alert(3, "LINUX-SERVER", "globex"))
    _same_as_rebuilt(live, memory, book)
    shellshock = tenant_case(SHELLSHOCK, "acme")
    isolate = tenant_action(ISOLATE, "acme")
    decided = ActionDecided(
        action_id=isolate,
        decision="approved",
        decided_by="alice@example.com",
        reason="contain it",
        channel="gate",
        plan_digest="x",
        produced_by=_by("human"),
    )
    assert decided.case_id is None
    log.bus.publish(decided)
    _same_as_rebuilt(live, memory, book)
    log.bus.publish(
        ActionExecuted(
            case_id=shellshock, action_id=isolate, executed_by="bob@example.com", produced_by=_by("human")
        )
    )
    closed_by = ClosedBy(role="human", person="bob@example.com")
    log.bus.publish(
        CaseClosed(
            case_id=shellshock,
            disposition="true_positive",
            reason="contained",
            closed_by=closed_by,
            produced_by=_by("human"),
        )
    )
    log.bus.publish(
        TruthLabeled(
            case_id=shellshock,
            label="true_positive",
            escalated=True,
            labeled_by="bob",
            source="bot",
            produced_by=_by("human"),
        )
    )
    _same_as_rebuilt(live, memory, book)
    log.bus.publish(
        ReviewRequested(
            case_id=shellshock,
            role="human",
            reason="reopened: look again",
            duty=Role.TIER2,
            produced_by=_by("human"),
        )
    )
    log.bus.publish(_alert(4, "wazuh-server", "globex"))
    _same_as_rebuilt(live, memory, book)
    log.bus.publish(
        CaseClosed(
            case_id=shellshock,
            disposition="false_positive",
            reason="scanner",
            closed_by=closed_by,
            produced_by=_by("human"),
        )
    )
    _same_as_rebuilt(live, memory, book)
    log.bus = Bus()  # wiped: Redis restarted empty, then filled again
    _day(log.bus, "globex")
    log.bus.publish(_alert(5, "ws-007", "acme"))
    _same_as_rebuilt(live, memory, book)
    with live["acme"].reading() as acme:
        assert set(acme.dump()["cases"]) == {"acme/wazuh:5"}


def test_a_room_never_holds_another_tenants_case() -> None:
    """Given acme's and globex's days and a case only globex has, when acme's room asks about globex's
    host and case after both tenants' new cases came in, then its catalog holds acme's cases only and
    answers as if globex's did not exist."""
    bus = Bus()
    memory, book = Memory(bus.audit), AddressBook(bus.audit)
    live = _live(bus.audit, memory, book)
    _day(bus, "acme")
    with live["acme"].reading():
        pass
    _day(bus, "globex")
    bus.publish(_alert(9, "wazuh-server", "globex"))
    bus.publish(_alert(10, "ws-010", "acme"))
    with live["acme"].reading() as acme:
        assert (
            all(c.startswith("acme/") for c in acme.dump()["cases"])
            and "acme/wazuh:10" in acme.dump()["cases"]
        )
        assert understand("tell me about wazuh-server", acme, None).subject is None
        assert understand(f"explain {tenant_case(GLOBEX_ONLY, 'globex')}", acme, None).subject is None
    with live["nobody"].reading() as nobody:
        assert nobody.dump()["cases"] == {}


def test_a_question_reads_only_the_cases_that_changed_since_the_last() -> None:
    """Given 200 cases and a catalog built once, when two questions come with an alert and a
    decision between them, then the second reads only the two cases those events name, never every
    case; the feed's follow reads what came after that, and a question then reads nothing."""
    bus = Bus()
    for n in range(200):
        bus.publish(_alert(n, f"ws-{n:03d}"))
    counting = Counting(Memory(bus.audit), files=False)
    live = LiveCatalog(bus.audit, lambda: counting)
    with live.reading() as catalog:
        assert understand("explain ws-007", catalog, None).subject is not None
    assert counting.listed == 1 and counting.read == []
    bus.publish(_alert(200, "ws-200"))
    bus.publish(_alert(7, "ws-007"))  # the same case again
    with live.reading() as catalog:
        assert understand("explain ws-200", catalog, None).subject is not None
    assert counting.listed == 1 and sorted(counting.read) == ["wazuh:200", "wazuh:7"]
    bus.publish(_alert(201, "ws-201"))
    assert live.follow(1) == 1 and live.follow() == 0
    with live.reading():
        pass
    assert counting.listed == 1 and sorted(counting.read) == ["wazuh:200", "wazuh:201", "wazuh:7"]


def test_a_log_that_cannot_be_read_loses_nothing_and_is_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a live catalog, when the log cannot be read for two questions while cases come in, then
    each is answered from a catalog built for it (the new case found), the failure is logged once, and
    once the log reads again the live catalog holds what came in meanwhile."""
    bus = Bus()
    bus.publish(_alert(1, "ws-001"))
    memory, book = Memory(bus.audit), AddressBook(bus.audit)
    live = LiveCatalog(bus.audit, lambda: memory, book)
    with live.reading():
        pass
    bus.publish(_alert(2, "ws-002"))
    memory.refresh()
    scan = bus.audit.scan

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("redis is away")

    monkeypatch.setattr(bus.audit, "scan", broken)
    monkeypatch.setattr(memory, "auto_refresh", False)  # memory answers from what it folded
    with caplog.at_level(logging.WARNING, logger="bot.livecatalog"):
        for _ in range(2):
            with live.reading() as catalog:
                assert understand("explain ws-002", catalog, None).subject is not None
        assert [r.levelno for r in caplog.records] == [logging.ERROR]
        monkeypatch.setattr(bus.audit, "scan", scan)
        monkeypatch.setattr(memory, "auto_refresh", True)
        bus.publish(_alert(3, "ws-003"))
        with live.reading() as catalog:
            assert catalog.dump() == Catalog(memory, book).dump()
            assert {"wazuh:2", "wazuh:3"} <= set(catalog.dump()["cases"])
        assert len(caplog.records) == 2 and "again" in caplog.records[-1].getMessage()


def test_cases_memory_moves_out_of_its_window_leave_the_catalog(tmp_path: Path) -> None:
    """Given memory bounded to 4 cases in RAM (older ones in its cold tier) and a catalog built over
    it, when more cases come and memory moves the oldest out, then the catalog holds the cases a
    catalog built afresh would, not those moved out."""
    bus = Bus()
    for n in range(4):
        bus.publish(_alert(n, f"ws-{n:03d}"))
    memory = Memory(bus.audit, snapshot_path=tmp_path / "memory.sqlite", max_cases=4)
    live = LiveCatalog(bus.audit, lambda: memory, window=lambda: memory.cold)
    with live.reading():
        pass
    for n in range(4, 12):
        bus.publish(_alert(n, f"ws-{n:03d}"))
        with live.reading() as catalog:
            assert catalog.dump() == Catalog(memory).dump()
    assert memory.cold > 0
