"""Indicator keys (``type:value``), their normalization and how much a shared one weighs."""

from __future__ import annotations

from aisoc.events import STRONG_TYPES, Alert, Indicator, IndicatorType

T = IndicatorType

WEIGHTS: dict[str, float] = {
    T.ACTOR: 3.0,
    T.SHA256: 3.0,
    T.SHA1: 3.0,
    T.MD5: 3.0,
    T.DOMAIN: 2.5,
    T.URL: 2.5,
    T.IP: 2.0,
    T.CVE: 2.0,
    T.EMAIL: 1.5,
    T.REGISTRY_KEY: 1.5,
    T.HOST: 0.75,
    T.USER: 0.75,
    T.DEVICE_ID: 0.75,
    T.ACCOUNT_ID: 0.75,
    T.FILE: 0.5,
    T.PROCESS: 0.5,
    T.APP_ID: 0.5,
    T.OTHER: 0.25,
}
"""Weight of one shared indicator by type: infrastructure and tooling weigh most, the victim less."""

SAME_RULE_WEIGHT = 1.0
"""Weight of having fired on the same rule/detector of the same tenant."""

STRONG = frozenset(t.value for t in STRONG_TYPES)
"""Type names of the indicators that link cases into campaigns."""

_LOWER = frozenset(
    t.value for t in (T.DOMAIN, T.SHA256, T.SHA1, T.MD5, T.EMAIL, T.HOST, T.USER, T.CVE, T.ACTOR)
)
"""Types compared case-insensitively."""


def normalize(type_: str, value: str) -> str:
    """Return the key of one indicator: ``type:value``, lowercased where case carries no meaning."""
    value = value.strip()
    if type_ in _LOWER:
        value = value.lower()
    if type_ == T.DOMAIN:
        value = value.rstrip(".")
    return f"{type_}:{value}"


def key_type(key: str) -> str:
    """The type part of a key."""
    return key.partition(":")[0]


def weight(key: str) -> float:
    """How much sharing ``key`` weighs in recall."""
    return WEIGHTS.get(key_type(key), WEIGHTS[T.OTHER])


def is_strong(key: str) -> bool:
    """Whether ``key`` is strong infrastructure (it may link cases into a campaign)."""
    return key_type(key) in STRONG


def alert_keys(alert: Alert) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the alert's indicator keys (hosts and users included, in order, no repeats) and the
    subset flagged private."""
    keys: dict[str, None] = {}
    private: dict[str, None] = {}
    for i in alert.indicators:
        k = normalize(i.type.value, i.value)
        keys[k] = None
        if i.private:
            private[k] = None
    for h in alert.hosts:
        keys[normalize(T.HOST.value, h)] = None
    for u in alert.users:
        keys[normalize(T.USER.value, u)] = None
    return tuple(keys), tuple(private)


def indicator_of(key: str, private: bool = False) -> Indicator:
    """Rebuild the indicator a key came from (for the stoplist)."""
    type_, _, value = key.partition(":")
    try:
        kind = IndicatorType(type_)
    except ValueError:
        kind = IndicatorType.OTHER
    return Indicator.model_construct(type=kind, value=value, private=private, field=None)
