"""Redaction of secrets and credentials: adversarial strings, real alert data, no false alarms."""

from __future__ import annotations

import json
import logging

import pytest

from aisoc.logredact import install_log_redaction
from aisoc.redact import REDACTED, Redactor, redact, secret_kinds
from tests.cards.factories import wazuh_records

# (input, the secret that must vanish, text that must survive, the rule that fires)
SECRETS = [
    # what zscaler-sdk-python logs at INFO on every call, and what any HTTP client's debug log shows
    ("headers: {'Cookie': 'JSESSIONID=8F2A1C0D9E7B'}", "8F2A1C0D9E7B", "'Cookie': '", "cookie_header"),
    (
        "Set-Cookie: JSESSIONID=8F2A1C0D9E7B; Path=/; HttpOnly",
        "8F2A1C0D9E7B",
        "Set-Cookie: ",
        "cookie_header",
    ),
    ("session established, JSESSIONID=8F2A1C0D9E7B", "8F2A1C0D9E7B", "session established", "session_cookie"),
    (
        "GET /index.php?PHPSESSID=ab12cd34ef56 HTTP/1.1",
        "ab12cd34ef56",
        "GET /index.php?PHPSESSID=",
        "session_cookie",
    ),
    (
        "'Authorization': 'Bearer falcon-token'",
        "falcon-token",
        "'Authorization': 'Bearer ",
        "authorization_header",
    ),
    ("net user bob P@ssw0rd! /add", "P@ssw0rd!", "net user bob", "net_user_password"),
    (r"net.exe user CORP\bob Winter2024 /domain", "Winter2024", r"CORP\bob", "net_user_password"),
    ("mysql://admin:s3cr3t@db.internal:3306/app", "s3cr3t", "admin:", "url_credentials"),
    ("postgres://u:p@ss@host/db", "p@ss", "@host/db", "url_credentials"),
    (
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        "dXNlcjpwYXNzd29yZA==",
        "Authorization: Basic",
        "authorization_header",
    ),
    (
        "curl -H 'X-Auth: Bearer abcdefghijklmnop1234567890'",
        "abcdefghijklmnop1234567890",
        "Bearer",
        "bearer_token",
    ),
    ("AKIAIOSFODNN7EXAMPLE used from 10.0.2.8", "AKIAIOSFODNN7EXAMPLE", "10.0.2.8", "aws_access_key_id"),
    (
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI",
        "aws_secret_access_key=",
        "secret_assignment",
    ),
    ('{"db_password": "hunter2", "user": "bob"}', "hunter2", '"user": "bob"', "secret_assignment"),
    (
        "Server=tcp:db;User ID=sa;Password=Tr0ub4dor&3;Encrypt=True",
        "Tr0ub4dor",
        "Encrypt=True",
        "secret_assignment",
    ),
    (
        "AccountName=x;AccountKey=abc+/def==;EndpointSuffix=core",
        "abc+/def==",
        "EndpointSuffix",
        "secret_assignment",
    ),
    (
        "GET /sqli/?id=1&user_token=da59db29379faf3476dc05aaaea53f0f HTTP/1.1",
        "da59db29",
        "HTTP/1.1",
        "token_assignment",
    ),
    ("blob?sv=2020&sig=AbCdEf123456%2Bxyz&se=2024", "AbCdEf123456", "se=2024", "token_assignment"),
    ("ConvertTo-SecureString 'Winter2024!' -AsPlainText", "Winter2024!", "-AsPlainText", "secure_string"),
    ("SOAPHound.exe --user bob --password P@ssword1 --domain lab", "P@ssword1", "--domain lab", "cli_flag"),
    (
        "PsExec64.exe \\\\host -u lab\\admin -p Sup3rS3cret cmd",
        "Sup3rS3cret",
        "-u lab\\admin -p",
        "psexec_password",
    ),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghij", "token", "known_token"),
    ("slack xoxb-1234567890-abcdefghij", "xoxb-1234567890", "slack", "known_token"),
    ("key AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSyA1234567890", "key", "known_token"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig_nature", "eyJzdWIi", "jwt", "jwt"),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY----- then",
        "MIIEowIBAAKCAQEA",
        "then",
        "private_key",
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE (cut off)",
        "b3BlbnNzaC1rZXktdjE",
        "",
        "private_key",
    ),
    ("password = 'correct horse battery staple'", "correct horse", "password = ", "secret_assignment"),
    ("export MYSQL_PWD=s3cret", "s3cret", "MYSQL_PWD=", "secret_assignment"),
]


