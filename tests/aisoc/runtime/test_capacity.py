"""Capacity you can plan with: the role mix from the traces, seconds and alerts/day from measured speed."""

from __future__ import annotations

from typing import Any

import pytest

from aisoc import Bus, models
from aisoc.cli import main
from aisoc.models.reference import DEFAULT_MIX, Call, RoleLoad, Speed, role_mix
from aisoc.runtime import RoleTeam
from tests.aisoc.runtime.test_prompt_cache import _Three
from tests.support.fake_openai import fake_openai


def test_the_role_mix_counts_model_calls_and_tokens_per_alert_from_the_traces() -> None:
    """Given three real alerts through a server that reports usage, the mix has one Sentinel call per
    alert and each role's tokens per call as the traces recorded them."""
    with fake_openai() as fake:
        bus = Bus()
        RoleTeam(model=models.from_spec(f"openai+{fake.url}?mode=json"), bus=bus).consume(_Three())
        requests = len(fake.requests)
    mix = role_mix(bus.audit)
    assert mix["sentinel"].calls_per_alert == 1.0
    assert sum(r.calls_per_alert for r in mix.values()) * 3 == pytest.approx(requests)
    traces = [e.trace for e in bus.audit if e.type == "triage.verdict"]
    assert mix["sentinel"].evaluated_tokens == pytest.approx(sum(t.usage.input_tokens for t in traces) / 3)


def test_an_empty_log_has_no_mix() -> None:
    """No alert in the log: no mix (the command then uses the stand-in and says so)."""
    assert role_mix(Bus().audit) == {}


def test_seconds_and_alerts_per_day_follow_from_speed_and_mix() -> None:
    """1,000 tokens/s prompt and 10 tokens/s answers: a call of 500 + 50 tokens is 5.5 s."""
    speed = Speed(prompt_tps=1000, output_tps=10, reference=Call(2.0, 1000, 0, 20))
    mix: dict[str, Any] = {"sentinel": RoleLoad(1.0, 500, 50), "tier2": RoleLoad(0.5, 1000, 40)}
    assert speed.seconds_per_alert(mix) == pytest.approx(5.5 + 0.5 * 5.0)
    assert speed.alerts_per_day(mix) == pytest.approx(86400 / 8.0)
    assert speed.alerts_per_day(mix, concurrency=4) == pytest.approx(4 * 86400 / 8.0)
    assert speed.seconds_per_alert(DEFAULT_MIX) > 0


def test_bench_model_refuses_the_stub_with_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    """The canned model has no speed: the command says so instead of printing made-up figures."""
    assert main(["bench-model", "--bus", "memory://"]) == 2
    assert "stub model has no speed" in capsys.readouterr().err


def test_the_yardstick_call_is_decoded_token_by_token_and_the_setting_comes_back() -> None:
    """Given a model with jump-forward decoding on, when the uncached reference call is made, then
    the model answers it with jump-forward off (the yardstick measures the machine, not the
    decoder) and the setting is back on afterwards, also when the call fails."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.messages import AIMessage

    from aisoc.models.reference import uncached_call

    class Jumping(FakeListChatModel):
        jump_forward: bool = True
        seen: list[bool] = []

        def invoke(self, *args: Any, **kwargs: Any) -> AIMessage:
            self.seen.append(self.jump_forward)
            return AIMessage(
                content="{}", usage_metadata={"input_tokens": 1000, "output_tokens": 9, "total_tokens": 1009}
            )

    model = Jumping(responses=["{}"])
    call = uncached_call(model)
    assert model.seen == [False] and model.jump_forward is True
    assert call.prompt_tokens == 1000 and call.output_tokens == 9

    class Failing(Jumping):
        def invoke(self, *args: Any, **kwargs: Any) -> AIMessage:
            self.seen.append(self.jump_forward)
            raise RuntimeError("the model is down")

    failing = Failing(responses=["{}"])
    with pytest.raises(RuntimeError):
        uncached_call(failing)
    assert failing.seen == [False] and failing.jump_forward is True
