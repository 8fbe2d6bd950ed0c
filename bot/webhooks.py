"""``aisoc bot setup``: register the bot's webhooks with Webex, idempotently.

Four (``messages`` created, updated and deleted: a question, its edits, its deletion; and
``attachmentActions`` created: card submits) point at ``{public_url}/webex/webhook`` and carry the
webhook secret, so every delivery is signed alike. Running it again updates what exists (target,
secret, status) instead of adding another, and removes duplicates, so there is always exactly one of
each.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aisoc.errors import ConfigError
from bot.settings import BotSettings
from bot.webex import WebexSpace

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webex/webhook"
"""Where Webex delivers (served by ``bot.create_app``)."""
WEBHOOKS = (
    ("messages", "created"),
    ("messages", "updated"),
    ("messages", "deleted"),
    ("attachmentActions", "created"),
)
"""What the bot listens to (``resource``, ``event``): messages (questions and commands), their edits
(asked again) and deletions (not answered if not yet), and card submits."""


def webhook_name(settings: BotSettings, resource: str, event: str) -> str:
    """A webhook's name: ``aisoc messages`` for a created one (the name earlier versions registered),
    ``aisoc messages updated`` for the others."""
    return f"{settings.webhook_name} {resource}" + ("" if event == "created" else f" {event}")


@dataclass
class SetupReport:
    """What ``setup_webhooks`` did, by webhook name."""

    target: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """For people."""
        out = [f"webhooks -> {self.target}"]
        out += [f"  created {n}" for n in self.created]
        out += [f"  updated {n}" for n in self.updated]
        out += [f"  deleted duplicate {n}" for n in self.deleted]
        return out


def setup_webhooks(space: WebexSpace, settings: BotSettings) -> SetupReport:
    """Make sure exactly one webhook per resource exists, pointing at this bot, with the secret.

    Raises:
        ConfigError: no ``public_url`` or no ``webhook_secret``.
        WebexError: Webex refused or could not be reached.
    """
    if not settings.public_url:
        raise ConfigError("setting 'public_url' ([bot] public_url): where Webex reaches this bot")
    if settings.webhook_secret is None:
        raise ConfigError("setting 'webhook_secret' ([bot] webhook_secret): every delivery is signed with it")
    target = settings.public_url + WEBHOOK_PATH
    secret = settings.webhook_secret.get_secret_value()
    report = SetupReport(target)
    existing = space.list_webhooks()
    for resource, event in WEBHOOKS:
        name = webhook_name(settings, resource, event)
        mine = [
            w
            for w in existing
            if w.get("resource") == resource
            and w.get("event") == event
            and (w.get("name") == name or w.get("targetUrl") == target)
        ]
        if not mine:
            space.create_webhook(name=name, targetUrl=target, resource=resource, event=event, secret=secret)
            report.created.append(name)
            continue
        keep, *extra = mine
        space.update_webhook(str(keep["id"]), name=name, targetUrl=target, secret=secret, status="active")
        report.updated.append(name)
        for w in extra:
            space.delete_webhook(str(w["id"]))
            report.deleted.append(str(w.get("name") or w["id"]))
    log.info("webhooks set up: %s", "; ".join(report.lines()))
    return report
