"""A failover in the trace, not only in the log (two fake servers, real alerts): the call the backup
answered records the primary's failure (leg, error class, HTTP status, milliseconds), bounded and
without the server's error text, and explain tells it."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage

from aisoc import Bus, events, models
from aisoc.events import LegFailure
from aisoc.memory import Memory
from aisoc.runtime import RoleTeam
from roles import Sentinel
from tests.aisoc.runtime.test_loop import GOOD, real_alert
from tests.aisoc.runtime.test_model_server import SERVER_FAILURES, _dead_url, _spec, _verdict
from tests.support.fake_model import ScriptedChatModel
from tests.support.fake_openai import Reply, fake_openai

SECRET_BODY = json.dumps({"error": {"message": "overloaded; key sk-live-0123456789 prompt: ROLE: sentinel"}})

FAILURES = {
    "503": (Reply(status=503, body=SECRET_BODY.encode()), "Error", 503),
    "429": (SERVER_FAILURES["429"], "RateLimit", 429),
    "200, empty body": (SERVER_FAILURES["200, empty body"], "BadResponse", None),
    "a body cut halfway": (SERVER_FAILURES["a body cut halfway"], "Connection", None),
}


@pytest.mark.parametrize(("reply", "error", "status"), FAILURES.values(), ids=FAILURES.keys())
def test_the_backups_answer_records_how_the_primary_failed(
    reply: Reply, error: str, status: int | None
) -> None:
    """Given a primary that answers 503, 429, an empty 200 or half a body, the verdict's one model
    call is the backup's, with the primary's failure beside it: leg, error class, status, time; the
    server's error text (a key, an echoed prompt) is not in the event."""
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.append(reply)
        model = models.from_spec(_spec(primary.url), backup=_spec(backup.url))
        verdict = _verdict(RoleTeam(model=model, bus=Bus(), roles=[Sentinel]))
    (call,) = verdict.trace.model_calls
    (failed,) = call.failed_legs
    assert call.leg == "backup" and call.error is None
    assert failed.leg == "primary" and error in failed.error and failed.status == status
    assert 0 <= failed.duration_ms <= call.duration_ms
    assert "sk-live" not in verdict.to_json() and "overloaded" not in verdict.to_json()
    assert events.from_dict(verdict.to_dict()) == verdict  # stored and read back whole


def test_a_primary_that_never_answers_is_recorded_with_the_time_it_cost() -> None:
    """Given a primary that never answers and a 1 s timeout, the failure is a timeout that took at
    least the timeout (the time the alert waited before the backup was asked)."""
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.append(Reply(hang_s=60))
        model = models.from_spec(_spec(primary.url, timeout=1), backup=_spec(backup.url))
        verdict = _verdict(RoleTeam(model=model, bus=Bus(), roles=[Sentinel]))
    (failed,) = verdict.trace.model_calls[0].failed_legs
    assert "Timeout" in failed.error and failed.status is None and failed.duration_ms >= 1000


def test_a_primary_skipped_for_its_cooldown_is_no_failure_of_the_next_call() -> None:
    """Given a dead primary, the first alert's call records its failure; the next alert, served by
    the backup while the primary sits out its cooldown, records none (the primary was not tried),
    and an answering primary records none either."""
    with fake_openai() as backup:
        model = models.from_spec(_spec(_dead_url()), backup=_spec(backup.url))
        team = RoleTeam(model=model, bus=Bus(), roles=[Sentinel])
        first, second = _verdict(team, 1), _verdict(team, 2)
    assert [f.leg for f in first.trace.model_calls[0].failed_legs] == ["primary"]
    assert "Connection" in first.trace.model_calls[0].failed_legs[0].error
    assert second.trace.legs == ["backup"] and second.trace.model_calls[0].failed_legs == []
    with fake_openai() as primary, fake_openai() as backup:
        model = models.from_spec(_spec(primary.url), backup=_spec(backup.url))
        served = _verdict(RoleTeam(model=model, bus=Bus(), roles=[Sentinel]))
    assert served.trace.legs == ["primary"] and served.trace.model_calls[0].failed_legs == []


def test_a_trace_recorded_before_failed_legs_existed_still_loads() -> None:
    """Given a stored verdict whose model calls have no ``failed_legs`` (an older trace), it decodes
    at the same schema version, with no failed legs, and is otherwise unchanged."""
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.append(SERVER_FAILURES["503"])
        model = models.from_spec(_spec(primary.url), backup=_spec(backup.url))
        verdict = _verdict(RoleTeam(model=model, bus=Bus(), roles=[Sentinel]))
    stored = verdict.to_dict()
    for call in stored["trace"]["model_calls"]:
        del call["failed_legs"]
    old = events.from_dict(stored)
    assert old.schema_version == verdict.schema_version
    assert old.trace.model_calls[0].failed_legs == []
    assert old.trace.model_dump(exclude={"model_calls"}) == verdict.trace.model_dump(exclude={"model_calls"})


def test_explain_tells_that_the_primary_failed_and_the_backup_answered() -> None:
    """Given a primary answering 503 while the team triages from the bus, explaining the case says
    which leg failed, how, and which answered ("why did it..." sees the failover)."""
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.append(SERVER_FAILURES["503"])
        bus = Bus()
        model = models.from_spec(_spec(primary.url), backup=_spec(backup.url))
        RoleTeam(model=model, bus=bus, roles=[Sentinel]).subscribe()
        alert = real_alert(1)
        bus.publish(alert)
        bus.drain()
    assert alert.case_id is not None
    said = [s for s in Memory(bus.audit).explain(alert.case_id).statements if s.verb == "failed over"]
    (statement,) = said
    assert "model leg primary failed a call" in statement.text and "HTTP 503" in statement.text
    assert "leg backup answered it" in statement.text and statement.facts["status"] == 503


def test_failed_legs_the_trace_cannot_hold_never_cost_the_answer() -> None:
    """Given a model whose answer carries failure records that are no records, or more than a call
    can have, the answer stands: the malformed ones are left out and at most four are kept."""
    good = {"leg": "primary", "error": "OpenAIAPIError", "status": 503, "duration_ms": 5.0}
    junk = [None, "503", {"leg": "primary"}, {**good, "status": 42}, {**good, "duration_ms": -1}]
    answer = AIMessage(
        content=json.dumps(GOOD),
        response_metadata={"aisoc_leg": "backup", "aisoc_failed_legs": [*junk[:4], good, good, good, good]},
    )
    team = RoleTeam(model=ScriptedChatModel(scripts={"sentinel": [answer]}), bus=Bus(), roles=[Sentinel])
    verdict = _verdict(team)
    assert verdict.trace.model_calls[0].failed_legs == []  # the first four held no record
    answer.response_metadata["aisoc_failed_legs"] = [junk[4], *[good] * 6]
    team = RoleTeam(model=ScriptedChatModel(scripts={"sentinel": [answer]}), bus=Bus(), roles=[Sentinel])
    assert _verdict(team).trace.model_calls[0].failed_legs == [LegFailure(**good)] * 3
