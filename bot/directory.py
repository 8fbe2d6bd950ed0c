"""What the bot asks the gate: who is on call (the roster), the signed approval links, and the Gate
itself for ``done ACTION`` (recording an execution goes through the gate's own path).

The bot holds the gate's link keys (to sign links) and nothing that can make a gate session: the
settings it keeps are :func:`links_only`."""

from __future__ import annotations

import logging
from datetime import datetime

from aisoc.bus import Bus
from aisoc.events import ActionProposed, Role
from cards import Approver
from gate.links import approval_url
from gate.roster import Person, Roster
from gate.service import Gate
from gate.settings import GateSettings

log = logging.getLogger(__name__)


def links_only(settings: GateSettings) -> GateSettings:
    """The gate's settings as the bot may hold them: base URL, link keys, roster and timings — without
    the session keys (they sign gate sessions), the metrics tokens and the Webex client secret."""
    return settings.model_copy(update={"session_keys": [], "metrics_tokens": [], "webex_client_secret": None})


class Directory:
    """The roster, the gate's links and (lazily) a Gate over the shared store.

    Args:
        gate_settings: the gate's settings (link keys and base_url sign links; ``[roster]``); None
            means no approval links (cards then say the links are not issued yet). Only
            :func:`links_only` of them is kept.
        gate: an in-process Gate (the embedded demo); otherwise one is opened over the bus on first
            use, sharing the gate process's store (Redis, or the SQLite file next to the bus).
        bus: the bus, for opening that Gate.
        links: put approval links on cards.

    Raises:
        ConfigError: links are asked for but ``link_keys`` is empty.
    """

    def __init__(
        self,
        gate_settings: GateSettings | None,
        *,
        gate: Gate | None = None,
        bus: Bus | None = None,
        links: bool = True,
    ) -> None:
        self.gate_settings = links_only(gate_settings) if gate_settings is not None else None
        self.roster = (
            gate.roster if gate is not None else Roster(gate_settings.roster if gate_settings else None)
        )
        self._gate = gate
        self._bus = bus
        self.links = links and gate_settings is not None
        if self.links and self.gate_settings is not None:
            self.gate_settings.require("link_keys")

    def approval_url(self, proposal: ActionProposed) -> str | None:
        """The signed step-one URL of a proposal's request (None when links are off)."""
        if not self.links or self.gate_settings is None:
            return None
        return approval_url(self.gate_settings, proposal)

    def approver(self, duty: Role, at: datetime | None = None) -> Approver | None:
        """The person on call for ``duty`` as a card's Approver (None when nobody is)."""
        held = self.roster.on_call(duty, at)
        if held is None:
            return None
        return Approver(duty, held.person.name, held.person.email, title=self.roster.title(duty))

    def person(self, identity: str | None) -> Person | None:
        """The roster person an email, roster id or alias names."""
        return self.roster.find(identity)

    def emails(self) -> set[str]:
        """Every roster person's email, lower-cased."""
        return {p.email.lower() for p in self.roster.people.values()}

    @property
    def gate(self) -> Gate | None:
        """The Gate for recording executions (opened over the bus's shared store on first use)."""
        if self._gate is None and self._bus is not None and self.gate_settings is not None:
            self._gate = Gate(self._bus, self.gate_settings, roster=self.roster)
        return self._gate
