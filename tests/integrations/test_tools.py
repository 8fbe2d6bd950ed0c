"""Read-only tools: offered only when configured, driven through the real SDKs against local fakes, writes
refused before anything leaves, results truncated and secrets redacted."""

from __future__ import annotations

import json
import logging
import threading
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from pydantic import SecretStr

from aisoc.logredact import install_log_redaction
from aisoc.redact import Redactor
from aisoc.tools import Tool, ToolError, ToolSet
from integrations.errors import ReadOnlyViolation
from integrations.readonly import clip
from integrations.settings import IntegrationsSettings
from integrations.tools import TOOL_NAMES, configured_tools
from integrations.tools.tanium import GATEWAY_PATH, TaniumClient
from integrations.tools.zscaler import ZiaClient
from tests.integrations.fakes import Seen, falcon_app, serve, tanium_app, zia_app
from tests.integrations.vendor_data import falcon_alerts, falcon_devices

FAST = {"retries": 1, "backoff_s": 0.0, "timeout_s": 5}
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
EICAR_MD5 = "44d88612fea8a8f36de82e1278abb02f"


def by_name(settings: IntegrationsSettings) -> dict[str, Tool]:
    return {t.name: t for t in configured_tools(settings)}


def all_vendors(url: str = "http://127.0.0.1:9") -> IntegrationsSettings:
    return IntegrationsSettings(
        http=FAST,
        falcon={"client_id": "cid", "client_secret": "falcon-secret-value", "base_url": url},
        tanium={"url": url, "token": "tanium-token-value"},
        zscaler={
            "cloud": "zscalertwo",
            "username": "api@example.com",
            "password": "zia-password-value",
            "api_key": "0123456789abcdef0123",
            "override_url": url,
        },
    )


def test_only_configured_vendors_are_offered() -> None:
    """Given no vendor settings, then only the local tools are offered; given all, then exactly the eight
    names, each a kernel Tool, without connecting anywhere."""
    assert list(by_name(IntegrationsSettings())) == ["ioc_reputation", "attack_lookup"]
    tools = configured_tools(all_vendors())
    assert [t.name for t in tools] == list(TOOL_NAMES)
    assert all(isinstance(t, Tool) for t in tools) and len(ToolSet(tools)) == 8


def test_tools_factory_reads_the_settings_file(tmp_path: Path) -> None:
    """Given a settings file naming a Tanium server, when the kernel calls the factory with its path, then the
    Tanium tool is offered."""
    config = tmp_path / "aisoc.toml"
    config.write_text('[integrations.tanium]\nurl = "https://tanium.example"\ntoken = "tok-123456"\n')
    assert "tanium_question" in [t.name for t in configured_tools(str(config))]


def write_feeds(tmp_path: Path) -> list[Path]:
    csv_feed = tmp_path / "feed.csv"
    csv_feed.write_text(
        "value,type,reputation,source\n185.220.101.4,ip,malicious,tor-exits\nevil.com,,suspicious,\n"
    )
    misp = tmp_path / "misp.json"
    misp.write_text(
        json.dumps(
            {
                "Event": {
                    "info": "Phishing wave",
                    "threat_level_id": "1",
                    "Attribute": [
                        {"type": "url", "value": "https://login.evil-site.com/auth", "to_ids": True}
                    ],
                    "Object": [{"Attribute": [{"type": "sha256", "value": SHA, "comment": "dropper"}]}],
                }
            }
        )
    )
    stix = tmp_path / "stix.json"
    stix.write_text(
        json.dumps(
            {
                "type": "bundle",
                "id": "bundle--6e8e2b4e-3b0a-4a6e-9f3e-0c1a2b3c4d5e",
                "objects": [
                    {
                        "type": "indicator",
                        "spec_version": "2.1",
                        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                        "created": "2025-01-01T00:00:00.000Z",
                        "modified": "2025-01-01T00:00:00.000Z",
                        "name": "C2 server",
                        "indicator_types": ["malicious-activity"],
                        "pattern": "[ipv4-addr:value = '45.83.64.1'] OR [domain-name:value = 'c2.bad.org']",
                        "pattern_type": "stix",
                        "valid_from": "2025-01-01T00:00:00Z",
                    }
                ],
            }
        )
    )
    return [csv_feed, misp, stix]


