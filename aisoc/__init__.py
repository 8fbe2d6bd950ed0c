"""aisoc: the vendor-neutral kernel of SOC-in-a-Box.

One local LLM plays every analyst role over a bus; agents propose, a human executes.

    from aisoc import Bus, RoleTeam, Memory
    bus = Bus()                              # embedded default (in-process, stdlib)
    bus = Bus("sqlite:///soc.db")            # embedded and durable
    bus = Bus("redis://localhost:6379/0")    # Redis Streams, durable, multi-process
"""

from __future__ import annotations

from aisoc.bus import Bus
from aisoc.errors import AisocError, BusError, ConfigError, ContractError

__version__ = "0.3.0.dev0"

__all__ = ["AisocError", "Bus", "BusError", "ConfigError", "ContractError", "__version__"]
