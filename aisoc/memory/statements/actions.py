"""What the action events say: proposed (by whom, for whom to decide, by when), reminded, escalated,
decided and executed — each citing its event and naming the action."""

from __future__ import annotations

from aisoc.events import (
    ActionDecided,
    ActionEscalated,
    ActionExecuted,
    ActionProposed,
    ActionReminded,
    duty_title,
)
from aisoc.memory.statements.model import Said, clip, says, title


@says(ActionProposed)
def _proposed(e: ActionProposed, said: Said) -> None:
    said.reading.actions[e.action_id] = f"{e.kind.value} on {e.target}"
    sev = f", {e.sev.value}" if e.sev else ""
    person = said.reading.approver(e) if said.reading.approver is not None else None
    approver = title(e.approver_role)
    duty = duty_title(e.approver_role) + (f" ({person})" if person else "")
    deadline = f"{e.expires_at:%Y-%m-%d %H:%M}"
    said.say(
        "proposal",
        "proposed",
        f"proposed action {e.action_id}: {e.kind.value} on {e.target} ({e.phase.value}, risk "
        f"{e.risk.value}{sev}) because {clip(e.rationale, 300)}; {approver} to decide by {deadline}Z",
        brief=f"{e.kind.value} {e.target} awaits {duty} (expires {deadline[-5:]} UTC) {e.action_id}",
        detail=e.rationale,
        facts={
            "kind": e.kind.value,
            "target": e.target,
            "phase": e.phase.value,
            "risk": e.risk.value,
            "sev": e.sev.value if e.sev else None,
            "duty": e.approver_role.value,
            "asked": person,
            "expires_at": e.expires_at.isoformat(),
            "plan_digest": e.plan_digest,
        },
        action_id=e.action_id,
        cites=[e.plan_event_id],
    )


@says(ActionReminded)
def _reminded(e: ActionReminded, said: Said) -> None:
    said.person = e.person
    said.say(
        "reminder",
        "reminded",
        f"reminded {e.person or 'the approver'} about action {e.action_id} (#{e.reminder})",
        brief=f"{e.action_id}: reminder {e.reminder} to {e.person or 'nobody'}",
        facts={"asked": e.person, "reminder": e.reminder},
        action_id=e.action_id,
    )


@says(ActionEscalated)
def _escalated(e: ActionEscalated, said: Said) -> None:
    said.person = e.to_person
    said.say(
        "escalation",
        "escalated",
        f"moved approval of action {e.action_id} from {e.from_person or '?'} to {e.to_person or '?'} "
        f"(level {e.level}): {clip(e.reason, 200)}",
        brief=f"{e.action_id} escalated to {e.to_person or 'nobody'} (level {e.level})",
        detail=e.reason,
        facts={"from": e.from_person, "asked": e.to_person, "level": e.level},
        action_id=e.action_id,
    )


@says(ActionDecided)
def _decided(e: ActionDecided, said: Said) -> None:
    if e.decided_by:
        said.by_person(e.decided_by, e.channel)
    ident = f", identity from {e.identity_source}" if e.identity_source else ""
    what = said.reading.actions.get(e.action_id, "")
    said.say(
        "decision",
        e.decision.value,
        f"{e.decision.value} action {e.action_id}{' (' + what + ')' if what else ''} via "
        f"{e.channel}{ident}: {clip(e.reason, 300)}",
        brief=f"{e.action_id} {e.decision.value} by {e.decided_by or 'the gate'}",
        detail=e.reason,
        facts={
            "decision": e.decision.value,
            "decided_by": e.decided_by,
            "channel": e.channel,
            "identity_source": e.identity_source,
            "plan_digest": e.plan_digest,
        },
        action_id=e.action_id,
    )


@says(ActionExecuted)
def _executed(e: ActionExecuted, said: Said) -> None:
    said.by_person(e.executed_by)
    what = said.reading.actions.get(e.action_id, "")
    note = f": {clip(e.note, 300)}" if e.note else ""
    what = f" ({what})" if what else ""
    said.say(
        "execution",
        "carried out",
        f"reported carrying out action {e.action_id}{what}{note}",
        brief=f"{e.action_id} carried out by {e.executed_by}",
        detail=e.note,
        facts={"executed_by": e.executed_by, "identity_source": e.identity_source},
        action_id=e.action_id,
    )
