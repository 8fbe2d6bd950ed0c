"""Keeping the log: export, restore, retention. The audit log is the SOC's memory and its evidence.

An export is gzip-compressed JSON Lines: a header line, then one ``{"id", "event"}`` line per audit
entry in publish order. An entry that does not decode (written around the bus) is kept as stored, as
``{"id", "unreadable": {"type", "reason", "payload", "encoding"}}`` (``encoding`` ``base64`` for
bytes that are not UTF-8): retention archives it like any other entry, so trimming loses nothing.
A restore validates the whole file first and writes nothing if any line is bad, then fills an
empty bus's audit log (work streams untouched: nothing is handled twice).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aisoc import audit_guard as guard
from aisoc.audit_guard import Holder
from aisoc.bus import AuditEntry, BrokenEntry, Bus
from aisoc.errors import AisocError, ContractError
from aisoc.events import AlertReceived, Event, from_dict, utcnow
from aisoc.sources import INGEST_MARK

log = logging.getLogger(__name__)

FORMAT = "aisoc-audit-export/1"
"""The header's ``format`` value; importers refuse anything else."""


class AuditFileError(AisocError):
    """Raised when an export file is unreadable, invalid (the message names the line) or cannot be
    written."""


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    path: Path
    count: int
    first_id: str | None
    last_id: str | None
    unreadable: int = 0
    """Entries that did not decode, archived as stored (counted apart from ``count``)."""


