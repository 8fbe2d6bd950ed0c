"""Call the model only when it has something to decide: settled answers are traced, validated and guarded."""

from __future__ import annotations

from typing import Any

from aisoc import Bus, events, models
from aisoc.runtime import Invocation, RoleContext, RoleTeam, Settled
from integrations.wazuh import WazuhFileSource
from roles import STANDARD_TEAM, Sentinel
from roles.threat_intel import MAX_TECHNIQUES
from tests.aisoc.runtime.test_loop import DATA
from tests.support.fake_openai import fake_openai
from tests.support.sources import ListSource


def _alerts() -> list[events.Alert]:
    return [a for a in WazuhFileSource(DATA / "wazuh/alerts.jsonl").poll() if isinstance(a, events.Alert)]


def _run(alert: events.Alert, roles: Any = STANDARD_TEAM, spec: str = "stub") -> tuple[Bus, list[Invocation]]:
    seen: list[Invocation] = []
    bus = Bus()
    RoleTeam(model=models.from_spec(spec), bus=bus, roles=roles, observer=seen.append).consume(
        ListSource([alert])
    )
    return bus, seen


def _run_with_tools(alert: events.Alert) -> tuple[Bus, list[Invocation]]:
    """The team on a model that can call tools: the fake OpenAI-compatible server, in tools mode."""
    with fake_openai() as fake:
        return _run(alert, spec=f"openai+{fake.url}")


def test_threat_intel_without_indicator_or_actor_evidence_records_its_rule_instead_of_a_model_call() -> None:
    """Given a real brute-force alert whose only indicator is a private address, when it reaches Threat
    Intel on a model that can call tools, then no model is called and the attribution's trace says
    why; the detection's technique stays."""
    alert = next(
        a
        for a in _alerts()
        if a.techniques and a.indicators and all(i.private for i in a.strong_indicators()) and a.severity >= 2
    )
    bus, seen = _run_with_tools(alert)
    (intel,) = [e for e in bus.audit if isinstance(e, events.IntelAttribution)]
    (ti,) = [i for i in seen if i.role == "threat_intel"]
    assert ti.model_calls == 0 and ti.input_tokens == 0
    assert (
        intel.trace is not None
        and intel.trace.settled == "no indicator to rate and no actor evidence in the case"
    )
    assert intel.trace.model_calls == [] and intel.trace.validated_output is not None
    assert intel.techniques == list(alert.techniques) and intel.actor is None and intel.iocs == []
    assert intel.produced_by.model_leg is None
    assert all(i.model_calls == 1 for i in seen if i.role != "threat_intel")


def test_threat_intel_asks_the_model_when_there_is_an_indicator_to_rate() -> None:
    """Given a real alert with public file hashes and a model that can call tools, Threat Intel's
    model is called and nothing is settled."""
    alert = next(
        a for a in _alerts() if a.severity >= 2 and any(not i.private for i in a.strong_indicators())
    )
    bus, seen = _run_with_tools(alert)
    intel = [e for e in bus.audit if isinstance(e, events.IntelAttribution)]
    assert intel and intel[0].trace is not None and intel[0].trace.settled is None
    assert [i.model_calls for i in seen if i.role == "threat_intel"] == [1]


def test_threat_intel_on_a_model_without_tools_rates_every_indicator_unknown_without_a_call() -> None:
    """Given a real alert with public file hashes and a model that cannot call tools (the canned
    model, like the bundled small one), when the case reaches Threat Intel, then no model is called:
    every public indicator is rated unknown ("no lookup"), no actor, the detection's techniques
    kept, and the trace says why."""
    alert = next(
        a
        for a in _alerts()
        if a.severity >= 2 and a.techniques and any(not i.private for i in a.strong_indicators())
    )
    bus, seen = _run(alert)
    (intel,) = [e for e in bus.audit if isinstance(e, events.IntelAttribution)]
    assert [i.model_calls for i in seen if i.role == "threat_intel"] == [0]
    assert intel.trace is not None and intel.trace.settled is not None
    assert intel.trace.settled.startswith("the model cannot call tools")
    public = [i.value for i in alert.strong_indicators() if not i.private]
    assert [i.value for i in intel.iocs] == public and {i.reputation for i in intel.iocs} == {"unknown"}
    assert intel.actor is None and intel.techniques == list(alert.techniques)


def test_threat_intel_asks_even_a_model_without_tools_when_the_source_names_an_actor() -> None:
    """Given a real alert to which its source added an actor indicator, when it reaches Threat
    Intel on a model without tools, then the model is asked: the source's own claim is something
    to judge."""
    alert = next(
        a for a in _alerts() if a.severity >= 2 and any(not i.private for i in a.strong_indicators())
    )
    named = alert.model_copy(
        update={
            "indicators": [*alert.indicators, events.Indicator(type=events.IndicatorType.ACTOR, value="FIN7")]
        }
    )
    bus, seen = _run(named)
    assert [i.model_calls for i in seen if i.role == "threat_intel"] == [1]


class _SureToClose(Sentinel):
    """A Sentinel whose rule closes every alert, at a confidence below the guardrail's bar."""

    def settle(self, ctx: RoleContext) -> Settled | None:
        answer = {"verdict": "benign", "confidence": 0.3, "priority": 1, "summary": "looks routine"}
        return Settled(answer=answer, reason="test rule")


class _Broken(Sentinel):
    """A Sentinel whose rule answers out of schema."""

    def settle(self, ctx: RoleContext) -> Settled | None:
        return Settled(answer={"verdict": "evil"}, reason="broken rule")


def test_the_guardrail_still_overrules_a_settled_close() -> None:
    """Given a role whose rule closes at confidence 0.3, the guardrail refuses the close: Tier 2 gets it."""
    bus, _ = _run(_alerts()[1], roles=[_SureToClose])
    (verdict,) = [e for e in bus.audit if isinstance(e, events.TriageVerdict)]
    assert not [e for e in bus.audit if isinstance(e, events.CaseClosed)]
    assert verdict.routed_to == "tier2" and verdict.trace is not None
    assert verdict.trace.settled == "test rule" and verdict.trace.guardrail is not None
    assert verdict.trace.guardrail.overruled == "low_confidence"


def test_a_settled_answer_out_of_schema_asks_a_person_instead_of_being_lost() -> None:
    """Given a rule that answers out of schema, the case ends in a review request naming the error."""
    bus, _ = _run(_alerts()[1], roles=[_Broken])
    (review,) = [e for e in bus.audit if isinstance(e, events.ReviewRequested)]
    assert "the role's own answer is invalid" in review.reason and "verdict" in review.reason


def test_a_settled_attribution_keeps_at_most_its_answer_s_bounds_on_a_real_incident() -> None:
    """Given the real GUIDE incident that maps to more ATT&CK techniques (61) than an answer may name
    (50), when Threat Intel settles it, then the settled answer validates (it failed before: every
    technique was carried over) and keeps the first 50, no error, no review request."""
    from integrations.guide import GuideEvidenceSource

    alert = next(
        a
        for a in GuideEvidenceSource(str(DATA / "guide/evidence.csv")).poll()
        if isinstance(a, events.Alert) and len(a.techniques) > MAX_TECHNIQUES
    )
    bus, seen = _run(alert)
    (intel,) = [e for e in bus.audit if isinstance(e, events.IntelAttribution)]
    assert intel.techniques == list(alert.techniques)[:MAX_TECHNIQUES]
    assert not [e for e in bus.audit if e.type == "case.review_requested"]
    assert [i.failure for i in seen if i.role == "threat_intel"] == [None]