@pytest.mark.parametrize(("text", "secret", "kept", "rule"), SECRETS)
def test_each_kind_of_secret_is_removed_and_the_evidence_kept(
    text: str, secret: str, kept: str, rule: str
) -> None:
    """Given a secret in text, when redacted, then it is gone, its context stays and the rule is named."""
    out = redact(text)
    assert secret not in out
    assert kept in out
    assert "REDACTED" in out
    assert rule in secret_kinds(text)


def test_redaction_is_idempotent() -> None:
    """Given redacted text, when redacted again, then nothing changes (cards clean text more than once)."""
    for text, *_ in SECRETS:
        once = redact(text)
        assert redact(once) == once


@pytest.mark.parametrize(
    "text",
    [
        "Failed password for invalid user top-usernames-shortlist.txt from 10.0.2.8 port 39004 ssh2",
        "Elevated Token:\t\tYes",
        "Key Length:\t\t128",
        "Password Last Set: never; pwdLastSet=0",
        "ExecutionPolicy Bypass bypass=1",
        "sudo: vboxuser : TTY=pts/0 ; PWD=/home/vboxuser ; USER=root ; COMMAND=/bin/bash",
        '"signature": "Microsoft Windows"',
        "SHA256=CB5B57BDF44D7822BD72A985BE3D6B535884DD4419D53B9EFEB09A22A9694C43",
        "https://host:8443/path@x",
        "net user snell /domain",
        "C:\\WINDOWS\\system32\\net1 user guest\\r\\nCurrentDirectory: C:\\Program Files",
    ],
)
def test_harmless_text_is_left_alone(text: str) -> None:
    """Given log text that only looks like it holds a secret, when redacted, then it comes back unchanged."""
    assert redact(text) == text
    assert secret_kinds(text) == []


def test_real_alerts_lose_only_their_secrets() -> None:
    """Given every real Wazuh alert, when redacted, then indicators survive and only the known secrets go."""
    fired: dict[str, list[str]] = {}
    for alert, _ in wazuh_records():
        for value in (alert.title, *alert.hosts, *alert.users, *(i.value for i in alert.indicators)):
            assert redact(value) == value
        kinds = secret_kinds((alert.description or "") + json.dumps(alert.raw))
        if kinds:
            fired[alert.source_id] = kinds
    # The DVWA request logs a CSRF token; an Atomic Red Team test passes a password on the command line.
    assert fired == {"xhdS15cB1Hp-jZ7ff7BW": ["token_assignment"], "7Rce15cB1Hp-jZ7fya1f": ["cli_flag"]}


def test_quotes_around_a_secret_are_kept() -> None:
    """Given a quoted secret in JSON, when redacted, then the JSON keeps its shape."""
    out = redact('{"api_key": "sk_live_abcdefghijklmnop1234", "n": 1}')
    assert json.loads(out)["api_key"].startswith("[REDACTED")
    assert out.count(REDACTED[:9]) == 1


def test_huge_input_with_many_secrets_is_redacted_quickly() -> None:
    """Given 2,000 secrets in 200 KB of text, when redacted, then none survives (and no regex blows up)."""
    text = " ".join(f"user{i} password={i}secret{i} token=abc{i:08d}xyz" for i in range(2000))
    out = redact(text)
    assert "secret1999" not in out and "abc00001999xyz" not in out
    assert out.count(REDACTED) == 4000


def test_configured_secret_values_go_wherever_they_appear() -> None:
    """Given a configured secret, when it appears bare (no key, no header), then the redactor removes it;
    short values are not searched for (they would match everywhere)."""
    redactor = Redactor.standard(["zia-password-value", "abc"])
    assert redactor.text("login failed for zia-password-value (abc)") == "login failed for [REDACTED] (abc)"
    assert redactor.value({"a": ["x zia-password-value"], "n": 3}) == {"a": ["x [REDACTED]"], "n": 3}


def test_every_log_record_is_redacted_at_creation(caplog: pytest.LogCaptureFixture) -> None:
    """Given log redaction installed, when any logger (a vendor SDK's, with lazy arguments and an exception)
    logs a cookie, then neither the message nor the traceback keeps it; installing twice is harmless."""
    install_log_redaction()
    install_log_redaction(Redactor.standard(["tanium-token-value"]))
    install_log_redaction()
    sdk = logging.getLogger("zscaler-sdk-python.some.module")
    with caplog.at_level(logging.INFO):
        sdk.info("Request headers: %s", {"Cookie": "JSESSIONID=8F2A1C0D9E7B"})
        try:
            raise ValueError("session tanium-token-value rejected")
        except ValueError:
            sdk.exception("gateway said no")
    assert "8F2A1C0D9E7B" not in caplog.text and "tanium-token-value" not in caplog.text
    assert "'Cookie': '[REDACTED]'" in caplog.text and "ValueError: session [REDACTED]" in caplog.text
