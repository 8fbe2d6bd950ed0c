"""The first answer outside the graph: the same decisions, transcripts and traces as the graph path.

``ToolLoop.direct`` asks for the model's first answer directly and enters LangGraph only when that
answer calls tools. These tests run the same work with both paths (event ids made deterministic)
and compare everything but wall-clock timings.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aisoc.events import _base
from aisoc.replay import ReplayResult
from aisoc.runtime.loop import ToolLoop
from aisoc.tools import ToolError, tool
from tests.aisoc.replay.support import GUIDE, WAZUH, run
from tests.aisoc.runtime.test_loop import GOOD, real_alert, team_with
from tests.support.fake_model import ScriptedChatModel, call

TIMINGS = {"occurred_at", "expires_at", "duration_ms", "ms"}
"""Fields read off the wall clock (they differ between any two runs)."""


def _event_ids(monkeypatch: pytest.MonkeyPatch, seed: int = 11) -> None:
    """Event ids (and so prompt nonces) from a seeded generator; LangGraph's own ids are untouched,
    so the graph path cannot shift the events' ids by drawing more of them."""
    rng = random.Random(seed)
    fake = SimpleNamespace(uuid4=lambda: uuid.UUID(int=rng.getrandbits(128), version=4))
    monkeypatch.setattr(_base, "uuid", fake)


def _untimed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list | tuple):
        return [_untimed(v) for v in value]
    return value


def _replay(
    monkeypatch: pytest.MonkeyPatch, direct: bool, path: Path, source: str, **kw: Any
) -> ReplayResult:
    monkeypatch.setattr(ToolLoop, "direct", direct)
    _event_ids(monkeypatch)
    return run(path, source, recall="on", **kw)


def _record(result: ReplayResult) -> tuple[list[Any], list[Any]]:
    tickets = [_untimed(dataclasses.asdict(t)) for arm in result.arms.values() for t in arm]
    log = [_untimed(e.model_dump(mode="json")) for e in result.buses["on"].audit]
    return tickets, log


@pytest.mark.parametrize(("path", "source", "limit"), [(WAZUH, "wazuh", None), (GUIDE, "guide", 300)])
def test_a_replay_decides_and_traces_the_same_on_both_paths(
    monkeypatch: pytest.MonkeyPatch, path: Path, source: str, limit: int | None
) -> None:
    """Given the same tickets replayed with recall on, once with every invocation in the graph and
    once with the direct first answer, then every ticket's outcome, every event and every trace
    (messages, model calls, precedent, guardrail, outputs) is the same, timings apart."""
    graph = _record(_replay(monkeypatch, False, path, source, limit=limit))
    direct = _record(_replay(monkeypatch, True, path, source, limit=limit))
    tickets, log = direct
    assert len(tickets) >= (89 if source == "wazuh" else 300)
    assert sum(1 for e in log if e.get("trace")) > len(tickets)  # every ticket has at least one role trace
    assert {t["cell"] for t in tickets} >= {"tp", "fp"}  # decisions of both kinds were compared
    assert direct == graph


def _tool_run(monkeypatch: pytest.MonkeyPatch, direct: bool, script: list[Any]) -> tuple[Any, list[Any]]:
    monkeypatch.setattr(ToolLoop, "direct", direct)
    _event_ids(monkeypatch)

    @tool(name="ioc_reputation")
    def rep(value: str) -> str:
        """Reputation."""
        if value == "bad":
            raise ToolError("feed says: unknown indicator")
        return '{"verdict": "known bad"}'

    model = ScriptedChatModel(scripts={"sentinel": list(script)})
    out = team_with(model, tools=[rep]).run_role("sentinel", real_alert())
    prompts = [[(m.type, m.content) for m in messages] for _, messages in model.calls]
    return [_untimed(e.model_dump(mode="json")) for e in out], prompts


@pytest.mark.parametrize(
    "script",
    [
        [GOOD],
        [{**GOOD, "confidence": "high"}, GOOD],
        [call("ioc_reputation", {"value": "1.2.3.4"}), call("ioc_reputation", {"value": "bad"}, 1), GOOD],
        [call("falcon_contain_host", {"host": "WS-1"}), GOOD],
        [call("ioc_reputation", {"value": "1.2.3.4"})],
    ],
    ids=["answer", "repair", "two-tool-calls", "refused-tool", "budget-exhausted"],
)
def test_a_role_call_is_the_same_on_both_paths(monkeypatch: pytest.MonkeyPatch, script: list[Any]) -> None:
    """Given a scripted model that answers, repairs, calls tools, calls a tool it may not use or never
    stops calling tools, then both paths emit the same events with the same traces, and the model
    was sent the same messages in the same order."""
    graph = _tool_run(monkeypatch, False, script)
    direct = _tool_run(monkeypatch, True, script)
    events, prompts = direct
    assert events and prompts
    assert direct == graph


def test_an_answer_without_tools_never_enters_the_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a model that answers at once, the graph is not invoked; given one that calls a tool, it is."""
    entered: list[int] = []
    original = ToolLoop.run

    def spy(self: ToolLoop, messages: Any, timeout_s: float, narrowed: Any = None, case: Any = None) -> Any:
        graph = self.graph
        self.graph = SimpleNamespace(invoke=lambda *a, **k: entered.append(1) or graph.invoke(*a, **k))  # type: ignore[assignment]
        try:
            return original(self, messages, timeout_s, narrowed, case)
        finally:
            self.graph = graph

    monkeypatch.setattr(ToolLoop, "run", spy)
    _tool_run(monkeypatch, True, [GOOD])
    assert entered == []
    _tool_run(monkeypatch, True, [call("ioc_reputation", {"value": "1.2.3.4"}), GOOD])
    assert entered == [1]
