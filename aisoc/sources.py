"""The alert-source seam: ``poll()`` yields normalized alerts (or rejected records), and
:func:`ingest` turns them into ``alert.received`` events exactly once per case.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from aisoc.bus import Bus
from aisoc.errors import ConfigError, ContractError, StorageConflict
from aisoc.events import CASE_ID_MAX, Alert, AlertReceived, Disposition, ProducedBy
from aisoc.tenants import Tenancy, case_id_for

log = logging.getLogger(__name__)

INGEST_MARK = "ingest"
"""The idempotency-mark role of ingest: ``(ingest, case_id)`` is written with the alert, atomically."""


@dataclass(frozen=True)
class Rejected:
    """A record a source could not normalize; it goes to the dead-letter stream with ``reason``."""

    reason: str
    payload: str
    source: str = "unknown"


@runtime_checkable
class AlertSource(Protocol):
    """What ingest needs of a source. Sources that resume keep a cursor (see :class:`CursorStore`)."""

    name: str

    def poll(self) -> Iterable[Alert | Rejected]:
        """Yield what is new since the last poll; an exhausted file source yields nothing more."""


@runtime_checkable
class Resumable(Protocol):
    """A source whose progress survives restarts: :func:`aisoc.ingest.run_ingest` saves ``cursor``
    under ``cursor_key`` in a :class:`CursorStore` and calls ``restore()`` to resume.

    A source sets its cursor past an item before yielding it; the runner keeps the cursor of the
    last item it handled, so an item whose publishing failed is read again.
    """

    name: str
    cursor: str | None

    @property
    def cursor_key(self) -> str:
        """What the cursor belongs to (the source and its file or URL), the key it is saved under."""

    def restore(self, cursor: str) -> None:
        """Resume after ``cursor``."""


@dataclass(frozen=True)
class Truth:
    """What the human analyst decided about a recorded ticket (never shown to a model).

    ``escalated`` is what replay scores against; ``label`` the disposition; ``field`` names the
    source field it came from (``label``, ``IncidentGrade``, ``closeReason``...).
    """

    escalated: bool
    label: Disposition
    field: str
    note: str | None = None
    labeled_at: datetime | None = None
    """When the analyst gave the label, if the source records it (replay's label delay uses it)."""


@runtime_checkable
class RecordedSource(Protocol):
    """A source of recorded tickets with the human's decision, for replay and truth import."""

    name: str

    def records(self) -> Iterable[tuple[Alert | Rejected, Truth | None]]:
        """Yield each ticket (or the reason it could not be read) with its truth when known."""


SOURCES_GROUP = "aisoc.sources"
"""Entry-point group naming alert-source factories ``(path, **options) -> AlertSource``."""


def source_names() -> list[str]:
    """Names of the installed alert sources."""
    return sorted(ep.name for ep in entry_points(group=SOURCES_GROUP))


def open_source(name: str, path: str | None = None, **options: Any) -> AlertSource:
    """Build the installed source ``name`` for ``path`` (a file, ``-`` for stdin, or None).

    Raises:
        ConfigError: no source has that name.
    """
    for ep in entry_points(group=SOURCES_GROUP):
        if ep.name == name:
            source: AlertSource = ep.load()(path, **options)
            return source
    raise ConfigError(f"unknown alert source {name!r}; installed: {', '.join(source_names())}")


class CursorStore:
    """Durable cursors of alert sources: one small JSON file, replaced atomically on each write."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._data: dict[str, str] = {}
        if self.path and self.path.exists():
            self._data = self._read(self.path)

    @staticmethod
    def _read(path: Path) -> dict[str, str]:
        """The saved cursors.

        Raises:
            ConfigError: the file is not a JSON object of cursors (edited by hand, or damaged).
                Starting over silently could ingest alerts older than the dedupe marks again.
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8") or "{}")
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not an object")
        except (ValueError, UnicodeDecodeError) as e:
            raise ConfigError(
                f"cursor file {path} is not a JSON object of source cursors ({e}); repair it, or remove "
                "it to read every source from its start (alerts of the last mark_retention_days are "
                "dropped as duplicates, older ones would be new cases)"
            ) from e
        return {str(k): str(v) for k, v in data.items() if v is not None}

    def get(self, source: str) -> str | None:
        """The saved cursor of ``source``, or None."""
        return self._data.get(source)

    def set(self, source: str, cursor: str) -> None:
        """Save ``cursor``; it survives restarts when the store has a path."""
        with self._lock:
            self._data[source] = cursor
            if self.path is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cursor-")
            with os.fdopen(fd, "w") as f:
                json.dump(self._data, f, sort_keys=True)
            os.replace(tmp, self.path)


@dataclass
class IngestStats:
    """What one :func:`ingest` pass did."""

    published: int = 0
    duplicates: int = 0
    rejected: int = 0
    case_ids: list[str] = field(default_factory=list)


def ingest(
    source: AlertSource,
    bus: Bus,
    *,
    limit: int | None = None,
    tenancy: Tenancy | None = None,
    into: IngestStats | None = None,
) -> IngestStats:
    """Publish one ``alert.received`` per new case from one poll of ``source``.

    Each alert is first filed under its tenant (``tenancy``: the deployment's declared tenants, its
    default tenant, the source's own tenant); an alert of an undeclared tenant is dead-lettered.
    The same (tenant, source, source id) seen again — polled twice, or updated upstream — is the same
    case and is not published again (for as long as the bus keeps idempotency marks, 30 days by
    default). Rejected records are dead-lettered with their reason. When the bus fails mid-way the
    exception propagates; what was published stays published, and the rest can be retried. Counts
    go into ``into`` when given, so a caller still knows what a failed pass published.

    Returns:
        Counts of what was published, dropped as duplicate, and rejected.
    """
    stats = into if into is not None else IngestStats()
    producer = ProducedBy(role="ingest")
    tenancy = tenancy or Tenancy()
    for polled in source.poll():
        item = file_under_tenant(polled, tenancy)
        if isinstance(item, Rejected):
            stats.rejected += 1
            bus.dead_letter(f"{item.source}: {item.reason}", item.payload, stream="alerts", group="ingest")
            continue
        # The mark and the alert are written in one atomic step: a bus that fails in between can
        # neither lose the alert (marked but never published) nor publish it twice.
        event = AlertReceived(alert=item, case_id=item.case_id, produced_by=producer)
        try:
            fresh = bus.publish_many([event], once=(INGEST_MARK, item.case_id))
        except (ContractError, StorageConflict) as e:
            # The bus refuses this alert (over its size limit), or a key of its own case was damaged
            # around the bus: the alert is kept as a dead letter and the batch goes on. A conflict on
            # a shared key (every publish would fail) propagates like any bus failure.
            if isinstance(e, StorageConflict) and e.case_id != item.case_id:
                raise
            stats.rejected += 1
            log.warning("alert %s refused by the bus: %s", item.case_id, e)
            bus.dead_letter(f"{item.source}: refused by the bus: {e}", item.model_dump_json(), group="ingest")
            continue
        if not fresh:
            stats.duplicates += 1
            log.debug("duplicate alert %s dropped", item.case_id)
            continue
        stats.published += 1
        stats.case_ids.append(item.case_id)
        if limit is not None and stats.published >= limit:
            break
    return stats


def file_under_tenant(item: Alert | Rejected, tenancy: Tenancy) -> Alert | Rejected:
    """``item`` filed under the tenant the deployment gives it, or refused with the reason (ingest,
    and every other reader of a source, such as ``aisoc truth import``, so ids agree).

    An alert whose case id would be longer than a case id may be (a long tenant name, percent-quoted,
    with a long source id) is refused too: an id is never cut, and a cut one could be another case's.
    """
    if isinstance(item, Rejected):
        return item
    try:
        tenant = tenancy.assign(item.tenant)
    except ValueError as e:
        return Rejected(str(e), item.model_dump_json(), item.source)
    case_id = case_id_for(item.source, item.source_id, tenant)
    if len(case_id) > CASE_ID_MAX:
        return Rejected(
            f"case id {case_id[:48]}... is {len(case_id)} characters, over the {CASE_ID_MAX} a case id "
            f"may have: the tenant's name percent-quoted and the source id ({len(item.source_id)} "
            "characters) are too long together",
            item.model_dump_json(),
            item.source,
        )
    return item if tenant == item.tenant else item.model_copy(update={"tenant": tenant})
