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
