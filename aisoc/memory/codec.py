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

D = TypeVar("D", Review, Closure, Label)


def _flat(value: Any) -> Any:
    # Not dataclasses.astuple: it deep-copies every field and dominated snapshot writes.
    return None if value is None else [getattr(value, name) for name in value.__slots__]


def _build(cls: type[D], row: list[Any] | None) -> D | None:
    # Only Step, Review, Closure and Label come here: none has a tuple field.
    return None if row is None else cls(*row)


def _step(row: list[Any] | None) -> Step | None:
    return None if row is None else Step(*row)


def _alert(row: list[Any] | None) -> AlertFacts | None:
    if row is None:
        return None
    r = row
    return AlertFacts(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(r[7]), tuple(r[8]), tuple(r[9]))


def _output(row: list[Any]) -> RoleOutput:
    r = row
    return RoleOutput(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], tuple(r[8]))


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
            k: [
                a.kind,
                a.target,
                _flat(a.proposed),
                _flat(a.decided),
                _flat(a.executed),
                a.duty,
                a.expires_at,
                _flat(a.nudged),
            ]
            for k, a in sorted(rec.actions.items())
        },
    }


def record_from_obj(obj: dict[str, Any]) -> CaseRecord:
    """Rebuild a record from :func:`record_to_obj`'s output."""
    return CaseRecord(
        case_id=obj["id"],
        alert=_alert(obj["alert"]),
        outputs={k: _output(v) for k, v in obj["outputs"].items()},
        review=_build(Review, obj["review"]),
        closed=_build(Closure, obj["closed"]),
        truth=_build(Label, obj["truth"]),
        actions={
            k: ActionRecord(k, v[0], v[1], _step(v[2]), _step(v[3]), _step(v[4]), v[5], v[6], _step(v[7]))
            for k, v in obj["actions"].items()
        },
    )
