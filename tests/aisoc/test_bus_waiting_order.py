"""A case's waiting records in order when Redis gave two streams' entries the same id."""

from __future__ import annotations

from aisoc.bus.waiting import Waiting, heads


def _record(stream: str, attempts: int) -> Waiting:
    return Waiting(stream, "1700000000000-0", "wazuh:c1", 0.0, attempts, "r", 0.0)


def test_on_an_id_tie_across_streams_the_retried_record_is_the_case_s_head_in_either_order() -> None:
    """An alert (alerts stream, retried) and its verdict (cases stream, held behind it) added in the
    same millisecond have the same Redis id: the retried one is the head whatever order the records
    come back in (a hash's order is arbitrary), so the verdict never runs before its alert."""
    alert, verdict = _record("alerts", 1), _record("cases", 0)
    assert heads([alert, verdict])["wazuh:c1"] is alert
    assert heads([verdict, alert])["wazuh:c1"] is alert
    older = Waiting("cases", "1699999999999-5", "wazuh:c1", 0.0, 0, "r", 0.0)
    assert heads([alert, older])["wazuh:c1"] is older  # a smaller id is older, retried or not
