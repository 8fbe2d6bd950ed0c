"""Strong-indicator extraction from structured fields and free text.

Built on ``ioc-finder`` (which refangs with ``ioc-fanger``) and ``tldextract``'s bundled public
suffix list (offline), then filtered with context the libraries do not have:

- IPv4/IPv6 must parse (``ipaddress``); private and reserved ranges are kept and flagged
  ``private``; dotted numbers after a version word (``FileVersion:`` too) or a ``Product/`` token are
  versions, not IPs.
- A domain must end in a public suffix and must not be a file name or path part
  (``C:\\T1105.zip``), a .NET/COM name (``System.Management``, ``WScript.Shell``) or the middle of
  a longer dotted name. Domains come from URL hosts and from free text, not from e-mail addresses
  (``gmail.com`` would glue unrelated cases).
- Hashes inside URLs (commit ids, tokens) are part of the URL, not file hashes; a hash that is a
  folder of a path (cache and install directories) is not a file hash; an imphash is not an md5;
  degenerate hashes (``000...0``) are dropped.
- Scanner and intelligence-portal permalinks (VirusTotal, Hybrid Analysis, urlscan...) are references
  to an indicator, not indicators: neither the URL nor the portal's domain is kept.
- Technique ids are checked against the ATT&CK catalogue (:mod:`aisoc.events.attack`).

The stoplist lives in :mod:`integrations.stoplist` and is re-exported here.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import ioc_fanger
import tldextract
from ioc_finder import find_iocs

from aisoc.events import Indicator, IndicatorType, fitted, valid_techniques
from integrations.stoplist import Stoplist

__all__ = [
    "IndicatorExtractor",
    "Stoplist",
    "extract_fields",
    "extract_text",
    "extractor",
    "indicator",
    "merge",
    "techniques_in",
    "valid_techniques",
]

log = logging.getLogger(__name__)
T = IndicatorType

IOC_TYPES = (
    "urls",
    "domains",
    "email_addresses",
    "ipv4s",
    "ipv6s",
    "md5s",
    "sha1s",
    "sha256s",
    "imphashes",
    "cves",
    "registry_key_paths",
)
"""The ioc-finder types asked for."""
MAX_TEXT = 200_000
"""Longer strings are cut before extraction (an alert field is not a novel)."""
FILE_EXTENSION_TLDS = frozenset(
    {"zip", "mov", "sh", "py", "ps", "pl", "md", "rs", "so", "app", "run", "ink", "bat", "exe", "dll", "sys"}
)
"""Public suffixes that are also common file extensions: a bare ``name.zip`` in text is a file."""
_VERSION_BEFORE = re.compile(
    r"(?:\b(?i:v|ver|version|build|release|rev|revision|firmware|kernel|agent|sdk|api)"
    r"|(?<=[A-Za-z])(?:Version|Ver|Build|Release|Revision))\b"
    r"\s*[:=#]?\s*v?$|[A-Za-z][\w.-]*/$"
)
"""Text right before a dotted number that makes it a version (``version 1.2.3.4``, ``Chrome/138.0.0.0``,
``FileVersion: 8.6.2.0``, ``ProductVersion=10.0.1.2``)."""
SCANNER_DOMAINS = frozenset(
    {
        "virustotal.com",
        "hybrid-analysis.com",
        "any.run",
        "urlscan.io",
        "joesandbox.com",
        "abuse.ch",
        "alienvault.com",
        "talosintelligence.com",
        "threatfox.abuse.ch",
        "shodan.io",
        "censys.io",
        "malshare.com",
        "triage.hatching.io",
        "tria.ge",
        "filescan.io",
        "metadefender.com",
        "opswat.com",
        "xforce.ibmcloud.com",
        "greynoise.io",
        "abuseipdb.com",
    }
)
"""Registrable domains of scanners and intelligence portals: their permalinks are references to an
indicator, never one (``https://www.virustotal.com/gui/file/<sha256>``)."""
_MAYBE_IOC = re.compile(r"[.:@\\\[(]|[0-9a-fA-F]{32}|(?i:cve-)")
"""Strings without any of these cannot hold an indicator (cheap pre-filter)."""
_HEX = re.compile(r"^[0-9a-f]+$")
_QUERY_PARAM = re.compile(r"[?&][\w.-]*=$")
"""``?user_token=`` or ``&sid=`` right before a hex string: a URL parameter (session, CSRF token)."""
_HASH_TYPES = {32: T.MD5, 40: T.SHA1, 64: T.SHA256}


@lru_cache(maxsize=1)
def _tld() -> tldextract.TLDExtract:
    """The offline public-suffix extractor (bundled list; never downloads)."""
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _ip(value: str) -> tuple[str, bool] | None:
    """``(normalized address, private)`` or None when ``value`` is not an IP address."""
    try:
        addr = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    private = (
        not addr.is_global
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_unspecified
    )
    return addr.compressed, private


def registrable(domain: str) -> bool:
    """Whether ``domain`` ends in a public suffix and has a registrable label before it."""
    d = domain.strip().rstrip(".").lower()
    if not d or len(d) > 253:
        return False
    ext = _tld()(d)
    return bool(ext.suffix and ext.domain) and "_" not in ext.domain


def indicator(type_: IndicatorType | str, value: Any, field: str | None = None) -> Indicator | None:
    """Validate and normalize one structured value as an indicator; None when it is not one.

    IPs are checked and flagged private, domains checked against the public suffix list, hashes
    by length and alphabet, techniques are not indicators (see :func:`valid_techniques`).
    """
    kind = IndicatorType(type_)
    text = str(value).strip() if value is not None else ""
    if not text or len(text) > 2048:
        return None
    private = False
    if kind is T.IP:
        parsed = _ip(text)
        if parsed is None:
            return None
        text, private = parsed
    elif kind in (T.MD5, T.SHA1, T.SHA256):
        text = text.lower()
        if _HASH_TYPES.get(len(text)) is not kind or not _HEX.match(text) or len(set(text)) == 1:
            return None
    elif kind is T.DOMAIN:
        text = text.lower().rstrip(".")
        if not registrable(text) or _scanner(text):
            return None
    elif kind is T.URL:
        host = _url_host(text)
        if host is None or _scanner(host):
            return None
        text = scrub_url(text)
        parsed = _ip(host)
        private = parsed[1] if parsed else False
    elif kind is T.EMAIL:
        text = text.lower()
        if "@" not in text or not registrable(text.rsplit("@", 1)[1]):
            return None
    elif kind is T.CVE:
        text = text.upper()
        if not re.fullmatch(r"CVE-\d{4}-\d{4,}", text):
            return None
    return fitted(Indicator, type=kind, value=text, private=private, field=field or None)


def _scanner(host: str) -> bool:
    """Whether ``host`` belongs to a scanner or intelligence portal (see :data:`SCANNER_DOMAINS`)."""
    labels = host.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in SCANNER_DOMAINS for i in range(len(labels) - 1))


