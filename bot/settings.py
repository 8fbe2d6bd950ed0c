"""The bot's settings (``[bot]`` and ``[bot.noise]``), read at the edge only.

settings = load_bot_settings()            # [bot] of aisoc.toml / $AISOC_CONFIG, AISOC_* environment
app = bot.create_app(settings)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from aisoc.errors import ConfigError
from aisoc.settings import KernelSettings, SocSettings, load_settings
from aisoc.tenants import tenant_key, tenant_of
from aisoc.timezones import ZoneName

Mode = Literal["webhook", "websocket"]
"""How Webex reaches the bot: signed webhooks to ``public_url``, or the bot's own device websocket."""

DEFAULT_BASE_URL = "https://webexapis.com/v1/"
WEBEX_HOST = "webexapis.com"
"""The only host the bot sends its token to unless a ``test_server`` is configured."""
"""The Webex REST API."""
TOKEN_ENV = "WEBEX_ACCESS_TOKEN"
"""The Webex SDK's own environment variable, honoured when ``[bot] token`` is not set."""

DEFAULT_CARDS = [
    "tier2.decision:escalate",
    "tier2.decision:human_review",
    "tier2.decision:close",
    "ir.plan",
    "intel.attribution",
    "case.review_requested",
    "case.closed:human",
    "action.executed",
    "action.reminded",
    "action.escalated",
    "shift.summary",
    "detection.tuning",
    "hunt.proposal",
    "campaign.detected",
]
"""Events posted on their own (opening the case's thread when it has none); reminders and escalations of
an approval are a markdown line that mentions the person asked."""
DEFAULT_REPLIES = ["action.proposed", "action.decided", "case.closed:ir_lead"]
"""Events posted only into a case thread that already exists (never opening one)."""
DEFAULT_DIGEST = ["triage.verdict:closed", "case.closed:sentinel"]
"""Events rolled into the periodic digest card instead of one card each (Sentinel's closures)."""


