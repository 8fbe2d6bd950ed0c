"""Which recorded tickets a replay runs, and in what order: all of them, the first N, or a
(stratified) random sample — always in chronological order, so precedent only comes from earlier
tickets.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from aisoc.events import Alert
from aisoc.sources import AlertSource, RecordedSource, Rejected, Truth

log = logging.getLogger(__name__)

NO_LABEL = "unlabeled"
"""Stratum of tickets without ground truth."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """One recorded ticket: its place in the replay (``seq``, chronological), the alert, the truth.

    The truth never reaches the team; the engine uses it only to score and, with recall on, to fold
    the outcome into memory once the ticket has been scored.
    """

    seq: int
    alert: Alert
    truth: Truth | None

    @property
    def ticket_id(self) -> str:
        """The case id (``source:source_id``), the ticket's key in every output file."""
        return self.alert.case_id

    @property
    def stratum(self) -> str:
        """The ground-truth label (``true_positive``, ``benign``...) or ``unlabeled``."""
        return self.truth.label.value if self.truth is not None else NO_LABEL


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A record of the source that could not become a ticket (or a duplicate of one)."""

    ticket_id: str | None
    reason: str


@dataclass
class Selection:
    """The tickets a replay runs (chronological) and the records left out as unreadable."""

    tickets: list[Ticket] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    read: int = 0
    """Records the source yielded (tickets, unreadable and duplicates)."""


def read_records(source: AlertSource) -> Iterable[tuple[Alert | Rejected, Truth | None]]:
    """Every record of ``source`` with its truth (None everywhere for a source without records())."""
    if isinstance(source, RecordedSource):
        return source.records()
    return ((item, None) for item in source.poll())


def select(
    records: Iterable[tuple[Alert | Rejected, Truth | None]],
    *,
    limit: int | None = None,
    sample: int | None = None,
    stratify: bool = False,
    seed: int = 0,
) -> Selection:
    """Choose and order the tickets of a replay.

    Duplicates (the same case id again) keep the first record; unreadable records are reported.
    A ``sample`` is drawn with ``random.Random(seed)``: with ``stratify``, each ground-truth label
    gets its proportional share (largest remainders, ties to the larger stratum). Whatever is
    chosen runs in chronological order of the alerts' creation time (source order breaks ties);
    ``limit`` then keeps the first N.

    Args:
        records: what the source yielded.
        limit: keep at most this many tickets (the earliest).
        sample: draw this many tickets at random first.
        stratify: keep the label mix of the whole set in the sample.
        seed: the sample's random seed (the same seed draws the same tickets).

    Returns:
        The tickets, numbered by ``seq`` in replay order, and the unreadable records.

    Raises:
        ValueError: ``limit`` or ``sample`` is not positive, or ``stratify`` without ``sample``.
    """
    if (limit is not None and limit < 1) or (sample is not None and sample < 1):
        raise ValueError("--limit and --sample must be positive")
    if stratify and sample is None:
        raise ValueError("--stratify needs --sample N")
    out = Selection()
    seen: dict[str, int] = {}  # case id -> the record it was first read from (1-based)
    pool: list[tuple[Alert, Truth | None]] = []
    for item, truth in records:
        out.read += 1
        if isinstance(item, Rejected):
            out.unreadable.append(Unreadable(None, f"{item.source}: {item.reason}"))
            continue
        if item.case_id in seen:
            out.unreadable.append(
                Unreadable(
                    item.case_id,
                    f"record {out.read} duplicates record {seen[item.case_id]} of the source "
                    "(the same case id); the first is kept",
                )
            )
            continue
        seen[item.case_id] = out.read
        pool.append((item, truth))
    order = list(range(len(pool)))
    if sample is not None and sample < len(pool):
        rng = random.Random(seed)
        order = _stratified(pool, sample, rng) if stratify else rng.sample(order, sample)
    order.sort(key=lambda i: (pool[i][0].created_at, i))
    if limit is not None:
        order = order[:limit]
    out.tickets = [Ticket(n, pool[i][0], pool[i][1]) for n, i in enumerate(order)]
    log.info(
        "replay selection: %d of %d records (%d unreadable or duplicate)",
        len(out.tickets),
        out.read,
        len(out.unreadable),
    )
    return out


def _stratified(pool: list[tuple[Alert, Truth | None]], n: int, rng: random.Random) -> list[int]:
    strata: dict[str, list[int]] = {}
    for i, (_, truth) in enumerate(pool):
        strata.setdefault(truth.label.value if truth is not None else NO_LABEL, []).append(i)
    exact = {k: n * len(v) / len(pool) for k, v in strata.items()}
    share = {k: int(x) for k, x in exact.items()}
    left = n - sum(share.values())
    for k in sorted(strata, key=lambda k: (-(exact[k] - share[k]), -len(strata[k]), k))[:left]:
        share[k] += 1
    chosen: list[int] = []
    for k in sorted(strata):
        chosen += rng.sample(strata[k], share[k])
    return chosen
