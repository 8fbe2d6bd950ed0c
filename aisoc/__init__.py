"""aisoc: the vendor-neutral kernel of SOC-in-a-Box.

One local LLM plays every analyst role over a bus; agents propose, a human executes.

    from aisoc import Bus, RoleTeam, Memory
    bus = Bus()                              # embedded default (in-process, stdlib)
    bus = Bus("sqlite:///soc.db")            # embedded and durable
    bus = Bus("redis://localhost:6379/0")    # Redis Streams, durable, multi-process
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aisoc.bus import Bus
from aisoc.errors import AisocError, BusError, ConfigError, ContractError
from aisoc.memory import Memory

if TYPE_CHECKING:
    from aisoc.runtime import RoleTeam

__version__ = "0.3.0.dev0"

__all__ = [
    "AisocError",
    "Bus",
    "BusError",
    "ConfigError",
    "ContractError",
    "Memory",
    "RoleTeam",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # The runtime pulls in LangGraph (the "agent" extra): import it when it is first asked for.
    if name == "RoleTeam":
        from aisoc.runtime import RoleTeam

        return RoleTeam
    raise AttributeError(f"module 'aisoc' has no attribute {name!r}")
