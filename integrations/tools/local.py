"""Tools that need no vendor: IOC reputation over local feeds, and the offline ATT&CK lookup."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from aisoc.events import Indicator, IndicatorType
from aisoc.redact import Redactor
from aisoc.tools import ToolError
from integrations.attack import catalogue
from integrations.feeds import REPUTATIONS, FeedIndex
from integrations.indicators import indicator
from integrations.stoplist import Stoplist
from integrations.tools._common import VendorTool

T = IndicatorType
GUESS_ORDER = (T.IP, T.SHA256, T.SHA1, T.MD5, T.CVE, T.EMAIL, T.URL, T.DOMAIN)


class IocArgs(BaseModel):
    """Arguments of ``ioc_reputation``."""

    model_config = ConfigDict(extra="forbid")
    value: str = Field(
        min_length=1, max_length=2048, description="the indicator: IP, domain, URL, hash, CVE..."
    )
    type: IndicatorType | None = Field(
        default=None, description="its type, when known (ip, domain, sha256...)"
    )


class AttackArgs(BaseModel):
    """Arguments of ``attack_lookup``."""

    model_config = ConfigDict(extra="forbid")
    query: str = Field(
        min_length=2,
        max_length=200,
        description="an ATT&CK id (T1059.001, TA0002, G0046, S0002, C0015, M1036) or a name to search",
    )


def classify(value: str, kind: IndicatorType | None = None) -> Indicator:
    """The indicator ``value`` is (its type guessed when not given).

    Raises:
        ToolError: the value is not a recognizable indicator.
    """
    if kind is not None:
        found = indicator(kind, value)
        if found is None:
            raise ToolError(f"{value!r} is not a valid {kind.value}")
        return found
    for guess in GUESS_ORDER:
        if guess is T.URL and "/" not in value:
            continue
        found = indicator(guess, value)
        if found is not None:
            return found
    raise ToolError(f"{value!r} is not a recognizable indicator (IP, domain, URL, hash, CVE, e-mail)")


def ioc_reputation_tool(
    feeds: FeedIndex, stoplist: Stoplist, *, max_chars: int = 4000, redact: Redactor | None = None
) -> VendorTool:
    """The ``ioc_reputation`` tool over local feeds (unknown when no feed knows the indicator)."""

    def ioc_reputation(value: str, type: IndicatorType | None = None) -> dict[str, Any]:
        ind = classify(value.strip(), type)
        keys = [(ind.type.value, ind.value)]
        if ind.type is T.URL:
            host = urlsplit(ind.value if "://" in ind.value else f"http://{ind.value}").hostname or ""
            keys.append(((T.IP if indicator(T.IP, host) else T.DOMAIN).value, host))
        entries = [e for k, v in keys for e in feeds.lookup(k, v)]
        worst = min((REPUTATIONS.index(e.reputation) for e in entries), default=REPUTATIONS.index("unknown"))
        notes = []
        if ind.private:
            notes.append("private or reserved address (internal infrastructure)")
        if stoplist.blocks(ind):
            notes.append("shared infrastructure on the stoplist (never links cases)")
        if not feeds.paths:
            notes.append("no local reputation feed is configured")
        return {
            "type": ind.type.value,
            "value": ind.value,
            "reputation": REPUTATIONS[worst],
            "sources": [
                {"source": e.source, "reputation": e.reputation, "description": e.description[:300]}
                for e in entries[:20]
            ],
            "private": ind.private,
            "notes": notes,
        }

    return VendorTool(
        "ioc_reputation",
        "Reputation of an indicator (IP, domain, URL, hash, CVE, e-mail) in the SOC's local threat feeds; "
        "'unknown' when no feed knows it.",
        IocArgs,
        ioc_reputation,
        redact or Redactor.standard(),
        max_chars,
    )


def attack_lookup_tool(*, max_chars: int = 4000) -> VendorTool:
    """The ``attack_lookup`` tool: MITRE ATT&CK (offline catalogue) by id or name."""

    def attack_lookup(query: str) -> dict[str, Any]:
        return catalogue().lookup(query)

    return VendorTool(
        "attack_lookup",
        "MITRE ATT&CK (offline catalogue): a technique, tactic, group, software, campaign or mitigation "
        "by id, or a search by name. Use it to check technique ids.",
        AttackArgs,
        attack_lookup,
        Redactor.standard(),
        max_chars,
    )
