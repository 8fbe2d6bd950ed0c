"""Helpers the roles share: the alert as the model sees it, and precedent arithmetic for the stub."""

from __future__ import annotations

from typing import Any

from aisoc.runtime import RoleContext
from aisoc.runtime.prompt import RawJson

SEVERITY_POINTS = {"info": 1, "low": 2, "medium": 4, "high": 6, "critical": 8}
ATTACK_WORDS = (
    "attack",
    "exploit",
    "shellshock",
    "malware",
    "mimikatz",
    "ransom",
    "injection",
    "brute",
    "credential",
    "lateral",
    "suspicious",
    "powershell",
    "cmd shell",
    "privilege",
    "remote logon",
    "winrm",
    "ldap",
    "webshell",
    "beacon",
    "command and control",
    "c2",
    "trojan",
    "phish",
    "exfiltrat",
    "persistence",
    "defense evasion",
    "execution",
)
QUIET_WORDS = ("average number of logs", "unavailable to handle", "sessionenv", "stats")


def alert_view(ctx: RoleContext) -> RawJson:
    """The alert's model view with the raw record bounded (what every role is shown)."""
    return ctx.alert_json()


WEAK_KEYS = ("host:", "user:", "file:", "process:", "device_id:", "account_id:")
"""Shared indicators that say little on their own (the same host or user shows up everywhere)."""


def precedent_lean(data: dict[str, Any]) -> int:
    """+1 when telling precedent mostly ended escalated/true positive, -1 when mostly benign, else 0.

    Only precedent linked by the same rule or by a strong indicator counts: sharing a host or a
    user with an unrelated case is not evidence about this alert.
    """
    bad = good = 0
    for p in data.get("precedent") or []:
        strong = any(not str(s).startswith(WEAK_KEYS) for s in p.get("shared_indicators") or [])
        if not (p.get("same_rule") or strong):
            continue
        verdict = str(p.get("verdict") or "")
        if verdict in ("true_positive", "malicious", "escalate", "escalated"):
            bad += 1
        elif verdict in ("benign", "false_positive", "close", "closed"):
            good += 1
    if bad == good:
        return 0
    return 1 if bad > good else -1


def alert_text(view: dict[str, Any]) -> str:
    """Title, description and rule of a model view, lowercased (for keyword heuristics)."""
    return " ".join(str(view.get(k) or "") for k in ("title", "description", "rule")).lower()