def export(
    bus: Bus,
    path: str | os.PathLike[str],
    *,
    since: datetime | None = None,
    case_id: str | None = None,
    until_id: str | None = None,
) -> ExportResult:
    """Write audit entries to ``path`` (gzip JSONL), optionally only one case, or those that occurred
    at or after ``since``, or those up to ``until_id`` (retention). The file appears atomically."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.partial")
    count, broken, first, last = 0, 0, None, None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(tmp, "wt", encoding="utf-8") as f:
            header = {
                "format": FORMAT,
                "exported_at": utcnow().isoformat(),
                "case_id": case_id,
                "since": since.isoformat() if since else None,
                "epoch": bus.audit.epoch,
            }
            f.write(json.dumps(header) + "\n")
            for entry in _select(bus, since, case_id, until_id):
                if isinstance(entry, BrokenEntry):
                    line = {"id": entry.id, "unreadable": _stored(entry)}
                    broken += 1
                else:
                    line = {"id": entry.id, "event": entry.event.to_dict()}
                    count += 1
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
                first = first or entry.id
                last = entry.id
        _sync(tmp)  # retention trims the log once this returns: the archive must be on disk
        os.replace(tmp, target)
        _sync(target.parent)
    except BaseException as e:
        # Nothing half-written stays behind (the bus failing mid-way, a full disk, Ctrl-C).
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise AuditFileError(f"{target}: cannot write: {e}") from e
        raise
    return ExportResult(target, count, first, last, broken)


def _stored(entry: BrokenEntry) -> dict[str, str | None]:
    return {
        "type": entry.event_type,
        "reason": entry.reason,
        "payload": entry.payload,
        "encoding": entry.encoding,
    }


def _select(
    bus: Bus, since: datetime | None, case_id: str | None, until_id: str | None
) -> Iterator[AuditEntry | BrokenEntry]:
    """The entries an export takes; a broken entry goes with a whole export or a retention range
    (it names no case and no time, so a case's or a window's export leaves it out)."""
    from aisoc.bus import id_key

    for entry in bus.audit.scan():
        if until_id is not None and id_key(entry.id) > id_key(until_id):
            return
        if isinstance(entry, BrokenEntry):
            if case_id is None and since is None:
                yield entry
            continue
        if case_id is not None and entry.event.case_id != case_id:
            continue
        if since is not None and entry.event.occurred_at < since:
            continue
        yield entry


def read_export(path: str | os.PathLike[str]) -> Iterator[Event]:
    """Yield the events of an export, validating as it goes (the entries archived as stored because
    they did not decode are checked and passed over: :func:`read_archive` yields them).

    Raises:
        AuditFileError: not an export, or a line that is not a valid event (named by number).
    """
    for item in read_archive(path):
        if isinstance(item, AuditEntry):
            yield item.event


def read_archive(path: str | os.PathLike[str]) -> Iterator[AuditEntry | BrokenEntry]:
    """Yield every entry of an export with its id: the events, and the entries kept as stored.

    Raises:
        AuditFileError: not an export, or a line that is neither a valid event nor a stored entry
            (named by number).
    """
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            header = json.loads(f.readline() or "{}")
            if header.get("format") != FORMAT:
                raise AuditFileError(f"{path}: not an aisoc audit export (format {header.get('format')!r})")
            for n, line in enumerate(f, 2):
                if not line.strip():
                    continue
                try:
                    yield _archived(json.loads(line))
                except (ValueError, KeyError, TypeError, ContractError) as e:
                    raise AuditFileError(f"{path}: line {n}: {e}") from e
    except (OSError, EOFError) as e:
        raise AuditFileError(f"{path}: cannot read: {e}") from e


def _archived(line: dict[str, object]) -> AuditEntry | BrokenEntry:
    """One export line as an entry (ids are optional in files written by hand).

    Raises:
        ValueError, KeyError, TypeError, ContractError: the line is neither kind.
    """
    entry_id = str(line.get("id", ""))
    if "unreadable" not in line:
        return AuditEntry(entry_id, from_dict(line["event"]))  # type: ignore[arg-type]
    stored = line["unreadable"]
    if not isinstance(stored, dict) or stored.get("encoding") not in ("utf-8", "base64"):
        raise ValueError("an entry kept as stored needs 'unreadable' with encoding utf-8 or base64")
    payload = stored.get("payload")
    if stored["encoding"] == "base64" and payload is not None:
        base64.b64decode(str(payload), validate=True)  # binascii.Error is a ValueError
    return BrokenEntry(
        id=entry_id,
        event_type=None if stored.get("type") is None else str(stored["type"]),
        reason=str(stored.get("reason") or ""),
        payload=None if payload is None else str(payload),
        encoding=str(stored["encoding"]),
    )


def restore(bus: Bus, path: str | os.PathLike[str], *more: str | os.PathLike[str]) -> int:
    """Validate every file, then restore them, in the order given, into ``bus``'s empty audit log.

    Several files restore a log that retention has trimmed: its archives, oldest first, then the
    latest export. An event already restored from an earlier file (an archive and an export taken
    before it overlap) is restored once.

    The state that lives beside the log is rebuilt from it: ingest's dedupe mark of every restored
    alert is written again (re-ingesting the same source publishes nothing new, for as long as marks
    are kept). Role marks need no rebuild: the work streams stay empty, so nothing is redelivered.
    The gate opens again the approvals the log shows pending when its worker starts
    (``Gate.recover``); source cursors are files on the ingest host (``state_dir/cursors.json``).

    Raises:
        AuditFileError: a file is invalid, or the files are not given oldest first (nothing was
            written).
        BusError: the bus's audit log is not empty.
    """
    paths = [path, *more]
    _check_order(paths)
    count = sum(1 for _ in _unique(paths))
    broken = sum(1 for p in paths for item in read_archive(p) if not isinstance(item, AuditEntry))
    restored = bus.restore_audit(_unique(paths))
    if restored != count:
        raise AuditFileError(f"{', '.join(map(str, paths))}: restored {restored} of {count} events")
    if broken:
        log.warning(
            "restore of %s: %d entries that did not decode stay in the files only (not events)",
            ", ".join(map(str, paths)),
            broken,
        )
    for event in _unique(paths):
        if isinstance(event, AlertReceived) and event.case_id:
            bus.publish_many([], once=(INGEST_MARK, event.case_id))
    return restored


def _unique(paths: list[str | os.PathLike[str]]) -> Iterator[Event]:
    """The events of several exports in order, each event id once."""
    seen: set[str] = set()
    for path in paths:
        for event in read_export(path):
            if event.event_id not in seen:
                seen.add(event.event_id)
                yield event


def _check_order(paths: list[str | os.PathLike[str]]) -> None:
    """Refuse files of one log (same epoch) given out of order: the log must stay in publish order.
    What cannot be read is left to :func:`read_export`, which names the file and line."""
    from aisoc.bus import id_key

    newest: dict[str, tuple[str, tuple[int, int]]] = {}  # epoch -> (path, key of its last entry)
    for path in paths:
        epoch, ids = _span(path)
        try:
            keys = [id_key(i) for i in ids]
        except ValueError:
            continue
        if not (epoch and keys):
            continue
        if epoch in newest and keys[-1] < newest[epoch][1]:
            raise AuditFileError(
                f"{path} ends before {newest[epoch][0]}, which was given before it: "
                "give the files oldest first (the archives, then the latest export)"
            )
        newest[epoch] = (str(path), keys[-1])


def _span(path: str | os.PathLike[str]) -> tuple[str | None, list[str]]:
    """The epoch of an export and the id of its last entry, as a list (empty when unreadable)."""
    last: list[str] = []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            epoch = json.loads(f.readline() or "{}").get("epoch")
            for line in f:
                entry_id = json.loads(line).get("id") if line.strip() else None
                last = [entry_id] if isinstance(entry_id, str) else last
    except (OSError, EOFError, ValueError, AttributeError):
        return None, []
    return epoch if isinstance(epoch, str) else None, last


JOURNAL = ".retention.json"
"""The file in the archive folder naming the retention pass under way (``epoch``, ``through``: the
last entry its archive holds, ``archive``: the archive's name), written before the archive and
removed once the log is trimmed: the next pass finishes a pass a crash stopped instead of archiving
its entries again."""


def retain(
    bus: Bus,
    older_than: datetime | None,
    archive_dir: str | os.PathLike[str],
    *,
    max_entries: int = 0,
    wait_s: float = 0.0,
    waiting: Callable[[Holder], None] | None = None,
) -> ExportResult | None:
    """Archive the oldest audit entries to a file, then trim them: those that occurred before
    ``older_than``, and beyond them as many as keep the log at ``max_entries`` (0: no size limit).

    The archive is written, synced and read back before anything is trimmed; entries are taken from
    the start of the log up to the first one that is not old enough (the log is in publish order).
    The per-case indexes follow; work streams and the control stream are not touched here
    (``bus.trim()`` removes only entries every group acknowledged).

    One pass runs at a time across every process sharing the bus (``aisoc.audit_guard``): this one
    waits at most ``wait_s`` seconds for another (``waiting`` is told whose), then gives up.

    A crash anywhere leaves nothing behind for good, and nothing is archived twice: the pass is
    named in ``archive_dir/.retention.json`` (and in the bus, with its host and folder) before its
    archive is written, and the next pass first finishes one that stopped (it trims what that archive
    holds, or, when the archive is not whole, forgets it and archives those entries afresh); a pass
    into another folder refuses while the bus names a stopped pass it cannot see. Every pass ends
    with ``bus.repair_audit_index()``, which removes index entries of entries no longer in the log.

    Returns:
        The archive this pass wrote, or None when nothing was old enough.

    Raises:
        RetentionRunning: another pass held the lock for longer than ``wait_s`` (nothing was done).
        RetentionStopped: a pass into another archive folder stopped unfinished (nothing was done).
        AuditFileError: the archive folder cannot be written, or the archive does not read back.
    """
    folder = Path(archive_dir)
    with guard.one_pass(bus, folder, wait_s, waiting) as running:
        guard.check_stopped(bus, folder, _read_journal(folder))
        _finish(bus, folder, running)
        guard.forget(bus)  # of this folder's pass (checked above), finished by now or never begun
        last = _last_to_trim(bus, older_than, max_entries)
        if last is None:
            _repair_index(bus)
            return None
        first = bus.audit.first_id()
        name = f"audit-{(first or 'start').replace(':', '_')}-{last.replace(':', '_')}.jsonl.gz"
        state = {"epoch": bus.audit.epoch, "through": last, "archive": name}
        recorded = guard.record(bus, folder, state)
        journal = _begin(folder, state)
        result = export(bus, folder / name, until_id=last)
        if sum(1 for _ in read_archive(result.path)) != result.count + result.unreadable:
            raise AuditFileError(f"{result.path}: the archive does not read back; nothing trimmed")
        running.check()
        removed = bus.trim_audit(last)
        _repair_index(bus)
        journal.unlink()
        bus.unhold(guard.JOURNAL_KEY, recorded)
    log.info(
        "retention: archived %d audit entries (%d kept as stored: they do not decode) to %s, trimmed %d",
        result.count + result.unreadable,
        result.unreadable,
        result.path,
        removed,
    )
    return result


def _last_to_trim(bus: Bus, older_than: datetime | None, max_entries: int) -> str | None:
    """The id of the last entry retention takes now, or None when none is due."""
    excess = max(0, len(bus.audit) - max_entries) if max_entries else 0
    last = None
    for n, entry in enumerate(bus.audit.scan(), 1):
        if isinstance(entry, BrokenEntry):
            # No time of its own: it goes with the entries before it (or with the excess).
            if n <= excess:
                last = entry.id
            continue
        if n > excess and (older_than is None or entry.event.occurred_at >= older_than):
            break
        last = entry.id
    return last


def _begin(folder: Path, state: dict[str, str]) -> Path:
    """Write the journal of a pass into ``folder``, atomically and synced; returns its path."""
    path, tmp = folder / JOURNAL, folder / f"{JOURNAL}.partial"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(state), encoding="utf-8")
        _sync(tmp)
        os.replace(tmp, path)
        _sync(folder)
    except OSError as e:
        raise AuditFileError(f"{path}: cannot write: {e}") from e
    return path


def _read_journal(folder: Path) -> dict[str, str] | None:
    """The journal in ``folder`` as stored, or None when there is none or it is not one (then
    :func:`_finish` says so)."""
    try:
        state = json.loads((folder / JOURNAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {str(k): str(v) for k, v in state.items()} if isinstance(state, dict) else None


def _finish(bus: Bus, folder: Path, running: guard.Pass) -> None:
    """Finish the pass the journal in ``folder`` names, if a crash stopped it: trim the entries its
    whole archive holds. A journal of another log (wiped since), one that is not a journal, or one
    whose archive is not whole (the crash came while it was written: nothing was trimmed) is removed,
    and the pass that follows archives what the log still holds."""
    path = folder / JOURNAL
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        through, name = str(state["through"]), Path(str(state["archive"])).name
        epoch = str(state["epoch"])
    except FileNotFoundError:
        return
    except OSError as e:
        raise AuditFileError(f"{path}: cannot read: {e}") from e
    except (ValueError, KeyError, TypeError) as e:
        log.error("retention: %s is not a retention journal (%s); removed", path, e)
        path.unlink(missing_ok=True)
        return
    if epoch != bus.audit.epoch:
        log.warning("retention: %s names a pass over another audit log (wiped since); removed", path)
    elif _last_id(folder / name) != through:
        log.warning(
            "retention: the pass that was to archive up to %s in %s stopped before its archive was "
            "whole (nothing was trimmed); its entries are archived again",
            through,
            folder / name,
        )
    else:
        running.check()
        removed = bus.trim_audit(through)
        _repair_index(bus)
        log.warning(
            "retention: finished the pass that stopped after archiving up to %s in %s: trimmed %d",
            through,
            folder / name,
            removed,
        )
    path.unlink()


def _last_id(path: Path) -> str | None:
    """The id of the last entry of a whole archive, or None (missing, unreadable, empty)."""
    last = None
    try:
        for entry in read_archive(path):
            last = entry.id
    except AuditFileError:
        return None
    return last


def _repair_index(bus: Bus) -> None:
    """Remove index entries of entries no longer in the log, and say so when there were any (an
    interrupted trim of an earlier release, a restore, a hand edit: a normal pass leaves none)."""
    if removed := bus.repair_audit_index():
        log.warning(
            "retention: removed %d per-case index entries of audit entries no longer in the log", removed
        )


def _sync(path: Path) -> None:
    """Flush ``path`` (a file, or a folder after a rename in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
