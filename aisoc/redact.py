"""Redaction of configured secret and PII patterns before events are stored.

Applied by the bus to every event it publishes (``Bus(url, redactor=Redactor(...))``): matches in
string values are replaced (a pattern's ``v`` group alone, when it names one); envelope fields,
ids and the alert's source and source id are never touched (they identify; they are not content).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aisoc.errors import ConfigError
from aisoc.events import Event, from_dict

PRESETS: dict[str, tuple[str, ...]] = {
    "secrets": (
        r"(?i)\b(?:pass(?:word|wd)?|pwd|secret|api[_-]?key|token|auth)\s*[=:]\s*['\"]?(?P<v>[^\s'\",;&]{4,})",
        r"(?i)(?:^|\s)--?(?:pass(?:word)?|pwd|secret|token|api-?key)[\s=]+['\"]?(?P<v>[^\s'\"]{3,})",
        r"\bAKIA[0-9A-Z]{16}\b",
        r"(?i)\bbearer\s+[a-z0-9._~+/-]{12,}=*",
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        r"\beyJ[a-zA-Z0-9_-]{8,}\.[a-zA-Z0-9_-]{8,}\.[a-zA-Z0-9_-]{8,}",
        r"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/@]+:[^\s@/]+@",
    ),
    "emails": (r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b",),
    "card_numbers": (r"\b(?:\d[ -]?){13,16}\b",),
}
"""Named pattern sets a settings file can ask for (``redact_presets = ["secrets"]``)."""
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
"""Keys whose values are never redacted."""


class Redactor:
    """Replaces matches of the configured patterns in every string of an event.

    Raises:
        ConfigError: an unknown preset or an invalid regular expression.
    """

    def __init__(
        self, patterns: Iterable[str] = (), presets: Iterable[str] = (), replacement: str = "[REDACTED]"
    ) -> None:
        sources: list[str] = []
        for name in presets:
            if name not in PRESETS:
                raise ConfigError(
                    f"setting 'redact_presets': unknown preset {name!r}; "
                    f"expected one of {', '.join(sorted(PRESETS))}"
                )
            sources.extend(PRESETS[name])
        sources.extend(patterns)
        try:
            self.patterns = [re.compile(p) for p in sources]
        except re.error as e:
            raise ConfigError(f"setting 'redact_patterns': invalid regular expression: {e}") from e
        self.replacement = replacement

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def text(self, value: str) -> str:
        """``value`` with every match replaced (only the ``v`` group when a pattern names one, so
        ``--password hunter2`` keeps its flag)."""
        for p in self.patterns:
            value = p.sub(self._replace, value) if "v" in p.groupindex else p.sub(self.replacement, value)
        return value

    def _replace(self, m: re.Match[str]) -> str:
        whole, start = m.group(0), m.start()
        return whole[: m.start("v") - start] + self.replacement + whole[m.end("v") - start :]

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
