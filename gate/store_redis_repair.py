"""The Redis approval store's keys by what the gate keeps at each, and their repair when something
wrote around the gate (a string where a sorted set belongs, garbage in the outbox counter).

Every key the store reads or writes on the tick, a listing or the outbox is of one kind (see
:meth:`Keys.expected`). One that holds another is moved aside to ``KEY.aside-YYYYmmddTHHMMSSZ``
(the bus's helper: kept as it was for a person, never deleted), logged once, and rebuilt where the
gate can rebuild it: an index (``pending``, ``all``, ``case:*``) by the store's repair pass from the
records, the outbox order from the outbox entries themselves, the outbox counter from the order. A
``req:*`` key of another type is no record: it is kept as it is, left out and logged by the store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import ResponseError

from aisoc.bus.redis_keys import move_key_aside
from aisoc.errors import StorageConflict
from aisoc.events import utcnow
from gate.store import log
from gate.store_redis_lua import REORDER, RESEQ

SCAN_COUNT = 1000
"""Fields one HSCAN call of an outbox rebuild asks Redis for (a hint)."""
RETRIES = 5
"""How often one write or read moves a key aside and runs again before it gives up."""
_SEQ = re.compile(rb"-?[0-9]{1,18}")
"""A place in the outbox queue as stored in the field ``#<id>``."""
_NEVER = datetime.min.replace(tzinfo=UTC)
_SHOWN = {"zset": "sorted set", "counter": "string of digits"}
"""How a log line names what the gate keeps at a key (else the Redis type's own name)."""


def _occurred(payload: bytes) -> datetime:
    """When the event in an outbox ``payload`` occurred (the oldest time when it does not say)."""
    try:
        at = json.loads(payload).get("occurred_at")
        found = datetime.fromisoformat(at)
    except (ValueError, TypeError, AttributeError):
        return _NEVER
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def queue_order(fields: dict[bytes, bytes]) -> list[tuple[int, bytes]]:
    """``(score, id)`` of each entry of an outbox hash's ``fields``, oldest first.

    An entry queued by this release carries its place in the queue (the field ``#<id>``, the score
    it had in the order) and keeps it. One queued by an earlier release carries none: such entries go
    before every placed one (they were queued before the upgrade), among themselves by the time
    their event occurred, then by id.
    """
    placed: list[tuple[int, bytes]] = []
    unplaced: list[tuple[datetime, bytes]] = []
    for field, payload in fields.items():
        if field.startswith(b"#"):
            continue
        seq = fields.get(b"#" + field)
        if seq is not None and _SEQ.fullmatch(seq):
            placed.append((int(seq), field))
        else:
            unplaced.append((_occurred(payload), field))
    unplaced.sort()
    first = -len(unplaced)
    return [(first + n, field) for n, (_, field) in enumerate(unplaced)] + sorted(placed)


