"""A model server that misbehaves, seen through the OpenAI-compatible path (two fake servers, real
alerts): a failed leg fails over; when no leg answers the alert waits and is retried later, never
dead-lettered for it; a request the server refuses on its merits asks a person; no call waits
unbounded."""

from __future__ import annotations

import email.utils
import json
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from aisoc import Bus, events, models
from aisoc.errors import ModelError
from aisoc.runtime import RoleTeam
from roles import Sentinel
from tests.aisoc.bus_contract_waiting import Clock
from tests.aisoc.runtime.test_loop import real_alert
from tests.support.fake_openai import FakeOpenAI, Reply, fake_openai


def _error(status: int, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status=status, headers=headers or {}, body=json.dumps({"error": {"message": f"{status}"}}).encode()
    )


def _spec(url: str, timeout: float = 5) -> str:
    return f"openai+{url}?mode=json&timeout={timeout:g}"


def _verdict(team: RoleTeam, n: int = 1) -> events.Event:
    (verdict,) = [e for e in team.run_role("sentinel", real_alert(n)) if e.type == "triage.verdict"]
    return verdict


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


SERVER_FAILURES = {
    "500": _error(500),
    "502": _error(502),
    "503": _error(503),
    "504": _error(504),
    "429": _error(429),
    "408": _error(408),
    "200, empty body": Reply(body=b""),
    "200, an HTML page": Reply(body=b"<html><body>Bad Gateway</body></html>"),
    "200, no choices field": Reply(body=b"{}"),
    "200, no choice": Reply(body=b'{"id": "x", "object": "chat.completion", "choices": []}'),
    "a body cut halfway": Reply(cut=40),
}


@pytest.mark.parametrize("reply", SERVER_FAILURES.values(), ids=SERVER_FAILURES.keys())
def test_a_primary_that_fails_hands_the_call_to_the_backup(reply: Reply) -> None:
    """Given a primary that answers an error status or a body that is no chat completion, when
    Sentinel triages a real alert, then the backup answers it and the trace names the backup."""
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.append(reply)
        model = models.from_spec(_spec(primary.url), backup=_spec(backup.url))
        verdict = _verdict(RoleTeam(model=model, bus=Bus(), roles=[Sentinel]))
        assert verdict.trace.legs == ["backup"] and verdict.produced_by.model_leg == "backup"
        assert len(backup.requests) == 1


@pytest.mark.parametrize(
    "reply", [SERVER_FAILURES["503"], SERVER_FAILURES["429"], SERVER_FAILURES["200, empty body"]]
)
def test_no_leg_answering_makes_the_alert_wait_until_one_answers(reply: Reply) -> None:
    """Given both legs answering 503, 429 or an empty 200 three times, the alert gets no review
    request in their place and no dead letter (max_deliveries=2): it waits, naming the server's
    failure, and is handled once a leg answers."""
    clock = Clock()
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.extend([reply] * 3)
        backup.script.extend([reply] * 3)
        bus = Bus(max_deliveries=2, clock=clock)
        model = models.from_spec(_spec(primary.url), backup=_spec(backup.url), cooldown_s=0)
        RoleTeam(model=model, bus=bus, roles=[Sentinel]).subscribe()
        bus.publish(real_alert(1))
        for _ in range(3):
            bus.drain()
            (waiting,) = bus.waiting("sentinel")
            assert "model unreachable" in waiting.reason and waiting.due is not None
            clock.now = waiting.due
        assert [e.type for e in bus.audit] == ["alert.received"]
        bus.drain()
        assert bus.dead_letters() == [] and bus.waiting("sentinel") == []
        assert [e.type for e in bus.audit] == ["alert.received", "triage.verdict"]
        assert len(primary.requests) == 4 and len(backup.requests) == 3


def test_a_request_the_server_refuses_on_its_merits_asks_a_person_at_once() -> None:
    """Given a 400 (the request itself is wrong: retrying it elsewhere cannot help), the backup is
    not asked and a person is asked to review, with the server's error as the reason."""
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.append(_error(400))
        model = models.from_spec(_spec(primary.url), backup=_spec(backup.url))
        (review,) = RoleTeam(model=model, bus=Bus(), roles=[Sentinel]).run_role("sentinel", real_alert(1))
        assert review.type == "case.review_requested" and "model error" in review.reason
        assert "400" in review.reason and not backup.requests


def _in_300_s() -> str:
    return email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=300), usegmt=True)


