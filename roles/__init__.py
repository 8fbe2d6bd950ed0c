"""The agent roles of SOC-in-a-Box, one file each; every module here is part of the standard team.

Adding a role is one file in this folder (a class with its metadata and handler) plus one line in
the Procfile (``my_role: aisoc worker my_role``) or one systemd unit (``aisoc-role@my_role``).
"""

from __future__ import annotations

import importlib
import pkgutil

from aisoc.runtime import AgentRole, ScheduledRole
from roles.detection_engineer import DetectionEngineer
from roles.ir_lead import IrLead
from roles.sentinel import Sentinel
from roles.soc_manager import SocManager
from roles.threat_hunter import ThreatHunter
from roles.threat_intel import ThreatIntel
from roles.tier2 import Tier2

CASE_ORDER = (
    "sentinel",
    "tier2",
    "ir_lead",
    "threat_intel",
    "soc_manager",
    "detection_engineer",
    "threat_hunter",
)
"""The order a case meets the standard roles; added roles follow, by name."""


def discover() -> tuple[type[AgentRole | ScheduledRole], ...]:
    """Every role class defined in a module of this package (modules starting with ``_`` skipped)."""
    found: dict[str, type[AgentRole | ScheduledRole]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, AgentRole | ScheduledRole)
                and obj.__module__ == module.__name__
                and getattr(obj, "name", None)
            ):
                found[obj.name] = obj
    rank = {name: n for n, name in enumerate(CASE_ORDER)}
    return tuple(found[n] for n in sorted(found, key=lambda n: (rank.get(n, len(rank)), n)))


STANDARD_TEAM = discover()
"""Every role in this folder, in the order a case meets them."""
TRIAGE_TEAM = (Sentinel, Tier2)
"""The roles that decide whether a case is escalated: a replay with ``AISOC_TEAM=roles:TRIAGE_TEAM``
scores exactly as the standard team (escalation is Tier 2's call) without the IR Lead's plans and
Threat Intel's attributions — hours saved with a slow model."""

__all__ = [
    "STANDARD_TEAM",
    "TRIAGE_TEAM",
    "DetectionEngineer",
    "IrLead",
    "Sentinel",
    "SocManager",
    "ThreatHunter",
    "ThreatIntel",
    "Tier2",
    "discover",
]
