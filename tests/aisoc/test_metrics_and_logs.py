"""Prometheus metrics and structured logs carrying case id, event id and role."""

from __future__ import annotations

import io
import json
import logging

from prometheus_client import generate_latest

from aisoc import Bus, events, models
from aisoc.cli._common import configure_logging
from aisoc.metrics import registry_for
from aisoc.runtime import RoleTeam
from integrations.samples import demo_source


def test_worker_metrics_count_invocations_latency_tools_tokens_and_legs() -> None:
    """The team's observer feeds per-role counters and histograms; the bus collector reports lag,
    pending and dead letters; the approval collector reports pending approvals."""
    bus = Bus()
    registry, roles = registry_for(bus, approvals=True)
    team = RoleTeam(model=models.from_spec("stub"), bus=bus, observer=roles.observe)
    team.consume(demo_source())

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert b"aisoc_role_latency_seconds_bucket" in generate_latest(registry)
    triaged = sum(1 for e in bus.audit if e.type == "triage.verdict")
    assert sample("aisoc_events_handled_total", role="sentinel", outcome="decided") == triaged
    assert sample("aisoc_role_latency_seconds_count", role="sentinel") == triaged
    assert sample("aisoc_model_leg_invocations_total", role="sentinel", leg="stub") == triaged
    assert sample("aisoc_dead_letters") == 0 and sample("aisoc_bus_up") == 1
    assert sample("aisoc_group_pending", stream="alerts", group="sentinel") == 0
    proposed = sum(1 for e in bus.audit if e.type == "action.proposed")
    assert sample("aisoc_approvals_pending") == proposed > 0


def test_json_logs_carry_case_event_and_role() -> None:
    """With JSON logs on, a line logged while a role handles an event names the role, the event and
    the case."""
    stream = io.StringIO()
    configure_logging("INFO", json_lines=True)
    handler = logging.getLogger().handlers[0]
    handler.stream = stream  # type: ignore[attr-defined]
    bus = Bus(max_deliveries=1)
    bus.publish(
        events.AlertReceived(
            alert=next(iter(demo_source().poll())),  # type: ignore[arg-type]
            case_id="wazuh:gEcv1pcBxOat6Tbb37uH",
            produced_by={"role": "ingest"},
        )
    )
    team = RoleTeam(model=models.from_spec("stub"), bus=bus)
    team.subscribe()
    logging.getLogger("aisoc.test").setLevel(logging.INFO)
    from aisoc.logcontext import bind

    with bind(role="sentinel", case_id="wazuh:x", event_id="e1"):
        logging.getLogger("aisoc.test").info("deciding")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert (line["role"], line["case_id"], line["event_id"], line["message"]) == (
        "sentinel",
        "wazuh:x",
        "e1",
        "deciding",
    )
    configure_logging("WARNING")


def test_routine_library_chatter_stays_out_of_an_info_log() -> None:
    """Given a process logging at INFO (the default of long-running ones), when ingest scans a real
    alert for indicators and the scheduler's jobs tick, then none of the libraries' routine INFO
    lines are written, while their warnings and the SOC's own INFO lines are."""
    from ioc_finder import find_iocs

    stream = io.StringIO()
    configure_logging("INFO", json_lines=True)
    logging.getLogger().handlers[0].stream = stream  # type: ignore[attr-defined]
    try:
        find_iocs("beacon to 203.0.113.7 from host Win11Client")  # logs two INFO lines per call
        logging.getLogger("apscheduler.executors.default").info('Job "beat" executed successfully')
        logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
        logging.getLogger("aisoc.test").info("ingested 1 alert")
    finally:
        configure_logging("WARNING")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["logger"], x["level"]) for x in lines] == [
        ("apscheduler.scheduler", "WARNING"),
        ("aisoc.test", "INFO"),
    ]


def test_the_gate_serves_approval_metrics() -> None:
    """The gate's web app exposes /metrics: approvals pending and the bus's backlog."""
    from gate import create_app
    from gate.demo import demo_gate, demo_settings

    bus = Bus()
    gate = demo_gate(bus)
    team = RoleTeam(model=models.from_spec("stub"), bus=bus)
    team.on_action_proposed(gate=gate)
    team.consume(demo_source())
    client = create_app(demo_settings(), gate=gate).test_client()
    text = client.get("/metrics").get_data(as_text=True)
    proposed = sum(1 for e in bus.audit if e.type == "action.proposed")
    assert f"aisoc_approvals_pending {float(proposed)}" in text and "aisoc_group_pending" in text
