"""Settings, read at the edge only: entry points build them and pass them down.

One pydantic-settings class per deployable (kernel processes here; the gate and the bot have their
own), each filled from, in order of precedence: explicit overrides (CLI flags), ``AISOC_*``
environment variables, its table in the settings file (``aisoc.toml`` or ``$AISOC_CONFIG``), defaults.
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from aisoc.errors import ConfigError
from aisoc.memory.stats import StatisticsPolicy
from aisoc.runtime.guardrail import GuardrailPolicy
from aisoc.tenants import Tenancy

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "aisoc.toml"
"""The settings file looked for in the working directory when ``$AISOC_CONFIG`` is not set."""

S = TypeVar("S", bound="SocSettings")


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the settings file in use: ``explicit``, ``$AISOC_CONFIG``, or ./aisoc.toml if present.

    Raises:
        ConfigError: a file was named but does not exist.
    """
    named = explicit or os.environ.get("AISOC_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"settings file {path} (from --config or AISOC_CONFIG) does not exist")
        return path
    default = Path(DEFAULT_CONFIG)
    return default if default.is_file() else None


def read_table(path: Path | None, table: str) -> dict[str, Any]:
    """Return one table (``a.b`` for nested) of a TOML settings file, or {} when absent.

    Raises:
        ConfigError: the file is not valid TOML, or the table is not a table.
    """
    if path is None:
        return {}
    try:
        data: Any = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"settings file {path}: not valid TOML: {e}") from e
    for part in table.split(".") if table else []:
        data = data.get(part, {}) if isinstance(data, dict) else {}
    if not isinstance(data, dict):
        raise ConfigError(f"settings file {path}: [{table}] must be a table")
    return data


