"""A role's prompt for a real Wazuh alert, as the team would send it (for tests that talk to a model)."""

from __future__ import annotations

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from aisoc.runtime import RoleTeam
from aisoc.runtime.prompt import user_message
from tests.aisoc.runtime.test_loop import real_alert


def role_prompt(team: RoleTeam, role: str, n: int) -> list[BaseMessage]:
    """``role``'s system and user message for the ``n``-th real alert (its event's id as the tag)."""
    event = real_alert(n)
    r = team.agents[role]
    ctx = team.context_for(r, event)
    data = user_message(r.data(ctx), r.task(ctx), event.event_id[:8])
    return [SystemMessage(content=team.system_messages[role]), HumanMessage(content=data)]
