"""Plumbing shared by the file sources: JSON Lines with a byte-offset cursor, JSON exports, stdin.

A file source keeps a ``cursor`` (a string) that says how far ``poll()`` got; ``aisoc ingest``
persists it between runs and hands it back with ``restore()``. ``records()`` always reads the
whole file (replay and truth import want every ticket).

A JSON Lines cursor is ``OFFSET@DEVICE:INODE``: the byte offset in one file. When the path names
another file than the cursor's (rotated: renamed away and created again) the rest of the old file is
read first if it is still in the same directory under another name (``alerts.json.1``), then the new
file from its start; a file cut shorter than the offset (``copytruncate``) is read from its start.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from aisoc.events import Alert
from aisoc.sources import Rejected, Truth
from integrations.errors import SourceError

log = logging.getLogger(__name__)

Normalizer = Callable[[Any], tuple[Alert, "Truth | None"]]
"""Turns one decoded record into an alert and the analyst's decision (raises when it cannot)."""
NORMALIZE_ERRORS = (
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    ValidationError,
    RecursionError,
)
"""What a normalizer may raise for a record it cannot read (the record becomes a Rejected); a record
nested deeper than Python recurses is one of them, never the end of the batch."""
MAX_REASON = 1000


def record_id(value: Any, field: str) -> str:
    """A record's id as text.

    Raises:
        ValueError: the id is missing, empty, or not a string or a number: ``str()`` of it would file
            every such record under one case (``source:None``) and drop the later ones as duplicates.
    """
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value)
    raise ValueError(f"field {field!r}: no usable id ({value!r})")


def reject(reason: str, payload: Any, source: str) -> Rejected:
    """A Rejected with a bounded reason and the payload as text (nothing is lost)."""
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str, ensure_ascii=False)
    return Rejected(reason[:MAX_REASON], text, source)


def describe(e: BaseException) -> str:
    """A one-line reason for a normalization failure."""
    if isinstance(e, ValidationError):
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        return f"invalid alert field {where}: {first['msg']}"
    if isinstance(e, KeyError):
        return f"missing field {e}"
    return f"{type(e).__name__}: {e}"


def open_path(path: str | Path | None, source: str) -> Path | None:
    """The file a source reads (None for ``-``, stdin).

    Raises:
        SourceError: no path was given, or the file does not exist.
    """
    if path is None or str(path) == "":
        raise SourceError(f"the {source} source needs a file: aisoc ingest {source} PATH (or - for stdin)")
    if str(path) == "-":
        return None
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"{source}: {p} does not exist or is not a file")
    return p


