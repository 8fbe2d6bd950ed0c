"""The role runtime: each role invocation is a LangGraph tool-loop; the team runs them over the bus."""

from __future__ import annotations

from aisoc.memory.stats import StatisticsHook
from aisoc.runtime.guardrail import GuardrailPolicy, overruled_by
from aisoc.runtime.loop import BUDGET_EXHAUSTED, TIMEOUT, ModelUnavailable, Outcome, ToolLoop
from aisoc.runtime.role import AgentRole, RoleContext, ScheduledRole, Settled
from aisoc.runtime.team import DEFAULT_TEAM, ContextHook, Invocation, Observer, RoleTeam

__all__ = [
    "BUDGET_EXHAUSTED",
    "DEFAULT_TEAM",
    "TIMEOUT",
    "AgentRole",
    "ContextHook",
    "GuardrailPolicy",
    "Invocation",
    "ModelUnavailable",
    "Observer",
    "Outcome",
    "RoleContext",
    "RoleTeam",
    "ScheduledRole",
    "Settled",
    "StatisticsHook",
    "ToolLoop",
    "overruled_by",
]