class NoiseSettings(BaseModel):
    """``[bot.noise]``: which events get a card, which only a thread reply, which the digest.

    Selectors are an event type (``ir.plan``) or a type and its variant (``tier2.decision:close``,
    ``triage.verdict:closed``, ``case.closed:sentinel`` — the closing role, ``human`` for people). The
    most specific selector wins; between lists at the same level, card beats digest beats reply.
    Anything not listed is not posted (``action.decided`` always updates the card that asked for it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    card: list[str] = Field(default_factory=lambda: list(DEFAULT_CARDS))
    reply: list[str] = Field(default_factory=lambda: list(DEFAULT_REPLIES))
    digest: list[str] = Field(default_factory=lambda: list(DEFAULT_DIGEST))


def person_key(raw: str) -> str:
    """An email (``ana@acme.example``) or a domain (``acme.example``, ``@acme.example``) of
    ``people_tenants``, lower case.

    Raises:
        ValueError: it is neither.
    """
    key = raw.strip().lower()
    local, at, domain = key.lstrip("@").rpartition("@")
    if not domain or (at and not local) or " " in key or "." not in domain:
        raise ValueError(f"people_tenants: {raw!r} is neither an email nor a domain")
    return key.lstrip("@") if not local else key


SEV_MENTIONS: dict[str, list[str]] = {"SEV-1": [], "SEV-2": []}
"""The SEVs announced at top level by default, with no one beyond the IR Lead and SOC Manager on call."""


class BotSettings(SocSettings):
    """Settings of the Webex bot process (``[bot]``); links and roster come from ``[gate]``/``[roster]``."""

    model_config = SettingsConfigDict(env_prefix="AISOC_BOT_", env_nested_delimiter="__", extra="forbid")
    TABLE: ClassVar[str] = "bot"
    LEGACY_ENV: ClassVar[bool] = True

    token: SecretStr | None = None
    """The bot's access token (default: $WEBEX_ACCESS_TOKEN). Without one the local preview is the space."""
    base_url: str = DEFAULT_BASE_URL
    """The Webex REST API; anything but ``https://webexapis.com/`` must also be named in ``test_server``."""
    test_server: str | None = None
    """A Webex stand-in the bot may send its token to (a local fake in tests): ``base_url`` must be
    Webex's own API or this; the bot refuses to start otherwise."""
    mode: Mode = "webhook"
    """``webhook`` (Webex POSTs to ``public_url``) or ``websocket`` (for bots behind a firewall)."""
    public_url: str | None = None
    """Where Webex reaches this process (``aisoc bot setup`` registers ``{public_url}/webex/webhook``)."""
    webhook_secret: SecretStr | None = None
    """Shared secret of the webhooks: every delivery must carry its HMAC-SHA1 in X-Spark-Signature."""
    webhook_name: str = "aisoc"
    """Name prefix of the bot's webhooks (``aisoc messages``, ``aisoc attachmentActions``)."""
    host: str = "127.0.0.1"
    port: int = Field(default=8710, ge=0, le=65535)
    soc_room_id: str | None = None
    """The SOC space: reports, the digest, notices, and case threads unless ``case_room_id`` is set."""
    case_room_id: str | None = None
    """Where case threads go (default: ``soc_room_id``)."""
    rooms: list[str] = Field(default_factory=list)
    """Other rooms where the bot answers commands (about every tenant's cases)."""
    tenant_rooms: dict[str, str] = Field(default_factory=dict)
    """Rooms bound to tenants, ``{tenant: room id}`` (a room may serve several tenants): a tenant's
    case threads, cards and reminders go to its room, and there the bot reads and acts on those
    tenants' cases only. Cases of other tenants go to ``case_room_id``; the SOC room sees them all."""
    people_tenants: dict[str, list[str]] = Field(default_factory=dict)
    """People bound to tenants, ``{email or domain: [tenant, ...]}``: wherever they talk to the bot (a
    1:1 space, the SOC room, a tenant's room, a card), it reads and acts on those tenants' cases only
    (and only on those the room serves). An email's binding wins over its domain's. Binding allows no
    one: who may talk to the bot is ``allowed_people``, ``allowed_domains`` and the roster. People
    bound to nothing see what the room sees (the SOC's staff)."""
    allow_direct: bool = True
    """Answer allowed people in 1:1 spaces with the bot."""
    allowed_people: list[str] = Field(default_factory=list)
    """Emails of people the bot answers (besides ``allowed_domains`` and the roster)."""
    allowed_domains: list[str] = Field(default_factory=list)
    """Email domains whose people the bot answers (``example.com`` matches ``a@example.com`` only)."""
    allow_roster: bool = True
    """Everyone in the gate's ``[roster]`` may talk to the bot."""
    bus: str | None = None
    """Bus URL; defaults to the kernel's ``[aisoc] bus``."""
    namespace: str | None = None
    state_dir: Path | None = None
    """Where the bot keeps its store for a Redis bus and its memory snapshot (default: the kernel's)."""
    store: str | None = None
    """``sqlite:///PATH`` or ``memory://``; default: next to a SQLite bus, in ``state_dir`` otherwise."""
    noise: NoiseSettings = Field(default_factory=NoiseSettings)
    digest_interval_s: float = Field(default=3600, gt=0)
    """Sentinel's closures are rolled into one digest card this often."""
    digest_max: int = Field(default=200, ge=1)
    """A digest is posted early once this many closures wait."""
    room_interval_s: float = Field(default=1.0, ge=0)
    """Least time between two posts to the same room (on top of Webex's 429 Retry-After)."""
    max_attempts: int = Field(default=8, ge=1)
    """Failed sends (5xx, timeouts) of one post before it is given up and a notice is posted."""
    error_notice_interval_s: float = Field(default=900, ge=0)
    """At most one "could not post" notice per this many seconds: the bot never floods with its errors."""
    review_sla_minutes: int = Field(default=30, ge=1)
    """How soon the on-call Tier 2 analyst should pick up a review (shown on the card)."""
    warm_wait_s: float = Field(default=30, gt=0)
    """How long a question waits for the read models' build at start; past it, the question is answered
    from a catalog built for it (a warning is logged) and no later question waits."""
    done_remind_after_s: float = Field(default=1800, gt=0)
    """An approved action not reported done is reminded after this long, then escalated each interval."""
    done_reminders: int = Field(default=2, ge=0)
    """Reminders to the executors before an approved-not-done action escalates up the roster chain."""
    review_reminders: int = Field(default=1, ge=0)
    """Reminders (one per review SLA) before an unacknowledged review escalates up the chain."""
    inbox_attempts: int = Field(default=10, ge=1)
    """Tries to fetch a webhook's message (with backoff up to 5 minutes) before it is given up."""
    sweep_interval_s: float = Field(default=60, gt=0)
    """How often the bot looks for approved-not-done actions and unacknowledged reviews."""
    case_url: str | None = None
    """Link to a case on its cards, with ``{case_id}`` (e.g. your case tool's URL)."""
    timezone: ZoneName = "UTC"
    """Zone of the times shown on cards."""
    approval_links: bool = True
    """Put the gate's signed links on cards (needs the gate's ``link_keys`` and ``base_url``; the bot
    refuses to start with the gate's ``session_keys`` in its configuration)."""
    dedupe_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    """How long a received message or card action id is remembered (redeliveries are ignored)."""
    preview: bool = True
    """Without a token, serve the local preview of the space at /preview (with one, Webex is the space)."""
    preview_person: str | None = None
    """Who the person at the preview page is (email; default: the first person of the roster)."""
    sev_mentions: dict[str, list[str]] = Field(default_factory=lambda: dict(SEV_MENTIONS))
    """Plans of these SEVs are announced at top level mentioning the IR Lead and SOC Manager on call,
    plus these people (roster ids or emails; ``all`` mentions everyone): ``{"SEV-1": ["ciso", "all"]}``."""
    model: str | None = None
    """Chat model spec (as ``[aisoc] model``) that may phrase answers and route questions to read-only
    commands; its phrasing is kept only when its citations check out. None: the deterministic text."""
    bot_name: str = "aisoc"
    """The bot's display name (what people type before a command in group spaces)."""

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/") + "/"

    @field_validator("test_server")
    @classmethod
    def _test_server(cls, value: str | None) -> str | None:
        return cls._base(value) if value is not None else None

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("public_url must start with https:// (or http:// for a local test)")
        return value.rstrip("/") if value else value

    @field_validator("allowed_people", "allowed_domains")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return [v.strip().lower().lstrip("@") for v in values if v.strip()]

    @field_validator("tenant_rooms", mode="before")
    @classmethod
    def _tenant_rooms(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # pydantic says what was expected
        bound: dict[str, str] = {}
        for name, room in value.items():
            tenant = tenant_key(str(name))
            if not tenant:
                raise ValueError(
                    "a tenant name is empty: the default tenant's cases (plain ids) stay in the SOC's rooms"
                )
            if not isinstance(room, str) or not room.strip():
                raise ValueError(f"tenant {tenant!r} is bound to an empty room id")
            if bound.get(tenant, room.strip()) != room.strip():
                raise ValueError(
                    f"tenant {tenant!r} is bound to two rooms ({bound[tenant]}, {room.strip()}): "
                    "a tenant's cases go to one room"
                )
            bound[tenant] = room.strip()
        return bound

    @field_validator("people_tenants", mode="before")
    @classmethod
    def _people_tenants(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # pydantic says what was expected
        bound: dict[str, list[str]] = {}
        for raw, tenants in value.items():
            who = person_key(str(raw))
            if isinstance(tenants, str) or not isinstance(tenants, list | tuple):
                raise ValueError(f'people_tenants: {who!r} must be bound to a list of tenants: ["acme"]')
            names = sorted({tenant_key(str(t)) for t in tenants})
            if not names:
                raise ValueError(
                    f"people_tenants binds {who!r} to no tenant: name its tenants, or remove it to make "
                    "them SOC staff, who see every tenant"
                )
            if "" in names:
                raise ValueError(
                    f"people_tenants binds {who!r} to an empty tenant name: the default tenant's cases "
                    "(plain ids) are the SOC's own"
                )
            if bound.get(who, names) != names:
                raise ValueError(
                    f"people_tenants binds {who!r} twice, to {', '.join(bound[who])} and to "
                    f"{', '.join(names)}: bind each email or domain once"
                )
            bound[who] = names
        return bound

    @field_validator("case_url")
    @classmethod
    def _case_url(cls, value: str | None) -> str | None:
        if value is not None and "{case_id}" not in value:
            raise ValueError("case_url must contain {case_id}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BotSettings:
        if urlsplit(self.base_url)[:2] != ("https", WEBEX_HOST) and self.base_url != self.test_server:
            raise ValueError(
                f"base_url {self.base_url} is not Webex (https://{WEBEX_HOST}/): the bot would send its "
                "token there; name a stand-in for tests in test_server as well (AISOC_BOT_TEST_SERVER)"
            )
        if self.token is not None:
            if not self.soc_room_id:
                raise ValueError("a token needs soc_room_id: the space the bot posts to")
            if self.mode == "webhook" and self.webhook_secret is None:
                raise ValueError(
                    "mode = webhook needs webhook_secret (every delivery is checked against it); "
                    "or use mode = websocket"
                )
        if self.mode == "websocket" and self.token is None:
            raise ValueError("mode = websocket needs a token")
        for tenant, room in self.tenant_rooms.items():
            if room in (self.soc_room_id, self.case_room_id) or room in self.rooms:
                raise ValueError(
                    f"tenant_rooms binds {tenant!r} to {room}, which is also soc_room_id, case_room_id or in "
                    "rooms (those answer about every tenant): give the tenant a room of its own"
                )
        return self

    @property
    def offline(self) -> bool:
        """No token: the local preview is the space."""
        return self.token is None

    @property
    def serves_preview(self) -> bool:
        """Whether /preview is served."""
        return self.offline and self.preview

    @property
    def case_room(self) -> str:
        """The room of case threads."""
        return self.case_room_id or self.soc_room_id or "preview"

    @property
    def soc_room(self) -> str:
        """The SOC space."""
        return self.soc_room_id or "preview"

    def answer_rooms(self) -> set[str]:
        """Every room where the bot answers commands."""
        rooms = (self.soc_room_id, self.case_room_id, *self.rooms, *self.tenant_rooms.values())
        return {r for r in rooms if r} | ({"preview"} if self.serves_preview else set())

    def room_tenants(self, room_id: str) -> frozenset[str] | None:
        """The tenants a room is bound to (``tenant_rooms``); None for a room that sees every tenant."""
        bound = frozenset(t for t, r in self.tenant_rooms.items() if r == room_id)
        return bound or None

    def person_tenants(self, email: str | None) -> frozenset[str] | None:
        """The tenants a person is bound to (``people_tenants``: their email's binding, else their
        domain's); None for a person bound to none, who sees every tenant the room sees."""
        email = (email or "").strip().lower()
        if not email:
            return None
        bound = self.people_tenants.get(email) or self.people_tenants.get(email.rpartition("@")[2])
        return frozenset(bound) if bound else None

    def case_room_for(self, case_id: str | None) -> str:
        """The room of a case's thread: its tenant's room (``tenant_rooms``), else ``case_room``."""
        tenant = tenant_of(case_id) if case_id else ""
        return self.tenant_rooms.get(tenant, self.case_room) if tenant else self.case_room

    def case_link(self, case_id: str) -> str | None:
        """The case's URL from ``case_url``, if set."""
        from urllib.parse import quote

        return self.case_url.replace("{case_id}", quote(case_id, safe="")) if self.case_url else None


def load_bot_settings(config: str | os.PathLike[str] | None = None, **overrides: Any) -> BotSettings:
    """Build the bot's settings from ``[bot]``, ``[aisoc]`` (bus and state fallbacks), the environment.

    Raises:
        ConfigError: a setting is wrong; the message names it.
    """
    if (
        overrides.get("token") is None
        and os.environ.get(TOKEN_ENV)
        and not {"AISOC_TOKEN", "AISOC_BOT_TOKEN"} & set(os.environ)
    ):
        overrides["token"] = os.environ[TOKEN_ENV]
    settings = load_settings(BotSettings, config, **overrides)
    missing = settings.bus is None or settings.namespace is None or settings.state_dir is None
    if missing or settings.tenant_rooms or settings.people_tenants:
        kernel = load_settings(KernelSettings, config)
        _check_tenants(settings, kernel)
        settings = settings.model_copy(
            update={
                "bus": settings.bus or kernel.bus,
                "namespace": settings.namespace or kernel.namespace,
                "state_dir": settings.state_dir or kernel.state_dir,
            }
        )
    return settings


def _check_tenants(settings: BotSettings, kernel: KernelSettings) -> None:
    """A tenant bound to a room or a person must be one whose cases carry it: declared (when
    ``[aisoc] tenants`` lists them) and not the default tenant (its cases keep plain ids, so no room
    or person could be told them apart).

    Raises:
        ConfigError: the message names the tenant and the setting.
    """
    declared = {tenant_key(t) for t in kernel.tenants}
    default = tenant_key(kernel.default_tenant)
    bindings = [("tenant_rooms", t) for t in settings.tenant_rooms]
    bindings += [("people_tenants", t) for ts in settings.people_tenants.values() for t in ts]
    for setting, tenant in bindings:
        if default and tenant == default:
            raise ConfigError(
                f"[bot] {setting} binds {tenant!r}, the [aisoc] default_tenant: its cases keep plain ids "
                "and stay in the SOC's rooms; bind only the other tenants"
            )
        if declared and tenant not in declared:
            raise ConfigError(
                f"[bot] {setting} binds {tenant!r}, which [aisoc] tenants does not declare "
                f"({', '.join(sorted(declared))}): no case of it can arrive"
            )
