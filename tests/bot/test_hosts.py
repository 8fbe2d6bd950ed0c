"""A host's recorded addresses come from the object that names it in the alert's record, whatever the
source; another party's address (``srcip``, ``sourceIp``) or an analyst's note never becomes one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aisoc.bus import Bus
from aisoc.events import Alert, AlertReceived, ProducedBy
from aisoc.memory import CaseFile, CaseRecord, Memory
from aisoc.memory.casefile import ActionState
from bot.catalog import Catalog
from bot.hosts import AddressBook, host_addresses
from bot.scope import CaseView, Scope, TenantView
from bot.understand import understand
from tests.bot.story import SHELLSHOCK, real_alerts
from tests.gate.factory import T0


def _alert(raw: dict[str, Any], hosts: list[str], exclude: list[str] | None = None) -> Alert:
    return Alert(
        source="test",
        source_id="1",
        title="t",
        severity=2,
        created_at=datetime(2026, 3, 16, tzinfo=UTC),
        hosts=hosts,
        raw=raw,
        raw_exclude=exclude or [],
    )


def test_the_wazuh_agent_address_is_its_hosts() -> None:
    """Given the real Shellshock record (agent Linux-Server at 10.0.2.9, attacked from srcip 10.0.2.8),
    when its addresses are read, then Linux-Server has 10.0.2.9 only."""
    assert host_addresses(real_alerts((SHELLSHOCK,))[SHELLSHOCK]) == {("linux-server", "10.0.2.9")}


def test_other_shapes_and_what_is_not_the_hosts() -> None:
    """Given a Falcon-shaped device (hostname, local and external ip, an FQDN), a flat record whose
    ``ip`` sits beside no host name, a loopback, and an analyst's note excluded from the model view,
    when read, then only the device's own addresses are the host's."""
    falcon = {
        "device": {"hostname": "WS-042.corp.example", "local_ip": "10.1.2.3", "external_ip": "203.0.113.7"},
        "src": {"name": "attacker", "ip": "198.51.100.9"},
        "sourceIp": "198.51.100.9",
        "agent": {"name": "ws-042", "ip": "127.0.0.1", "ipv6": "fe80:0:0::1"},
        "notes": {"hostname": "ws-042", "ip": "192.0.2.66"},
    }
    found = host_addresses(_alert(falcon, ["ws-042"], exclude=["notes"]))
    assert found == {("ws-042", "10.1.2.3"), ("ws-042", "203.0.113.7"), ("ws-042", "fe80::1")}
    assert host_addresses(_alert({"ip": "10.9.9.9", "srcip": "10.9.9.8"}, ["ws-042"])) == set()


def _seen(n: int, host: str, ip: str, tenant: str | None = None, minutes: int = 0) -> AlertReceived:
    """An alert of case ``wazuh:n`` whose Wazuh agent ``host`` reports ``ip``."""
    a = Alert(
        source="wazuh",
        source_id=str(n),
        tenant=tenant,
        title="Shellshock attack",
        severity=3,
        created_at=T0,
        hosts=[host],
        raw={"agent": {"name": host, "ip": ip}},
    )
    return AlertReceived(
        alert=a,
        case_id=a.case_id,
        produced_by=ProducedBy(role="ingest"),
        occurred_at=T0 + timedelta(minutes=minutes),
    )


class NoFiles:
    """Memory that refuses to read a case's file: a question that names an address must not read the
    alerts of the cases."""

    def __init__(self, memory: CaseView) -> None:
        self.memory = memory

    def cases(self) -> Iterator[CaseRecord]:
        return self.memory.cases()

    def case(self, case_id: str) -> CaseRecord | None:
        return self.memory.case(case_id)

    def case_file(self, case_id: str) -> CaseFile | None:
        raise AssertionError(f"a question read the file of {case_id}")

    def action(self, action_id: str) -> ActionState | None:
        return self.memory.action(action_id)


def _host(text: str, memory: CaseView, book: AddressBook) -> tuple[str, tuple[str, ...]] | None:
    subject = understand(text, Catalog(memory, book), None).subject
    return None if subject is None else (subject.value.lower(), subject.case_ids)


def test_a_question_naming_an_address_reads_no_alert_and_only_what_came_since() -> None:
    """Given 50 cases whose agents report addresses and a book that followed the log once, when someone
    asks about an address, then the host is found without reading any case's alert; an alert published
    afterwards is read by the next question, and only it (the book reads what came since)."""
    bus = Bus()
    for n in range(50):
        bus.publish(_seen(n, f"ws-{n:03d}", f"10.1.0.{n + 1}"))
    book = AddressBook(bus.audit)
    assert book.follow() == 50 and book.follow() == 0
    memory = NoFiles(Memory(bus.audit))
    assert _host("why was 10.1.0.8 isolated?", memory, book) == ("ws-007", ("wazuh:7",))
    bus.publish(_seen(50, "ws-050", "10.1.0.51"))
    assert _host("what happened to 10.1.0.51?", memory, book) == ("ws-050", ("wazuh:50",))
    assert book.follow() == 0  # the question read the one new entry


def test_a_later_alert_of_a_case_replaces_its_addresses_and_an_older_one_does_not() -> None:
    """Given a case whose alert is published again later with another agent address, and then an older
    copy delivered late, when the book follows, then only the later alert's address names the host."""
    bus = Bus()
    bus.publish(_seen(1, "ws-001", "10.1.0.1", minutes=0))
    bus.publish(_seen(1, "ws-001", "10.1.0.2", minutes=10))
    bus.publish(_seen(1, "ws-001", "10.1.0.3", minutes=5))
    book = AddressBook(bus.audit)
    book.follow()
    assert book.hosts_at("10.1.0.1") == {} and book.hosts_at("10.1.0.3") == {}
    assert book.hosts_at("10.1.0.2") == {("", "ws-001"): frozenset({"wazuh:1"})}


