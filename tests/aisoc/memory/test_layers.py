"""Memory sits between the bus and the runtime: it never imports the runtime, the CLI or app packages."""

from __future__ import annotations

import ast
from pathlib import Path

import aisoc.memory

FORBIDDEN = ("aisoc.runtime", "aisoc.cli", "aisoc.models", "roles", "cards", "gate", "bot", "integrations")


def test_memory_imports_only_the_layers_below_it() -> None:
    """Given every memory module, when its imports are read, then none reaches the runtime, CLI or apps."""
    bad = []
    for path in Path(aisoc.memory.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN or n.startswith(FORBIDDEN)
            ]
    assert bad == []
