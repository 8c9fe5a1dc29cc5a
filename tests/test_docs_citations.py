"""Numbers the docs quote from example files agree with those files.

The citation convention (README.md, docs/*.md):

- A number quoted from an example file is followed at once by an HTML comment naming the file
  (in examples/results/) and the quantity, e.g. `5588<!-- cite 20261123-075145-cuda-torch.json
  pconv/average --> G/s`. The comment does not show on a rendered page. Quantities:
  `OPERATOR/STAGE/FIELD` (a 10-layer row's `latency`, `gflops_per_s` or `throughput_per_s`),
  `OPERATOR/average` (Table 1's average FLOPS), `pconv_dwconv` (its ratio), `duration_s` (a
  run's created → finished), or `json:a.b.c` (any field of the file: a calibration's).
  The quoted digits must be the value rounded as written: "7.0" cites a value in [6.95, 7.05).
- A block of output is preceded by `<!-- output of: fbench ARGS -->` on the line before its
  code fence: the block must be what the command prints now (trailing blanks aside). A block
  of chosen lines is preceded by `<!-- output lines from: fbench ARGS -->`: each of its
  lines must be a line of the output, in the output's order.

`uv run python tests/test_docs_citations.py --update` rewrites every such block from the
current output (after a change to a report's layout), and prints each citation that differs.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import sys
from datetime import datetime
from pathlib import Path
from statistics import fmean

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script (--update)
    sys.path.insert(0, str(REPO))
EXAMPLES = REPO / "examples" / "results"
CITE = re.compile(r"(\d[\d.]*)[×%]?<!-- cite (\S+) (\S+) -->")
OUTPUT = re.compile(r"<!-- output of: fbench (.+?) -->\n(`{3,})[^\n]*\n(.*?)\n\2", re.DOTALL)
LINES = re.compile(r"<!-- output lines from: fbench (.+?) -->\n(`{3,})[^\n]*\n(.*?)\n\2", re.DOTALL)


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def quantity(path: Path, key: str) -> float:
    """The value `key` names in the example file `path` (the convention above)."""
    if key.startswith("json:"):
        value = json.loads(path.read_text(encoding="utf-8"))
        for part in key[len("json:") :].split("."):
            value = value[int(part)] if isinstance(value, list) else value[part]
        return float(value)
    from fbench.bench.results import read_result
    from fbench.reports.table1.averages import averaged_gflops, pconv_dwconv_ratio

    run = read_result(path)
    rows = [row for row in run.rows if row.layers == 10]
    parts = key.split("/")
    if parts == ["duration_s"]:
        created, finished = (datetime.fromisoformat(t) for t in (run.created, run.finished))
        return (finished - created).total_seconds()
    if parts == ["pconv_dwconv"]:
        return pconv_dwconv_ratio(rows)
    if len(parts) == 2 and parts[1] == "average":
        return fmean(averaged_gflops([row for row in rows if row.operator == parts[0]]))
    if len(parts) == 3:
        operator, stage, field = parts
        (row,) = [r for r in rows if r.operator == operator and r.stage == int(stage)]
        return float(getattr(row, field))
    raise KeyError(f"unknown quantity {key!r} (see tests/test_docs_citations.py)")


def agrees(quoted: str, value: float) -> bool:
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    return f"{value:.{decimals}f}" == quoted


def citations(text: str) -> list[tuple[str, str, str]]:
    return [match.groups() for match in CITE.finditer(text)]


def disagreements(path: Path) -> list[str]:
    wrong = []
    for quoted, name, key in citations(path.read_text(encoding="utf-8")):
        source = EXAMPLES / name
        if not source.is_file():
            wrong.append(f"{path.name}: {quoted} cites {name}, which is not in examples/results/")
            continue
        value = quantity(source, key)
        if not agrees(quoted, value):
            wrong.append(f"{path.name}: {quoted} cites {name} {key}, which is {value:.6g}")
    return wrong


def command_output(arguments: str) -> str:
    from fbench.cli import main

    stream = io.StringIO()
    with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(io.StringIO()):
        main(shlex.split(arguments))
    return _clean(stream.getvalue())


def _in_order(lines: list[str], output: str) -> bool:
    remaining = iter(output.splitlines())
    return all(any(line == candidate for candidate in remaining) for line in lines)


def _clean(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_quoted_numbers_agree_with_the_example_files(path: Path) -> None:
    assert not disagreements(path), "\n".join(disagreements(path))


def test_output_blocks_are_what_the_commands_print_now() -> None:
    stale = []
    for path in doc_files():
        for match in OUTPUT.finditer(path.read_text(encoding="utf-8")):
            if _clean(match.group(3)) != command_output(match.group(1)):
                stale.append(f"{path.name}: fbench {match.group(1)}")
        for match in LINES.finditer(path.read_text(encoding="utf-8")):
            if not _in_order(_clean(match.group(3)).splitlines(), command_output(match.group(1))):
                stale.append(f"{path.name}: lines from fbench {match.group(1)}")
    assert not stale, (
        "output blocks that differ from the command's output now (refresh them with "
        "uv run python tests/test_docs_citations.py --update):\n  " + "\n  ".join(stale)
    )


def test_the_docs_cite_the_examples_they_quote() -> None:
    # The H100 table, the README's sample run and the claims example are the quoted ones.
    cited = {name for path in doc_files() for _, name, _ in citations(path.read_text())}
    blocks = [
        m.group(1) for p in doc_files() for pattern in (OUTPUT, LINES)
        for m in pattern.finditer(p.read_text())
    ]  # fmt: skip
    assert any(name.endswith("-cuda-torch.json") for name in cited)
    assert any(arguments.startswith("show examples/results/") for arguments in blocks)
    assert any(arguments.startswith("report claims ") for arguments in blocks)


def test_a_wrong_citation_is_found(tmp_path: Path) -> None:
    cuda = next(EXAMPLES.glob("*-cuda-torch.json")).name
    page = tmp_path / "page.md"
    right = round(quantity(EXAMPLES / cuda, "pconv/average"))
    page.write_text(f"PConv {right}<!-- cite {cuda} pconv/average --> G/s\n")
    assert disagreements(page) == []
    page.write_text(f"PConv {right + 1}<!-- cite {cuda} pconv/average --> G/s\n")
    assert disagreements(page) and "which is" in disagreements(page)[0]
    assert agrees("7.0", 6.96) and not agrees("7.0", 6.94) and agrees("5588", 5587.6)


def update() -> None:
    """Rewrite every output block from the current output; list citations that disagree."""
    for path in doc_files():
        text = path.read_text(encoding="utf-8")

        def fresh(match: re.Match) -> str:
            head = match.group(0)[: match.start(3) - match.start(0)]
            return f"{head}{command_output(match.group(1))}\n{match.group(2)}"

        new = OUTPUT.sub(fresh, text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path.relative_to(REPO)}")
        for match in LINES.finditer(new):
            if not _in_order(_clean(match.group(3)).splitlines(), command_output(match.group(1))):
                print(
                    f"{path.relative_to(REPO)}: choose the lines from fbench {match.group(1)} again"
                )
        for line in disagreements(path):
            print(line)


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(__doc__)
    update()
