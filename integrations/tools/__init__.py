"""Read-only tools for the roles: :func:`configured_tools` offers only what is configured.

Tool names (roles whitelist them): ``ioc_reputation`` and ``attack_lookup`` (local, always offered),
``falcon_host_details``, ``falcon_host_alerts``, ``falcon_ioc_lookup`` (CrowdStrike),
``tanium_question`` (Tanium), ``zscaler_url_lookup``, ``zscaler_sandbox_report`` (Zscaler).
"""

from __future__ import annotations

import logging
import os

from aisoc.logredact import install_log_redaction
from aisoc.redact import Redactor
from aisoc.tools import Tool
from integrations.feeds import FeedIndex
from integrations.settings import IntegrationsSettings, load_integrations_settings
from integrations.stoplist import Stoplist
from integrations.tools._common import VendorTool
from integrations.tools.local import attack_lookup_tool, ioc_reputation_tool

log = logging.getLogger(__name__)

__all__ = ["TOOL_NAMES", "VendorTool", "configured_tools"]

TOOL_NAMES = (
    "ioc_reputation",
    "attack_lookup",
    "falcon_host_details",
    "falcon_host_alerts",
    "falcon_ioc_lookup",
    "tanium_question",
    "zscaler_url_lookup",
    "zscaler_sandbox_report",
)
"""Every tool this package can offer."""


def configured_tools(settings: IntegrationsSettings | str | os.PathLike[str] | None = None) -> list[Tool]:
    """The tools whose vendor is configured, plus the local ones (always).

    Nothing connects here: vendor clients log in on the first call of one of their tools.

    Args:
        settings: loaded settings, or a settings file path (the kernel's ``tools`` setting calls this
            with the ``--config`` path, or None for the usual places).

    Raises:
        ConfigError: the settings are invalid.
        IntegrationError: a configured feed file cannot be read.
    """
    if not isinstance(settings, IntegrationsSettings):
        settings = load_integrations_settings(settings)
    redact = Redactor.standard(settings.secrets())
    install_log_redaction(redact)
    limit = settings.http.max_result_chars
    tools: list[Tool] = [
        ioc_reputation_tool(FeedIndex(settings.ioc_feeds), Stoplist.from_settings(settings), max_chars=limit),
        attack_lookup_tool(max_chars=limit),
    ]
    if settings.falcon.configured():
        from integrations.falcon import FalconClient
        from integrations.tools.falcon import falcon_tools

        falcon, http = settings.falcon, settings.http
        tools.extend(falcon_tools(lambda: FalconClient(falcon, http), max_chars=limit, redact=redact))
    if settings.tanium.configured():
        from integrations.tools.tanium import TaniumClient, tanium_tool

        tools.append(
            tanium_tool(TaniumClient(settings.tanium, settings.http), settings.tanium, max_chars=limit)
        )
    if settings.zscaler.configured():
        from integrations.tools.zscaler import ZiaClient, zscaler_tools

        tools.extend(zscaler_tools(ZiaClient(settings.zscaler, settings.http), max_chars=limit))
    log.info("tools offered: %s", ", ".join(t.name for t in tools))
    return tools