class LineFileSource:
    """Records from a JSON Lines file (or stdin), one per line, resuming at a byte offset.

    Args:
        path: the file, or ``-`` for stdin.
        name: the source name.
        normalize: turns one decoded line into ``(alert, truth)``.
        stdin: the stream read for ``-`` (tests pass their own).
    """

    def __init__(
        self, path: str | Path | None, name: str, normalize: Normalizer, *, stdin: BinaryIO | None = None
    ) -> None:
        self.name = name
        self.path = open_path(path, name)
        self._normalize = normalize
        self._stdin = stdin
        self.cursor: str | None = None
        self.pending_bytes = 0

    @property
    def cursor_key(self) -> str:
        """``name:absolute path`` (stdin has no cursor)."""
        return f"{self.name}:{self.path.resolve() if self.path else '-'}"

    def restore(self, cursor: str) -> None:
        """Resume ``poll()`` at ``cursor``: ``OFFSET@DEVICE:INODE``, or a bare byte offset (written by
        an older release: taken to be in the file the path names now).

        Raises:
            ValueError: the cursor is neither form.
        """
        if self.path is None:
            return
        offset, ident = _parse_cursor(cursor)
        if ident is None:
            st = self.path.stat()
            ident = (st.st_dev, st.st_ino)
        self.cursor = _cursor(offset, ident)

    def poll(self) -> Iterator[Alert | Rejected]:
        """Alerts of the lines added since the cursor; an incomplete last line waits for its end."""
        for item, _ in self._read(resume=True):
            yield item

    def records(self) -> Iterator[tuple[Alert | Rejected, Truth | None]]:
        """Every line of the file with the analyst's decision when the record carries one."""
        return self._read(resume=False)

    def _read(self, resume: bool) -> Iterator[tuple[Alert | Rejected, Truth | None]]:
        if self.path is None:
            stream = self._stdin or sys.stdin.buffer
            for n, raw in enumerate(iter(stream.readline, b""), 1):
                yield from self._line(f"line {n}", raw)
            return
        if not resume:
            with self.path.open("rb") as f:
                yield from self._lines(f, 0, None, last=True)
            return
        offset, ident = _parse_cursor(self.cursor or "0")
        with self.path.open("rb") as f:
            st = os.fstat(f.fileno())
            current = (st.st_dev, st.st_ino)
            if ident is not None and ident != current:
                yield from self._rotated(offset, ident)
                offset = 0
            elif st.st_size < offset:
                log.warning(
                    "%s: %s is shorter (%d bytes) than the cursor (byte %d): it was truncated or "
                    "rewritten, so it is read from its start",
                    self.name,
                    self.path,
                    st.st_size,
                    offset,
                )
                offset = 0
            self.cursor = _cursor(offset, current)
            yield from self._lines(f, offset, current, last=False)

    def _rotated(
        self, offset: int, ident: tuple[int, int]
    ) -> Iterator[tuple[Alert | Rejected, Truth | None]]:
        """The rest of the file the cursor was in, when the path names another file now."""
        if self.path is None:
            return
        old = _same_file(self.path.parent, ident)
        if old is None:
            log.warning(
                "%s: %s was replaced (rotated) and the file the cursor was in (byte %d) is no longer in "
                "%s: what was appended to it after the last poll is not read; the new file is read from "
                "its start",
                self.name,
                self.path,
                offset,
                self.path.parent,
            )
            return
        log.info("%s: %s was rotated: reading the rest of %s first", self.name, self.path, old)
        with old.open("rb") as f:
            yield from self._lines(f, offset, ident, last=True)

    def _lines(
        self, f: BinaryIO, start: int, ident: tuple[int, int] | None, *, last: bool
    ) -> Iterator[tuple[Alert | Rejected, Truth | None]]:
        """The records of ``f`` from byte ``start``, moving the cursor when ``ident`` is given; an
        incomplete last line waits for its end unless ``last`` (nothing more will be written)."""
        f.seek(start)
        n = 0
        while True:
            raw = f.readline()
            if not raw:
                break
            n += 1
            complete = raw.endswith(b"\n")
            if not last and not complete and not _parses(raw):
                self.pending_bytes = len(raw)  # being written: read it next time
                log.debug(
                    "%s: %d bytes of an incomplete last line left for the next poll", self.name, len(raw)
                )
                break
            if ident is not None:
                self.cursor = _cursor(f.tell(), ident)  # set before yielding: a consumer may stop here
                self.pending_bytes = 0
            yield from self._line(f"line {n}" if not start else f"line {n} after byte {start}", raw)

    def _line(self, where: str, raw: bytes) -> Iterator[tuple[Alert | Rejected, Truth | None]]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield reject(f"{where}: not UTF-8: {e}", raw.decode("utf-8", "replace"), self.name), None
            return
        if not text.strip():
            return
        try:
            record = json.loads(text)
        except json.JSONDecodeError as e:
            yield reject(f"{where}: not JSON: {e}", text.strip(), self.name), None
            return
        except RecursionError:
            yield reject(f"{where}: JSON nested too deep to read", text.strip(), self.name), None
            return
        try:
            alert, truth = self._normalize(record)
        except NORMALIZE_ERRORS as e:
            yield reject(f"{where}: {describe(e)}", text.strip(), self.name), None
            return
        yield alert, truth


def _cursor(offset: int, ident: tuple[int, int]) -> str:
    return f"{offset}@{ident[0]}:{ident[1]}"


def _parse_cursor(cursor: str) -> tuple[int, tuple[int, int] | None]:
    """``(offset, (device, inode))`` of a JSON Lines cursor; no identity for a bare offset.

    Raises:
        ValueError: neither form.
    """
    offset, sep, ident = cursor.partition("@")
    if not sep:
        return int(offset), None
    dev, _, ino = ident.partition(":")
    return int(offset), (int(dev), int(ino))


def _same_file(directory: Path, ident: tuple[int, int]) -> Path | None:
    """The file of ``directory`` with that (device, inode), or None."""
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and entry.inode() == ident[1]:
                    st = entry.stat(follow_symlinks=False)
                    if st.st_dev == ident[0]:
                        return Path(entry.path)
    except OSError:
        return None
    return None


