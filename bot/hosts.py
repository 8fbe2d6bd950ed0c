"""Hosts named otherwise than by their name: by the address the alert records for them, or by a
description ("the linux box", "the DC").

An address is the host's only when the alert's record says so: a field of the object that names the
host (Wazuh's ``agent: {name, ip}``, Falcon's ``device: {hostname, local_ip}``), read from the alert's
model view, so what an analyst wrote or the outcome never names a host. A description is taken only
when one known host's name holds its distinctive word; with several, the person is asked.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from aisoc.bus import AuditEntry, AuditLog
from aisoc.events import Alert, AlertReceived
from aisoc.tenants import tenant_key
from bot.follow import Cursor
from bot.names import STOPWORDS, TRIM, short_name

log = logging.getLogger(__name__)

NAME_KEYS = frozenset(
    "name hostname host computer computername devicename machine machinename fqdn dnsname".split()
)
"""Keys (lowercase, separators dropped) of the field that names the host in its own object."""
ADDRESS_KEYS = frozenset(
    """ip ips ipv4 ipv6 ipaddr ipaddress ipaddresses address addresses localip externalip internalip
    privateip publicip primaryip agentip hostip deviceip mgmtip managementip""".split()
)
"""Keys of that object's fields that hold the host's own address (never ``srcip``, ``sourceIp`` ...:
those are another party's)."""
BATCH = 5000
"""Audit entries the address book reads per page (as memory's fold)."""


def address(text: str) -> str | None:
    """``text`` as an IP address in its canonical spelling, or None when it is not one."""
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _own_address(text: str) -> str | None:
    """``text`` as a host's own address: an IP address, not loopback nor unspecified."""
    ip = address(text)
    if ip is None or ipaddress.ip_address(ip).is_loopback or ipaddress.ip_address(ip).is_unspecified:
        return None
    return ip


_NAME, _ADDRESS = 1, 2


@functools.lru_cache(maxsize=4096)
def _field(name: str) -> int:
    """What a record's field is to its object: its name (``_NAME``), its own address (``_ADDRESS``),
    or neither (0). Field names repeat across alerts, hence the cache (the walk of every alert's record
    is what building the address book costs)."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return _NAME if key in NAME_KEYS else _ADDRESS if key in ADDRESS_KEYS else 0


def _values(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


def host_addresses(alert: Alert) -> set[tuple[str, str]]:
    """``(host, address)`` for every address the alert's record gives one of its hosts (host
    lowercased, address canonical; loopback and unspecified addresses left out)."""
    hosts = {h.lower() for h in alert.hosts}
    short = {short_name(h): h for h in hosts}
    found: set[tuple[str, str]] = set()
    stack: list[Any] = [alert.model_view()["raw"]]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):  # the record is JSON: dicts (an abc check costs more per node)
            continue
        names: list[Any] = []
        addresses: list[Any] = []
        for k, v in node.items():
            if isinstance(v, dict | list):
                stack.append(v)
            kind = _field(k) if isinstance(k, str) else 0
            if kind == _NAME:
                names.append(v)
            elif kind == _ADDRESS:
                addresses.append(v)
        if not names or not addresses:
            continue
        named = {
            short.get(short_name(v.strip().lower()), v.strip().lower()) for raw in names for v in _values(raw)
        }
        own = {ip for raw in addresses for v in _values(raw) if (ip := _own_address(v))}
        found.update((host, ip) for host in named & hosts for ip in own)
    return found


class AddressBook:
    """Which hosts each address is, per tenant, as the alerts record it: ``address -> (tenant, host)
    -> the cases whose alert records it``.

    It follows the audit log with a cursor of its own, reading only ``alert.received`` (an alert never
    changes, so each is read once), so a question that names an address looks it up instead of reading
    every case's alert. The bot's feed calls :meth:`follow` a page at a time, so the book is built
    once when the bot starts and kept current as alerts come in; a question calls it too, for what
    arrived since. When the log was wiped or replaced, the book is read again from the start, as
    memory's projection is. Which of the recorded cases a conversation may see is the catalog's to
    say (it reads through the room's view of memory).

    Args:
        audit: the audit log (``bus.audit``).
        batch: audit entries read per page.
    """

    def __init__(self, audit: AuditLog, batch: int = BATCH) -> None:
        if batch < 1:
            raise ValueError("batch must be positive")
        self.batch = batch
        self._lock = threading.Lock()
        self._cursor = Cursor(audit)
        self._reset()

    @property
    def audit(self) -> AuditLog:
        """The audit log followed."""
        return self._cursor.audit

    @audit.setter
    def audit(self, audit: AuditLog) -> None:
        self._cursor.audit = audit

    def _reset(self) -> None:
        self._cursor.restart()
        self._cases: dict[str, tuple[tuple[float, str], str, tuple[tuple[str, str], ...]]] = {}
        """``case id -> (its alert's order, tenant key, ((host, address), ...))``: what to take back
        when a case's alert is superseded."""
        self._hosts: dict[str, dict[tuple[str, str], set[str]]] = {}
        """``address -> (tenant key, host lowercased) -> case ids whose alert records it``."""

    def follow(self, limit: int | None = None) -> int:
        """Index the alerts published since the last call (at most ``limit`` audit entries).

        Returns:
            How many audit entries were read (0: the book is current).
        """
        with self._lock:
            why = self._cursor.lost()
            if why is not None:
                log.warning("the hosts' addresses are read again from the audit log: %s", why)
                self._reset()
            read = 0
            while limit is None or read < limit:
                page = self.batch if limit is None else min(self.batch, limit - read)
                n = 0
                for entry in self.audit.scan(since=self._cursor.at, limit=page):
                    n += 1
                    self._cursor.move(entry)
                    if isinstance(entry, AuditEntry) and isinstance(entry.event, AlertReceived):
                        self._index(entry.event)
                read += n
                if n < page:
                    break
            return read

    def _index(self, event: AlertReceived) -> None:
        """Record one alert's addresses; of two alerts of one case, the later one (memory's order)."""
        order = (event.occurred_at.timestamp(), event.event_id)
        case_id = event.case_id or event.alert.case_id
        known = self._cases.get(case_id)
        if known is not None:
            if known[0] >= order:
                return
            self._drop(case_id, known[1], known[2])
        alert = event.alert
        pairs = tuple(sorted(host_addresses(alert))) if alert.hosts else ()
        tenant = tenant_key(alert.tenant)
        self._cases[case_id] = (order, tenant, pairs)
        for host, ip in pairs:
            self._hosts.setdefault(ip, {}).setdefault((tenant, host), set()).add(case_id)

    def _drop(self, case_id: str, tenant: str, pairs: tuple[tuple[str, str], ...]) -> None:
        for host, ip in pairs:
            hosts = self._hosts.get(ip, {})
            cases = hosts.get((tenant, host), set())
            cases.discard(case_id)
            if not cases:
                hosts.pop((tenant, host), None)
            if not hosts:
                self._hosts.pop(ip, None)

    def hosts_at(self, ip: str) -> dict[tuple[str, str], frozenset[str]]:
        """``(tenant key, host lowercased) -> case ids whose alert records it`` for one canonical
        address (see :func:`address`), every tenant's: the caller keeps to the cases it may see."""
        with self._lock:
            return {key: frozenset(cases) for key, cases in self._hosts.get(ip, {}).items()}


_NOUN = (
    r"(?P<noun>box(?:es)?|servers?|machines?|hosts?|endpoints?|laptops?|workstations?|desktops?|"
    r"clients?|pcs?|vms?|dcs?|domain\s+controllers?)"
)
DESCRIBED = re.compile(
    rf"\b(?:the|that|this|those|these|our|a|an)\s+(?P<words>(?:\w[\w\-]*\s+){{0,3}}?){_NOUN}\b",
    re.IGNORECASE,
)
"""A host described, not named: "the linux box", "that ubuntu server", "the DC"."""
BARE_DESCRIBED = re.compile(rf"^\W*(?P<words>(?:\w[\w\-]*\s+){{1,3}}?){_NOUN}\W*$", re.IGNORECASE)
"""A message that is only a description ("linux box?")."""
GENERIC = frozenset(
    """compromised infected affected attacked suspicious same other main old new first second last isolated
    contained quarantined bad victim target targeted impacted hacked owned breached poor problem
    problematic weird odd hosts""".split()
)
"""Words of a description that describe no name."""
ALIASES: dict[str, tuple[str, ...]] = {
    "windows": ("win", "windows"),
    **{d: (d, "linux") for d in "ubuntu debian centos rhel redhat fedora suse alpine kali rocky".split()},
    "dc": ("dc",),
    "macos": ("mac",),
    "macbook": ("mac",),
}
"""What a description's word may read as in a host's name ("windows" → "win", "ubuntu" → "linux")."""
NOUN_NARROWS: dict[str, tuple[str, ...]] = {
    "server": ("srv", "server", "svr"),
    "client": ("client", "ws", "wks", "pc", "laptop", "desktop"),
    "workstation": ("client", "ws", "wks", "pc", "laptop", "desktop"),
    "laptop": ("laptop", "client", "ws", "wks"),
    "desktop": ("desktop", "client", "ws", "wks", "pc"),
    "pc": ("pc", "client", "ws", "wks"),
}
"""Parts of a name the described kind of host suggests, used only to narrow several matches."""
_PARTS = re.compile(r"[a-z]+|\d+")


def description(text: str) -> tuple[str, list[str], str] | None:
    """The first host description in ``text``: ``(as said, distinctive words, kind of host)``; None
    when there is none or it holds no distinctive word ("that box", "the compromised host")."""
    for m in [*DESCRIBED.finditer(text), *BARE_DESCRIBED.finditer(text)]:
        noun = " ".join(m.group("noun").lower().split())
        noun = "dc" if noun.startswith(("dc", "domain")) else "box" if noun == "boxes" else noun.rstrip("s")
        words = [
            w.lower()
            for w in m.group("words").split()
            if w.lower() not in STOPWORDS and w.lower() not in GENERIC
        ]
        if noun == "dc":
            words.append("dc")
        if words:
            return " ".join(m.group(0).split()).strip(TRIM + " "), words, noun
    return None


def _holds(name: str, word: str) -> bool:
    """Whether a host's name holds a word: each part of the word starts a part of the name
    ("win11" in win11client, "win" in winsrv2019, "dc" in dc-01 but not in "dcim")."""
    parts = _PARTS.findall(name.lower())
    wanted = _PARTS.findall(word)
    if not wanted:
        return False
    return all(
        any(p == w or (len(w) >= 3 and not w.isdigit() and p.startswith(w)) for p in parts) for w in wanted
    )


def described_hosts(hosts: Iterable[str], words: list[str], noun: str) -> list[str]:
    """The hosts whose names hold every distinctive word (or one of its aliases), narrowed by the
    kind of host when that leaves any."""
    matched = [h for h in hosts if all(any(_holds(h, a) for a in ALIASES.get(w, (w,))) for w in words)]
    if len(matched) > 1 and noun in NOUN_NARROWS:
        narrowed = [h for h in matched if any(n in h.lower() for n in NOUN_NARROWS[noun])]
        matched = narrowed or matched
    return matched
