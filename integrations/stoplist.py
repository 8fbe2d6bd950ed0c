"""The stoplist: shared infrastructure that must never link cases (recall, campaign clustering).

An indicator on the stoplist is still extracted and shown to the analyst; it only never glues two
cases together. :class:`Stoplist` is a plain callable ``(Indicator) -> bool``, so it plugs into the
kernel's ``Memory(stoplist=...)`` seam as is::

    from integrations.stoplist import Stoplist
    mem = Memory(bus.audit, stoplist=Stoplist.from_settings(settings))
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aisoc.events import Indicator, IndicatorType

if TYPE_CHECKING:
    from integrations.settings import IntegrationsSettings, StoplistSettings

T = IndicatorType
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

BUILTIN_DOMAINS = (
    "akamai.net",
    "akamaiedge.net",
    "akamaihd.net",
    "edgekey.net",
    "edgesuite.net",
    "fastly.net",
    "fastlylb.net",
    "msedge.net",
    "windowsupdate.com",
    "delivery.mp.microsoft.com",
    "ocsp.digicert.com",
    "ocsp.pki.goog",
    "crl.microsoft.com",
)
"""Shared CDN edges, update and certificate-status services (subdomains included).

Per-customer CDN names (``d1234.cloudfront.net``, ``*.azureedge.net``) are deliberately absent:
attackers rent them, and they identify one customer, not the CDN.
"""
BUILTIN_IPS = (
    "8.8.8.8",
    "8.8.4.4",
    "1.1.1.1",
    "1.0.0.1",
    "9.9.9.9",
    "149.112.112.112",
    "208.67.222.222",
    "208.67.220.220",
    "2001:4860:4860::8888",
    "2001:4860:4860::8844",
    "2606:4700:4700::1111",
    "2606:4700:4700::1001",
)
"""Public DNS resolvers (Google, Cloudflare, Quad9, OpenDNS)."""
BUILTIN_HASHES = (
    "d41d8cd98f00b204e9800998ecf8427e",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
)
"""md5, sha1 and sha256 of the empty file."""


class Stoplist:
    """Answers "must this indicator never link cases?".

    Args:
        domains: domains skipped together with their subdomains.
        ips: addresses or CIDR networks.
        hashes: md5/sha1/sha256 values.
        values: any indicator as ``type:value`` (exact match, case-insensitive).
        private: also skip indicators flagged private.
        builtin: include :data:`BUILTIN_DOMAINS`, :data:`BUILTIN_IPS` and :data:`BUILTIN_HASHES`.

    Raises:
        ValueError: an entry of ``ips`` is not an address or network.
    """

    def __init__(
        self,
        *,
        domains: Iterable[str] = (),
        ips: Iterable[str] = (),
        hashes: Iterable[str] = (),
        values: Iterable[str] = (),
        private: bool = False,
        builtin: bool = True,
    ) -> None:
        domains = [*(BUILTIN_DOMAINS if builtin else ()), *domains]
        ips = [*(BUILTIN_IPS if builtin else ()), *ips]
        hashes = [*(BUILTIN_HASHES if builtin else ()), *hashes]
        self.domains = frozenset(d.strip().lower().strip(".") for d in domains if d.strip())
        self.networks: list[Network] = []
        for entry in ips:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError as e:
                raise ValueError(f"stoplist: {entry!r} is not an IP address or network") from e
        self.hashes = frozenset(h.strip().lower() for h in hashes if h.strip())
        self.values = frozenset(
            f"{t.strip().lower()}:{v.strip().lower()}" for t, _, v in (x.partition(":") for x in values) if v
        )
        self.private = private

    @classmethod
    def from_settings(
        cls, settings: IntegrationsSettings | StoplistSettings | str | os.PathLike[str] | None = None
    ) -> Stoplist:
        """Build the configured stoplist.

        Args:
            settings: loaded settings, their ``stoplist`` table, a settings file path, or None to
                load ``[integrations.stoplist]`` from the usual places.

        Raises:
            ConfigError: the settings are invalid.
            ValueError: an IP entry is malformed.
        """
        from integrations.settings import IntegrationsSettings, StoplistSettings, load_integrations_settings

        if settings is None or isinstance(settings, str | os.PathLike):
            settings = load_integrations_settings(settings)
        table = settings.stoplist if isinstance(settings, IntegrationsSettings) else settings
        assert isinstance(table, StoplistSettings)
        return cls(
            domains=table.domains,
            ips=table.ips,
            hashes=table.hashes,
            values=table.values,
            private=table.private,
            builtin=table.builtin,
        )

    def blocks(self, indicator: Indicator) -> bool:
        """Return True when ``indicator`` is shared infrastructure that must not link cases."""
        if self.private and indicator.private:
            return True
        kind = indicator.type.value if isinstance(indicator.type, T) else str(indicator.type)
        value = indicator.value.strip()
        if f"{kind}:{value.lower()}" in self.values:
            return True
        if kind == T.IP.value:
            return self._ip_blocked(value)
        if kind == T.DOMAIN.value:
            return self._domain_blocked(value)
        if kind == T.URL.value:
            try:
                host = urlsplit(value if "://" in value else f"http://{value}").hostname or ""
            except ValueError:
                return False
            return self._ip_blocked(host) or self._domain_blocked(host)
        if kind in (T.MD5.value, T.SHA1.value, T.SHA256.value):
            return value.lower() in self.hashes
        return False

    __call__ = blocks

    def keep(self, indicators: Iterable[Indicator]) -> list[Indicator]:
        """The indicators the stoplist does not block."""
        return [i for i in indicators if not self.blocks(i)]

    def _ip_blocked(self, value: str) -> bool:
        try:
            addr = ipaddress.ip_address(value.strip("[]"))
        except ValueError:
            return False
        return any(addr in net for net in self.networks if net.version == addr.version)

    def _domain_blocked(self, value: str) -> bool:
        labels = value.lower().strip(".").split(".")
        return any(".".join(labels[i:]) in self.domains for i in range(len(labels)))


def configured_stoplist(config: str | os.PathLike[str] | None = None) -> Stoplist:
    """The stoplist of the settings file (import string ``integrations.stoplist:configured_stoplist``).

    Raises:
        ConfigError: the settings are invalid.
    """
    return Stoplist.from_settings(config)
