"""The bundled demo sample: 12 real Wazuh alerts (see SOURCE.md for provenance and licence)."""

from __future__ import annotations

from pathlib import Path

from integrations.wazuh import WazuhFileSource

SAMPLE = Path(__file__).with_name("wazuh-sample.jsonl")
"""The sample file shipped inside the package."""


def demo_source() -> WazuhFileSource:
    """The alert source ``aisoc demo`` uses by default."""
    return WazuhFileSource(SAMPLE)