def test_ioc_reputation_reads_csv_misp_and_stix_feeds(tmp_path: Path) -> None:
    """Given CSV, MISP and STIX feeds, when indicators are looked up, then each feed's rating comes back, a
    URL is also judged by its host, and unknown, private and stoplisted values say so."""
    tool = by_name(IntegrationsSettings(ioc_feeds=write_feeds(tmp_path)))["ioc_reputation"]
    assert tool.invoke({"value": "185.220.101.4"})["sources"][0]["source"] == "tor-exits"
    assert tool.invoke({"value": "evil.com"})["reputation"] == "suspicious"
    assert tool.invoke({"value": "https://login.evil-site.com/auth"})["reputation"] == "malicious"
    assert tool.invoke({"value": SHA.upper(), "type": "sha256"})["sources"][0]["description"] == "dropper"
    assert tool.invoke({"value": "45.83.64.1"})["sources"][0]["source"] == "STIX: C2 server"
    assert tool.invoke({"value": "http://c2.bad.org/x"})["reputation"] == "malicious"
    assert tool.invoke({"value": "example.org"})["reputation"] == "unknown"
    private = tool.invoke({"value": "10.1.2.3"})
    assert private["private"] and "internal" in private["notes"][0]
    assert "stoplist" in tool.invoke({"value": "8.8.8.8"})["notes"][0]
    with pytest.raises(ToolError, match="not a recognizable indicator"):
        tool.invoke({"value": "hello world"})
    with pytest.raises(ToolError, match="bad arguments"):
        tool.invoke({"value": "1.1.1.1", "extra": 1})


def test_attack_lookup_answers_offline() -> None:
    """Given ATT&CK ids and names, when looked up, then the offline catalogue answers; unknown ids say so."""
    tool = by_name(IntegrationsSettings())["attack_lookup"]
    assert tool.invoke({"query": "T1059.001"})["name"] == "PowerShell"
    fin7 = tool.invoke({"query": "G0046"})
    assert (
        fin7["name"] == "FIN7"
        and fin7["techniques_used_total"] > 10
        and "T1059.001" in fin7["techniques_used"]
    )
    assert tool.invoke({"query": "mimikatz"})["software"][0]["id"] == "S0002"
    assert tool.invoke({"query": "T9999"})["found"] is False


