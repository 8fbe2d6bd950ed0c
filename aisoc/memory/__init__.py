"""Case memory: read projections over the audit log for recall, interrogation, campaigns and proof.

from aisoc import Bus
from aisoc.memory import Memory
bus = Bus("sqlite:///soc.db")
mem = Memory(bus.audit, snapshot_path=".aisoc/memory-worker.sqlite")
mem.precedent_for(alert)              # what Sentinel / Tier 2 / IR Lead are shown
mem.explain("guide:123").text()       # why, from the recorded trace only
mem.case_file("guide:123")            # the case read model: state, alert, plan, actions, statements
mem.action("act-1")                   # where one action stands: proposed, awaiting whom, decided, done
mem.find_campaign_clusters(timedelta(days=7))
"""

from __future__ import annotations

from aisoc.memory.campaigns import CampaignCluster
from aisoc.memory.casefile import ActionState, ActionStatus, CaseFile, fold_cases
from aisoc.memory.explain import (
    NARRATOR_INSTRUCTIONS,
    Explanation,
    Narrator,
    UnknownCase,
    check_narrative,
)
from aisoc.memory.keys import SAME_RULE_WEIGHT, WEIGHTS
from aisoc.memory.local import Bulk
from aisoc.memory.memory import DEFAULT_HALF_LIFE_DAYS, DEFAULT_MAX_INDICATOR_CASES, CaseOrAlert, Memory
from aisoc.memory.recall import Precedent, RuleHistory
from aisoc.memory.records import (
    ActionRecord,
    AlertFacts,
    CaseRecord,
    CaseState,
    Closure,
    FinalVerdict,
    Label,
    Review,
    RoleOutput,
    Step,
)
from aisoc.memory.scoring import (
    ABDelta,
    CaseOutcome,
    Confusion,
    RoleAccuracy,
    Scorecard,
    ab_delta,
    confusion,
    outcome_of,
    role_accuracy,
    score,
    team_route,
)
from aisoc.memory.statements import Statement, statements
from aisoc.memory.stats import Stat, Statistics, StatisticsPolicy
from aisoc.memory.stoplist import KeyStoplist, Stoplist, no_stoplist, skip_private

__all__ = [
    "DEFAULT_HALF_LIFE_DAYS",
    "DEFAULT_MAX_INDICATOR_CASES",
    "NARRATOR_INSTRUCTIONS",
    "SAME_RULE_WEIGHT",
    "WEIGHTS",
    "ABDelta",
    "ActionRecord",
    "ActionState",
    "ActionStatus",
    "AlertFacts",
    "Bulk",
    "CampaignCluster",
    "CaseFile",
    "CaseOrAlert",
    "CaseOutcome",
    "CaseRecord",
    "CaseState",
    "Closure",
    "Confusion",
    "Explanation",
    "FinalVerdict",
    "KeyStoplist",
    "Label",
    "Memory",
    "Narrator",
    "Precedent",
    "Review",
    "RoleAccuracy",
    "RoleOutput",
    "RuleHistory",
    "Scorecard",
    "Stat",
    "Statement",
    "Statistics",
    "StatisticsPolicy",
    "Step",
    "Stoplist",
    "UnknownCase",
    "ab_delta",
    "check_narrative",
    "confusion",
    "fold_cases",
    "no_stoplist",
    "outcome_of",
    "role_accuracy",
    "score",
    "skip_private",
    "statements",
    "team_route",
]
