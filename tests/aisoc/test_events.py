"""The event contract: registry, round trips, errors that name the field, upcasting, model_view."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from aisoc import events
from aisoc.errors import ContractError
from aisoc.events import Event

CATALOGUE = {
    "alerts": {"alert.received"},
    "cases": {
        "triage.verdict",
        "tier2.decision",
        "ir.plan",
        "intel.attribution",
        "case.review_requested",
        "case.closed",
        "truth.labeled",
    },
    "actions": {
        "action.proposed",
        "action.reminded",
        "action.escalated",
        "action.decided",
        "action.executed",
    },
    "reports": {"shift.summary", "detection.tuning", "hunt.proposal", "campaign.detected"},
    "control": {"control.paused", "control.resumed"},
}
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BY = {"role": "ir_lead", "model_leg": "primary", "prompt_version": "ir_lead/3"}


def sample(event_type: str) -> dict[str, Any]:
    """A valid payload of each type (beyond the envelope)."""
    alert = {
        "source": "wazuh",
        "source_id": "a1",
        "title": "t",
        "severity": 3,
        "created_at": "2026-03-01T12:00:00Z",
        "raw": {"x": [1, {"y": None}]},
    }
    step = {
        "phase": "containment",
        "description": "isolate",
        "kind": "isolate_host",
        "target": "WS-1",
        "action_id": "act-1",
    }
    trace = {
        "role": "ir_lead",
        "prompt_version": "ir_lead/3",
        "model_calls": [{"leg": "primary", "duration_ms": 3.5}],
        "tool_calls": [{"name": "case_lookup", "arguments": {"case_id": "c"}, "result": "{}"}],
        "precedent": [{"case_id": "wazuh:0", "shared": ["ip:1.2.3.4"]}],
    }
    window = {"window_start": "2026-03-01T06:00:00Z", "window_end": "2026-03-01T14:00:00Z"}
    return {
        "alert.received": {"alert": alert},
        "triage.verdict": {
            "verdict": "malicious",
            "confidence": 0.8,
            "priority": 8,
            "summary": "s",
            "routed_to": "tier2",
            "trace": trace,
        },
        "tier2.decision": {
            "decision": "escalate",
            "confidence": 0.7,
            "summary": "s",
            "findings": ["f"],
            "evidence": ["e"],
        },
        "ir.plan": {
            "sev": "SEV-2",
            "sev_rationale": "r",
            "summary": "s",
            "steps": [step],
            "notifications": ["CISO"],
            "plan_digest": "d",
            "trace": trace,
        },
        "intel.attribution": {
            "actor": "FIN7",
            "actor_evidence": ["e"],
            "techniques": ["T1059.001"],
            "confidence": 0.5,
            "summary": "s",
            "iocs": [{"type": "ip", "value": "1.2.3.4", "reputation": "malicious"}],
        },
        "case.review_requested": {"role": "tier2", "reason": "budget exhausted"},
        "case.closed": {
            "disposition": "benign",
            "reason": "r",
            "closed_by": {"role": "human", "person": "alice"},
        },
        "truth.labeled": {
            "label": "true_positive",
            "escalated": True,
            "labeled_by": "alice",
            "source": "wazuh",
        },
        "action.proposed": {
            "action_id": "act-1",
            "kind": "isolate_host",
            "target": "WS-1",
            "phase": "containment",
            "rationale": "r",
            "approver_role": "ir_lead",
            "expires_at": "2026-03-01T13:00:00Z",
            "plan_event_id": "p",
            "plan_digest": "d",
        },
        "action.reminded": {"action_id": "act-1", "person": "bob", "reminder": 1},
        "action.escalated": {
            "action_id": "act-1",
            "to_person": "carol",
            "level": 1,
            "reason": "no answer",
        },
        "action.decided": {
            "action_id": "act-1",
            "decision": "approved",
            "decided_by": "bob",
            "identity_source": "sso",
            "reason": "r",
            "channel": "gate",
            "plan_digest": "d",
        },
        "action.executed": {"action_id": "act-1", "executed_by": "bob", "note": "done"},
        "shift.summary": {
            **window,
            "alerts_received": 4,
            "counts_by_verdict": {"benign": 3},
            "counts_by_sev": {"SEV-2": 1},
            "mtta_s": 12.5,
        },
        "detection.tuning": {
            **window,
            "rules": [
                {
                    "rule": "5710",
                    "fired": 47,
                    "closed_benign": 41,
                    "escalated": 2,
                    "benign_rate": 0.87,
                }
            ],
        },
        "hunt.proposal": {
            **window,
            "findings": [{"kind": "repeated_host", "summary": "s", "case_ids": ["wazuh:1"]}],
        },
        "campaign.detected": {
            "campaign_id": "camp-1",
            "status": "new",
            "case_ids": ["a:1"],
            "indicators": ["ip:1.2.3.4"],
            "first_seen": "2026-03-01T12:00:00Z",
            "last_seen": "2026-03-01T12:00:00Z",
        },
        "control.paused": {"scope": "sentinel", "by": "alice"},
        "control.resumed": {"scope": "sentinel", "by": "alice"},
    }[event_type]


def build(event_type: str, **envelope: Any) -> Event:
    cls = events.class_for(event_type)
    return cls.model_validate(
        {
            "produced_by": BY,
            "case_id": "wazuh:a1",
            "occurred_at": T0,
            **sample(event_type),
            **envelope,
        }
    )


def test_registry_holds_exactly_the_catalogue_on_its_streams() -> None:
    """Every catalogue type is registered and routed to the stream the Contracts name."""
    for stream, types in CATALOGUE.items():
        assert {t for t in events.types_in(stream) if not t.startswith("test.")} == types
        for t in types:
            assert events.stream_for(t) == stream


@pytest.mark.parametrize("event_type", sorted(set().union(*CATALOGUE.values())))
def test_every_type_round_trips_exactly(event_type: str) -> None:
    """from_dict(to_dict(e)) == e, and to_dict of that is identical (JSON too)."""
    e = build(event_type)
    d = e.to_dict()
    assert events.from_dict(d) == e and events.from_dict(d).to_dict() == d
    assert events.from_json(e.to_json(), event_type) == e
    assert json.loads(json.dumps(d)) == d
    assert e.type == event_type and e.schema_version == 1


def test_events_are_frozen() -> None:
    """Events cannot be mutated after construction."""
    e = build("control.paused")
    with pytest.raises(Exception, match="frozen"):
        e.scope = "all"  # type: ignore[misc]


def test_times_are_normalized_to_utc_and_naive_times_are_refused() -> None:
    """A +02:00 time is stored as UTC; a naive datetime is a contract error."""
    e = build("control.paused", occurred_at=datetime(2026, 3, 1, 14, tzinfo=timezone(timedelta(hours=2))))
    assert e.occurred_at == T0 and e.occurred_at.tzinfo == UTC
    with pytest.raises(ContractError, match="occurred_at"):
        events.from_dict({**e.to_dict(), "occurred_at": "2026-03-01T12:00:00"})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("produced_by"), "field 'produced_by'"),
        (lambda d: d.update(priority=11), "field 'priority'"),
        (lambda d: d.update(confidence="high"), "field 'confidence'"),
        (lambda d: d.update(verdict="evil"), "field 'verdict'"),
        (lambda d: d.update(extra="x"), "field 'extra'"),
        (lambda d: d.update(type="no.such"), "unknown event type 'no.such'"),
        (lambda d: d.update(schema_version=9), "newer than this code"),
        (lambda d: d["trace"].update(role=None), "field 'trace.role'"),
    ],
)
def test_malformed_input_raises_contract_error_naming_the_field(mutate: Any, message: str) -> None:
    """Each kind of bad payload is refused with a message that names the field."""
    d = build("triage.verdict").to_dict()
    mutate(d)
    with pytest.raises(ContractError, match=message.replace("(", r"\(").replace(")", r"\)")):
        events.from_dict(d)


def test_non_json_and_non_object_payloads_are_contract_errors() -> None:
    """Garbage is refused with a clear message, never a stack trace from deep inside."""
    with pytest.raises(ContractError, match="not valid JSON"):
        events.from_json("{nope")
    with pytest.raises(ContractError, match="must be an object"):
        events.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ContractError, match="field 'type'"):
        events.from_dict({"x": 1})


def test_bounded_fields_refuse_unbounded_input() -> None:
    """Strings and lists have bounds: a 10,000-character reason is refused."""
    d = build("case.review_requested").to_dict()
    d["reason"] = "x" * 10_000
    with pytest.raises(ContractError, match="field 'reason'"):
        events.from_dict(d)


class _NoteV2(Event):
    """A test-only type at version 2: v1 had ``text``, v2 splits it into ``title`` and ``body``."""

    TYPE = "test.note"
    STREAM = "reports"
    SCHEMA_VERSION: ClassVar[int] = 2

    title: str
    body: str


@events.upcaster("test.note", from_version=1)
def _note_v1_to_v2(d: dict[str, Any]) -> dict[str, Any]:
    title, _, body = d.pop("text").partition("\n")
    return {**d, "title": title, "body": body}


def test_upcaster_decodes_a_v1_payload_into_v2() -> None:
    """A stored v1 payload decodes as the current v2 event through the registered upcaster."""
    v1 = {
        "type": "test.note",
        "schema_version": 1,
        "event_id": "e1",
        "produced_by": BY,
        "occurred_at": "2026-03-01T12:00:00Z",
        "text": "Title\nBody text",
    }
    e = events.from_dict(v1)
    assert isinstance(e, _NoteV2) and e.schema_version == 2
    assert (e.title, e.body) == ("Title", "Body text")
    assert events.from_json(json.dumps(v1), "test.note") == e
    assert events.from_dict(e.to_dict()) == e


def test_renamed_types_keep_decoding_through_an_alias() -> None:
    """A payload of an old type name decodes as the new type."""
    events.alias("test.memo", "test.note")
    d = {**_NoteV2(title="a", body="b", produced_by=BY).to_dict(), "type": "test.memo"}
    assert isinstance(events.from_dict(d), _NoteV2)


def test_json_schema_covers_every_type() -> None:
    """json_schemas() documents every registered type for integrators."""
    schemas = events.json_schemas()
    assert set().union(*CATALOGUE.values()) <= set(schemas)
    assert "verdict" in schemas["triage.verdict"]["properties"]


# --- alert ------------------------------------------------------------------------------------


def test_case_id_is_derived_from_source_and_source_id() -> None:
    """The same alert seen twice is the same case."""
    a = events.Alert.model_validate(sample("alert.received")["alert"])
    b = events.Alert.model_validate({**sample("alert.received")["alert"], "title": "updated"})
    assert a.case_id == b.case_id == "wazuh:a1" == events.case_id_for("wazuh", "a1")


def test_model_view_leaves_out_labels_envelopes_and_declared_fields() -> None:
    """model_view() drops generic label/export keys and the source's raw_exclude paths,
    including inside lists; the alert itself keeps its raw record intact."""
    raw = {
        "label": "TP",
        "_version": 1,
        "_index": "wazuh-x",
        "keep": 1,
        "alert": {"_version": 3, "_source": {"rule": {"id": "5710"}}},
        "rows": [
            {"IncidentGrade": "TruePositive", "AlertId": 1},
            {"IncidentGrade": "TruePositive", "AlertId": 2},
        ],
        "closeNotes": "analyst says benign",
    }
    a = events.Alert(
        source="x",
        source_id="1",
        title="t",
        severity=1,
        created_at=T0,
        raw=raw,
        raw_exclude=["alert._version", "rows.IncidentGrade", "closeNotes"],
    )
    view = a.model_view()
    text = json.dumps(view)
    for leaked in ("TP", "_version", "wazuh-x", "TruePositive", "analyst says"):
        assert leaked not in text
    assert view["raw"]["keep"] == 1 and view["raw"]["rows"] == [{"AlertId": 1}, {"AlertId": 2}]
    assert "raw_exclude" not in view
    assert a.raw == raw  # the verbatim record is never lost


@given(
    st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=20), max_size=8),
    st.sampled_from(["TP", "FP"]),
)
@settings(max_examples=50)
def test_model_view_does_not_depend_on_the_label(raw: dict[str, Any], label: str) -> None:
    """Two alerts differing only in their label have byte-identical model views."""
    base = {"source": "x", "source_id": "1", "title": "t", "severity": 1, "created_at": T0}
    a = events.Alert(**base, raw={**raw, "label": label})
    b = events.Alert(**base, raw={**raw, "label": "other"})
    assert json.dumps(a.model_view(), sort_keys=True) == json.dumps(b.model_view(), sort_keys=True)


@pytest.mark.parametrize(
    ("field", "value"),
    [("source", "Wazuh:x"), ("severity", 5), ("techniques", ["T59"]), ("source_id", "")],
)
def test_alert_validation_names_the_bad_field(field: str, value: Any) -> None:
    """An alert with a bad source slug, severity, technique id or empty id is refused."""
    payload = {
        **sample("alert.received"),
        "alert": {**sample("alert.received")["alert"], field: value},
    }
    with pytest.raises(ContractError, match=f"field 'alert.{field}"):
        events.from_dict({"type": "alert.received", "produced_by": {"role": "ingest"}, **payload})


def test_plan_digest_changes_when_the_plan_changes() -> None:
    """The digest binds approvals to the exact plan: any change to a step changes it."""
    step = events.PlanStep(phase="containment", description="isolate", kind="isolate_host", target="WS-1")
    other = step.model_copy(update={"target": "WS-2"})
    assert events.plan_digest("SEV-2", [step]) == events.plan_digest("SEV-2", [step])
    assert events.plan_digest("SEV-2", [step]) != events.plan_digest("SEV-2", [other])
    assert events.plan_digest("SEV-2", [step]) != events.plan_digest("SEV-1", [step])


def test_model_view_does_not_reveal_that_an_excluded_field_existed() -> None:
    """When the excluded field was its parent's only member, the parent goes too: a record with the
    field and one without it have the same view."""
    base = {
        "source": "xsoar",
        "source_id": "1",
        "title": "t",
        "severity": 1,
        "created_at": T0,
        "raw_exclude": ["CustomFields.escalated"],
    }
    flagged = events.Alert(**base, raw={"id": 1, "CustomFields": {"escalated": True}})
    plain = events.Alert(**base, raw={"id": 1})
    empty = events.Alert(**base, raw={"id": 1, "CustomFields": {}})
    assert flagged.model_view() == plain.model_view() == empty.model_view()
    assert flagged.raw["CustomFields"] == {"escalated": True}


def test_producers_fit_text_and_lists_to_the_bounds_fields_declare() -> None:
    """Given overlong text, lists and nested parts, when a producer fits them, then each is cut to its
    field's declared bound (no more), the event validates, and decoding the same overlong payload is
    still refused."""
    long = "x" * 9000
    plan = events.fitted(
        events.IrPlan,
        case_id="case-1",
        sev="SEV-2",
        sev_rationale=long,
        summary=long,
        steps=[{"phase": "containment", "description": long, "target": "h" * 300}],
        notifications=[long] * 3,
        plan_digest="d",
        produced_by={"role": "ir_lead"},
    )
    assert (len(plan.sev_rationale), len(plan.summary)) == (1024, 8000)
    assert [len(n) for n in plan.notifications] == [1024, 1024, 1024]
    step = plan.steps[0]
    assert (len(step.description), len(step.target or "")) == (1024, 256)
    closed = events.fitted(
        events.CaseClosed,
        case_id="case-1",
        disposition="benign",
        reason=long,
        closed_by={"role": "human", "person": long},
        produced_by={"role": "human"},
    )
    assert (len(closed.reason), len(closed.closed_by.person or "")) == (1024, 256)
    assert events.fit(events.CaseClosed, reason="short", other=long) == {"reason": "short", "other": long}
    with pytest.raises(ContractError, match="reason"):
        events.from_dict({**closed.to_dict(), "reason": long})
    with pytest.raises(ValidationError):  # what breaks a pattern is refused, not cut
        events.fitted(events.CaseClosed, case_id="c" * 400, disposition="benign", reason="r", produced_by={})
