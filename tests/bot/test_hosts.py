"""A host's recorded addresses come from the object that names it in the alert's record, whatever the
source; another party's address (``srcip``, ``sourceIp``) or an analyst's note never becomes one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aisoc.events import Alert
from bot.hosts import host_addresses
from tests.bot.story import SHELLSHOCK, real_alerts


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
