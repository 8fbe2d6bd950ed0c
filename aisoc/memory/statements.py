"""Turn a case's recorded events into statements, each citing the event it came from.

Only what was recorded is said: the role outputs and their traces (model leg, prompt version, tool
calls and results, the precedent shown) and the human decision events. Nothing is inferred.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from aisoc.events import (
    ROLE_TITLES,
    ActionDecided,
    ActionEscalated,
    ActionExecuted,
    ActionProposed,
    ActionReminded,
    AlertReceived,
    CaseClosed,
    Event,
    IntelAttribution,
    IrPlan,
    ReviewRequested,
    Role,
    Tier2Decided,
    Trace,
    TriageVerdict,
    TruthLabeled,
    role_title,
)

ARG_CHARS = 200
"""Characters of a tool call's arguments quoted in a statement."""
RESULT_CHARS = 300
"""Characters of a tool result quoted in a statement."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One recorded fact: who, what, when, and the id of the event it comes from."""

    event_id: str
    at: datetime
    case_id: str | None
    actor: str
    kind: str
    text: str
    action_id: str | None = None

    def render(self) -> str:
        """``2024-06-04 22:56:27Z IR Lead: ... [ev:ID]``."""
        return f"{self.at:%Y-%m-%d %H:%M:%S}Z {self.actor}: {self.text} [ev:{self.event_id}]"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _actor(event: Event) -> str:
    role = event.produced_by.role
    return role_title(str(role))


def _person(name: str | None, fallback: str = "someone") -> str:
    return f"Human {name}" if name else f"Human ({fallback})"


class _Builder:
    def __init__(self, event: Event, actor: str | None = None) -> None:
        self.event = event
        self.actor = actor or _actor(event)
        self.out: list[Statement] = []

    def say(self, kind: str, text: str, action_id: str | None = None) -> None:
        e = self.event
        self.out.append(Statement(e.event_id, e.occurred_at, e.case_id, self.actor, kind, text, action_id))

    def trace(self, trace: Trace | None) -> None:
        e = self.event
        if trace is None:
            pv = e.produced_by.prompt_version or "unknown"
            leg = e.produced_by.model_leg or "unknown"
            self.say("model", f"no trace was recorded (prompt version {pv}, model leg {leg})")
            return
        legs = ", ".join(trace.legs) or "none recorded"
        errors = sum(1 for c in trace.model_calls if c.error)
        extra = f", {errors} failed" if errors else ""
        self.say(
            "model",
            f"ran prompt {trace.prompt_version} on model leg {legs} "
            f"({len(trace.model_calls)} model call(s){extra})",
        )
        for c in trace.tool_calls:
            args = _clip(c.arguments, ARG_CHARS)
            if c.refused:
                self.say("tool", f"asked for tool {c.name}({args}); refused (not on its whitelist)")
            elif c.error:
                self.say("tool", f"called {c.name}({args}); it failed: {_clip(c.error, RESULT_CHARS)}")
            else:
                self.say("tool", f"called {c.name}({args}) and got: {_clip(c.result, RESULT_CHARS)}")
        if not trace.precedent:
            self.say("precedent", "was shown no precedent")
        for p in trace.precedent:
            shared = ", ".join(p.shared[:8]) or "no indicators"
            rule = "; same rule" if p.same_rule else ""
            ended = f"{p.verdict} by {p.decided_by}" if p.verdict else "undecided"
            self.say("precedent", f"was shown precedent case {p.case_id} ({ended}; shared {shared}{rule})")
        if trace.repairs:
            self.say("model", f"its answer needed {trace.repairs} repair(s) to match the schema")
        if trace.note:
            self.say("model", f"note: {_clip(trace.note, RESULT_CHARS)}")