def _url_host(url: str) -> str | None:
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        host = parts.hostname
    except ValueError:
        return None
    if not host:
        return None
    return host if _ip(host) or registrable(host) else None


_USERINFO = re.compile(r"(?<=[a-zA-Z])://[^/@\s\[\]]+@")
"""The ``user:password@`` part of a URL."""
_SECRET_PARAM = re.compile(
    r"(?i)(?:^|[_.-])(?:token|session(?:id)?|sid|sig(?:nature)?|auth|key|api_?key|pass(?:word|wd)?|pwd"
    r"|secret|code|jwt|credentials?)$"
)
"""Query parameter names whose values are credentials (session ids, CSRF/API tokens, signatures)."""


def scrub_url(url: str) -> str:
    """``url`` without credentials: no password in the user-info, secret query parameters emptied.

    The value of ``?user_token=...`` identifies a session, not infrastructure; dropping it keeps
    secrets out of events and lets the same URL link cases.
    """
    url = re.sub(r"^([a-zA-Z][\w+.-]*://[^/@:\s]+):[^/@\s]*@", r"\1@", url)
    head, sep, query = url.partition("?")
    if not sep:
        return url
    query, hash_sep, fragment = query.partition("#")
    parts = []
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        parts.append(f"{name}=" if eq and value and _SECRET_PARAM.search(name) else part)
    return f"{head}?{'&'.join(parts)}{hash_sep}{fragment}"


