"""A role's prompt for a real Wazuh alert, as the team would send it (for tests that talk to a model)."""

from __future__ import annotations

from langchain_core.messages import BaseMessage

from aisoc.runtime import RoleTeam
from tests.aisoc.runtime.test_loop import real_alert


def role_prompt(team: RoleTeam, role: str, n: int) -> list[BaseMessage]:
    """``role``'s system and user message for the ``n``-th real alert (its event's id as the tags)."""
    event = real_alert(n)
    r = team.agents[role]
    return team.prompt(r, team.context_for(r, event))
