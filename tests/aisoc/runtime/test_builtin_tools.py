"""The kernel's own tool: ``case_lookup`` answers from memory's file of the case."""

from __future__ import annotations

import pytest

from aisoc import Bus
from aisoc.runtime.builtin_tools import case_lookup_tool
from aisoc.tools import ToolError
from tests.aisoc.memory import factory as f


def test_case_lookup_tells_the_latest_of_each_roles_output_and_the_closure() -> None:
    """Given a contained host relabeled later, when looked up, then alert, outputs, closure and the
    latest label are what memory's record points at."""
    bus = Bus()
    for e in f.contained("1", "WS-1") + [
        f.label("test:1", "benign", False),
        f.label("test:1", "true_positive", True, when=f.at(30)),
    ]:
        bus.publish(e)
    out = case_lookup_tool(bus).invoke({"case_id": "test:1"})
    assert out["alert"]["hosts"] == ["WS-1"] and out["sentinel"]["verdict"] == "malicious"
    assert out["tier2"]["decision"] == "escalate" and out["ir_lead"]["sev"] == "SEV-2"
    assert out["closed"] == {"disposition": "true_positive", "by": "human", "reason": "closed true_positive"}
    assert out["label"] == "true_positive" and out["events"][0] == "alert.received"


def test_case_lookup_of_an_unknown_case_is_a_tool_error() -> None:
    """Given nothing recorded, when looked up, then the tool error names the case."""
    with pytest.raises(ToolError, match="no case 'test:nope'"):
        case_lookup_tool(Bus()).invoke({"case_id": "test:nope"})


def test_a_role_cannot_look_up_another_tenants_case() -> None:
    """Given the same real alert received for tenants acme and globex, when Sentinel works globex's
    case and the model asks case_lookup for acme's case id (an id it could guess or be told by the
    alert's text), then the call is refused and nothing of acme's case reaches the trace; globex's
    own case, and a default-tenant deployment's cases, are still answered."""
    from aisoc import events
    from aisoc.runtime import RoleTeam
    from roles import Sentinel
    from tests.aisoc.runtime.test_loop import GOOD, real_alert
    from tests.support.fake_model import ScriptedChatModel, call

    base = real_alert().alert
    acme, globex = (base.model_copy(update={"tenant": t}) for t in ("acme", "globex"))
    received = {
        a.tenant: events.AlertReceived(alert=a, case_id=a.case_id, produced_by={"role": "ingest"})
        for a in (acme, globex)
    }
    bus = Bus()
    for e in received.values():
        bus.publish(e)
    bus.publish(
        events.CaseClosed(
            disposition="true_positive",
            reason="acme secret: the CFO's laptop",
            closed_by={"role": "human", "person": "alice"},
            case_id=acme.case_id,
            produced_by={"role": "human"},
        )
    )
    model = ScriptedChatModel(
        scripts={
            "sentinel": [
                call("case_lookup", {"case_id": acme.case_id}, 0),
                call("case_lookup", {"case_id": globex.case_id}, 1),
                GOOD,
            ]
        }
    )
    team = RoleTeam(model=model, tools=[], bus=bus, roles=[Sentinel])
    (verdict, *_) = team.run_role("sentinel", received["globex"])
    other, own = verdict.trace.tool_calls  # type: ignore[attr-defined]
    assert other.error is not None and "another tenant" in other.error
    assert "CFO" not in verdict.model_dump_json()
    assert own.error is None and globex.case_id in own.result
    plain = base.model_copy(update={"tenant": None})
    assert case_lookup_tool(Bus()).invoke  # no invocation bound: every case answers (CLI, tests)
    single = Bus()
    single.publish(events.AlertReceived(alert=plain, case_id=plain.case_id, produced_by={"role": "ingest"}))
    assert case_lookup_tool(single).invoke({"case_id": plain.case_id})["case_id"] == plain.case_id
