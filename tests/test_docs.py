"""The docs keep up with the CLI: every verb and flag is documented, links resolve, the README
stays short and free of diary words. Reads files and the argparse tree only; nothing is run."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from fbench.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = REPO / "docs"
README_MAX_LINES = 220
# A diary says when something happened; a doc says where, with what, and how to reproduce it.
DIARY_WORDS = ("morning", "afternoon", "evening", "later the same day", "second session")
# Pages other branches are writing; linked already, so listed here until they are merged.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def doc_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def cli_surface(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[str, str | None]]:
    """(command path, option) for every verb (option None) and every flag under it."""
    items: list[tuple[str, str | None]] = []
    command = " ".join(("fbench", *path))
    if path:
        items.append((command, None))
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        items += [(command, option) for option in action.option_strings]
    sub = _subparsers(parser)
    if sub is not None:
        for name, child in sub.choices.items():
            items += cli_surface(child, (*path, name))
    return items


def _mentions(text: str, token: str) -> bool:
    """`token` as a whole word: `--format` must not match inside `--formats`."""
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text) is not None


def undocumented(surface: list[tuple[str, str | None]], texts: list[str]) -> list[str]:
    """A verb is documented where a page names it (`fbench report table1`); a flag where one
    page names both its verb and the flag, so that `--format` of compare is not taken as
    documented by `--format` of report."""
    missing = []
    for command, option in surface:
        pages = [t for t in texts if _mentions(t, command)] if command != "fbench" else texts
        if option is None:
            if not pages:
                missing.append(command)
        elif not any(_mentions(t, option) for t in pages):
            missing.append(f"{command} {option}")
    return missing


def test_every_verb_and_flag_is_documented() -> None:
    texts = [path.read_text(encoding="utf-8") for path in doc_files()]
    missing = undocumented(cli_surface(build_parser()), texts)
    assert not missing, (
        "not documented in README.md or docs/*.md (add a line to docs/cli.md, or name the "
        "verb and the flag in the page that explains it):\n  " + "\n  ".join(missing)
    )


def reference_sections(text: str) -> dict[str, str]:
    """docs/cli.md's sections by the command in their heading (`## fbench run`,
    `### fbench report claims`); the text before the first one is "fbench"'s own."""
    sections, command = {"fbench": ""}, "fbench"
    for line in text.splitlines():
        heading = re.match(r"#{2,3} (fbench(?: [\w-]+)*)\s*$", line)
        if heading:
            command = heading.group(1)
            sections[command] = ""
        else:
            sections[command] += line + "\n"
    return sections


def missing_from_reference(surface: list[tuple[str, str | None]], text: str) -> list[str]:
    """Verbs without a section in the reference, and flags not in their verb's section."""
    sections = reference_sections(text)
    missing = []
    for command, option in surface:
        if command not in sections:
            missing.append(command)
        elif option is not None and not _mentions(sections[command], option):
            missing.append(f"{command} {option}")
    return sorted(set(missing))


def test_the_command_reference_lists_every_verb_and_flag_in_its_section() -> None:
    # docs/cli.md promises "every fbench verb and flag, one line each": another page
    # explaining a flag does not make the reference complete.
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = missing_from_reference(cli_surface(build_parser()), text)
    assert not missing, "missing from docs/cli.md (its verb's section):\n  " + "\n  ".join(missing)


def test_reference_check_can_fail() -> None:
    surface = [("fbench run", "--quick"), ("fbench show", "--quick"), ("fbench depth", None)]
    text = "# Command reference\n## fbench run\n| `--quick` | fast |\n## fbench show\n| `RUN` |\n"
    assert missing_from_reference(surface, text) == ["fbench depth", "fbench show --quick"]


def test_coverage_check_can_fail() -> None:
    surface = [("fbench run", None), ("fbench run", "--quick"), ("fbench show", "--quick")]
    texts = ["`fbench run --quick` is fast", "fbench show prints; --quicker is another flag"]
    assert undocumented(surface, texts) == ["fbench show --quick"]
    assert undocumented([("fbench depth", None)], texts) == ["fbench depth"]


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most 220)"


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_no_diary_words(path: Path) -> None:
    text = path.read_text(encoding="utf-8").lower()
    found = [word for word in DIARY_WORDS if re.search(rf"\b{word}\b", text)]
    found += re.findall(r"\bissue \d+", text)  # a tracker's session, not a place to look
    assert not found, f"{path.relative_to(REPO)}: diary words {found}; say where and how instead"


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor in the same page
        resolved = (path.parent / target.split("#", 1)[0]).resolve()
        if not resolved.exists():
            broken.append(target)
    return broken


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_relative_links_resolve(path: Path) -> None:
    broken = broken_links(path)
    assert not broken, f"{path.relative_to(REPO)}: links to missing files: {broken}"


def test_link_check_can_fail(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("[ok](page.md) [web](https://example.org) [gone](nowhere.md#x)\n")
    assert broken_links(page) == ["nowhere.md#x"]
