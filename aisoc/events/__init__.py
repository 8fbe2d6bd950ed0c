"""The event contract: envelope, alert, trace, every event type and the stream it lives on.

Example:
    >>> from aisoc import events
    >>> e = events.ControlPaused(scope="sentinel", by="alice", produced_by={"role": "human"})
    >>> events.from_dict(e.to_dict()) == e
    True
"""

from __future__ import annotations

from typing import Any

from aisoc.errors import ContractError
from aisoc.events._base import (
    CASE_ID_MAX,
    DUTY_TITLES,
    ROLE_TITLES,
    AnyRole,
    Blob,
    CaseId,
    Component,
    Event,
    Line,
    ProducedBy,
    Role,
    RoleSlug,
    Short,
    Text,
    UtcDatetime,
    alias,
    class_for,
    duty_title,
    event_types,
    from_dict,
    from_json,
    new_event_id,
    register,
    revalidate,
    role_title,
    upcaster,
    utcnow,
)
from aisoc.events.alert import (
    GENERIC_RAW_EXCLUDE,
    SEVERITY_NAMES,
    STRONG_TYPES,
    Alert,
    Indicator,
    IndicatorType,
)
from aisoc.events.attack import TechniqueId, Techniques, valid_techniques
from aisoc.events.bounds import fit, fitted
from aisoc.events.catalogue import (
    ActionDecided,
    ActionEscalated,
    ActionExecuted,
    ActionKind,
    ActionProposed,
    ActionReminded,
    AlertReceived,
    CampaignDetected,
    CaseClosed,
    ClosedBy,
    ControlPaused,
    ControlResumed,
    Decision,
    DetectionTuning,
    Disposition,
    HuntFinding,
    HuntProposal,
    IntelAttribution,
    IocRating,
    IrPlan,
    NotableCase,
    OpenApproval,
    Phase,
    PlanStep,
    Reputation,
    ReviewRequested,
    Risk,
    RuleStat,
    Sev,
    ShiftSummary,
    Tier2Decided,
    Tier2Decision,
    TriageVerdict,
    TruthLabeled,
    Verdict,
    plan_digest,
)
from aisoc.events.trace import (
    GuardrailCheck,
    LegFailure,
    ModelCall,
    PrecedentRef,
    SharedPart,
    TokenUsage,
    ToolCallRecord,
    Trace,
    TraceMessage,
    TracePart,
    alert_view_text,
    system_message_of,
    truncate,
)
from aisoc.tenants import case_id_for

WORK_STREAMS = ("alerts", "cases", "actions", "reports", "control")
"""Streams that consumer groups read (the audit stream mirrors all of them)."""
AUDIT_STREAM = "audit"
"""Every event, in publish order; never trimmed by default."""
DLQ_STREAM = "dlq"
"""Dead letters, each with its reason."""
STREAMS = (*WORK_STREAMS, AUDIT_STREAM, DLQ_STREAM)
"""Every stream the bus keeps."""


def stream_for(event_type: str) -> str:
    """Return the work stream an event type is routed to.

    Raises:
        ContractError: the type is unknown.
    """
    return class_for(event_type).STREAM


def types_in(stream: str) -> list[str]:
    """Return the event types routed to ``stream``, sorted."""
    return sorted(t for t, cls in event_types().items() if cls.STREAM == stream)


def json_schemas() -> dict[str, dict[str, Any]]:
    """Return the JSON Schema of every event type, keyed by type (for integrators)."""
    return {t: cls.model_json_schema() for t, cls in sorted(event_types().items())}


__all__ = [
    "AUDIT_STREAM",
    "CASE_ID_MAX",
    "DLQ_STREAM",
    "GENERIC_RAW_EXCLUDE",
    "DUTY_TITLES",
    "ROLE_TITLES",
    "SEVERITY_NAMES",
    "STREAMS",
    "STRONG_TYPES",
    "WORK_STREAMS",
    "ActionDecided",
    "AnyRole",
    "RoleSlug",
    "ActionEscalated",
    "ActionExecuted",
    "ActionKind",
    "ActionProposed",
    "ActionReminded",
    "Alert",
    "AlertReceived",
    "Blob",
    "CaseId",
    "CampaignDetected",
    "CaseClosed",
    "ClosedBy",
    "Component",
    "ContractError",
    "ControlPaused",
    "ControlResumed",
    "Decision",
    "DetectionTuning",
    "Disposition",
    "Event",
    "HuntFinding",
    "HuntProposal",
    "Indicator",
    "IndicatorType",
    "IntelAttribution",
    "IocRating",
    "IrPlan",
    "LegFailure",
    "Line",
    "fit",
    "fitted",
    "ModelCall",
    "NotableCase",
    "OpenApproval",
    "Phase",
    "PlanStep",
    "GuardrailCheck",
    "PrecedentRef",
    "ProducedBy",
    "Reputation",
    "ReviewRequested",
    "Risk",
    "Role",
    "RuleStat",
    "Sev",
    "Short",
    "ShiftSummary",
    "TechniqueId",
    "Techniques",
    "Text",
    "Tier2Decided",
    "Tier2Decision",
    "TokenUsage",
    "ToolCallRecord",
    "SharedPart",
    "system_message_of",
    "Trace",
    "TraceMessage",
    "TracePart",
    "TriageVerdict",
    "TruthLabeled",
    "UtcDatetime",
    "Verdict",
    "alert_view_text",
    "alias",
    "case_id_for",
    "valid_techniques",
    "class_for",
    "duty_title",
    "event_types",
    "from_dict",
    "from_json",
    "json_schemas",
    "new_event_id",
    "plan_digest",
    "register",
    "revalidate",
    "role_title",
    "stream_for",
    "truncate",
    "types_in",
    "upcaster",
    "utcnow",
]
