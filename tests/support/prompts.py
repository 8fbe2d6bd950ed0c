"""A role's prompt for a real Wazuh alert, as the team would send it (for tests that talk to a model)."""

from __future__ import annotations

import functools

from langchain_core.messages import BaseMessage

from aisoc.events import AlertReceived
from aisoc.models import LOCAL_RAW_LIMIT
from aisoc.runtime import RoleTeam
from tests.aisoc.runtime.test_loop import real_alert


@functools.cache
def alert_event(n: int) -> AlertReceived:
    """The ``n``-th real alert as one event: every role's prompt about it shares its case's block
    (tagged by the event's id), as in the pipeline."""
    return real_alert(n)


def role_prompt(team: RoleTeam, role: str, n: int, raw_limit: int = LOCAL_RAW_LIMIT) -> list[BaseMessage]:
    """``role``'s system and user message for the ``n``-th real alert, the raw record cut as for the
    ``local`` model by default (the team's model may be the canned one, whose limit is larger)."""
    r = team.agents[role]
    ctx = team.context_for(r, alert_event(n))
    ctx.raw_limit = raw_limit
    return team.prompt(r, ctx)