def statements(events: Iterable[Event]) -> list[Statement]:
    """The statements of a case's events, in log order."""
    out: list[Statement] = []
    actions: dict[str, str] = {}
    for e in events:
        b = _Builder(e)
        if isinstance(e, AlertReceived):
            a = e.alert
            keys = ", ".join(i.key for i in a.indicators[:10])
            b.say(
                "alert",
                f"alert received: {_clip(a.title, 200)!r} (rule {a.rule or 'none'}, severity "
                f"{a.severity_name}, tenant {a.tenant or 'none'}, "
                f"created {a.created_at:%Y-%m-%d %H:%M:%S}Z); "
                f"hosts: {', '.join(a.hosts) or 'none'}; users: {', '.join(a.users) or 'none'}; "
                f"indicators: {keys or 'none'}",
            )
        elif isinstance(e, TriageVerdict):
            b.say(
                "verdict",
                f"judged it {e.verdict.value} (confidence {e.confidence:.2f}, priority {e.priority}) and "
                f"routed it to {e.routed_to}: {_clip(e.summary, 400)}",
            )
            b.trace(e.trace)
        elif isinstance(e, Tier2Decided):
            b.say(
                "verdict",
                f"decided to {e.decision.value} (confidence {e.confidence:.2f}): {_clip(e.summary, 400)}",
            )
            for f in e.findings:
                b.say("finding", f"finding: {_clip(f, 300)}")
            for ev in e.evidence:
                b.say("evidence", f"evidence: {_clip(ev, 300)}")
            b.trace(e.trace)
        elif isinstance(e, IrPlan):
            b.say("plan", f"set {e.sev.value} ({_clip(e.sev_rationale, 200)}); plan: {_clip(e.summary, 300)}")
            for s in e.steps:
                what = f" ({s.kind.value} on {s.target}, action {s.action_id})" if s.kind else ""
                b.say("step", f"{s.phase.value} step: {_clip(s.description, 200)}{what}", s.action_id)
            b.trace(e.trace)
        elif isinstance(e, IntelAttribution):
            who = f"attributed it to {e.actor}" if e.actor else "made no actor attribution"
            b.say("intel", f"{who} (confidence {e.confidence:.2f}): {_clip(e.summary, 300)}")
            for ev in e.actor_evidence:
                b.say("evidence", f"attribution evidence: {_clip(ev, 300)}")
            if e.techniques:
                b.say("intel", f"mapped ATT&CK techniques {', '.join(e.techniques[:20])}")
            for r in e.iocs[:20]:
                b.say(
                    "intel",
                    f"rated {r.type.value}:{r.value} {r.reputation.value} (source {r.source or 'n/a'})",
                )
            b.trace(e.trace)
        elif isinstance(e, ReviewRequested):
            b.actor = role_title(str(e.role))
            who = f" (assigned to {e.assignee})" if e.assignee else ""
            b.say("review", f"asked {ROLE_TITLES[e.duty]} to review{who}: {_clip(e.reason, 300)}")
            if e.trace is not None:
                b.trace(e.trace)
        elif isinstance(e, ActionProposed):
            actions[e.action_id] = f"{e.kind.value} on {e.target}"
            sev = f", {e.sev.value}" if e.sev else ""
            b.say(
                "proposal",
                f"proposed action {e.action_id}: {e.kind.value} on {e.target} ({e.phase.value}, risk "
                f"{e.risk.value}{sev}) because {_clip(e.rationale, 300)}; {ROLE_TITLES[e.approver_role]} "
                f"to decide by {e.expires_at:%Y-%m-%d %H:%M}Z",
                e.action_id,
            )
        elif isinstance(e, ActionReminded):
            b.say(
                "reminder",
                f"reminded {e.person or 'the approver'} about action {e.action_id} (#{e.reminder})",
                e.action_id,
            )
        elif isinstance(e, ActionEscalated):
            b.say(
                "escalation",
                f"moved approval of action {e.action_id} from {e.from_person or '?'} to {e.to_person or '?'} "
                f"(level {e.level}): {_clip(e.reason, 200)}",
                e.action_id,
            )
        elif isinstance(e, ActionDecided):
            b.actor = _person(e.decided_by, e.channel) if e.decided_by else _actor(e)
            ident = f", identity from {e.identity_source}" if e.identity_source else ""
            what = actions.get(e.action_id, "")
            b.say(
                "decision",
                f"{e.decision.value} action {e.action_id}{' (' + what + ')' if what else ''} via "
                f"{e.channel}{ident}: {_clip(e.reason, 300)}",
                e.action_id,
            )
        elif isinstance(e, ActionExecuted):
            b.actor = _person(e.executed_by)
            what = actions.get(e.action_id, "")
            note = f": {_clip(e.note, 300)}" if e.note else ""
            what = f" ({what})" if what else ""
            b.say("execution", f"reported carrying out action {e.action_id}{what}{note}", e.action_id)
        elif isinstance(e, CaseClosed):
            c = e.closed_by
            b.actor = _person(c.person) if c.role == Role.HUMAN else role_title(str(c.role))
            b.say("closure", f"closed the case as {e.disposition.value}: {_clip(e.reason, 300)}")
        elif isinstance(e, TruthLabeled):
            b.actor = _person(e.labeled_by)
            esc = "escalated" if e.escalated else "not escalated"
            note = f" ({_clip(e.note, 200)})" if e.note else ""
            b.say("label", f"labeled the case {e.label.value}, {esc}, source {e.source}{note}")
        out.extend(b.out)
    return out