def test_a_replaced_log_is_read_again_from_its_start() -> None:
    """Given a book that followed a log, when the log under it is another one (Redis restarted empty
    and filled again, a restored backup), then what only the old log said is forgotten and the new log
    is read from its start."""
    old, new = Bus(), Bus()
    old.publish(_seen(1, "ws-001", "10.1.0.1"))
    old.publish(_seen(2, "ws-002", "10.1.0.2"))
    new.publish(_seen(3, "ws-003", "10.1.0.3"))
    book = AddressBook(old.audit)
    book.follow()
    book.audit = new.audit
    assert book.follow() == 1
    assert book.hosts_at("10.1.0.1") == {} and book.hosts_at("10.1.0.2") == {}
    assert book.hosts_at("10.1.0.3") == {("", "ws-003"): frozenset({"wazuh:3"})}


def test_an_address_never_names_another_tenants_case() -> None:
    """Given acme's and globex's own Linux-Server at the same agent address, and globex alone at
    10.0.9.9, when acme's room asks about each address, then acme sees its own case only and nothing at
    globex's address; the SOC's own room sees both tenants' cases."""
    bus = Bus()
    bus.publish(_seen(1, "Linux-Server", "10.0.2.9", tenant="acme"))
    bus.publish(_seen(1, "Linux-Server", "10.0.2.9", tenant="globex"))
    bus.publish(_seen(2, "wazuh-server", "10.0.9.9", tenant="globex"))
    book = AddressBook(bus.audit)
    memory = Memory(bus.audit)
    acme = TenantView(memory, Scope(room=frozenset({"acme"})))
    assert _host("why was 10.0.2.9 isolated?", acme, book) == ("linux-server", ("acme/wazuh:1",))
    assert _host("what happened to 10.0.9.9?", acme, book) is None
    found = understand("why was 10.0.2.9 isolated?", Catalog(memory, book), None)
    both = [found.subject] if found.subject is not None else list(found.candidates)
    assert sorted(c for s in both for c in s.case_ids) == ["acme/wazuh:1", "globex/wazuh:1"]