class _TomlTable(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


LEGACY_PREFIX = "AISOC_"
"""The environment prefix every process once shared (the gate and the bot now have their own)."""


class _LegacyEnv(EnvSettingsSource):
    """``AISOC_<NAME>`` for a process that has its own prefix now: still read, with a warning, except
    the names two processes both have (``port``...), which cannot be right for both and are refused."""

    def __init__(self, settings_cls: type[SocSettings]) -> None:
        super().__init__(settings_cls, env_prefix=LEGACY_PREFIX, env_nested_delimiter="__")
        self._cls = settings_cls

    def __call__(self) -> dict[str, Any]:
        found = {k: v for k, v in super().__call__().items() if k not in KernelSettings.model_fields}
        own = self._cls.model_config.get("env_prefix", LEGACY_PREFIX)
        for name in found:
            old, new = f"{LEGACY_PREFIX}{name.upper()}", f"{own}{name.upper()}"
            if name in self._cls.SHARED_NAMES:
                raise ConfigError(
                    f"{old} is no longer read: the gate and the bot each have a {name!r}; set {new} "
                    f"for the {self._cls.TABLE}, or {name} in [{self._cls.TABLE}] of the settings file"
                )
            log.warning("%s is deprecated for the %s: set %s instead", old, self._cls.TABLE, new)
        return found


class SocSettings(BaseSettings):
    """Base of every deployable's settings; ``TABLE`` names its table in the settings file."""

    model_config = SettingsConfigDict(env_prefix="AISOC_", env_nested_delimiter="__", extra="forbid")
    TABLE: ClassVar[str] = "aisoc"
    LEGACY_ENV: ClassVar[bool] = False
    """Also read ``AISOC_<NAME>`` (deprecated) for a process whose prefix is its own."""
    SHARED_NAMES: ClassVar[frozenset[str]] = frozenset({"host", "port", "base_url"})
    """Settings the gate and the bot both have: their old shared variables are refused."""
    _toml: ClassVar[dict[str, Any]] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        legacy = (_LegacyEnv(cls),) if cls.LEGACY_ENV else ()
        return init_settings, env_settings, *legacy, _TomlTable(settings_cls, cls._toml)


def load_settings(cls: type[S], config: str | os.PathLike[str] | None = None, **overrides: Any) -> S:
    """Build ``cls`` from overrides, environment and its table in the settings file.

    Raises:
        ConfigError: a setting is wrong; the message names it and says what was expected.
    """
    path = config_path(config)
    table = read_table(path, cls.TABLE)
    bound = type(cls.__name__, (cls,), {"_toml": table, "__module__": cls.__module__})
    try:
        return bound(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[no-any-return]
    except ValidationError as e:
        raise ConfigError(describe_settings_error(e, cls, path)) from e


def describe_settings_error(e: ValidationError, cls: type[SocSettings], path: Path | None) -> str:
    """Name each wrong setting, where it can be set, and what was expected."""
    lines = []
    for err in e.errors():
        name = ".".join(str(p) for p in err["loc"])
        env = f"{cls.model_config.get('env_prefix', LEGACY_PREFIX)}{name.upper().replace('.', '__')}"
        where = f"[{cls.TABLE}] {name} in {path} or {env}" if path else env
        if not name:  # a rule across settings: its input is the whole table, secrets included
            lines.append(f"[{cls.TABLE}]{f' in {path}' if path else ''}: {err['msg']}")
            continue
        got = "a value not shown (a secret)" if _secret(cls, err["loc"]) else repr(err.get("input"))
        lines.append(f"setting {name!r} ({where}): {err['msg']}; got {got}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def _secret(cls: type[SocSettings], loc: tuple[int | str, ...]) -> bool:
    """Whether an error is about a secret field (its input must never reach a log or a terminal)."""
    field = cls.model_fields.get(str(loc[0])) if loc else None
    return field is not None and "SecretStr" in str(field.annotation)


class KernelSettings(SocSettings):
    """Settings of the kernel's processes: workers, scheduler, ingest, replay, the demo."""

    TABLE: ClassVar[str] = "aisoc"

    bus: str = "memory://"
    """Bus URL: memory://, sqlite:///PATH, redis://HOST:PORT/DB or redis+cluster://HOST:PORT,HOST:PORT."""
    namespace: str = "soc"
    """Key prefix (Redis hash tag) shared by every process of one SOC."""
    namespaces: list[str] = []
    """Several namespaces served by one set of worker processes (one per tenant or partition; a
    Redis Cluster spreads them over its masters); empty: just ``namespace``."""
    durability: Literal["fast", "fsync"] = "fast"
    """fast: a publish is acknowledged once the bus has it; fsync: once it is on disk (see
    docs/bus.md: Redis needs appendfsync always before 7.2, WAITAOF after)."""
    visibility_timeout_s: float = Field(default=30.0, gt=0)
    """How long a delivery may stay unacked before another consumer of its group takes it over."""
    max_deliveries: int = Field(default=5, ge=1)
    """Deliveries of one event to one role before it is dead-lettered."""
    retry_base_s: float = Field(default=5.0, gt=0)
    """First delay before an event whose model (or other dependency) was unavailable is tried again;
    doubled per try. Such tries never count toward ``max_deliveries``."""
    retry_max_s: float = Field(default=300.0, gt=0)
    """Longest delay between two tries of an event that waits for its model."""
    mark_retention_days: float = Field(default=30.0, gt=0)
    """How long idempotency marks (a role's ``(role, event_id)``, a publish's event id: ingest's
    dedupe window) are kept in Redis. Exactly-once holds whatever it is: a work entry redelivered
    after it, whose mark may have expired, is dead-lettered instead of run twice; a scheduled
    report's completion mark is kept at least ten days. Keep it longer than any source may be
    re-read from its start (re-ingesting alerts older than it publishes them again)."""
    trim_every_acks: int = Field(default=500, ge=0)
    """After this many acks on one work stream a process trims it to what its groups still need
    (0: only the scheduler's maintenance trims)."""
    consumer_idle_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    """``aisoc bus trim`` forgets Redis consumers idle this long that hold no pending entry."""
    group_idle_s: float = Field(default=24 * 3600.0, gt=0)
    """A consumer group at a work stream's trim floor with no consumer activity for this long is
    reported by ``aisoc bus stats`` and the scheduler's maintenance (it holds back trimming; see
    ``aisoc bus forget-group``), and is the least idle time ``forget-group`` accepts without --force."""
    ungrouped_max_len: int = Field(default=100_000, ge=0)
    """Entries (the newest) that trimming keeps of a work stream no consumer group reads (0: all)."""
    tenants: list[str] = []
    """The organisations this SOC serves; an alert of another tenant is refused at ingest (empty:
    any tenant a source reports; cases, dedupe and recall are kept apart per tenant either way)."""
    hunt_across_tenants: bool = False
    """Let the Threat Hunter link cases of different tenants (its leads then say "across tenants")."""
    default_tenant: str = ""
    """The tenant whose cases keep plain ``source:source_id`` ids (set it to the one organisation
    of a single-tenant SOC whose source reports it, so its case ids stay as they were)."""
    model: str = "stub"
    """Chat model spec: stub, local, or openai+http://HOST:PORT/v1."""
    model_backup: str | None = None
    """Backup model spec served by failover when the primary is unreachable."""
    recall: Literal["on", "off"] = "on"
    """Inject precedent and statistics from case memory into Sentinel, Tier 2 and IR Lead prompts."""
    memory_max_cases: int = Field(default=50_000, ge=0)
    """Cases a worker's case memory holds in RAM (the newest by alert creation time); older ones
    stay in its snapshot's cold tier, where recall and rule history still find them (0: no limit)."""
    memory_max_age_days: float = Field(default=90.0, ge=0)
    """A worker's case memory holds in RAM only cases created within this many days of the newest
    alert; older ones go to the cold tier (0: no limit)."""
    statistics: StatisticsPolicy = Field(default_factory=StatisticsPolicy)
    """What the precedent statistics count: window, levels, how many per prompt (``[aisoc.statistics]``)."""
    guardrail: GuardrailPolicy = Field(default_factory=GuardrailPolicy)
    """The routing policy the runtime enforces on every close (``[aisoc.guardrail]``)."""
    timezone: str = "UTC"
    """Time zone of the scheduled reports (06:00, 14:00, 22:00 ...)."""
    state_dir: Path = Path(".aisoc")
    """Where this host keeps snapshots, cursors and other local state."""
    team: str = "roles:STANDARD_TEAM"
    """Import string of the role team the workers run."""
    demo_source: str = "integrations.samples:demo_source"
    """Import string of a callable returning the alert source ``aisoc demo`` runs."""
    tools: str | None = "integrations.tools:configured_tools"
    """Import string of a callable ``(config_path) -> tools``: the read-only tools offered to roles
    (vendor tools only when their vendor is configured); empty for none."""
    stoplist: str | None = "integrations.stoplist:configured_stoplist"
    """Import string of a callable ``(config_path) -> (Indicator) -> bool``: shared infrastructure
    that never links cases in memory; empty for none."""
    paused: list[str] = []
    """Roles paused from the start (a slug, "proposals" or "all"); the bot's pause/resume and
    ``aisoc pause``/``aisoc resume`` change it at run time, recorded on the bus."""
    redact_patterns: list[str] = []
    """Regular expressions whose matches are replaced before any event is stored."""
    redact_presets: list[str] = []
    """Named pattern sets: "secrets", "emails", "card_numbers"."""
    audit_retention_days: int = Field(default=0, ge=0)
    """Archive and trim audit entries older than this many days (0: keep everything, the default)."""
    audit_max_entries: int = Field(default=0, ge=0)
    """Archive and trim the oldest audit entries beyond this many (0: no size limit, the default)."""
    retention_interval_s: float = Field(default=3600.0, gt=0)
    """Seconds between two scheduled retention runs."""
    audit_archive_dir: Path = Path(".aisoc/archive")
    """Where retention writes its compressed archives before trimming (the scheduler runs retention
    every hour when ``audit_retention_days`` or ``audit_max_entries`` is set)."""

    def per_namespace(self) -> list[KernelSettings]:
        """These settings once per namespace served (``namespaces``, else ``namespace``)."""
        return [self.model_copy(update={"namespace": ns}) for ns in self.namespaces or [self.namespace]]

    def tenancy(self, source_tenant: str | None = None) -> Tenancy:
        """The tenant rule of this deployment, for a source whose alerts carry ``source_tenant``."""
        return Tenancy(frozenset(self.tenants), self.default_tenant, source_tenant or "")

    def bus_options(self) -> dict[str, Any]:
        """The ``Bus(...)`` keyword options these settings configure (besides the redactor)."""
        return {
            "namespace": self.namespace,
            "durability": self.durability,
            "visibility_timeout_ms": int(self.visibility_timeout_s * 1000),
            "max_deliveries": self.max_deliveries,
            "retry_base_s": self.retry_base_s,
            "retry_max_s": self.retry_max_s,
            "mark_ttl_s": int(self.mark_retention_days * 86400),
            "trim_every": self.trim_every_acks,
            "ungrouped_max_len": self.ungrouped_max_len,
        }

    metrics_host: str = "127.0.0.1"
    """Where metrics endpoints listen (``aisoc metrics``, ``aisoc worker --metrics-port``): loopback
    unless a scraper on another host needs them (then put a firewall or a proxy in front)."""
    log_level: str = "INFO"
    log_json: bool = False
    """Structured JSON logs (one object per line) instead of text."""


def bus_settings_for(
    bus: str | None, namespace: str | None, config: str | os.PathLike[str] | None = None
) -> KernelSettings:
    """The kernel's settings with another process's bus and namespace (the gate's, the bot's).

    What those processes open their bus with (``aisoc.bus.open_bus``), so the SOC's redaction,
    durability and retention apply to what people type into them too.

    Raises:
        ConfigError: a kernel setting is wrong; the message names it.
    """
    kernel = load_settings(KernelSettings, config)
    return kernel.model_copy(update={"bus": bus or kernel.bus, "namespace": namespace or kernel.namespace})
