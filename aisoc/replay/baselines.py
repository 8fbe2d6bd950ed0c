"""Trivial baselines, computed on exactly the replay's tickets and order: a quality claim stands beside them.

Each baseline decides every ticket (escalate or close) from what a five-line script could know at
that moment: the ticket's tenant and rule/detector, and the labels the
:class:`~aisoc.replay.labels.LabelClock`
has released so far (the same labels the team's memory holds). None of them reads the ticket's own
label, or one younger than the label delay.

- ``escalate_all``: escalate every ticket (recall 1, precision = the true-positive share).
- ``majority_or_escalate``: the majority label of earlier same-tenant, same-rule tickets whose
  labels were known by then; escalate when there are none or they tie.
- ``majority_or_close``: the same, closing when there are none or they tie.
- ``previous_rule``: the label of the most recent earlier same-tenant, same-rule ticket whose label
  was known by then; escalate when there is none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aisoc.memory import Confusion
from aisoc.replay.tickets import Ticket

BASELINES: dict[str, str] = {
    "escalate_all": "escalate every ticket",
    "majority_or_escalate": "majority label of earlier same-tenant same-rule tickets known by then; "
    "escalate without history or on a tie",
    "majority_or_close": "majority label of earlier same-tenant same-rule tickets known by then; "
    "close without history or on a tie",
    "previous_rule": "label of the latest earlier same-tenant same-rule ticket known by then; "
    "escalate without history",
}
"""Every baseline, by name, with what it does (the metrics file carries the description)."""

_Key = tuple[str | None, str]


@dataclass
class Baselines:
    """The baselines' state over one replay: feed labels as they become known, ask per ticket."""

    _counts: dict[_Key, list[int]] = field(default_factory=dict)
    """(tenant, rule) -> [closed, escalated] labels known so far."""
    _latest: dict[_Key, tuple[Any, int, bool]] = field(default_factory=dict)
    """(tenant, rule) -> (created_at, seq, escalated) of the latest-created ticket with a known label."""

    def learn(self, ticket: Ticket) -> None:
        """The label of ``ticket`` is now known."""
        if ticket.truth is None or ticket.alert.rule is None:
            return
        key = (ticket.alert.tenant, ticket.alert.rule)
        self._counts.setdefault(key, [0, 0])[int(ticket.truth.escalated)] += 1
        mark = (ticket.alert.created_at, ticket.seq, ticket.truth.escalated)
        if key not in self._latest or mark[:2] > self._latest[key][:2]:
            self._latest[key] = mark

    def predict(self, ticket: Ticket) -> dict[str, bool]:
        """Each baseline's decision for ``ticket`` (True: escalate), from the labels known now."""
        key = (ticket.alert.tenant, ticket.alert.rule) if ticket.alert.rule is not None else None
        closed, escalated = self._counts.get(key, (0, 0)) if key else (0, 0)
        majority = None if closed == escalated else escalated > closed
        latest = self._latest.get(key) if key else None
        return {
            "escalate_all": True,
            "majority_or_escalate": True if majority is None else majority,
            "majority_or_close": False if majority is None else majority,
            "previous_rule": True if latest is None else latest[2],
        }


def decision_confusion(pairs: Iterable[tuple[bool | None, bool | None]]) -> Confusion:
    """The confusion matrix of ``(human_escalated, decided_to_escalate)`` pairs.

    Pairs without ground truth or without a decision are left out (as they are for the team).
    """
    n = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for truth, escalate in pairs:
        if truth is None or escalate is None:
            continue
        n[("tp" if truth else "fp") if escalate else ("fn" if truth else "tn")] += 1
    return Confusion(**n)


def baseline_confusion(
    pairs: Sequence[tuple[bool | None, Mapping[str, bool] | None]],
) -> dict[str, Confusion]:
    """Each baseline's confusion matrix over ``(human_escalated, baseline decisions)`` pairs."""
    return {
        name: decision_confusion((truth, (decisions or {}).get(name)) for truth, decisions in pairs)
        for name in BASELINES
    }
