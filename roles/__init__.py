"""The seven agent roles of SOC-in-a-Box, one file each, plus the standard team.

Adding a role is one file here and one line in the Procfile (``aisoc worker SLUG``).
"""

from __future__ import annotations

from roles.detection_engineer import DetectionEngineer
from roles.ir_lead import IrLead
from roles.sentinel import Sentinel
from roles.soc_manager import SocManager
from roles.threat_hunter import ThreatHunter
from roles.threat_intel import ThreatIntel
from roles.tier2 import Tier2

STANDARD_TEAM = (Sentinel, Tier2, IrLead, ThreatIntel, SocManager, DetectionEngineer, ThreatHunter)
"""Every role, in the order a case meets them."""

__all__ = [
    "STANDARD_TEAM",
    "DetectionEngineer",
    "IrLead",
    "Sentinel",
    "SocManager",
    "ThreatHunter",
    "ThreatIntel",
    "Tier2",
]
