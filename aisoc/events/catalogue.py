"""Every event type of the catalogue, with the stream the bus routes it to."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from aisoc.events._base import AnyRole, CaseId, Event, Line, Role, Short, Text, UtcDatetime
from aisoc.events.alert import Alert, IndicatorType
from aisoc.events.attack import Techniques
from aisoc.events.trace import Trace

# --- enums --------------------------------------------------------------------------------------


class Verdict(StrEnum):
    """Sentinel's verdict on an alert."""

    MALICIOUS = "malicious"
    SUSPICIOUS = "suspicious"
    BENIGN = "benign"
    FALSE_POSITIVE = "false_positive"


class Tier2Decision(StrEnum):
    """What Tier 2 decided."""

    ESCALATE = "escalate"
    CLOSE = "close"
    HUMAN_REVIEW = "human_review"


class Sev(StrEnum):
    """Incident severity, SEV-1 (worst) to SEV-4."""

    SEV1 = "SEV-1"
    SEV2 = "SEV-2"
    SEV3 = "SEV-3"
    SEV4 = "SEV-4"


class Decision(StrEnum):
    """How an approval request ended."""

    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Disposition(StrEnum):
    """How a case ended (ground-truth labels use the same values)."""

    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    BENIGN = "benign"


class ActionKind(StrEnum):
    """Kinds of real-system actions IR Lead may propose (a human carries them out)."""

    ISOLATE_HOST = "isolate_host"
    DISABLE_ACCOUNT = "disable_account"
    RESET_CREDENTIALS = "reset_credentials"
    REVOKE_SESSIONS = "revoke_sessions"
    BLOCK_INDICATOR = "block_indicator"
    KILL_PROCESS = "kill_process"
    QUARANTINE_FILE = "quarantine_file"
    COLLECT_FORENSICS = "collect_forensics"
    PATCH_SYSTEM = "patch_system"
    RESTORE_SYSTEM = "restore_system"
    OTHER = "other"


class Phase(StrEnum):
    """Where a plan step belongs."""

    CONTAINMENT = "containment"
    ERADICATION = "eradication"
    RECOVERY = "recovery"


class Risk(StrEnum):
    """Operational risk of carrying out an action."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Reputation(StrEnum):
    """Reputation of an indicator."""

    MALICIOUS = "malicious"
    SUSPICIOUS = "suspicious"
    UNKNOWN = "unknown"
    BENIGN = "benign"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Items = Annotated[list[Line], Field(max_length=50)]
CaseIds = Annotated[list[CaseId], Field(max_length=500)]

# --- alerts -------------------------------------------------------------------------------------


class AlertReceived(Event):
    """A normalized alert entered the SOC."""

    TYPE = "alert.received"
    STREAM = "alerts"

    alert: Alert


# --- cases --------------------------------------------------------------------------------------


class TriageVerdict(Event):
    """Sentinel's verdict, priority and routing."""

    TYPE = "triage.verdict"
    STREAM = "cases"

    verdict: Verdict
    confidence: float = Field(ge=0, le=1)
    priority: int = Field(ge=1, le=10)
    summary: Text
    routed_to: Literal["tier2", "closed"]
    trace: Trace | None = None


class Tier2Decided(Event):
    """Tier 2's decision with findings and evidence."""

    TYPE = "tier2.decision"
    STREAM = "cases"

    decision: Tier2Decision
    confidence: float = Field(ge=0, le=1)
    summary: Text
    findings: Items = Field(default_factory=list)
    evidence: Items = Field(default_factory=list)
    trace: Trace | None = None


class PlanStep(_Part):
    """One step of a response plan; ``action_id`` is set when the step touches a real system."""

    phase: Phase
    description: Line
    kind: ActionKind | None = None
    target: Short | None = None
    action_id: Short | None = None


