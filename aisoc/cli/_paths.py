"""Printing each case's path through the roles (the demo and replay show it).

The path is memory's case file and each event's lead statement, styled for a terminal (rich).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape

from aisoc.bus import Bus
from aisoc.memory import CaseFile, Statement
from aisoc.memory.statements import WITH_REASON, Approver, clip, leads

DETAIL_CHARS = 90
"""Characters of a statement's reason shown after it (dimmed)."""
ACTOR_WIDTH = 15
"""Width of the "who" column."""
KIND_STYLE = {"plan": "bold", "proposal": "yellow", "review": "magenta"}
"""Rich style of the statements a person should notice on a path."""


def rich_line(s: Statement) -> str:
    """One statement as a path line: who, what (styled by kind), and its reason dimmed."""
    what = escape(s.brief)
    style = KIND_STYLE.get(s.kind)
    if style:
        what = f"[{style}]{what}[/]"
    shown = s.detail if s.kind in WITH_REASON else None
    why = f"  [dim]{escape(clip(shown, DETAIL_CHARS))}[/]" if shown else ""
    return f"{escape(s.actor):<{ACTOR_WIDTH}} {what}{why}"


def print_paths(
    bus: Bus, case_ids: Iterable[str], console: Console | None = None, approver: Approver | None = None
) -> None:
    """Print every case's path, alert first, ending at the human gate (or the closure)."""
    console = console or Console(soft_wrap=True)
    for case_id in case_ids:
        file = CaseFile.read(bus.audit, case_id)
        alert = file.alert if file else None
        host = f" [{escape(', '.join(alert.hosts[:2]))}]" if alert and alert.hosts else ""
        console.print(f"[bold]● {escape(case_id)}[/]  {escape(alert.title if alert else '')}{host}")
        for s in leads(file.statements(approver=approver) if file else []):
            if s.kind != "alert":
                console.print(f"    {rich_line(s)}")
