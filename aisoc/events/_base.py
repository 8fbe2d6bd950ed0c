"""The event envelope, the type registry, decoding and upcasting."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from aisoc.errors import ContractError

# --- bounded primitives -------------------------------------------------------------------------

Short = Annotated[str, StringConstraints(max_length=256)]
"""A name, id or label."""
Line = Annotated[str, StringConstraints(max_length=1024)]
"""One sentence: a rationale, a finding."""
Text = Annotated[str, StringConstraints(max_length=8000)]
"""A paragraph: a summary, a note."""
Blob = Annotated[str, StringConstraints(max_length=65536)]
"""Recorded model output or a serialized payload in a trace."""


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalized to UTC."""

EventId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
CASE_ID_MAX = 320
"""The longest case id (an alert whose id would be longer is dead-lettered at ingest, never cut)."""
CaseId = Annotated[str, StringConstraints(min_length=3, max_length=CASE_ID_MAX, pattern=r"\S")]
"""A case id, wherever an event names one (the envelope, precedent, reports): an id, so never cut."""


def new_event_id() -> str:
    """Return a fresh, globally unique event id."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """Return the current time in UTC (the one clock events use)."""
    return datetime.now(UTC)


class Role(StrEnum):
    """The role slugs: consumer groups, worker names, metrics keys, settings and on-call duties."""

    SENTINEL = "sentinel"
    TIER2 = "tier2"
    IR_LEAD = "ir_lead"
    THREAT_INTEL = "threat_intel"
    SOC_MANAGER = "soc_manager"
    DETECTION_ENGINEER = "detection_engineer"
    THREAT_HUNTER = "threat_hunter"
    HUMAN = "human"


ROLE_TITLES: dict[Role, str] = {
    Role.SENTINEL: "Sentinel",
    Role.TIER2: "Tier 2 Analyst",
    Role.IR_LEAD: "IR Lead",
    Role.THREAT_INTEL: "Threat Intel",
    Role.SOC_MANAGER: "SOC Manager",
    Role.DETECTION_ENGINEER: "Detection Engineer",
    Role.THREAT_HUNTER: "Threat Hunter",
    Role.HUMAN: "Human",
}
"""Display names of the roles ("IR Lead On-Call" is the duty ``ir_lead``)."""

DUTY_TITLES: dict[Role, str] = {
    Role.IR_LEAD: "IR Lead On-Call",
    Role.SOC_MANAGER: "SOC Manager On-Call",
    Role.TIER2: "Tier 2 On-Call",
}
"""Display names of the on-call duties people are asked by; other roles' duties are "<role title> On-Call"."""


def duty_title(duty: str) -> str:
    """Default display name of an on-call duty: "Tier 2 On-Call" for ``tier2`` (a roster may rename it)."""
    try:
        role = Role(duty)
    except ValueError:
        return f"{role_title(duty)} On-Call"
    return DUTY_TITLES.get(role, f"{ROLE_TITLES[role]} On-Call")


def role_title(role: str) -> str:
    """Display name of a role slug ("IR Lead"); an added role's slug is title-cased."""
    try:
        return ROLE_TITLES[Role(role)]
    except ValueError:
        return role.replace("_", " ").title()


class Component(StrEnum):
    """Producers that are not analyst roles: the plumbing that turns the outside world into events."""

    INGEST = "ingest"
    GATE = "gate"
    BOT = "bot"
    SCHEDULER = "scheduler"
    SYSTEM = "system"


RoleSlug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
"""A role added to ``roles/`` with a slug of its own (the standard slugs decode as :class:`Role`)."""
AnyRole = Annotated[Role | RoleSlug, Field(union_mode="left_to_right")]
"""A standard role (decoded as :class:`Role`), or one a SOC added (kept as its slug)."""