class IrPlan(Event):
    """IR Lead's SEV and containment / eradication / recovery plan."""

    TYPE = "ir.plan"
    STREAM = "cases"

    sev: Sev
    sev_rationale: Line
    summary: Text
    steps: Annotated[list[PlanStep], Field(max_length=40)]
    notifications: Items = Field(default_factory=list)
    plan_digest: Short
    trace: Trace | None = None

    def phase(self, phase: Phase) -> list[PlanStep]:
        """The plan's steps of one phase, in order."""
        return [s for s in self.steps if s.phase == phase]


def plan_digest(sev: str, steps: list[PlanStep]) -> str:
    """Return the digest that binds approvals to the exact plan they were shown."""
    body = json.dumps(
        {"sev": sev, "steps": [s.model_dump(mode="json") for s in steps]},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


class IocRating(_Part):
    """Reputation of one indicator and where it came from."""

    type: IndicatorType
    value: Annotated[str, StringConstraints(max_length=2048)]
    reputation: Reputation
    source: Short | None = None


class IntelAttribution(Event):
    """Threat Intel's actor attribution (only with corroboration), ATT&CK mapping and IOC ratings."""

    TYPE = "intel.attribution"
    STREAM = "cases"

    actor: Short | None = None
    actor_evidence: Items = Field(default_factory=list)
    techniques: Techniques = Field(default_factory=list)
    iocs: Annotated[list[IocRating], Field(max_length=200)] = Field(default_factory=list)
    confidence: float = Field(ge=0, le=1)
    summary: Text
    trace: Trace | None = None


class ReviewRequested(Event):
    """A role could not decide; a person of ``duty`` must look, and ``reason`` says why.

    People use it too: reopening a case or assigning it to someone (``assignee``) asks for review.
    """

    TYPE = "case.review_requested"
    STREAM = "cases"

    role: AnyRole
    reason: Line
    details: Text | None = None
    duty: Role = Role.TIER2
    assignee: Short | None = None
    trace: Trace | None = None


class ClosedBy(_Part):
    """Who closed a case: a role, or a person (role ``human``)."""

    role: AnyRole
    person: Short | None = None


class CaseClosed(Event):
    """A case was closed, by a role or a person, with a disposition."""

    TYPE = "case.closed"
    STREAM = "cases"

    disposition: Disposition
    reason: Line
    closed_by: ClosedBy


class TruthLabeled(Event):
    """Analyst ground truth for a case; a later label supersedes an earlier one."""

    TYPE = "truth.labeled"
    STREAM = "cases"

    label: Disposition
    escalated: bool
    labeled_by: Short
    source: Short
    note: Line | None = None


# --- actions ------------------------------------------------------------------------------------


class ActionProposed(Event):
    """IR Lead proposes one real-system action; a person of ``approver_role`` must decide."""

    TYPE = "action.proposed"
    STREAM = "actions"

    action_id: Short
    kind: ActionKind
    target: Short
    phase: Phase
    rationale: Line
    approver_role: Role
    risk: Risk = Risk.MEDIUM
    sev: Sev | None = None
    expires_at: UtcDatetime
    plan_event_id: Short
    plan_digest: Short


class ActionReminded(Event):
    """An approval request is still open: the approver was reminded."""

    TYPE = "action.reminded"
    STREAM = "actions"

    action_id: Short
    person: Short | None = None
    reminder: int = Field(ge=1)


class ActionEscalated(Event):
    """An approval request moved to the next person in the escalation chain."""

    TYPE = "action.escalated"
    STREAM = "actions"

    action_id: Short
    from_person: Short | None = None
    to_person: Short | None = None
    level: int = Field(ge=1)
    reason: Line


class ActionDecided(Event):
    """An approval request ended: approved, rejected, expired or cancelled, by whom and why."""

    TYPE = "action.decided"
    STREAM = "actions"

    action_id: Short
    decision: Decision
    decided_by: Short | None = None
    identity_source: Short | None = None
    reason: Line
    channel: Short
    plan_digest: Short


class ActionExecuted(Event):
    """A person reports they carried an approved action out in their own console."""

    TYPE = "action.executed"
    STREAM = "actions"

    action_id: Short
    executed_by: Short
    identity_source: Short | None = None
    note: Line | None = None


# --- reports ------------------------------------------------------------------------------------


class _Window(Event):
    window_start: UtcDatetime
    window_end: UtcDatetime
    timezone: Short = "UTC"
    tenant: Short | None = None
    """The organisation the report is about, when the SOC serves several (each gets its own);
    None for a single-tenant SOC's report and for the default tenant's."""


class OpenApproval(_Part):
    """An approval request still open at report time."""

    action_id: Short
    case_id: CaseId
    kind: ActionKind
    target: Short
    approver_role: Role
    age_s: float = Field(ge=0)


class NotableCase(_Part):
    """A case worth a line in a report."""

    case_id: CaseId
    title: Line
    status: Short
    sev: Sev | None = None


class ShiftSummary(_Window):
    """SOC Manager's summary of one shift window."""

    TYPE = "shift.summary"
    STREAM = "reports"

    alerts_received: int = Field(ge=0)
    counts_by_verdict: dict[Verdict, int] = Field(default_factory=dict)
    counts_by_sev: dict[Sev, int] = Field(default_factory=dict)
    escalations: int = Field(default=0, ge=0)
    cases_closed: int = Field(default=0, ge=0)
    mtta_s: float | None = Field(default=None, ge=0)
    mttr_s: float | None = Field(default=None, ge=0)
    open_approvals: Annotated[list[OpenApproval], Field(max_length=200)] = Field(default_factory=list)
    notable_cases: Annotated[list[NotableCase], Field(max_length=50)] = Field(default_factory=list)
    summary: Text = ""


class RuleStat(_Part):
    """How one rule/detector fared over a window."""

    rule: Short
    title: Line | None = None
    fired: int = Field(ge=0)
    closed_benign: int = Field(ge=0)
    escalated: int = Field(ge=0)
    benign_rate: float = Field(ge=0, le=1)
    suggestion: Line | None = None


class DetectionTuning(_Window):
    """Detection Engineer's noisy-rule report ("fired 47 times, 41 closed benign")."""

    TYPE = "detection.tuning"
    STREAM = "reports"

    rules: Annotated[list[RuleStat], Field(max_length=200)]
    summary: Text = ""


class HuntFinding(_Part):
    """One cross-case pattern worth a hunt."""

    kind: Literal["repeated_host", "shared_indicator", "no_follow_up", "campaign"]
    summary: Line
    case_ids: CaseIds = Field(default_factory=list)
    indicators: Annotated[list[Short], Field(max_length=100)] = Field(default_factory=list)
    hypothesis: Line | None = None


class HuntProposal(_Window):
    """Threat Hunter's cross-case patterns and hunt proposals."""

    TYPE = "hunt.proposal"
    STREAM = "reports"

    findings: Annotated[list[HuntFinding], Field(max_length=100)]
    summary: Text = ""


class CampaignDetected(Event):
    """Cases linked by shared strong infrastructure; ``campaign_id`` is stable as the cluster grows."""

    TYPE = "campaign.detected"
    STREAM = "reports"

    campaign_id: Short
    status: Literal["new", "grown"]
    tenant: Short | None = None
    case_ids: CaseIds
    indicators: Annotated[list[Short], Field(max_length=100)]
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    summary: Line = ""


# --- control ------------------------------------------------------------------------------------


class ControlPaused(Event):
    """Kill switch: a role (or ``proposals``, or ``all``) is paused."""

    TYPE = "control.paused"
    STREAM = "control"

    scope: Short
    by: Short
    reason: Line | None = None


class ControlResumed(Event):
    """Kill switch released."""

    TYPE = "control.resumed"
    STREAM = "control"

    scope: Short
    by: Short
    reason: Line | None = None
