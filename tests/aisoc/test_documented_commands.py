"""Every ``aisoc`` command the docs name exists: its ``--help`` runs (documented commands cannot rot).

Command lines are read from the README and ``docs/*.md``: the start of each fenced code line and of
each inline code span (``aisoc bus dlq list ...``, ``$ aisoc demo``). The words after ``aisoc`` are
followed down the real parser's subcommands as far as they go (the rest are arguments). The options
written after a command must be its own, the README's `make demo` output must be what `aisoc demo`
prints, and every relative link and anchor of the docs must resolve.
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


OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def documented_options() -> list[tuple[tuple[str, ...], str, str]]:
    """Each ``--option`` written after a documented command, with the command and where it is."""
    top = build_parser()
    found = []
    for doc in DOCS:
        for line in _code_lines(doc.read_text()):
            if COMMAND_LINE.match(line) is None:
                continue
            words, parser, path = line.split("#")[0].split(), top, []
            words = words[words.index("aisoc") + 1 :]
            while words and words[0] in _subcommands(parser):
                path.append(words[0])
                parser = _subcommands(parser)[words.pop(0)]
            for flag in OPTION.findall(" ".join(words)):
                found.append((tuple(path), flag, f"{doc.name}: {line.strip()}"))
    return found


def test_every_documented_option_is_one_its_command_takes() -> None:
    """Given the options the docs write after a command (`aisoc ingest ... --tenant acme`), then that
    command's parser (or the top-level one) takes each of them: a renamed flag cannot linger in a page."""
    top = build_parser()
    options = documented_options()
    assert len(options) >= 40, len(options)
    wrong = []
    for path, flag, where in options:
        parser = top
        for word in path:
            parser = _subcommands(parser)[word]
        if flag not in _options(parser) | _options(top):
            wrong.append(f"{flag} is not an option of `aisoc {' '.join(path)}` ({where})")
    assert not wrong, "\n".join(wrong)


LINK = re.compile(r"\]\(([^)\s]+)\)")
PAGES = [*DOCS, ROOT / "data" / "README.md", ROOT / "bench" / "RESULTS.md", ROOT / "CHANGES.md"]


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings (lower case, punctuation dropped, spaces to hyphens)."""
    anchors, fenced, seen = set(), False, dict[str, int]()
    for line in page.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        heading = None if fenced else re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            text = heading.group(1).replace("`", "").strip().lower()
            slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
            anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


def test_every_relative_link_and_anchor_of_the_docs_resolves() -> None:
    """Given the README, the docs, data/README.md, RESULTS and CHANGES, then every relative link names
    a file of the repository and every ``#anchor`` a heading of its page; and no page refers to a
    top-level ``NAME.md`` the repository does not have (an ARCHITECTURE.md that never existed)."""
    broken = []
    for page in PAGES:
        prose = "\n".join(
            line for line in page.read_text().splitlines() if not line.lstrip().startswith("    ")
        )
        for target in LINK.findall(re.sub(r"`[^`\n]*`", "", prose)):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.name}: {target} (no such heading)")
        # a bare NAME.md (not bench/RESULTS.md), except each data folder's SOURCE.md
        for name in re.findall(r"(?<![/\w])([A-Z][A-Z_]+\.md)\b", page.read_text()):
            if not (ROOT / name).exists() and not (page.parent / name).exists() and name != "SOURCE.md":
                broken.append(f"{page.name}: names {name}, which the repository does not have")
    assert not broken, "\n".join(broken)


def test_the_readme_shows_what_aisoc_demo_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """Given the README's sample of `make demo`, when `aisoc demo` runs (no --serve), then every line
    of the sample is printed, up to what changes with the clock (the on-call person, the expiry, the
    action id)."""
    readme = (ROOT / "README.md").read_text()
    sample = readme.split("```\n● ", 1)[1].split("```", 1)[0]
    assert main(["demo"]) == 0
    printed = capsys.readouterr().out
    for line in ("● " + sample).splitlines():
        stable = line.split(" awaits ", 1)[0] if " awaits " in line else line
        assert stable.strip() and stable in printed, f"README shows {line!r}; aisoc demo does not print it"