def merge(*groups: Iterable[Indicator]) -> list[Indicator]:
    """Indicators of every group, in order, one per ``type:value`` (the first field named wins)."""
    seen: dict[tuple[str, str], Indicator] = {}
    for group in groups:
        for ind in group:
            key = (ind.type.value, ind.value.lower() if ind.type is not T.URL else ind.value)
            seen.setdefault(key, ind)
    return list(seen.values())


class IndicatorExtractor:
    """Finds strong indicators in text and in every string of a nested record."""

    def from_text(self, text: str, field: str | None = None) -> list[Indicator]:
        """Indicators in one piece of free text (defanged forms are refanged).

        Args:
            text: the text; anything past :data:`MAX_TEXT` characters is ignored.
            field: the dotted path the text came from, recorded on each indicator.
        """
        if not text or not _MAYBE_IOC.search(text):
            return []
        text = _USERINFO.sub("://", text[:MAX_TEXT])  # credentials in URLs are neither hosts nor e-mails
        found = find_iocs(
            text,
            parse_from_url_path=False,
            parse_domain_from_email_address=False,
            included_ioc_types=IOC_TYPES,
        )
        fanged = ioc_fanger.fang(text)
        outside_urls = _blank(fanged, found.get("urls", []))
        out: list[Indicator] = []

        def add(kind: IndicatorType, value: str) -> None:
            ind = indicator(kind, value, field)
            if ind is not None:
                out.append(ind)

        for url in found.get("urls", []):
            if "://" not in url and not _looks_like_url(url, fanged):
                continue
            add(T.URL, url)
            host = _url_host(url)
            if host is not None:
                add(T.IP if _ip(host) else T.DOMAIN, host)
        for ip in [*found.get("ipv4s", []), *found.get("ipv6s", [])]:
            if _standalone_ip(ip, outside_urls):
                add(T.IP, ip)
        for domain in found.get("domains", []):
            if _standalone_domain(domain, outside_urls):
                add(T.DOMAIN, domain)
        imphashes = {h.lower() for h in found.get("imphashes", [])}
        for key, kind in (("sha256s", T.SHA256), ("sha1s", T.SHA1), ("md5s", T.MD5)):
            for h in found.get(key, []):
                if h.lower() not in imphashes and _standalone_hash(h, outside_urls):
                    add(kind, h)
        for email in found.get("email_addresses", []):
            add(T.EMAIL, email)
        for cve in found.get("cves", []):
            add(T.CVE, cve)
        for key in found.get("registry_key_paths", []):
            cleaned = _registry_key(key)
            if cleaned:
                out.append(fitted(Indicator, type=T.REGISTRY_KEY, value=cleaned, field=field or None))
        return merge(out)

    def from_fields(self, data: Any, *, skip: Iterable[str] = (), prefix: str = "") -> list[Indicator]:
        """Indicators in every string of ``data`` (dicts and lists walked), each tagged with its path.

        Args:
            data: a JSON-like record.
            skip: dotted paths not to look into (labels, analyst notes: what ``model_view`` hides).
            prefix: the path of ``data`` itself.
        """
        skipped = frozenset(skip)
        return merge(*(self.from_text(text, path) for path, text in _strings(data, prefix, skipped)))

    def techniques_in(self, text: str) -> list[str]:
        """ATT&CK technique ids written in ``text`` that the catalogue knows."""
        return valid_techniques(re.findall(r"\bT\d{4}(?:\.\d{3})?\b", text or ""))


def _strings(node: Any, path: str, skip: frozenset[str]) -> Iterator[tuple[str, str]]:
    if path in skip:
        return
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key), skip)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _strings(item, path, skip)


def _blank(text: str, urls: Iterable[str]) -> str:
    """``text`` with every occurrence of the URLs replaced by spaces (what lies outside URLs)."""
    for url in sorted(set(urls), key=len, reverse=True):
        text = re.sub(re.escape(url), " ", text, flags=re.IGNORECASE)
    return text