class ProducedBy(BaseModel):
    """Who produced an event: role slug (or component), the model leg that served it, the prompt version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Annotated[Role | Component | RoleSlug, Field(union_mode="left_to_right")]
    model_leg: Short | None = None
    prompt_version: Short | None = None


class Event(BaseModel):
    """Base of every event: a frozen model with one envelope.

    Subclasses set ``TYPE`` (the registry key), ``STREAM`` (where the bus routes it) and
    ``SCHEMA_VERSION`` (bumped with an upcaster from the previous version).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str] = ""
    STREAM: ClassVar[str] = ""
    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: EventId = Field(default_factory=new_event_id)
    type: Short = Field(default="", validate_default=True)
    schema_version: int = Field(default=0, validate_default=True)
    occurred_at: UtcDatetime = Field(default_factory=utcnow)
    case_id: CaseId | None = None
    causation_id: EventId | None = None
    produced_by: ProducedBy

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("TYPE"):
            register(cls)

    @model_validator(mode="before")
    @classmethod
    def _fill_envelope(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("type" not in data or "schema_version" not in data):
            data = {"type": cls.TYPE, "schema_version": cls.SCHEMA_VERSION, **data}
        return data

    @model_validator(mode="after")
    def _remember_validated(self) -> Event:
        # What validation built, ``revalidate`` need not check again (see _VALIDATED).
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.clear()
        _VALIDATED[id(self)] = _fingerprint(self)
        return self

    @field_validator("type")
    @classmethod
    def _check_type(cls, value: str) -> str:
        if value != cls.TYPE:
            raise ValueError(f"expected {cls.TYPE!r}, got {value!r}")
        return value

    @field_validator("schema_version")
    @classmethod
    def _check_version(cls, value: int) -> int:
        if value != cls.SCHEMA_VERSION:
            raise ValueError(f"expected version {cls.SCHEMA_VERSION}, got {value} (no upcaster ran)")
        return value

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-compatible dict that ``from_dict`` turns back into an equal event."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """Return the event as compact JSON text (the wire format on every bus backend)."""
        return self.model_dump_json()


E = TypeVar("E", bound=Event)

_REGISTRY: dict[str, type[Event]] = {}
_VALIDATED: dict[int, tuple[int, ...]] = {}
"""Events that validation built, by ``id``, with the ``id`` of each field value at that moment. An
event whose fields still are those very objects needs no second validation; ``model_construct``,
``model_copy`` and ``object.__setattr__`` give new ids or none, so they are validated in full."""
_VALIDATED_MAX = 50_000
"""Entries kept before the memo starts over (a miss only costs a full validation)."""
_ALIASES: dict[str, str] = {}
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def register(cls: type[E]) -> type[E]:
    """Add an event class to the registry under its ``TYPE`` (done for every subclass that sets one)."""
    existing = _REGISTRY.get(cls.TYPE)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise ContractError(f"event type {cls.TYPE!r} is already registered by {existing.__qualname__}")
    _REGISTRY[cls.TYPE] = cls
    return cls


def alias(old_type: str, new_type: str) -> None:
    """Keep decoding a renamed event type: payloads of ``old_type`` decode as ``new_type``."""
    _ALIASES[old_type] = new_type


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn(payload) -> payload`` that lifts ``event_type`` from ``from_version`` to the next.

    Upcasters chain: a v1 payload of a v3 type runs the v1->v2 and then the v2->v3 function.
    """

    def decorate(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return decorate


def event_types() -> dict[str, type[Event]]:
    """Return the registry: event type -> class (a copy)."""
    return dict(_REGISTRY)


def class_for(event_type: str) -> type[Event]:
    """Return the class registered for ``event_type`` (aliases followed).

    Raises:
        ContractError: the type is unknown.
    """
    name = _ALIASES.get(event_type, event_type)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ContractError(f"field 'type': unknown event type {event_type!r}") from None


def _describe(err: ValidationError, event_type: str) -> str:
    parts = []
    for item in err.errors()[:5]:
        loc = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"field '{loc}': {item['msg']}")
    more = "" if err.error_count() <= 5 else f" (and {err.error_count() - 5} more)"
    return f"{event_type}: " + "; ".join(parts) + more


def _upcast(payload: dict[str, Any], cls: type[Event]) -> dict[str, Any]:
    version = payload.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ContractError(f"{cls.TYPE}: field 'schema_version': must be an integer, got {version!r}")
    if version > cls.SCHEMA_VERSION:
        raise ContractError(
            f"{cls.TYPE}: field 'schema_version': {version} is newer than this code "
            f"understands ({cls.SCHEMA_VERSION}); upgrade aisoc"
        )
    while version < cls.SCHEMA_VERSION:
        fn = _UPCASTERS.get((cls.TYPE, version))
        if fn is None:
            raise ContractError(f"{cls.TYPE}: field 'schema_version': no upcaster from version {version}")
        payload = fn(dict(payload))
        version += 1
        payload["schema_version"] = version
    return payload


def from_dict(data: Mapping[str, Any]) -> Event:
    """Decode a dict (as produced by ``Event.to_dict``) into its event class, upcasting old versions.

    Raises:
        ContractError: unknown type, or a field is missing or invalid (the message names it).
    """
    if not isinstance(data, Mapping):
        raise ContractError(f"event payload must be an object, got {type(data).__name__}")
    raw_type = data.get("type")
    if not isinstance(raw_type, str):
        raise ContractError("field 'type': missing or not a string")
    cls = class_for(raw_type)
    payload = _upcast({**data, "type": cls.TYPE}, cls)
    try:
        return cls.model_validate(payload)
    except ValidationError as e:
        raise ContractError(_describe(e, cls.TYPE)) from e


def from_json(text: str | bytes, event_type: str | None = None) -> Event:
    """Decode JSON text; ``event_type`` (when the transport carries it) selects the fast path.

    Raises:
        ContractError: not JSON, unknown type, or invalid fields.
    """
    if event_type is not None:
        cls = class_for(event_type)
        try:
            return cls.model_validate_json(text)
        except ValidationError:
            pass  # fall through: an old version needs upcasting, or the error needs naming
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as e:
        raise ContractError(f"payload is not valid JSON: {e}") from e
    return from_dict(data)


def revalidate(event: object, where: str = "event", index: int = 0) -> Event:
    """Check again that ``event`` meets the contract, however it was built (``model_construct``,
    ``model_copy(update=...)``, a bare envelope), and return the event to store.

    An event that validation built and whose fields are still the objects it validated is returned
    at once (a memo by identity, under a microsecond); anything else is validated level by level
    from its own field values, nested models too (~25 us for an alert event, a JSON round trip
    costs ~70 us). A nested model built without validation and put into a validly built event is
    the one case the memo does not see.

    Raises:
        ContractError: not an event of a registered type, or a field breaks the contract; the
            message names ``where`` (formatted with ``index``: ``"events[{}]"``) and the field.
    """
    if not isinstance(event, Event):
        raise ContractError(f"{where.format(index)}: expected an event, got {type(event).__name__}")
    cls = type(event)
    if not cls.TYPE or _REGISTRY.get(cls.TYPE) is not cls:
        where = where.format(index)
        raise ContractError(f"{where}: field 'type': {cls.__name__} is not a registered event type")
    if _VALIDATED.get(id(event)) == _fingerprint(event):
        return event
    where = where.format(index)
    try:
        _check_nested(event)
        checked = cls.__pydantic_validator__.validate_python(event.__dict__)
    except ValidationError as e:
        raise ContractError(f"{where}: " + _describe(e, cls.TYPE)) from e
    return checked  # type: ignore[no-any-return]


def _fingerprint(event: Event) -> tuple[int, ...]:
    """The identity of an event's dict and of each of its field values."""
    return (id(event.__dict__), *map(id, event.__dict__.values()))


def _check_nested(model: BaseModel) -> None:
    for value in model.__dict__.values():
        items = value if isinstance(value, list | tuple) else (value,)
        for item in items:
            if isinstance(item, BaseModel):
                _check_nested(item)
                type(item).__pydantic_validator__.validate_python(item.__dict__)