@pytest.mark.parametrize("after", [lambda: "300", _in_300_s], ids=["seconds", "an HTTP date"])
def test_retry_after_keeps_the_primary_out_for_as_long_as_it_asks(after: Callable[[], str]) -> None:
    """Given a primary answering 503 with Retry-After: 300 (or the date 300 s from now) and a
    cooldown of 30 s, the primary is skipped for about 300 s, not 30, and the backup serves."""
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.append(_error(503, {"Retry-After": after()}))
        model = models.from_spec(_spec(primary.url), backup=_spec(backup.url), cooldown_s=30)
        team = RoleTeam(model=model, bus=Bus(), roles=[Sentinel])
        _verdict(team, 1)
        assert isinstance(model, models.CooldownFailoverChatModel)
        assert model._state.down_until - time.monotonic() > 200
        _verdict(team, 2)
        assert len(primary.requests) == 1 and len(backup.requests) == 2


def test_a_dead_first_leg_and_a_live_second_leg_triage_every_alert() -> None:
    """Given a primary nobody listens on, every alert is triaged by the backup (one refused
    connection, then the cooldown skips the primary)."""
    with fake_openai() as backup:
        model = models.from_spec(_spec(_dead_url()), backup=_spec(backup.url))
        team = RoleTeam(model=model, bus=Bus(), roles=[Sentinel])
        legs = [_verdict(team, n).trace.legs for n in (1, 2, 3)]
        assert legs == [["backup"]] * 3 and len(backup.requests) == 3


def _hang(fake: FakeOpenAI) -> None:
    fake.script.append(Reply(hang_s=60))


def _drip(fake: FakeOpenAI) -> None:
    # About 60 s of body at one byte per 50 ms: each read succeeds well within the read timeout.
    fake.script.append(Reply(drip_s=0.05, content="x" * 1200))


@pytest.mark.parametrize("misbehave", [_hang, _drip], ids=["never answers", "answers a byte at a time"])
def test_every_call_is_bounded_by_the_specs_timeout_and_then_fails_over(misbehave) -> None:
    """Given a primary that never answers, or one that sends its answer a byte at a time (no read
    ever waits long enough for a read timeout), the call is given up after the spec's timeout and
    the backup answers."""
    with fake_openai() as primary, fake_openai() as backup:
        misbehave(primary)
        model = models.from_spec(_spec(primary.url, timeout=1), backup=_spec(backup.url))
        verdict = _verdict(RoleTeam(model=model, bus=Bus(), roles=[Sentinel]))
        assert verdict.trace.legs == ["backup"] and len(backup.requests) == 1


def test_a_response_larger_than_any_answer_is_cut_off_and_fails_over() -> None:
    """Given a primary that answers with a 20 MB body (a server streaming garbage at full speed
    would fill the worker's memory within its timeout), reading stops at 16 MiB, the leg has
    failed, and the backup answers."""
    with fake_openai() as primary, fake_openai() as backup:
        primary.script.append(Reply(content="x" * 20_000_000))
        model = models.from_spec(_spec(primary.url), backup=_spec(backup.url))
        verdict = _verdict(RoleTeam(model=model, bus=Bus(), roles=[Sentinel]))
        assert verdict.trace.legs == ["backup"] and len(backup.requests) == 1


def test_the_environments_proxy_still_carries_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given HTTP_PROXY naming a proxy (here the fake server, which answers any path) and a model
    server known only to that proxy, the call goes through the proxy, as the OpenAI client's own
    transport let it (the bounded transport must not drop the environment's proxy)."""
    with fake_openai() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.removesuffix("/v1"))
        monkeypatch.setenv("http_proxy", proxy.url.removesuffix("/v1"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        model = models.from_spec(_spec("http://model-server.invalid:8080/v1"))
        verdict = _verdict(RoleTeam(model=model, bus=Bus(), roles=[Sentinel]))
        assert verdict.type == "triage.verdict" and len(proxy.requests) == 1


@pytest.mark.parametrize("value", ["abc", "0", "-1", "inf", "nan"])
def test_a_timeout_that_bounds_nothing_is_refused_with_the_spec(value: str) -> None:
    """Given ``timeout`` that is no number, zero, negative, infinite or NaN (a call without a bound,
    or one that cannot start), the spec is refused naming it, not a ValueError from deep inside."""
    with pytest.raises(ModelError, match="timeout must be"):
        models.from_spec(f"openai+http://127.0.0.1:9/v1?mode=json&timeout={value}")