class Keys:
    """The gate's keys in one namespace: what each holds, and the repair of one that holds other.

    Args:
        client: the store's redis-py client.
        key: ``name -> "{ns}:name"``.
        index_moved: called when an index key was moved aside (the store's repair pass rebuilds it).
    """

    def __init__(self, client: Any, key: Callable[[str], str], index_moved: Callable[[], None]) -> None:
        self._r = client
        self._index_moved = index_moved
        self.pending, self.all = key("gate:pending"), key("gate:all")
        self.outbox, self.order, self.seq, self.damaged = (
            key(f"gate:outbox{suffix}") for suffix in ("", ":order", ":seq", ":damaged")
        )
        self._case, self._req = key("gate:case:"), key("gate:req:")
        self._fixed = {
            self.pending: "zset",
            self.all: "zset",
            self.outbox: "hash",
            self.order: "zset",
            self.seq: "counter",
            self.damaged: "stream",
        }
        self._reorder = client.register_script(REORDER)
        self._reseq = client.register_script(RESEQ)

    def expected(self, key: str) -> str | None:
        """What the gate keeps at ``key``: a Redis type, or ``counter`` (a string of digits); None
        when the key is not one of the gate's."""
        if key in self._fixed:
            return self._fixed[key]
        if key.startswith(self._case):
            return "zset"
        return "hash" if key.startswith(self._req) else None

    def is_index(self, key: str) -> bool:
        """Whether ``key`` is an index the repair pass rebuilds from the records."""
        return key in (self.pending, self.all) or key.startswith(self._case)

    def run(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a script of :mod:`gate.store_redis_lua` and return its answer. One that answers
        ``-i`` wrote nothing, as ``KEYS[i]`` holds something else than the gate keeps there: that key
        is moved aside (:meth:`mend`) and the script runs again; a request key is kept (the store
        leaves it out and logs it) and 0 is answered.

        Raises:
            StorageConflict: the key held something else again after each of ``RETRIES`` repairs.
        """
        for _ in range(RETRIES):
            answer = script(keys=keys, args=args)
            if not (isinstance(answer, int) and answer < 0):
                return answer
            key = keys[-answer - 1]
            if key.startswith(self._req):
                return 0
            self.mend(key)
        raise StorageConflict(f"gate store: {key} keeps holding what the gate does not keep there", key=key)

    def read(self, *command: Any) -> Any:
        """Run a read ``command`` on the key ``command[1]`` and answer bytes. A key holding another
        type is mended and read again; an index is read as empty until the repair pass rebuilds it.

        Raises:
            StorageConflict: the key held another type again after each of ``RETRIES`` repairs.
        """
        key = command[1]
        for _ in range(RETRIES):
            try:
                return self._r.execute_command(*command, NEVER_DECODE=True)
            except ResponseError as e:
                if "WRONGTYPE" not in str(e) or not (key in self._fixed or key.startswith(self._case)):
                    raise
                self.check([key])
                if self.is_index(key):
                    return []
        raise StorageConflict(f"gate store: {key} keeps holding another Redis type", key=key)

    def check(self, keys: Sequence[str]) -> None:
        """Mend each of ``keys`` (the gate's, not records) that holds another Redis type than the
        gate keeps there."""
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            pipe.type(key)
        for key, kind in zip(keys, pipe.execute(), strict=True):
            want = self.expected(key)
            if kind != "none" and kind != ("string" if want == "counter" else want):
                self.mend(key)

    def mend(self, key: str) -> None:
        """Move ``key`` aside (it holds something else than the gate keeps there), rebuild what can
        be rebuilt, and say so once: a warning, an error when what it held is lost."""
        want = self.expected(key) or "none"
        level, then = log.warning, "rebuilt from the records by a repair pass that starts at once"
        if key == self.order:  # moved aside and rebuilt in one atomic step (see rebuild_order)
            moved, added = self.rebuild_order()
            then = f"rebuilt from the outbox entries in the same step ({added} put back in the order queued)"
        else:
            moved = move_key_aside(self._r, key, want, utcnow())
        if self.is_index(key):
            self._index_moved()
        elif key == self.seq:
            last = self.run(self._reseq, [self.seq, self.order], [])
            then = f"set to the last place in the outbox order ({last})"
        elif key == self.outbox:
            level = log.error
            then = (
                f"the events it queued are lost: each entry of {self.order} that named one is set aside as "
                f"damaged (stream {self.damaged}) for a person"
            )
        else:
            then = "a new stream keeps the entries set aside from now on"
        if moved is not None:
            level(
                "gate store: %s held a Redis %s, not the %s the gate keeps there (written around the gate); "
                "moved aside to %s and %s",
                key,
                moved[0],
                _SHOWN.get(want, want),
                moved[1],
                then,
            )

    def rebuild_order(self) -> tuple[tuple[str, str] | None, int]:
        """Move the outbox order aside when it holds another type than a sorted set, and put every
        entry of the outbox back in it (see :func:`queue_order`) unless it is there, in one atomic
        step: no other gate process can queue an event in a new order, nor publish one, before the
        entries queued earlier are back (another process that meets the damaged order meanwhile
        rebuilds it itself; the first to finish moves it, the other only adds what is missing).

        Returns:
            ``(the type it held, its new name)`` (None when nothing was moved), and how many entries
            were put back.
        """
        fields: dict[bytes, bytes] = {}
        cursor = 0
        while True:
            try:
                cursor, found = self._r.execute_command(
                    "HSCAN", self.outbox, cursor, "COUNT", SCAN_COUNT, NEVER_DECODE=True
                )
            except ResponseError as e:
                if "WRONGTYPE" not in str(e):
                    raise
                self.check([self.outbox])  # moved aside: its entries are lost, nothing to put back
                fields = {}
                break
            fields.update(found)
            if int(cursor) == 0:
                break
        args = [part for score, field in queue_order(fields) for part in (score, field)]
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        for n in range(100):
            aside = f"{self.order}.aside-{stamp}" + (f"-{n}" if n else "")
            held, added = self.run(self._reorder, [self.outbox, self.order, aside], args)
            if held != "taken":
                return ((str(held), aside) if held else None), int(added)
        raise StorageConflict(f"gate store: no free name to move {self.order} aside to", key=self.order)
