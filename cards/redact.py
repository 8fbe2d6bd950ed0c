"""Secret and credential redaction for text that ends up in a chat space.

Alert fields, model summaries and analyst notes can carry whatever an attacker or a log line put there:
command lines with passwords, URLs with embedded credentials, API tokens, private keys. Nothing of the
kind may reach a Webex space, so every piece of untrusted text a card shows goes through ``redact``.

The rules are deliberately conservative about *what* they remove (the secret value, never the key name
or the surrounding evidence) and liberal about *where* they look (key/value pairs in any of the usual
syntaxes, URL user-info, command-line flags, well-known token shapes). Hashes, IPs, hostnames and user
names are indicators, not secrets, and are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

REDACTED = "[REDACTED]"
"""What a secret value is replaced with (the key name stays, so the reader knows what was there)."""

# A bare value ends at whitespace, ``;`` or ``,`` and at an ``&`` that starts the next ``name=`` pair, so a
# password such as ``Tr0ub4dor&3`` is removed whole.
_BARE = r"""(?:[^\s;,&'"<>]|&(?![A-Za-z0-9_.-]+=))"""
_VALUE = rf"""(?!\[REDACTED)(?:"[^"\n]*"|'[^'\n]*'|{_BARE}+)"""
_STRONG_KEYS = (
    r"pass(?:word|wd|phrase)?|pwd|secret(?:[_-]?(?:access[_-]?)?key)?|client[_-]?secret|api[_-]?key"
    r"|access[_-]?key|private[_-]?key|account[_-]?key|shared[_-]?access[_-]?key|credentials?"
)
_WEAK_KEYS = r"(?:access|auth|refresh|id|session|bearer|csrf|api)?[_-]?token|sig|auth"
# A weak key ("token", "sig") also names harmless things ("Elevated Token: Yes"), so its value must
# look like a secret: at least eight characters, one of them a digit.
# Quoted or bare, a weak key's value also needs a digit: "signature": "Microsoft Windows" is no secret.
_TOKENISH = (
    rf"""(?!\[REDACTED)(?:"(?=[^"\n]*\d)[^"\n]{{8,}}"|'(?=[^'\n]*\d)[^'\n]{{8,}}'"""
    rf"""|(?={_BARE}*\d){_BARE}{{8,}})"""
)
_SCHEMES = r"(?i:bearer|basic|token|digest|negotiate|ntlm|apikey)"
_KEY_PREFIX = r"(?:[A-Za-z0-9]*[_.-])?"


@dataclass(frozen=True)
class Rule:
    """One redaction rule: a name (for reports and tests), a pattern and its replacement."""

    name: str
    pattern: re.Pattern[str]
    replace: str | Callable[[re.Match[str]], str]


def _keep_key(m: re.Match[str]) -> str:
    """Keep everything up to the separator, replace the value, keep its quotes."""
    value = m.group("value")
    if m.group("key").lstrip("\"'").lower().startswith("pwd") and value.strip("\"'").startswith("/"):
        return m.group(0)  # sudo and shell logs: PWD=/home/user is the working directory
    quote = value[0] if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) > 1 else ""
    return f"{m.group('key')}{quote}{REDACTED}{quote}"


RULES: tuple[Rule, ...] = (
    Rule(
        "private_key",
        re.compile(
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----.*?"
            r"(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.DOTALL,
        ),
        "[REDACTED PRIVATE KEY]",
    ),
    Rule(
        "jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), "[REDACTED JWT]"
    ),
    Rule(
        "aws_access_key_id",
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}\b"),
        "[REDACTED AWS KEY]",
    ),
    Rule(
        "known_token",
        re.compile(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}"
            r"|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"
            r"|sk-[A-Za-z0-9_-]{20,})"
        ),
        "[REDACTED TOKEN]",
    ),
    Rule(
        "url_credentials",
        re.compile(r"(?P<key>\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@]+:)(?P<value>[^\s/]*)(?=@)"),
        _keep_key,
    ),
    Rule(
        "authorization_header",
        re.compile(
            r"(?P<key>(?i:\b(?:proxy-)?authorization)[\"']?\s*[:=]\s*[\"']?"
            rf"(?:{_SCHEMES}\s+)?)(?P<value>(?!\[REDACTED|{_SCHEMES}\s)[^\s\"',;]+)"
        ),
        _keep_key,
    ),
    Rule(
        "bearer_token",
        re.compile(r"(?P<key>(?i:\bbearer)\s+)(?P<value>[A-Za-z0-9\-._~+/]{16,}=*)"),
        _keep_key,
    ),
    Rule(
        "secret_assignment",
        re.compile(
            rf"(?P<key>(?<![A-Za-z0-9])[\"']?{_KEY_PREFIX}(?i:{_STRONG_KEYS})[\"']?\s*(?:=|:(?!//))\s*)"
            rf"(?P<value>{_VALUE})"
        ),
        _keep_key,
    ),
    Rule(
        "token_assignment",
        re.compile(
            rf"(?P<key>(?<![A-Za-z0-9])[\"']?{_KEY_PREFIX}(?i:{_WEAK_KEYS})[\"']?\s*(?:=|:(?!//))\s*)"
            rf"(?P<value>{_TOKENISH})"
        ),
        _keep_key,
    ),
    Rule(
        "cli_flag",
        re.compile(
            r"(?P<key>(?<![\w-])--?(?i:password|passwd|pass|pwd|secret|token|api-?key|access-?key)(?:\s+|=))"
            r"(?P<value>(?!\[REDACTED)(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s\"']+))"
        ),
        _keep_key,
    ),
    Rule(
        "net_user_password",
        re.compile(
            r"(?P<key>(?i:\bnet1?(?:\.exe)?[ \t]+user[ \t]+)"
            r"(?:\"[^\"\n,]+\"|(?:[^\s\"',;\\]|\\(?![rnt]))+)[ \t]+)"
            r"(?P<value>(?![/*]|\[REDACTED)[^\s\"',;]+)"
        ),
        _keep_key,
    ),
    Rule(
        "psexec_password",
        re.compile(
            r"(?P<key>(?i:\bpsexec(?:64)?(?:\.exe)?)\b[^\n]*?[ \t]-p[ \t]+)"
            r"(?P<value>(?!\[REDACTED)(?:\"[^\"\n]*\"|[^\s\"]+))"
        ),
        _keep_key,
    ),
    Rule(
        "secure_string",
        re.compile(
            r"(?P<key>(?i:ConvertTo-SecureString)\s+(?:(?i:-String)\s+)?)(?P<value>\"[^\"\n]*\"|'[^'\n]*')"
        ),
        _keep_key,
    ),
)
"""The redaction rules, applied in order (multi-line private keys first, generic key/value pairs last)."""


def redact(text: str) -> str:
    """Return ``text`` with every secret or credential value replaced by a ``[REDACTED...]`` marker.

    Args:
        text: untrusted text (an alert field, a model summary, a note).

    Returns:
        The same text, secrets removed; text without secrets comes back unchanged.
    """
    for rule in RULES:
        text = rule.pattern.sub(rule.replace, text)
    return text


def secret_kinds(text: str) -> list[str]:
    """Return the names of the rules that would redact something in ``text`` (for logs and tests)."""
    found: list[str] = []
    for rule in RULES:
        redacted = rule.pattern.sub(rule.replace, text)
        if redacted != text:
            found.append(rule.name)
            text = redacted
    return found
