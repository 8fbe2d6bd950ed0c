"""Case records to and from JSON-compatible objects (the snapshot's row format)."""

from __future__ import annotations

from typing import Any, TypeVar

from aisoc.memory.records import (
    ActionRecord,
    AlertFacts,
    CaseRecord,
    Closure,
    Label,
    Review,
    RoleOutput,
    Step,
)

D = TypeVar("D", AlertFacts, RoleOutput, Review, Closure, Label, Step)


def _flat(value: Any) -> Any:
    # Not dataclasses.astuple: it deep-copies every field and dominated snapshot writes.
    return None if value is None else [getattr(value, name) for name in value.__slots__]


def _build(cls: type[D], row: list[Any] | None) -> D | None:
    if row is None:
        return None
    args: list[Any] = [tuple(v) if isinstance(v, list) else v for v in row]
    return cls(*args)


def _step(row: list[Any] | None) -> Step | None:
    return _build(Step, row)


def record_to_obj(rec: CaseRecord) -> dict[str, Any]:
    """Return ``rec`` as a JSON-compatible dict (keys sorted where order is arbitrary)."""
    return {
        "id": rec.case_id,
        "alert": _flat(rec.alert),
        "outputs": {k: _flat(v) for k, v in sorted(rec.outputs.items())},
        "review": _flat(rec.review),
        "closed": _flat(rec.closed),
        "truth": _flat(rec.truth),
        "actions": {
            k: [a.kind, a.target, _flat(a.proposed), _flat(a.decided), _flat(a.executed)]
            for k, a in sorted(rec.actions.items())
        },
    }


def record_from_obj(obj: dict[str, Any]) -> CaseRecord:
    """Rebuild a record from :func:`record_to_obj`'s output."""
    outputs = {k: _build(RoleOutput, v) for k, v in obj["outputs"].items()}
    return CaseRecord(
        case_id=obj["id"],
        alert=_build(AlertFacts, obj["alert"]),
        outputs={k: v for k, v in outputs.items() if v is not None},
        review=_build(Review, obj["review"]),
        closed=_build(Closure, obj["closed"]),
        truth=_build(Label, obj["truth"]),
        actions={
            k: ActionRecord(k, v[0], v[1], _step(v[2]), _step(v[3]), _step(v[4]))
            for k, v in obj["actions"].items()
        },
    )
