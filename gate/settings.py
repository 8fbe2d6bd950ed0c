"""The gate's settings (``[gate]``) and the on-call roster (``[roster]``), read at the edge only.

settings = load_gate_settings()          # [gate] + [roster] of aisoc.toml / $AISOC_CONFIG
app = gate.create_app(settings)
"""

from __future__ import annotations

import ipaddress
import os
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from aisoc.errors import ConfigError
from aisoc.events import Role
from aisoc.settings import KernelSettings, SocSettings, load_settings
from aisoc.timezones import ZoneName
from gate.keys import HOW, new_secret, plain, strong

AuthMethod = Literal["proxy", "webex", "dev"]
"""How a person proves who they are: SSO reverse-proxy header, Webex OAuth, or the demo-only dev login."""
Secret = Annotated[SecretStr, AfterValidator(strong)]
"""A key or token checked at start: at least 32 bytes, not blank, not padded, not a placeholder."""


class _Cfg(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PersonConfig(_Cfg):
    """A person the roster can name: display name, email (the bot mentions them by it), other logins."""

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    aliases: list[str] = Field(default_factory=list)
    """Other identities that mean this person (an SSO user name, a Webex person id)."""


class RotationConfig(_Cfg):
    """People taking turns: from ``start`` (a local date), handing over at ``handover`` in ``timezone``."""

    people: list[str] = Field(min_length=1)
    start: date
    handover: time = time(9, 0)
    timezone: ZoneName = "UTC"
    period: Literal["daily", "weekly"] | int = "weekly"
    """``daily``, ``weekly`` or a number of days per turn."""

    @field_validator("period")
    @classmethod
    def _positive(cls, value: str | int) -> str | int:
        if isinstance(value, int) and value < 1:
            raise ValueError("period must be daily, weekly or a positive number of days")
        return value

    @property
    def days(self) -> int:
        """Days per turn."""
        if isinstance(self.period, int):
            return self.period
        return 1 if self.period == "daily" else 7


class OverrideConfig(_Cfg):
    """``person`` covers the duty from ``start`` until ``end`` (naive times are in ``timezone``)."""

    person: str
    start: datetime
    end: datetime
    timezone: ZoneName = "UTC"
    reason: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> OverrideConfig:
        if self.start_at >= self.end_at:
            raise ValueError(f"override for {self.person}: start must be before end")
        return self

    def _aware(self, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(self.timezone))

    @property
    def start_at(self) -> datetime:
        """The start as an aware datetime."""
        return self._aware(self.start)

    @property
    def end_at(self) -> datetime:
        """The end as an aware datetime."""
        return self._aware(self.end)


class DutyConfig(_Cfg):
    """One on-call duty (keyed by role slug): rotations, overrides, escalation chain, approver group."""

    name: str | None = None
    """Display name; defaults to "IR Lead On-Call", "SOC Manager On-Call", "Tier 2 On-Call" ..."""
    rotations: list[RotationConfig] = Field(default_factory=list)
    overrides: list[OverrideConfig] = Field(default_factory=list)
    escalation: list[str] = Field(default_factory=list)
    """Who comes next when the on-call person does not answer: person ids or duty slugs, in order."""
    approvers: list[str] = Field(default_factory=list)
    """Who else may decide requests that need this duty (person ids)."""
    executors: list[str] = Field(default_factory=list)
    """Who carries out this duty's approved actions and may record them "done" (person ids), besides
    whoever decided and the approver group."""


class RosterSettings(SocSettings):
    """The ``[roster]`` table: people, duties by role slug, and who may read the decision audit."""

    TABLE: ClassVar[str] = "roster"

    people: dict[str, PersonConfig] = Field(default_factory=dict)
    duties: dict[Role, DutyConfig] = Field(default_factory=dict)
    auditors: list[str] = Field(default_factory=list)
    """People who may read the audit page besides everyone named in a duty."""

    @model_validator(mode="after")
    def _references(self) -> RosterSettings:
        known = set(self.people)
        problems = []
        for role, duty in self.duties.items():
            names = [p for r in duty.rotations for p in r.people] + [o.person for o in duty.overrides]
            names += duty.approvers + duty.executors
            names += [e for e in duty.escalation if e not in {r.value for r in Role}]
            problems += [f"duty {role.value}: unknown person {n!r}" for n in names if n not in known]
        problems += [f"auditors: unknown person {n!r}" for n in self.auditors if n not in known]
        if problems:
            raise ValueError("; ".join(sorted(set(problems))) + f" (people are: {', '.join(sorted(known))})")
        clashes = identity_clashes(self.people)
        if clashes:
            raise ValueError("; ".join(clashes) + ": each id, email and alias must name one person")
        return self


def identity_key(identity: str) -> str:
    """How identities compare: case-insensitive, surrounding spaces ignored."""
    return identity.strip().lower()


def identity_clashes(people: dict[str, PersonConfig]) -> list[str]:
    """Every identity (roster id, email, alias) that names two people, said with both of them."""
    owner: dict[str, str] = {}
    clashes = []
    for pid, person in people.items():
        for identity in {identity_key(i) for i in (pid, person.email, *person.aliases)}:
            first = owner.setdefault(identity, pid)
            if first != pid:
                clashes.append(f"{identity!r} names both {first} and {pid}")
    return clashes


class GateSettings(SocSettings):
    """Settings of the gate process (``[gate]``); the roster comes from ``[roster]``."""

    model_config = SettingsConfigDict(env_prefix="AISOC_GATE_", env_nested_delimiter="__", extra="forbid")
    TABLE: ClassVar[str] = "gate"
    LEGACY_ENV: ClassVar[bool] = True

    bus: str | None = None
    """Bus URL; defaults to the kernel's ``[aisoc] bus``."""
    namespace: str | None = None
    """Key prefix of this SOC; defaults to the kernel's ``[aisoc] namespace``."""
    store: str | None = None
    """Where requests live: None picks by bus (Redis on Redis, a SQLite file next to the SQLite bus,
    in-memory SQLite on the memory bus); or ``sqlite:///PATH`` / ``memory://``."""
    base_url: str = "http://127.0.0.1:8700"
    """The gate's public URL, used in the signed links on cards."""
    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=0, le=65535)
    demo: bool = False
    """Demo mode: enables the bannered dev login and allows cookies without Secure over http."""
    session_keys: list[Secret] = Field(default_factory=list)
    """Keys of the gate's login sessions and CSRF tokens, NEWEST FIRST (the first signs, all verify).
    Only the gate holds them: put them in the gate's own environment (``AISOC_GATE_SESSION_KEYS``)."""
    link_keys: list[Secret] = Field(default_factory=list)
    """Keys of the approval links, NEWEST FIRST: the gate verifies, whoever makes links (the bot) signs
    with the first. They cannot sign a session."""
    secret_keys: list[SecretStr] | None = Field(default=None, exclude=True)
    """Replaced by ``session_keys`` and ``link_keys``; refused with a message saying so."""
    link_ttl_s: int = Field(default=48 * 3600, ge=60)
    """How long a signed approval link stays valid."""
    auth: list[AuthMethod] = Field(default_factory=lambda: list[AuthMethod](["proxy"]))
    proxy_header: str = "X-Forwarded-Email"
    """Header an SSO reverse proxy sets to the person's email or user name."""
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    """Addresses or networks the identity header is trusted from (anything else is ignored)."""
    webex_client_id: str | None = None
    webex_client_secret: SecretStr | None = None
    webex_authorize_url: str = "https://webexapis.com/v1/authorize"
    webex_token_url: str = "https://webexapis.com/v1/access_token"
    webex_people_url: str = "https://webexapis.com/v1/people/me"
    webex_scope: str = "spark:people_read"
    secure_cookies: bool | None = None
    """Cookies carry Secure; None means True except in demo mode over http."""
    session_hours: float = Field(default=12, gt=0)
    rate_limit: str = "10 per minute"
    """Limit on the confirmation POSTs per person (per address when unknown), flask-limiter notation."""
    rate_limit_storage: str = "memory://"
    remind_after_s: int = Field(default=300, ge=1)
    """An unanswered request reminds its approver this often."""
    max_reminders: int = Field(default=2, ge=0)
    """Reminders per escalation level before the next person in the chain is asked."""
    max_open_s: int | None = Field(default=None, ge=1)
    """Cap on how long a request stays open (it also expires at the proposal's ``expires_at``)."""
    metrics: bool = True
    """Serve Prometheus metrics at ``/metrics`` (approvals pending, time to decision, bus backlog) to
    requests bearing one of ``metrics_tokens``; without tokens, only the demo serves them, to loopback."""
    metrics_tokens: list[Secret] = Field(default_factory=list)
    """Bearer tokens Prometheus sends to ``/metrics`` (``authorization: credentials``), newest first."""
    tick_s: float = Field(default=15, gt=0)
    """How often the gate process checks for reminders, escalations and expiry."""
    ended_retention_days: float = Field(default=30.0, gt=0)
    """Requests that ended (decided, expired, cancelled, carried out) more than this many days ago
    are forgotten by the gate's store (the audit log keeps their events); a proposal older than
    this that is delivered (again) is not opened."""
    roster: RosterSettings = Field(default_factory=RosterSettings)

    @field_validator("secret_keys")
    @classmethod
    def _split(cls, value: list[SecretStr] | None) -> None:
        if value is not None:
            raise ValueError(
                "secret_keys was split in two: session_keys (sessions and CSRF; the gate only) and "
                f"link_keys (approval links; the gate and the bot). Use a different key for each ({HOW})"
            )
        return None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for v in values:
            ipaddress.ip_network(v, strict=False)
        return values

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> GateSettings:
        if "dev" in self.auth and not self.demo:
            raise ValueError("auth 'dev' (the dev login) is only allowed with demo = true")
        if self.secure_cookies is False and not self.demo:
            raise ValueError("secure_cookies = false is only allowed with demo = true (http on a laptop)")
        if "webex" in self.auth and not (self.webex_client_id and self.webex_client_secret):
            raise ValueError("auth 'webex' needs webex_client_id and webex_client_secret")
        shared = set(plain(self.session_keys)) & set(plain(self.link_keys) + plain(self.metrics_tokens))
        if shared or set(plain(self.link_keys)) & set(plain(self.metrics_tokens)):
            raise ValueError(
                "a key is listed in two of session_keys, link_keys and metrics_tokens: whoever holds "
                "link keys (the bot) or a metrics token could then sign gate sessions; use a "
                f"different key for each ({HOW})"
            )
        if self.demo:  # per-process keys, so the demo runs without configuration
            for keys in (self.session_keys, self.link_keys):
                if not keys:
                    keys.append(SecretStr(new_secret()))
        return self

    @property
    def cookies_secure(self) -> bool:
        """Whether cookies carry the Secure flag."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return not (self.demo and self.base_url.startswith("http://"))

    def require(self, *names: str) -> None:
        """Refuse to go on without the named key settings (``session_keys``, ``link_keys``).

        Raises:
            ConfigError: a named setting is empty; the message says where to set it.
        """
        for name in names:
            if not getattr(self, name):
                raise ConfigError(
                    f"setting {name!r} ([gate] {name} or AISOC_GATE_{name.upper()}) is empty: "
                    f"{_NEEDED_FOR.get(name, 'the gate needs it')}; {HOW}"
                )


_NEEDED_FOR = {
    "session_keys": "the gate's pages sign sessions and CSRF tokens with it (keep it to the gate)",
    "link_keys": "approval links are signed with it (the gate and the bot hold it)",
}


def load_gate_settings(config: str | os.PathLike[str] | None = None, **overrides: Any) -> GateSettings:
    """Build the gate's settings from ``[gate]``, ``[roster]``, ``[aisoc]`` (bus fallback) and overrides.

    Raises:
        ConfigError: a setting is wrong; the message names it.
    """
    roster = load_settings(RosterSettings, config)
    settings = load_settings(GateSettings, config, roster=roster, **overrides)
    if settings.bus is None or settings.namespace is None:
        kernel = load_settings(KernelSettings, config)
        settings = settings.model_copy(
            update={"bus": settings.bus or kernel.bus, "namespace": settings.namespace or kernel.namespace}
        )
    return settings


def default_store_path(bus_path: str) -> str:
    """The gate's SQLite file next to a SQLite bus file (``soc.db`` -> ``soc.gate.db``)."""
    if bus_path == ":memory:":
        return bus_path
    p = Path(bus_path)
    return str(p.with_name(p.stem + ".gate" + (p.suffix or ".db")))
