"""The normalized alert every source fills, and the only view of it a model ever sees."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from aisoc.events._base import Line, Short, Text, UtcDatetime
from aisoc.events.attack import Techniques
from aisoc.tenants import case_id_for, check_tenant, tenant_key

SourceSlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
"""A source name: lowercase, no colon (the colon separates source and source id in a case id)."""

SEVERITY_NAMES = ("info", "low", "medium", "high", "critical")
"""Names of the normalized severities 0-4."""

MAX_RAW_DEPTH = 64
"""How deep ``raw`` may nest (real records nest under ten levels): the bus's JSON serializer stops at
about 250 levels for the whole event, so a deeper record is refused at the source with the reason
instead of failing every publish of its batch."""

GENERIC_RAW_EXCLUDE = ("label", "truth", "disposition", "verdict", "_index", "_version")
"""Raw keys no source may show a model: analyst labels and export envelopes (sources add their own)."""


class IndicatorType(StrEnum):
    """Kinds of indicators; the first block are "strong" (they link cases), the rest weigh less."""

    ACTOR = "actor"
    SHA256 = "sha256"
    SHA1 = "sha1"
    MD5 = "md5"
    DOMAIN = "domain"
    IP = "ip"
    URL = "url"
    CVE = "cve"
    EMAIL = "email"
    REGISTRY_KEY = "registry_key"
    HOST = "host"
    USER = "user"
    FILE = "file"
    PROCESS = "process"
    DEVICE_ID = "device_id"
    ACCOUNT_ID = "account_id"
    APP_ID = "app_id"
    OTHER = "other"


class Indicator(BaseModel):
    """A typed indicator found in an alert (``private`` flags RFC 1918 / reserved addresses)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: IndicatorType
    value: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    private: bool = False
    field: Short | None = None

    @property
    def key(self) -> str:
        """``type:value``, the key used by indexes and traces."""
        return f"{self.type.value}:{self.value}"


class Alert(BaseModel):
    """One alert as every source normalizes it; ``raw`` keeps the verbatim record.

    ``raw_exclude`` lists dotted paths into ``raw`` that ``model_view()`` leaves out: whatever an
    analyst wrote or that betrays the outcome. A path segment applies to every element of a list.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: SourceSlug
    source_id: Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"\S")]
    """An identity: an id over 256 characters (or all blanks) is refused, never cut, so two alerts
    whose ids differ only after the cut are never filed as one case."""
    tenant: Short | None = None
    title: Annotated[str, StringConstraints(max_length=512)]
    description: Text | None = None
    rule: Short | None = None
    category: Short | None = None
    """The kind of activity the source files the alert under (GUIDE ``Category``, Wazuh rule group)."""
    severity: int = Field(ge=0, le=4)
    severity_original: Short | None = None
    created_at: UtcDatetime
    hosts: list[Short] = Field(default_factory=list, max_length=100)
    users: list[Short] = Field(default_factory=list, max_length=100)
    indicators: list[Indicator] = Field(default_factory=list, max_length=500)
    techniques: Techniques = Field(default_factory=list)
    link: Annotated[str, StringConstraints(max_length=2048)] | None = None
    raw: dict[str, Any] = Field(default_factory=dict)
    raw_exclude: list[Line] = Field(default_factory=list, max_length=200)

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        return check_tenant(tenant_key(value)) or None

    @field_validator("raw")
    @classmethod
    def _shallow(cls, value: dict[str, Any]) -> dict[str, Any]:
        stack: list[tuple[Any, int]] = [(value, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_RAW_DEPTH:
                raise ValueError(f"nested deeper than {MAX_RAW_DEPTH} levels")
            if isinstance(node, dict):
                stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
            elif isinstance(node, list):
                stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
        return value

    @field_validator("hosts", "users", "techniques")
    @classmethod
    def _dedupe(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(v for v in values if v))

    @property
    def case_id(self) -> str:
        """The case this alert belongs to (``source:source_id``, ``tenant/source:source_id`` for a tenant)."""
        return case_id_for(self.source, self.source_id, self.tenant)

    @property
    def severity_name(self) -> str:
        """``info``, ``low``, ``medium``, ``high`` or ``critical``."""
        return SEVERITY_NAMES[self.severity]

    def strong_indicators(self) -> list[Indicator]:
        """Indicators that can link cases (hashes, domains, IPs, URLs, CVEs, actors, emails, keys)."""
        return [i for i in self.indicators if i.type in STRONG_TYPES]

    def model_view(self) -> dict[str, Any]:
        """Return the ONLY thing a model may see of this alert.

        The normalized fields, plus ``raw`` without the generic exclusions (labels, dispositions,
        export envelopes) and without the source's own ``raw_exclude`` paths. Parts of ``raw`` that
        nothing was removed from are shared with the alert, not copied: treat the view as read-only.
        """
        raw: Any = self.raw
        for key in GENERIC_RAW_EXCLUDE:
            raw = _without(raw, [key])
        for path in self.raw_exclude:
            raw = _without(raw, path.split("."))
        return {
            "case_id": self.case_id,
            "source": self.source,
            "tenant": self.tenant,
            "title": self.title,
            "description": self.description,
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity_name,
            "severity_original": self.severity_original,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "hosts": list(self.hosts),
            "users": list(self.users),
            "indicators": [
                {"type": i.type.value, "value": i.value, **({"private": True} if i.private else {})}
                for i in self.indicators
            ],
            "techniques": list(self.techniques),
            "link": self.link,
            "raw": raw,
        }


STRONG_TYPES = frozenset(
    {
        IndicatorType.ACTOR,
        IndicatorType.SHA256,
        IndicatorType.SHA1,
        IndicatorType.MD5,
        IndicatorType.DOMAIN,
        IndicatorType.IP,
        IndicatorType.URL,
        IndicatorType.CVE,
        IndicatorType.EMAIL,
        IndicatorType.REGISTRY_KEY,
    }
)
"""Indicator types that identify infrastructure or tooling, not just the victim."""


def _without(node: Any, parts: list[str]) -> Any:
    """``node`` without the key at ``parts`` (applied to every element of lists on the way).

    Copy-on-write: containers are copied only when something under them is removed. An empty
    container on the path goes too, however it got empty: ``{"CustomFields": {}}`` after removing
    the only custom field would otherwise tell a record that had it from one that did not.
    """
    if isinstance(node, list):
        items = [_without(item, parts) for item in node]
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    if not isinstance(node, dict) or parts[0] not in node:
        return node
    head, rest = parts[0], parts[1:]
    if not rest:
        return {k: v for k, v in node.items() if k != head}
    inner = _without(node[head], rest)
    if isinstance(inner, dict | list) and not inner:
        return {k: v for k, v in node.items() if k != head}
    return node if inner is node[head] else {**node, head: inner}
