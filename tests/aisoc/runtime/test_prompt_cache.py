"""Reuse what does not change: stable system messages first, prompt-cache fields for servers."""

from __future__ import annotations

from typing import Any

import pytest

from aisoc import Bus, models
from aisoc.errors import ModelError
from aisoc.runtime import RoleTeam
from integrations.wazuh import WazuhFileSource
from tests.support.fake_openai import fake_openai

ALERTS = "data/wazuh/alerts.jsonl"


class _Three:
    """Three real Wazuh alerts that go the whole way with the canned answers (public indicators to rate)."""

    name = "wazuh"

    def poll(self) -> Any:
        alerts = list(WazuhFileSource(ALERTS).poll())
        yield from [
            a for a in alerts if a.severity >= 2 and any(not i.private for i in a.strong_indicators())
        ][:3]


def _system(body: dict[str, Any]) -> str:
    return str(body["messages"][0]["content"])


def _run(query: str) -> list[dict[str, Any]]:
    with fake_openai() as fake:
        team = RoleTeam(model=models.from_spec(f"openai+{fake.url}?mode=json&{query}"), bus=Bus())
        team.consume(_Three())
        return fake.requests


def test_each_role_sends_the_same_system_message_for_every_event_with_the_tag_only_in_the_data() -> None:
    """Given three alerts, when every role runs, then a role's system message is byte-identical on
    every request (a server can keep it evaluated) and the per-event tag appears only in the user
    message. Threat Intel settles without a call: in JSON mode the model cannot call tools."""
    sent = _run("slots=4")
    by_role: dict[str, set[str]] = {}
    for body in sent:
        by_role.setdefault(_system(body).split("/", 1)[0], set()).add(_system(body))
        user = str(body["messages"][1]["content"])
        tag = user[len("<<<DATA-") : user.index("\n")]
        assert user.startswith("<<<DATA-") and tag not in _system(body)
    assert set(by_role) == {"ROLE: sentinel", "ROLE: tier2", "ROLE: ir_lead"}
    assert all(len(texts) == 1 for texts in by_role.values())


def test_slots_pin_each_role_to_one_llama_cpp_slot_with_cache_prompt() -> None:
    """Given ``?slots=4``, every request asks for the prompt cache and each role that calls the
    model (three: Threat Intel settles in JSON mode) keeps a slot of its own."""
    sent = _run("slots=4")
    slots: dict[str, set[int]] = {}
    for body in sent:
        assert body["cache_prompt"] is True
        slots.setdefault(_system(body).split("/", 1)[0], set()).add(body["id_slot"])
    assert all(len(s) == 1 for s in slots.values())
    assert len(slots) == 3 and len({next(iter(s)) for s in slots.values()}) == 3


def test_cache_prompt_alone_leaves_the_slot_to_the_server_and_plain_specs_send_neither() -> None:
    """Given ``?cache_prompt=1``, requests ask for the cache without a slot; without options, neither
    field is sent (servers such as OpenAI's reject fields they do not know)."""
    assert all(b["cache_prompt"] is True and "id_slot" not in b for b in _run("cache_prompt=1"))
    assert all("cache_prompt" not in b and "id_slot" not in b for b in _run("model=local"))


@pytest.mark.parametrize("query", ["slots=-1", "slots=two"])
def test_a_bad_slot_count_is_a_clear_error(query: str) -> None:
    """A malformed slot count is refused when the spec is read, naming the spec."""
    with pytest.raises(ModelError, match="slots"):
        models.from_spec(f"openai+http://127.0.0.1:9/v1?{query}")
