"""Every ``aisoc`` command the docs name exists: its ``--help`` runs (documented commands cannot rot).

Command lines are read from the README and ``docs/*.md``: the start of each fenced code line and of
each inline code span (``aisoc bus dlq list ...``, ``$ aisoc demo``). The words after ``aisoc`` are
followed down the real parser's subcommands as far as they go (the rest are arguments).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from aisoc.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND_LINE = re.compile(r"^\s*(?:\$\s+)?aisoc((?:\s+[a-z][a-z0-9_-]*)+)")
INLINE = re.compile(r"`([^`\n]+)`")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _code_lines(text: str) -> list[str]:
    """Lines of fenced code blocks, and inline code spans of prose."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced:
            lines.append(line)
        else:
            lines += INLINE.findall(line)
    return lines


def documented() -> dict[tuple[str, ...], str]:
    """Each command path the docs name, with one place that names it."""
    top = build_parser()
    found: dict[tuple[str, ...], str] = {}
    for doc in DOCS:
        for line in _code_lines(doc.read_text()):
            match = COMMAND_LINE.match(line)
            if match is None:
                continue
            words, path, parser = match.group(1).split(), [], top
            for word in words:
                sub = _subcommands(parser)
                if word not in sub:
                    break
                path.append(word)
                parser = sub[word]
            # the first word must be a command: a documented command that does not exist fails below
            found.setdefault(tuple(path) or (words[0],), f"{doc.name}: {line.strip()}")
    return found


COMMANDS = documented()


def test_the_docs_name_the_commands_people_run() -> None:
    """Given the docs, the reading finds the commands of the two front-door paths and the operators'
    ones (a reading that silently found nothing would check nothing)."""
    for expected in [
        ("demo",),
        ("replay",),
        ("ingest",),
        ("bus", "trim"),
        ("gate", "serve"),
        ("bot", "serve"),
    ]:
        assert expected in COMMANDS, sorted(COMMANDS)
    assert len(COMMANDS) >= 30


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_documented_command_answers_help(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a command the docs name, when `aisoc ... --help` runs, then it prints its usage and exits 0."""
    with pytest.raises(SystemExit) as done:
        main([*path, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0, f"{COMMANDS[path]} -> exit {done.value.code}"
    assert out.startswith(f"usage: aisoc {' '.join(path)}"), f"{COMMANDS[path]}: {out[:200]}"