def test_falcon_tools_through_falconpy() -> None:
    """Given the Falcon fake, when the tools are called, then host details, the host's alerts (without their
    dispositions) and the IOC lookup come back through falconpy; an unknown host is a ToolError."""
    seen = Seen()
    iocs = [
        {"type": "sha256", "value": SHA, "action": "detect", "severity": "high", "description": "dropper"}
    ]
    recent = falcon_alerts()
    for hours, alert in zip((30, 20, 10), recent, strict=True):
        alert["created_timestamp"] = (datetime.now(UTC) - timedelta(hours=hours)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    with serve(falcon_app(recent, falcon_devices(), seen, iocs=iocs)) as url:
        tools = by_name(all_vendors(url))
        details = tools["falcon_host_details"].invoke({"host": "WS-1"})
        alerts = tools["falcon_host_alerts"].invoke({"host": "WS-1", "days": 1})
        ioc = tools["falcon_ioc_lookup"].invoke({"value": SHA})
        with pytest.raises(ToolError, match="no Falcon host named 'WS-404'"):
            tools["falcon_host_details"].invoke({"host": "WS-404"})
    assert details["hosts"][0]["status"] == "normal" and "seen_iocs" not in details["hosts"][0]
    assert alerts["count"] == 2 and alerts["alerts"][0]["composite_id"].endswith(":3")  # newest first, 24 h
    assert "resolution" not in json.dumps(alerts) and "status" not in alerts["alerts"][0]
    assert ioc["custom_iocs"][0]["action"] == "detect" and ioc["hosts_observed"] == 1
    assert (
        seen.requests[0][1] == "/oauth2/token"
        and len([r for r in seen.requests if r[1] == "/oauth2/token"]) == 1
    )


def test_falcon_auth_failure_hides_the_secret() -> None:
    """Given a wrong Falcon secret, when a tool is called, then the ToolError never contains the secret."""
    settings = all_vendors()
    with serve(falcon_app([], [], Seen())) as url:
        settings.falcon.base_url = url
        settings.falcon.client_secret = SecretStr("wrong-secret-value")
        with pytest.raises(ToolError) as err:
            by_name(settings)["falcon_host_details"].invoke({"host": "WS-1"})
    assert "wrong-secret-value" not in str(err.value)


ENDPOINTS = [
    {
        "id": "e1",
        "name": "WS-1",
        "ipAddress": "10.0.0.21",
        "eidLastSeen": "2025-06-02T10:00:00Z",
        "os": {"name": "Windows 11", "platform": "Windows"},
        "sensors": {
            "Running Processes": {"Name": ["powershell.exe", "winword.exe"]},
            "Logged In Users": {"User": ["alice"]},
        },
    }
]


def test_tanium_question_reads_sensors() -> None:
    """Given the Tanium fake, when asked read sensors of a host by name or IP, then their readings come
    back."""
    seen = Seen()
    with serve(tanium_app(ENDPOINTS, seen)) as url:
        tool = by_name(all_vendors(url))["tanium_question"]
        answer = tool.invoke({"host": "WS-1", "sensors": ["running processes"]})
        by_ip = tool.invoke({"host": "10.0.0.21", "sensors": ["Logged In Users"], "live": True})
        with pytest.raises(ToolError, match="no Tanium endpoint"):
            tool.invoke({"host": "WS-404", "sensors": ["Running Processes"]})
    assert answer["endpoints"][0]["readings"] == {
        "Running Processes": {"Name": ["powershell.exe", "winword.exe"]}
    }
    assert by_ip["endpoints"][0]["readings"]["Logged In Users"] == {"User": ["alice"]}
    assert seen.requests[1][3]["variables"]["source"] == {
        "ts": {"expectedCount": 1, "stableWaitTime": 15, "maxAge": 300}
    }


def test_tanium_refuses_mutations_other_queries_and_unlisted_sensors() -> None:
    """Given the Tanium client, when a mutation, another query under the allowed name, or an unlisted sensor
    is tried, then each is refused before anything reaches the gateway."""
    seen = Seen()
    settings = all_vendors()
    with serve(tanium_app(ENDPOINTS, seen)) as url:
        settings.tanium.url = url
        client = TaniumClient(settings.tanium, settings.http)
        mutation = 'mutation actionPerform { actionPerform(input: {name: "Quarantine"}) { id } }'
        with pytest.raises(ReadOnlyViolation, match="'actionPerform'"):
            client.post({"operationName": "actionPerform", "query": mutation})
        with pytest.raises(ReadOnlyViolation):
            client.post({"operationName": "AisocEndpointSensorReadings", "query": mutation})
        with pytest.raises(ToolError, match="not allowed"):
            by_name(settings)["tanium_question"].invoke({"host": "WS-1", "sensors": ["Run Script"]})
        with pytest.raises(ReadOnlyViolation):
            client.client.get(GATEWAY_PATH)
    assert seen.requests == []


@pytest.fixture()
def no_sdk_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """zscaler-sdk-python pauses 1 s after each URL lookup chunk; a local fake needs no pacing."""
    import zscaler.zia.url_categories as url_categories

    fake_time = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    fake_time.sleep = lambda seconds: None
    monkeypatch.setattr(url_categories, "time", fake_time)


REPORT = {
    "Summary": {
        "Summary": {"Status": "COMPLETED", "Category": "EXECS", "FileType": "EXE"},
        "Classification": {
            "Type": "MALICIOUS",
            "Category": "MALWARE_BOTNET",
            "Score": 100,
            "DetectedMalware": "EICAR",
        },
    }
}


def test_zscaler_tools_through_the_sdk(no_sdk_pause: None) -> None:
    """Given the ZIA fake, when the tools are called, then URL categories and the sandbox report come back
    through zscaler-sdk-python; a bad MD5 or an unknown report is a ToolError."""
    seen = Seen()
    with serve(zia_app(seen, {EICAR_MD5: REPORT})) as url:
        tools = by_name(all_vendors(url))
        urls = tools["zscaler_url_lookup"].invoke({"urls": ["evil-site.com", "example.com"]})
        report = tools["zscaler_sandbox_report"].invoke({"md5": EICAR_MD5.upper()})
        with pytest.raises(ToolError, match="not an MD5"):
            tools["zscaler_sandbox_report"].invoke({"md5": "z" * 32})
        with pytest.raises(ToolError, match="sandbox report"):
            tools["zscaler_sandbox_report"].invoke({"md5": "0" * 31 + "1"})
    assert urls["results"][0] == {
        "url": "evil-site.com",
        "categories": ["MISCELLANEOUS_OR_UNKNOWN"],
        "security_alerts": ["MALWARE_SITE"],
    }
    assert "MALICIOUS" in json.dumps(report["report"])
    assert seen.paths()[0] == "POST /api/v1/authenticatedSession"


def test_zscaler_writes_are_refused_before_sending(no_sdk_pause: None) -> None:
    """Given the guarded ZIA client, when the SDK is asked to add a URL category or activate changes, then
    both are refused in its send hook and the fake never sees them."""
    seen = Seen()
    settings = all_vendors()
    with serve(zia_app(seen, {})) as url:
        settings.zscaler.override_url = url
        client = ZiaClient(settings.zscaler, settings.http)
        _, _, error = client.helper.url_categories.add_url_category(
            name="allow-evil", super_category="USER_DEFINED", urls=["evil-site.com"]
        )
        assert isinstance(error, ReadOnlyViolation) and "POST /api/v1/urlCategories" in str(error)
        with pytest.raises(ReadOnlyViolation, match="status/activate"):
            client.helper.send("POST", "/api/v1/status/activate")
    assert not [p for p in seen.paths() if "urlCategories" in p or "activate" in p]


def test_vendor_timeouts_are_tool_errors() -> None:
    """Given a gateway that never answers, when a tool waits past its timeout, then a ToolError says so."""
    release = threading.Event()
    app = Flask("stuck")

    @app.post(GATEWAY_PATH)
    def stuck() -> str:
        release.wait(10)
        return "{}"

    settings = all_vendors()
    settings.http.timeout_s, settings.http.retries = 0.2, 0
    try:
        with serve(app) as url:
            settings.tanium.url = url
            with pytest.raises(ToolError, match="Timeout"):
                by_name(settings)["tanium_question"].invoke(
                    {"host": "WS-1", "sensors": ["Running Processes"]}
                )
    finally:
        release.set()


def test_results_are_truncated_for_prompts() -> None:
    """Given a huge result, when clipped, then lists and strings are cut and say so, within the limit."""
    big = {"items": [{"name": f"proc-{i}", "cmd": "x" * 500} for i in range(200)]}
    cut = clip(big, 2000)
    assert len(json.dumps(cut)) <= 2000 and cut["items"][-1].startswith("... ")
    assert clip({"a": 1}, 2000) == {"a": 1}


def test_secrets_are_redacted_from_results_and_sdk_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Given configured secrets, when they appear in a result or an SDK log line, then they are replaced."""
    redact = Redactor.standard(["zia-password-value"])
    assert redact.value({"msg": ["login zia-password-value", "Bearer abcdefghijklmnop"]}) == {
        "msg": ["login [REDACTED]", "Bearer [REDACTED]"]
    }
    install_log_redaction(redact)
    with caplog.at_level(logging.DEBUG, logger="zscaler-sdk-python"):
        logging.getLogger("zscaler-sdk-python").debug("payload %s", {"password": "zia-password-value"})
    assert "zia-password-value" not in caplog.text and "[REDACTED]" in caplog.text


def test_a_feed_that_is_not_utf8_is_refused_by_name(tmp_path: Path) -> None:
    """Given an IOC feed saved in Latin-1, when the tools are configured, then the error names the feed and
    the byte, not a UnicodeDecodeError."""
    from integrations.errors import IntegrationError
    from integrations.feeds import FeedIndex

    feed = tmp_path / "feed.csv"
    feed.write_bytes(
        "value,type,reputation,description\n45.83.64.1,ip,malicious,caf\u00e9\n".encode("latin-1")
    )
    with pytest.raises(IntegrationError, match=r"feed\.csv: not UTF-8 text .* at byte 6\d"):
        FeedIndex([feed])
