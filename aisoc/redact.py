"""The one redactor: secrets, credentials and configured patterns removed from text that is kept or shown.

One pattern set serves every place text leaves a process: the bus redacts events before they are stored
(``Bus(url, redactor=Redactor(...))``), :mod:`aisoc.logredact` redacts every log record at creation (vendor
SDK loggers included), vendor tools redact their results and errors, and cards redact what a chat space
shows (:func:`redact`, the ``secrets`` preset alone).

The rules are conservative about *what* they remove (the secret value, never the key name or the
surrounding evidence) and liberal about *where* they look (key/value pairs in any of the usual syntaxes,
headers and cookies, URL user-info, command-line flags, well-known token shapes). Hashes, IPs, hostnames and
user names are indicators, not secrets, and are left alone. Envelope fields, ids and the alert's source and
source id are never touched in an event (they identify; they are not content).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aisoc.errors import ConfigError
from aisoc.events import Event, from_dict

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
        "cookie_header",
        re.compile(
            r"(?P<key>(?<![A-Za-z0-9-])(?i:(?:set-)?cookie2?)[\"']?\s*[:=]\s*[\"']?)"
            r"(?P<value>(?!\[REDACTED)[^\s\"'][^\n\r\"']*)"
        ),
        _keep_key,
    ),
    Rule(
        "session_cookie",
        re.compile(
            r"(?P<key>(?<![A-Za-z0-9_])(?i:jsessionid|phpsessid|asp\.net_sessionid|aspsessionid[a-z]*"
            r"|sessionid|session_id|connect\.sid|zs_session_code|_session)=)"
            r"(?P<value>(?!\[REDACTED)[^\s;,&'\"<>]{6,})"
        ),
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


PRESETS: dict[str, tuple[Rule, ...]] = {
    "secrets": RULES,
    "emails": (Rule("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), REDACTED),),
    "card_numbers": (Rule("card_number", re.compile(r"\b(?:\d[ -]?){13,16}\b"), REDACTED),),
}
"""Named rule sets a settings file can ask for (``redact_presets = ["secrets"]``)."""
KEEP = frozenset(
    {
        "event_id",
        "type",
        "schema_version",
        "occurred_at",
        "case_id",
        "causation_id",
        "produced_by",
        "source",
        "source_id",
        "action_id",
        "plan_digest",
        "plan_event_id",
    }
)
"""Keys whose values are never redacted in an event."""
MIN_SECRET_CHARS = 4
"""Configured secret values shorter than this are not searched for (they would match everywhere)."""


def _pattern_rule(n: int, source: str) -> Rule:
    """A rule from a configured regular expression (only its ``v`` group is replaced when it names one)."""
    try:
        pattern = re.compile(source)
    except re.error as e:
        raise ConfigError(f"setting 'redact_patterns': invalid regular expression: {e}") from e
    if "v" not in pattern.groupindex:
        return Rule(f"pattern_{n}", pattern, REDACTED)

    def keep_around(m: re.Match[str]) -> str:
        whole, start = m.group(0), m.start()
        return whole[: m.start("v") - start] + REDACTED + whole[m.end("v") - start :]

    return Rule(f"pattern_{n}", pattern, keep_around)


class Redactor:
    """Replaces secrets in text, nested results and events: the chosen presets, configured patterns, and
    configured secret values (passwords, API keys, client secrets) wherever they appear verbatim.

    Raises:
        ConfigError: an unknown preset or an invalid regular expression.
    """

    def __init__(
        self, patterns: Iterable[str] = (), presets: Iterable[str] = (), secrets: Iterable[str] = ()
    ) -> None:
        rules: list[Rule] = []
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        if values:
            rules.append(Rule("configured_secret", re.compile("|".join(map(re.escape, values))), REDACTED))
        for name in presets:
            if name not in PRESETS:
                raise ConfigError(
                    f"setting 'redact_presets': unknown preset {name!r}; "
                    f"expected one of {', '.join(sorted(PRESETS))}"
                )
            rules.extend(r for r in PRESETS[name] if r not in rules)
        rules.extend(_pattern_rule(n, p) for n, p in enumerate(patterns, 1))
        self.rules = tuple(rules)

    @classmethod
    def standard(cls, secrets: Iterable[str] = ()) -> Redactor:
        """The secret rules plus the configured secret values (what logs and tool results get)."""
        return cls(presets=["secrets"], secrets=secrets)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def key(self) -> tuple[str, ...]:
        """What identifies this redactor's rules (two redactors with one key redact alike)."""
        return tuple(f"{r.name}:{r.pattern.pattern}" for r in self.rules)

    def text(self, value: str) -> str:
        """``value`` with every match replaced (the key or flag before a secret stays)."""
        for rule in self.rules:
            value = rule.pattern.sub(rule.replace, value)
        return value

    def kinds(self, value: str) -> list[str]:
        """The names of the rules that would redact something in ``value`` (for reports and tests)."""
        found: list[str] = []
        for rule in self.rules:
            redacted = rule.pattern.sub(rule.replace, value)
            if redacted != value:
                found.append(rule.name)
                value = redacted
        return found

    def value(self, value: Any) -> Any:
        """A copy of ``value`` (str, mapping, list, tuple) with every string redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def __call__(self, event: Event) -> Event:
        """The event with its content redacted (the same object when nothing matched)."""
        data = event.to_dict()
        changed = self._walk(data)
        return from_dict(changed) if changed != data else event

    def _walk(self, node: Any, key: str | None = None) -> Any:
        if key in KEEP:
            return node
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, dict):
            return {k: self._walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [self._walk(v) for v in node]
        return node


_STANDARD = Redactor(presets=["secrets"])


def redact(text: str) -> str:
    """``text`` with every secret or credential value replaced by a ``[REDACTED...]`` marker (the
    ``secrets`` preset; text without secrets comes back unchanged)."""
    return _STANDARD.text(text)


def secret_kinds(text: str) -> list[str]:
    """The names of the secret rules that would redact something in ``text``."""
    return _STANDARD.kinds(text)
