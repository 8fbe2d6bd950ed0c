"""The Bot: everything wired over one bus — the feed, the outbox and its sender, the receiver and the
commands, the space (Webex or the local preview).

    bot = Bot(load_bot_settings(), gate_settings=load_gate_settings())
    bot.start()                       # feed + sender threads (and the websocket, in that mode)
    app = bot.create_app()            # the webhook receiver and the preview
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from aisoc.bus import Bus, open_bus
from aisoc.memory import Memory
from aisoc.settings import bus_settings_for
from aisoc.tuning import gc_paused
from bot.commands import Commands
from bot.compose import Composer
from bot.directory import Directory
from bot.feed import Feed
from bot.inbound import Receiver
from bot.model import phraser, router
from bot.nudges import Nudger
from bot.preview import PreviewSpace
from bot.sender import Sender
from bot.settings import BotSettings
from bot.store import BotStore, store_path
from bot.transport import Transport
from bot.webex import Space, WebexSpace
from gate.service import Gate
from gate.settings import GateSettings

log = logging.getLogger(__name__)

KEEP_UP_PAGE = 1000
"""Audit entries the feed reads into the hosts' addresses and each built catalog per round (a few
tenths of a second of alerts): a bot started over a long log builds them over many rounds, posting
cards between pages."""


class Bot:
    """One bot over one bus.

    Args:
        settings: the bot's settings (``load_bot_settings()`` at the edge).
        bus: the bus (default: ``open_bus``: the kernel's settings, the bot's bus).
        gate_settings: the gate's settings, for approval links and the roster (None: no links).
        gate: an in-process Gate (the embedded demo); else one over the shared store, on first ``done``.
        space: where posts go (default: Webex with a token, else the local preview).
        store: the bot's store (default: next to the bus).
        clock: wall-clock seconds (injected by tests).
        model: a chat model that may phrase answers and route questions (default: ``settings.model``).
    """

    def __init__(
        self,
        settings: BotSettings,
        *,
        bus: Bus | None = None,
        gate_settings: GateSettings | None = None,
        gate: Gate | None = None,
        space: Space | None = None,
        store: BotStore | None = None,
        clock: Callable[[], float] = time.time,
        model: Any = None,
    ) -> None:
        self.settings = settings
        self.bus = bus if bus is not None else open_bus(bus_settings_for(settings.bus, settings.namespace))
        self.store = store or BotStore(store_path(self.bus, settings.store, settings.state_dir), clock=clock)
        self.directory = Directory(
            gate_settings if gate_settings is not None else (gate.settings if gate is not None else None),
            gate=gate,
            bus=self.bus,
            links=settings.approval_links,
        )
        self.preview: PreviewSpace | None = None
        if settings.serves_preview:
            person = self._preview_person()
            self.preview = PreviewSpace(settings.bot_name, person[0], person[1])
            if settings.host not in ("127.0.0.1", "localhost", "::1"):
                log.warning(
                    "the local preview listens on %s: anyone who reaches it acts as %s; keep it on 127.0.0.1",
                    settings.host,
                    person[0],
                )
        if space is None:
            space = WebexSpace(settings) if settings.token is not None else self.preview
        assert space is not None
        self.space: Space = space
        self.composer = Composer(settings, self.bus, self.directory, self.store)
        self.sender = Sender(self.store, self.space, settings, clock=clock)
        self.nudger = nudger = Nudger(settings, lambda: self.commands.memory, self.directory)
        self.composer.handover = nudger.handover
        self.feed = Feed(
            self.bus,
            self.composer,
            self.store,
            settings,
            on_queued=self.sender.poke,
            clock=clock,
            sweep=nudger.sweep,
            inbox=lambda now: self.receiver.work(now),
            keep_up=lambda: self.commands.keep_up(KEEP_UP_PAGE),
        )
        if model is None and settings.model:
            from aisoc import models

            model = models.from_spec(settings.model)
        self.commands = Commands(
            settings,
            self.bus,
            self.directory,
            self.store,
            self.space,
            self._memory,
            phraser=phraser(model) if model is not None else None,
            router=router(model) if model is not None else None,
            clock=clock,
        )
        self.receiver = Receiver(
            settings, self.bus, self.space, self.directory, self.store, self.commands, self.sender.poke
        )
        self.transport: Transport | None = None
        self.warming: threading.Thread | None = None
        """Builds the bot's costly read models in the background at :meth:`start` (:meth:`warm`)."""

    def _preview_person(self) -> tuple[str, str]:
        wanted = self.settings.preview_person
        person = self.directory.person(wanted) if wanted else None
        if person is None and not wanted:
            people = list(self.directory.roster.people.values())
            person = people[0] if people else None
        if person is not None:
            return person.email, person.name
        return (wanted or "you@example.com"), (wanted or "You")

    def _memory(self) -> Memory:
        snapshot = None
        if self.settings.state_dir is not None and not self.bus.url.startswith("memory"):
            snapshot = self.settings.state_dir / "memory" / "bot.sqlite"
        # The same window as the workers' (the kernel's memory_max_cases / memory_max_age_days);
        # older cases stay findable in the snapshot's cold tier.
        kernel = bus_settings_for(self.settings.bus, self.settings.namespace) if snapshot else None
        return Memory(
            self.bus.audit,
            snapshot_path=snapshot,
            bulk=gc_paused,
            max_cases=(kernel.memory_max_cases or None) if kernel else None,
            max_age_days=(kernel.memory_max_age_days or None) if kernel else None,
        )

    # --- running ----------------------------------------------------------------------------------

    def start(self, *, feed: bool = True, sender: bool = True, transport: Transport | None = None) -> Bot:
        """Start the threads: the feed (consumer group ``bot``), the sender, a transport (websocket),
        and one that builds the bot's read models (:meth:`warm`); start does not wait for it."""
        if self.warming is None:
            self.commands.promise_warm()  # a question meanwhile waits for the one build
            self.warming = threading.Thread(target=self.warm, name="bot-warm", daemon=True)
            self.warming.start()
        if feed:
            self.feed.start()
        if sender:
            self.sender.start()
        if transport is not None:
            self.transport = transport
            transport.start(self.receiver)
        return self

    def warm(self) -> None:
        """Build the bot's read models that list every case, once each, so that neither the feed's
        first sweep nor the first question pays for it (memory is folded by the first): the nudger's
        index of waiting cases first (the feed sweeps as soon as it starts), then the SOC-wide scope's
        catalog. A sweep or a question that needs one while it is built waits for that build and
        uses it. A question that comes while the index is built waits for the catalog's build too (its
        own build on its thread would be a second listing of every case beside the index's), and one
        that comes before :meth:`start` builds the catalog itself (this build is then skipped)."""
        try:
            self.nudger.warm()
            self.commands.warm()
        finally:
            self.commands.release_warm()

    def stop(self) -> None:
        """Stop every thread (what is queued stays queued for the next start)."""
        if self.transport is not None:
            self.transport.stop()
        self.feed.stop()
        self.sender.stop()

    def create_app(self) -> Any:
        """The Flask app around this bot (webhook receiver, health, preview)."""
        from bot.app import create_app

        return create_app(self.settings, bot=self)

    def close(self) -> None:
        """Release the store."""
        self.store.close()