def _looks_like_url(url: str, text: str) -> bool:
    """A scheme-less "URL" is one only when its host is a real domain and it has a path."""
    host, _, rest = url.partition("/")
    return bool(rest) and registrable(host.split(":")[0]) and not _path_like(text, host)


def _occurrences(value: str, text: str) -> Iterator[tuple[str, str, str]]:
    """``(before, match, after)`` for each occurrence of ``value`` in ``text`` (case-insensitive)."""
    pattern = re.compile(r"(?<![\w.-])" + re.escape(value) + r"(?![\w-])", re.IGNORECASE)
    for m in pattern.finditer(text):
        yield text[max(0, m.start() - 40) : m.start()], m.group(0), text[m.end() : m.end() + 2]


def _standalone_ip(ip: str, text: str) -> bool:
    """An IP counts when one of its occurrences is neither a version number nor part of a longer one."""
    if ":" in ip:  # IPv6: a bare "a::b" (C++ scope, labels) is not an address
        return any(c.isdigit() for c in ip) and _ip(ip) is not None
    for before, _, after in _occurrences(ip, text):
        if after[:1] == "." and after[1:2].isdigit():
            continue
        if _VERSION_BEFORE.search(before):
            continue
        return True
    return False


_SEGMENT_BEFORE = ("\\", "/", "{", "\\{", "/{")
_SEGMENT_AFTER = ("\\", "/", "}")


def _standalone_hash(value: str, text: str) -> bool:
    """A hash counts when one occurrence lies outside URLs, is not a query parameter (a token) and is not
    a folder of a path (``Package Cache\\<md5>\\setup.msi``, ``Temp\\{<md5>}\\``: cache and install
    directories named by a digest of something else). A file named by its hash (``\\<md5>.exe``) counts."""
    return any(
        not _QUERY_PARAM.search(before)
        and not (before.endswith(_SEGMENT_BEFORE) and after.startswith(_SEGMENT_AFTER))
        for before, _, after in _occurrences(value, text)
    )


def _path_like(text: str, value: str) -> bool:
    """Whether every occurrence of ``value`` sits in a file path (after or before a slash/backslash)."""
    hits = list(_occurrences(value, text))
    return bool(hits) and all(b.endswith(("\\", "/")) or a.startswith("\\") for b, _, a in hits)


def _standalone_domain(domain: str, text: str) -> bool:
    """A bare domain counts when one occurrence is neither a file/path part nor a dotted code name."""
    suffix = _tld()(domain).suffix.lower()
    for before, match, after in _occurrences(domain, text):
        if after[:1] == "." and after[1:2].isalnum():
            continue  # the middle of a longer dotted name (System.Management.Automation.dll)
        if before.endswith(("\\", "/")) or after.startswith("\\"):
            continue  # a file or folder name
        labels = match.split(".")
        if len(labels) > 1 and all(lab[:1].isupper() for lab in labels) and not match.isupper():
            continue  # WScript.Shell, Microsoft.NET: code names, not hosts
        if suffix in FILE_EXTENSION_TLDS:
            continue  # payload.zip in free text is a file
        return True
    return False


def _registry_key(key: str) -> str | None:
    """A registry key without the doubled backslashes of JSON escaping or trailing text."""
    cleaned = re.split(r"[\s\"']", key.strip(), maxsplit=1)[0]
    cleaned = re.sub(r"\\{2,}", r"\\", cleaned).rstrip("\\")
    return cleaned if "\\" in cleaned and len(cleaned) <= 2048 else None


@lru_cache(maxsize=1)
def extractor() -> IndicatorExtractor:
    """The shared extractor."""
    return IndicatorExtractor()


def extract_text(text: str, field: str | None = None) -> list[Indicator]:
    """Indicators in free text (see :meth:`IndicatorExtractor.from_text`)."""
    return extractor().from_text(text, field)


def extract_fields(data: Any, *, skip: Iterable[str] = (), prefix: str = "") -> list[Indicator]:
    """Indicators in every string of a record (see :meth:`IndicatorExtractor.from_fields`)."""
    return extractor().from_fields(data, skip=skip, prefix=prefix)


def techniques_in(text: str) -> list[str]:
    """Catalogued ATT&CK technique ids written in ``text``."""
    return extractor().techniques_in(text)
