"""XSOAR and CrowdStrike alert sources: normalization, truth, live polling against local fakes, replay
files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from falconpy import Alerts, Hosts

from aisoc.bus import Bus
from aisoc.events import Alert, Disposition
from aisoc.sources import CursorStore, Rejected, ingest, open_source
from integrations import crowdstrike, xsoar
from integrations.errors import IntegrationError, ReadOnlyViolation, SourceError
from integrations.falcon import FalconClient
from integrations.settings import IntegrationsSettings
from tests.integrations.fakes import Seen, falcon_app, serve, xsoar_app
from tests.integrations.vendor_data import falcon_alerts, falcon_devices, xsoar_incidents

NOW = datetime(2025, 5, 1, 0, 0, tzinfo=UTC)
FAST = {"retries": 2, "backoff_s": 0.0, "timeout_s": 5}


def xsoar_settings(url: str, **extra: object) -> IntegrationsSettings:
    return IntegrationsSettings(http=FAST, xsoar={"url": url, "api_key": "xsoar-key-value", **extra})


def test_xsoar_incident_maps_severity_labels_and_custom_fields() -> None:
    """Given an open phishing incident, when normalized, then severity, time, host, user, technique and the
    indicators of its labels, CustomFields, details and rawJSON come out."""
    alert = xsoar.normalize(xsoar_incidents()[0])
    assert (alert.case_id, alert.severity, alert.severity_original) == ("xsoar:101", 3, "high (3)")
    assert alert.created_at == datetime(2025, 5, 1, 9, 58, tzinfo=UTC)
    assert (alert.hosts, alert.users, alert.techniques, alert.rule) == (
        ["WS-9"],
        ["alice"],
        ["T1566.002"],
        "Phishing",
    )
    assert {i.value for i in alert.indicators} >= {
        "https://login-microsoft.evil-site.com/auth",
        "evil-site.com" if False else "login-microsoft.evil-site.com",
        "attacker@evil-mail.com",
        "185.220.101.4",
        "45.83.64.1",
    }


def test_xsoar_disposition_is_truth_and_never_in_the_model_view() -> None:
    """Given closed incidents, when normalized, then close reason, notes, version and escalation flag are out
    of the model view (and their IPs are not indicators) while the truth follows the configured reasons."""
    incidents = xsoar_incidents()
    fp, escalated, duplicate = incidents[1], incidents[2], incidents[3]
    alert = xsoar.normalize(fp)
    view = json.dumps(alert.model_view())
    assert "False Positive" not in view and "198.51.100.77" not in view and '"version"' not in view
    assert alert.severity == 0 and alert.created_at == datetime(2025, 5, 1, 11, 0, tzinfo=UTC)
    assert "escalated" not in json.dumps(xsoar.normalize(escalated).model_view())
    t = xsoar.truth_of(fp)
    assert t is not None and (t.escalated, t.label, t.field) == (
        False,
        Disposition.FALSE_POSITIVE,
        "closeReason",
    )
    t = xsoar.truth_of(escalated)
    assert t is not None and t.escalated and t.field == "CustomFields.escalated" and t.note == "handed to IR"
    assert xsoar.truth_of(duplicate) is None and xsoar.truth_of(incidents[0]) is None


def test_xsoar_export_replays_with_truth_and_rejects_bad_incidents(tmp_path: Path) -> None:
    """Given a recorded search response, when replayed, then four incidents come out with truth and the one
    with an impossible severity is rejected with the incident kept."""
    path = tmp_path / "xsoar.json"
    path.write_text(json.dumps({"total": 5, "data": xsoar_incidents()}))
    pairs = list(open_source("xsoar", str(path), settings=IntegrationsSettings()).records())
    rejected = [a for a, _ in pairs if isinstance(a, Rejected)]
    assert len(pairs) == 5 and len(rejected) == 1
    assert "severity 7" in rejected[0].reason and json.loads(rejected[0].payload)["id"] == "105"
    assert [t.label if t else None for a, t in pairs if isinstance(a, Alert)] == [
        None,
        Disposition.FALSE_POSITIVE,
        Disposition.TRUE_POSITIVE,
        None,
    ]


def test_an_export_that_is_not_utf8_is_rejected_by_the_line_or_refused_by_name(tmp_path: Path) -> None:
    """Given an XSOAR export as JSON Lines with one incident written in Latin-1, when replayed, then that
    line is rejected with its bytes shown and the others come out; the same bytes in a JSON document
    refuse the file with the byte's position instead of a traceback."""
    incidents = xsoar_incidents()[:3]
    lines = [json.dumps(i).encode() for i in incidents]
    lines[1] = json.dumps({**incidents[1], "name": "caf\u00e9"}, ensure_ascii=False).encode("latin-1")
    path = tmp_path / "xsoar.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    pairs = list(open_source("xsoar", str(path), settings=IntegrationsSettings()).records())
    rejected = [a for a, _ in pairs if isinstance(a, Rejected)]
    assert [a.case_id for a, _ in pairs if isinstance(a, Alert)] == ["xsoar:101", "xsoar:103"]
    assert [r.reason for r in rejected] == ["record 2: not UTF-8 text: invalid continuation byte"]
    assert "caf\\xe9" in rejected[0].payload
    whole = tmp_path / "xsoar.json"
    whole.write_bytes(json.dumps({"data": [{"name": "caf\u00e9"}]}, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(SourceError, match="not UTF-8 text .* at byte"):
        list(open_source("xsoar", str(whole), settings=IntegrationsSettings()).records())


def test_xsoar_live_poll_follows_a_persisted_cursor(tmp_path: Path) -> None:
    """Given the XSOAR API (fake, answering 503 once), when polled, then open incidents since the lookback
    come out; after a restart with the saved cursor, only the new incident is published."""
    incidents = xsoar_incidents()
    seen = Seen()
    with serve(xsoar_app(incidents, seen, fail_first=1)) as url:
        source = open_source("xsoar", None, settings=xsoar_settings(url), now=lambda: NOW)
        bus, store = Bus(), CursorStore(tmp_path / "cursors.json")
        stats = ingest(source, bus)
        store.set(source.cursor_key, source.cursor)
        assert stats.case_ids == ["xsoar:101"] and stats.rejected == 1  # 105 is open but unreadable
        body = seen.requests[-1][3]["filter"]
        assert body["status"] == [0, 1] and body["fromDate"] == "2025-04-30T00:00:00+00:00"
        assert body["sort"] == [{"field": "created", "asc": True}]
        incidents.append({**incidents[0], "id": "106", "created": "2025-05-03T00:00:00Z"})
        restarted = open_source("xsoar", None, settings=xsoar_settings(url))
        restarted.restore(CursorStore(tmp_path / "cursors.json").get(restarted.cursor_key))
        again = ingest(restarted, bus)
    assert again.case_ids == ["xsoar:106"] and again.rejected == 0  # 105 sat on the saved boundary
    assert seen.paths().count("POST /incidents/search") == 3  # a 503 retried, then one search per poll


def test_xsoar8_base_path_and_key_id_header() -> None:
    """Given XSOAR 8 settings (API under /xsoar/public/v1, key id), when polled, then the prefixed path
    works."""
    seen = Seen()
    with serve(xsoar_app(xsoar_incidents(), seen, prefix="/xsoar/public/v1")) as url:
        settings = xsoar_settings(f"{url}/xsoar/public/v1", api_key_id="42", statuses=["active"])
        stats = ingest(open_source("xsoar", None, settings=settings, now=lambda: NOW), Bus())
    assert stats.case_ids == ["xsoar:101"] and seen.paths() == ["POST /xsoar/public/v1/incidents/search"]


def test_xsoar_refuses_writes_and_hides_its_key() -> None:
    """Given the live source, when asked to close an incident or given a wrong key, then the write is refused
    before it leaves and the auth error does not print the key."""
    seen = Seen()
    with serve(xsoar_app(xsoar_incidents(), seen, api_key="another-key-entirely")) as url:
        source = xsoar.XsoarApiSource(xsoar_settings(url).xsoar, xsoar_settings(url).http)
        with pytest.raises(ReadOnlyViolation, match="POST /incident/close"):
            source.client.post("/incident/close", json={"id": "101"})
        with pytest.raises(IntegrationError, match="answered 401") as err:
            list(source.poll())
    assert "xsoar-key-value" not in str(err.value)
    assert seen.paths() == ["POST /incidents/search"]


def test_xsoar_unconfigured_is_a_clear_error() -> None:
    """Given no XSOAR settings, when the live source is opened, then the error names the settings to set."""
    with pytest.raises(SourceError, match=r"\[integrations.xsoar\] url and api_key"):
        open_source("xsoar", None, settings=IntegrationsSettings())


def test_falcon_alert_maps_process_tree_hashes_and_ioc_context() -> None:
    """Given a Falcon alert entity, when normalized, then device, user, hashes, process lineage, cmdline URL,
    ioc_context, technique and severity band come out."""
    alert = crowdstrike.normalize(falcon_alerts()[0])
    assert (alert.case_id, alert.severity, alert.severity_original) == (
        "0123456789abcdef0123456789abcdef/crowdstrike:0123:ind:77d11725:1",
        3,
        "85 (High)",
    )
    assert (alert.hosts, alert.users, alert.techniques) == (["WS-1"], ["CORP\\alice"], ["T1059.001"])
    got = {(i.type.value, i.value) for i in alert.indicators}
    assert got >= {
        ("device_id", "77d11725aaaabbbbccccddddeeeeffff"),
        ("ip", "203.0.113.10"),
        ("sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
        ("md5", "098f6bcd4621d373cade4e832627b4f6"),
        ("process", "winword.exe"),
        ("process", "explorer.exe"),
        ("url", "http://203.0.113.66/stage.ps1"),
        ("ip", "203.0.113.66"),
        ("domain", "stage.evil-cdn.net"),
    }
    assert alert.created_at == datetime(2025, 6, 1, 10, 0, tzinfo=UTC)


def test_falcon_resolution_is_truth_and_hidden() -> None:
    """Given closed Falcon alerts, when normalized, then the resolution or tag is the truth, and status, tags,
    comments and assignee are out of the model view (the comment's IP is not an indicator)."""
    tp, fp = falcon_alerts()[1], falcon_alerts()[2]
    view = json.dumps(crowdstrike.normalize(tp).model_view())
    assert "true_positive" not in view and "198.51.100.99" not in view and "Alice Analyst" not in view
    assert crowdstrike.truth_of(tp).label is Disposition.TRUE_POSITIVE
    assert crowdstrike.truth_of(fp).field == "tags" and not crowdstrike.truth_of(fp).escalated
    assert crowdstrike.truth_of(falcon_alerts()[0]) is None
    assert crowdstrike.normalize(fp).techniques == []  # T9999 is not in the ATT&CK catalogue


def falcon_settings(url: str) -> IntegrationsSettings:
    return IntegrationsSettings(
        http=FAST, falcon={"client_id": "cid", "client_secret": "falcon-secret-value", "base_url": url}
    )


def test_falcon_live_poll_queries_ids_then_entities() -> None:
    """Given the Falcon API (fake, rate-limiting once), when polled through falconpy, then the alerts since
    the lookback come out oldest first via Alerts v2 query + entities; a second poll reads nothing twice."""
    seen = Seen()
    with serve(falcon_app(falcon_alerts(), falcon_devices(), seen, fail_first=1)) as url:
        source = open_source("crowdstrike", None, settings=falcon_settings(url), now=lambda: NOW)
        bus = Bus()
        stats = ingest(source, bus)
        again = ingest(source, bus)
        source.close()
    assert [c.split(":")[-1] for c in stats.case_ids] == ["1", "2", "3"]
    assert source.cursor == "2025-06-02T09:00:00+00:00|0123:ind:77d11725:3"
    assert (again.published, again.duplicates, again.rejected) == (0, 0, 0)
    assert seen.paths()[:4] == [
        "POST /oauth2/token",
        "GET /alerts/queries/alerts/v2",
        "GET /alerts/queries/alerts/v2",
        "POST /alerts/entities/alerts/v2",
    ]
    assert seen.requests[1][2]["filter"] == ["created_timestamp:>='2025-04-30T00:00:00Z'"]


def test_falcon_containment_and_alert_updates_are_refused_before_sending() -> None:
    """Given the read-only Falcon client, when falconpy is asked to contain a host or close an alert, then
    both are refused in the HTTP layer and the fake never sees them."""
    seen = Seen()
    with serve(falcon_app(falcon_alerts(), falcon_devices(), seen)) as url:
        client = FalconClient(falcon_settings(url).falcon, falcon_settings(url).http)
        contain = Hosts(auth_object=client.auth).perform_action(
            action_name="contain", ids=["77d11725aaaabbbbccccddddeeeeffff"]
        )
        update = Alerts(auth_object=client.auth).update_alerts_v3(composite_ids=["x"], update_status="closed")
    assert contain["status_code"] == 500 and "not on the read-only allowlist" in str(contain["body"])
    assert update["status_code"] == 500
    assert [str(e) for e in client.session.refused] == [
        "falcon: POST /devices/entities/devices-actions/v2 is not on the read-only allowlist: "
        "refused, nothing sent",
        "falcon: PATCH /alerts/entities/alerts/v3 is not on the read-only allowlist: refused, nothing sent",
    ]
    assert not [p for p in seen.paths() if "devices-actions" in p or "PATCH" in p]


def test_falcon_export_replays_with_truth(tmp_path: Path) -> None:
    """Given a recorded entities response with one broken alert, when replayed, then the truth follows the
    resolutions and the broken alert is rejected."""
    path = tmp_path / "falcon.json"
    path.write_text(json.dumps({"resources": [*falcon_alerts(), {"composite_id": "x"}]}))
    pairs = list(open_source("crowdstrike", str(path)).records())
    assert [t.label if t else None for a, t in pairs if isinstance(a, Alert)] == [
        None,
        Disposition.TRUE_POSITIVE,
        Disposition.FALSE_POSITIVE,
    ]
    assert "neither timestamp nor created_timestamp" in pairs[-1][0].reason


def test_falcon_unconfigured_is_a_clear_error() -> None:
    """Given no Falcon credentials, when the live source is opened, then the error names the settings."""
    with pytest.raises(SourceError, match="client_id and client_secret"):
        open_source("crowdstrike", None, settings=IntegrationsSettings())


@pytest.mark.parametrize("missing", [None, "", "   ", {"nested": 1}, True])
def test_an_incident_or_falcon_alert_without_a_usable_id_is_refused_not_filed_as_none(
    missing: object,
) -> None:
    """Given an XSOAR incident and a Falcon alert whose id is null, empty, blank, an object or a bool,
    when normalized, then each is refused with the field's name (before, every such record became case
    'xsoar:None' or 'crowdstrike:None' and all but the first were dropped as its duplicates)."""
    with pytest.raises(ValueError, match="field 'id': no usable id"):
        xsoar.normalize({**xsoar_incidents()[0], "id": missing})
    with pytest.raises(ValueError, match="field 'composite_id': no usable id"):
        crowdstrike.normalize({**falcon_alerts()[0], "composite_id": missing})
