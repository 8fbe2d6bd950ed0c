"""The Webex bot: the SOC's front door.

    from bot import Bot, create_app, load_bot_settings
    settings = load_bot_settings()                # [bot] of aisoc.toml, AISOC_BOT_* / WEBEX_ACCESS_TOKEN
    bot = Bot(settings, gate_settings=load_gate_settings())
    bot.start()                                   # consumer group "bot" + the one outbound sender
    app = create_app(settings, bot=bot)           # signed webhook receiver, /healthz, /preview

It posts cards for the team's events (one thread per case, Sentinel's closures in a digest), answers
commands (explain, case, status, oncall, close, reopen, assign, done), and sends approvals to the
gate's two-step pages — never deciding one itself. Without a token, the local preview is the space.
Flask and the Webex SDK are imported only when used, so ``aisoc`` starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.errors import BotError, CommandError, RateLimited, Refused, Unavailable, WebexError
from bot.settings import BotSettings, NoiseSettings, load_bot_settings

if TYPE_CHECKING:
    from bot.app import create_app
    from bot.service import Bot


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from bot.app import create_app

        return create_app
    if name == "Bot":
        from bot.service import Bot

        return Bot
    raise AttributeError(f"module 'bot' has no attribute {name!r}")


__all__ = [
    "Bot",
    "BotError",
    "BotSettings",
    "CommandError",
    "NoiseSettings",
    "RateLimited",
    "Refused",
    "Unavailable",
    "WebexError",
    "create_app",
    "load_bot_settings",
]
