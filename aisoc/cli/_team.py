"""Building the team at the edge: model from settings, tools from an import string, the roles."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from aisoc import models
from aisoc.bus import Bus
from aisoc.errors import AisocError, ConfigError
from aisoc.events import Alert, PrecedentRef
from aisoc.memory import Memory, Statistics
from aisoc.resolve import resolve
from aisoc.runtime import RoleTeam
from aisoc.settings import KernelSettings
from aisoc.tools import Tool
from aisoc.tuning import gc_paused

log = logging.getLogger(__name__)


def build_model(settings: KernelSettings, dry_run: bool = False) -> BaseChatModel:
    """The chat model the settings name (``--dry-run`` means the canned stub)."""
    if dry_run:
        return models.from_spec("stub")
    return models.from_spec(settings.model, backup=settings.model_backup)


def build_tools(settings: KernelSettings, config: str | None) -> list[Tool]:
    """Configured vendor tools (``settings.tools`` names a ``(config_path) -> tools`` callable)."""
    if not settings.tools:
        return []
    try:
        factory = resolve(settings.tools)
        tools: Iterable[Tool] = factory(config)
        return list(tools)
    except AisocError:
        raise
    except Exception as e:
        raise ConfigError(f"setting 'tools' ({settings.tools}): could not build the tools: {e}") from e


def build_stoplist(settings: KernelSettings, config: str | None) -> Any:
    """The configured stoplist (``settings.stoplist`` names a ``(config_path) -> stoplist``)."""
    if not settings.stoplist:
        return None
    try:
        return resolve(settings.stoplist)(config)
    except AisocError:
        raise
    except Exception as e:
        raise ConfigError(f"setting 'stoplist' ({settings.stoplist}): could not build it: {e}") from e


def open_memory(settings: KernelSettings, bus: Bus, process: str, config: str | None = None) -> Memory:
    """This process's own projection of the audit log, with its snapshot under the state dir."""
    path = Path(settings.state_dir) / "memory" / f"{settings.namespace}-{process}.sqlite"
    durable = bus.url != "memory://"  # the window's cold tier lives in the snapshot
    return Memory(
        bus.audit,
        snapshot_path=path if durable else None,
        stoplist=build_stoplist(settings, config),
        bulk=gc_paused,
        max_cases=(settings.memory_max_cases or None) if durable else None,
        max_age_days=(settings.memory_max_age_days or None) if durable else None,
    )


def recall_hook(memory: Memory, k: int = 5) -> Callable[[str, Alert, str], list[PrecedentRef]]:
    """The runtime's context hook: precedent from cases created before the alert (never its own)."""

    def hook(role: str, alert: Alert, case_id: str) -> list[PrecedentRef]:
        return memory.precedent_for(alert, k, before=alert.created_at)

    return hook


def build_team(
    settings: KernelSettings,
    bus: Bus,
    *,
    config: str | None = None,
    dry_run: bool = False,
    tools: list[Tool] | None = None,
    process: str = "team",
    model: Any = None,
    **kwargs: Any,
) -> RoleTeam:
    """The team as the settings describe it; with ``recall = "on"`` memory's precedent and the
    precedent statistics are injected into Sentinel, Tier 2 and IR Lead prompts; the settings'
    guardrail is enforced either way. ``model`` shares one chat model between teams (a worker
    serving several namespaces); by default the settings' model is built."""
    if "context" not in kwargs and settings.recall == "on":
        kwargs["context"] = recall_hook(open_memory(settings, bus, process, config))
    if "statistics" not in kwargs and settings.recall == "on":
        kwargs["statistics"] = Statistics(
            bus.audit, policy=settings.statistics, max_cases=settings.memory_max_cases or None
        ).hook()
    kwargs.setdefault("guardrail", settings.guardrail)
    return RoleTeam(
        model=model if model is not None else build_model(settings, dry_run),
        tools=build_tools(settings, config) if tools is None else tools,
        bus=bus,
        roles=settings.team,
        paused=settings.paused,
        **kwargs,
    )