def _parses(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


def read_export(path: Path, list_keys: tuple[str, ...]) -> Iterator[tuple[int, Any]]:
    """Records of a recorded export: a JSON array, an object holding one under ``list_keys``, or JSONL.

    Yields ``(n, record)``; a JSON Lines line that is not JSON yields ``(n, JSONDecodeError)``, one that
    is not UTF-8 ``(n, UnicodeDecodeError)``.

    Raises:
        SourceError: the file is neither JSON nor JSON Lines, or a JSON document is not UTF-8.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if data.lstrip()[:1] in (b"[", b"{") and b"\n{" not in data:
            raise SourceError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
        yield from _lines(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"))  # JSON Lines: line by line
        return
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        for key in list_keys:
            if isinstance(doc.get(key), list):
                doc = doc[key]
                break
        else:
            doc = [doc]
    if isinstance(doc, list):
        yield from enumerate(doc, 1)
        return
    if doc is not None:
        raise SourceError(f"{path}: expected a JSON array or object, got {type(doc).__name__}")
    yield from _lines(text.splitlines())


def _lines(lines: Iterable[str | bytes]) -> Iterator[tuple[int, Any]]:
    """``(n, record)`` per JSON Lines line, ``(n, error)`` for one that is not JSON or not UTF-8."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            yield n, e


class RecordedFile:
    """A recorded file read in order; by default the cursor is how many records were read.

    Subclasses yield ``records()``; a file whose records have their own order key overrides
    ``restore`` and ``poll``.

    Raises:
        SourceError: the path is missing or is stdin.
    """

    def __init__(self, path: str | Path | None, name: str, what: str = "a recorded export") -> None:
        self.name = name
        found = open_path(path, name)
        if found is None:
            raise SourceError(f"{name}: {what} must be a file, not stdin")
        self.path = found
        self.cursor: str | None = None

    @property
    def cursor_key(self) -> str:
        """``name:absolute path``."""
        return f"{self.name}:{self.path.resolve()}"

    def restore(self, cursor: str) -> None:
        """Skip the first ``cursor`` records on the next poll."""
        self.cursor = str(int(cursor))

    def poll(self) -> Iterator[Alert | Rejected]:
        """Records after the cursor."""
        skip = int(self.cursor or 0)
        for n, (item, _) in enumerate(self.records(), 1):
            if n <= skip:
                continue
            self.cursor = str(n)
            yield item

    def records(self) -> Iterator[tuple[Alert | Rejected, Truth | None]]:
        """Every record with the analyst's decision."""
        raise NotImplementedError


class ExportFileSource(RecordedFile):
    """Recorded tickets from a vendor export file; the cursor is how many records were read.

    Args:
        path: the export file.
        name: the source name.
        normalize: turns one record into ``(alert, truth)``.
        list_keys: keys of a wrapper object that hold the records (``data``, ``resources``...).
    """

    def __init__(self, path: str | Path | None, name: str, normalize: Normalizer, list_keys: tuple[str, ...]):
        super().__init__(path, name)
        self._normalize = normalize
        self._keys = list_keys

    def records(self) -> Iterator[tuple[Alert | Rejected, Truth | None]]:
        """Every record with the analyst's decision."""
        for n, record in read_export(self.path, self._keys):
            if isinstance(record, json.JSONDecodeError):
                yield reject(f"record {n}: not JSON: {record}", record.doc.splitlines()[0], self.name), None
                continue
            if isinstance(record, UnicodeDecodeError):
                shown = record.object.decode("utf-8", "backslashreplace")  # the bytes kept as \xNN
                yield reject(f"record {n}: not UTF-8 text: {record.reason}", shown, self.name), None
                continue
            try:
                alert, truth = self._normalize(record)
            except NORMALIZE_ERRORS as e:
                yield reject(f"record {n}: {describe(e)}", record, self.name), None
                continue
            yield alert, truth


class TimeCursor:
    """An API source's cursor: the newest creation time read and the ids read at that exact time.

    Searches are inclusive (``>= time``), so the ids at the boundary are remembered and skipped, or
    the last record would be read again on every poll. Text form: ``ISO-TIME|id1,id2``.
    """

    def __init__(self, text: str | None = None) -> None:
        self.time: str | None = None
        self.ids: set[str] = set()
        if text:
            when, _, ids = text.partition("|")
            self.time = when or None
            self.ids = {i for i in ids.split(",") if i}

    @property
    def text(self) -> str | None:
        """The persisted form, or None before anything was read."""
        if self.time is None:
            return None
        return f"{self.time}|{','.join(sorted(self.ids))}" if self.ids else self.time

    def seen(self, when: datetime, record_id: str) -> bool:
        """Whether the record created at ``when`` was already read (older, or at the boundary)."""
        iso = when.astimezone(UTC).isoformat()
        return self.time is not None and (iso < self.time or (iso == self.time and record_id in self.ids))

    def advance(self, when: datetime, record_id: str) -> None:
        """Record that this record was read."""
        iso = when.astimezone(UTC).isoformat()
        if self.time is None or iso > self.time:
            self.time, self.ids = iso, {record_id}
        elif iso == self.time:
            self.ids.add(record_id)
