"""Secrets never reach a log, a trace or an event: every vendor tool against fakes that echo credentials.

The fakes answer like careless vendors: every reply sets a session cookie and echoes the request's
headers (API keys, bearer tokens, Zscaler's JSESSIONID cookie) back. A Tier 2 allowed every tool calls each
of them, one of them fails unexpectedly, and then all captured logs (every logger, DEBUG and up), the
traces and every published event are searched for the secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from aisoc import Bus, events
from aisoc.runtime import RoleTeam
from aisoc.tools import tool
from integrations.tools import TOOL_NAMES, configured_tools
from roles import Sentinel, Tier2
from tests.aisoc.runtime.test_loop import real_alert
from tests.integrations.fakes import (
    ECHO_SESSION,
    Seen,
    echoing,
    falcon_app,
    serve,
    tanium_app,
    zia_app,
)
from tests.integrations.test_tools import EICAR_MD5, ENDPOINTS, REPORT, all_vendors, no_sdk_pause
from tests.integrations.vendor_data import falcon_alerts, falcon_devices
from tests.support.fake_model import ScriptedChatModel, call

__all__ = ["no_sdk_pause"]

SECRETS = (
    "falcon-secret-value",
    "falcon-token",
    "tanium-token-value",
    "zia-password-value",
    "0123456789abcdef0123",
    ECHO_SESSION,
    "fake-session-id",
    "hunter2-db-password",
)
ROUTE = {"verdict": "suspicious", "confidence": 0.9, "priority": 8, "summary": "looks like lateral movement"}
T2_ESCALATE = {"decision": "escalate", "confidence": 0.9, "summary": "confirmed"}
CALLS = [
    ("falcon_host_details", {"host": "WS-1"}),
    ("falcon_host_alerts", {"host": "WS-1", "days": 1}),
    ("falcon_ioc_lookup", {"value": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}),
    ("tanium_question", {"host": "WS-1", "sensors": ["Running Processes"]}),
    ("zscaler_url_lookup", {"urls": ["evil-site.com"]}),
    ("zscaler_sandbox_report", {"md5": EICAR_MD5}),
    ("broken_lookup", {"host": "WS-1"}),
]


class EveryToolTier2(Tier2):
    """Tier 2 allowed every vendor tool (and a broken one), so one case exercises them all."""

    tools = (*TOOL_NAMES, "broken_lookup")


@tool()
def broken_lookup(host: str) -> dict[str, str]:
    """A lookup whose client library fails and quotes the request it failed on."""
    raise RuntimeError(
        f"GET https://svc:hunter2-db-password@10.0.0.5/hosts/{host} failed; "
        f"headers={{'Cookie': 'JSESSIONID={ECHO_SESSION}'}}"
    )


@pytest.fixture()
def vendors() -> Iterator[list[str]]:
    """The three vendor fakes, echoing, on local ports."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(serve(echoing(app)))
            for app in (
                falcon_app(falcon_alerts(), falcon_devices(), Seen()),
                tanium_app(ENDPOINTS, Seen()),
                zia_app(Seen(), {EICAR_MD5: REPORT}, session_id=ECHO_SESSION),
            )
        ]


def test_no_secret_reaches_a_log_a_trace_or_an_event(
    vendors: list[str], no_sdk_pause: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Given every vendor tool behind an echoing fake and a tool that fails quoting credentials, when Tier 2
    calls them all, then no secret appears in any log record, trace or event, and the calls did happen."""
    falcon, tanium, zia = vendors
    settings = all_vendors()
    settings.falcon.base_url, settings.tanium.url, settings.zscaler.override_url = falcon, tanium, zia
    tools = [*configured_tools(settings), broken_lookup]
    model = ScriptedChatModel(
        scripts={
            "sentinel": [ROUTE],
            "tier2": [*(call(name, args, n) for n, (name, args) in enumerate(CALLS)), T2_ESCALATE],
        }
    )
    team = RoleTeam(model=model, tools=tools, bus=Bus(), roles=[Sentinel, EveryToolTier2])
    team.subscribe()
    alert = real_alert(3)
    with caplog.at_level(logging.DEBUG):
        team.bus.publish(alert)
        team.bus.drain()
    decision = next(e for e in team.bus.audit if isinstance(e, events.Tier2Decided))
    called = {c.name: c for c in decision.trace.tool_calls}
    assert set(called) == {name for name, _ in CALLS}
    assert all(called[name].error is None for name, _ in CALLS[:-1]), [c.error for c in called.values()]
    assert "tool failed: RuntimeError" in (called["broken_lookup"].error or "")
    logged = "\n".join(caplog.text.splitlines() + [r.getMessage() for r in caplog.records])
    assert "JSESSIONID" in logged  # the Zscaler SDK did log its session: redacted, not silenced
    stored = "\n".join(e.to_json() for e in team.bus.audit)
    for secret in SECRETS:
        assert secret not in logged, secret
        assert secret not in stored, secret
