"""Building the team at the edge: model from settings, tools from an import string, the roles."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from langchain_core.language_models import BaseChatModel

from aisoc import models
from aisoc.bus import Bus
from aisoc.errors import AisocError, ConfigError
from aisoc.resolve import resolve
from aisoc.runtime import RoleTeam
from aisoc.settings import KernelSettings
from aisoc.tools import Tool

log = logging.getLogger(__name__)


def build_model(settings: KernelSettings, dry_run: bool = False) -> BaseChatModel:
    """The chat model the settings name (``--dry-run`` means the canned stub)."""
    if dry_run or settings.model == "stub":
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


def build_team(
    settings: KernelSettings,
    bus: Bus,
    *,
    config: str | None = None,
    dry_run: bool = False,
    tools: list[Tool] | None = None,
    context: Any = None,
    **kwargs: Any,
) -> RoleTeam:
    """The team as the settings describe it."""
    return RoleTeam(
        model=build_model(settings, dry_run),
        tools=build_tools(settings, config) if tools is None else tools,
        bus=bus,
        roles=settings.team,
        context=context,
        **kwargs,
    )
