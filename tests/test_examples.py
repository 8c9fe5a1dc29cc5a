"""The example results in examples/results/ load and render: show, report, plot, depth,
roofline. The docs' figures are drawn from them (scripts/make-doc-figures.py), so a change
that stops an example loading or rendering fails here, not in a reader's hands."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas
import pytest

from fbench.bench.results import read_result
from fbench.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples" / "results"
MAX_TOTAL_BYTES = 1_500_000  # the examples stay a download a reader does not notice


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "make_doc_figures", ROOT / "scripts" / "make-doc-figures.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


SCRIPT = _load_script()
EXAMPLES = SCRIPT.find_examples(EXAMPLES_DIR)
RESULTS = [*EXAMPLES.operators.values(), *EXAMPLES.networks, *EXAMPLES.depth]


def test_the_examples_are_few_small_and_each_of_a_known_kind():
    files = sorted(EXAMPLES_DIR.iterdir())
    assert sum(path.stat().st_size for path in files) <= MAX_TOTAL_BYTES
    assert all(path.suffix == ".json" for path in files), files
    assert EXAMPLES.unknown == []
    assert "cpu" in EXAMPLES.operators and "cpu" in EXAMPLES.calibrations
    assert len(EXAMPLES.networks) == 1 and len(EXAMPLES.depth) == 1
    assert len(RESULTS) + len(EXAMPLES.calibrations) == len(files)


@pytest.mark.parametrize("path", RESULTS, ids=lambda path: path.stem)
def test_every_example_loads_and_shows(path: Path, capsys):
    run = read_result(path)
    assert run.state == "complete" and len(run.rows) == run.rows_planned
    assert main(["show", str(path)]) == 0
    assert f"run {run.run_id}: complete" in capsys.readouterr().out


@pytest.mark.parametrize("device", sorted(EXAMPLES.operators))
def test_table1_report_of_each_operators_example(device: str, capsys):
    path = EXAMPLES.operators[device]
    assert main(["report", "table1", str(path), "--paper", "--format", "csv"]) == 0
    header, *records = capsys.readouterr().out.splitlines()
    operators = {record.split(",")[header.split(",").index("operator")] for record in records}
    assert {"conv", "gconv", "dwconv", "pconv"} <= operators


def test_depth_fit_of_the_depth_example(capsys):
    (path,) = EXAMPLES.depth
    assert main(["depth", str(path), "--format", "csv"]) == 0
    frame_text = capsys.readouterr().out
    assert "PConv" in frame_text or "pconv" in frame_text


@pytest.mark.parametrize("device", sorted(EXAMPLES.calibrations))
def test_roofline_of_each_device_with_its_example_calibration(device: str, capsys):
    run, calibration = EXAMPLES.operators[device], EXAMPLES.calibrations[device]
    assert main(["roofline", str(run), "--calibration", str(calibration)]) == 0
    assert "PConv 3×3" in capsys.readouterr().out


@pytest.mark.slow
def test_the_doc_figures_render_from_the_examples(tmp_path: Path):
    commands = SCRIPT.build(EXAMPLES_DIR, tmp_path)
    made = {path.stem for path in tmp_path.glob("*.png")}
    assert {"operators-cpu", "figure2-cpu", "roofline-cpu"} <= made
    # docs/figures holds exactly what the script makes: no stale figure, none missing
    assert made == {path.stem for path in (ROOT / "docs" / "figures").glob("*.png")}
    assert len(commands) == len(made)
    # every measured point of the CPU Table 1 example is in the figure's CSV
    run = read_result(EXAMPLES.operators["cpu"])
    points = pandas.read_csv(tmp_path / "operators-cpu.csv")
    measured = points[points["source"] == "measured"]
    usable = [row for row in run.rows if row.status != "failed" and row.gflops_per_s]
    assert len(measured) == len(usable)
    assert sorted(measured["y"]) == pytest.approx(sorted(r.gflops_per_s for r in usable))
