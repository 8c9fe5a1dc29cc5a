"""Hostile result files: every field that reaches a path is confined to the folder the user
named (traversal, absolute paths, NUL bytes, newlines, symlinks); writes that cannot be
made exit 4 naming the file; odd files are called what they are (issue 27)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bench import results
from bench.results.baselines import baseline_path
from bench.results.identity import device_identity
from fbench.cli import main
from tests.conftest import FIXTURES, assert_one_line_error

MADE_ID = "20261201-120000-cpu-torch"  # of the form fbench makes


def cli(capsys, *args: str) -> subprocess.CompletedProcess:
    """`fbench ARGS` in this process (main(argv)): its exit code, stdout and stderr."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def tree(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (symlinks as where they point) and its bytes."""
    found = {}
    for path in sorted(directory.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(directory))] = os.readlink(path).encode()
        elif path.is_file():
            found[str(path.relative_to(directory))] = path.read_bytes()
    return found


def result_file(path: Path, **changes: object) -> Path:
    """The CPU fixture with `changes` to its run fields, written at `path`."""
    data = json.loads((FIXTURES / "cpu_table1.json").read_text())
    data.update({"run_id": MADE_ID, **changes})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


HOSTILE_NAMES = [
    "../../../../victim",
    "/tmp/victim",
    "a/../../victim",
    "..",
    "victim\x00.json",
    "victim\nfbench: all good",
    "",
    ".hidden",
]


@pytest.mark.parametrize("run_id", HOSTILE_NAMES)
def test_a_run_id_that_could_leave_a_folder_is_refused_by_every_reader(tmp_path, capsys, run_id):
    results_dir = tmp_path / "deep" / "er" / "results"
    path = result_file(results_dir / "hostile.json", run_id=run_id)
    before = tree(tmp_path)
    for command in (
        ["plot", "operators", str(path), "--results-dir", str(results_dir)],
        ["show", str(path)],
        ["baseline", "save", str(path), "--baselines-dir", str(tmp_path / "baselines")],
    ):
        result = cli(capsys, *command)
        assert_one_line_error(result, f"{path}: invalid result file: run_id: ")
        assert "is not a plain name" in result.stderr
    assert tree(tmp_path) == before  # nothing written anywhere


def test_plot_builds_its_default_name_only_from_a_run_id_fbench_makes(tmp_path, capsys):
    results_dir = tmp_path / "results"
    path = result_file(results_dir / "named.json", run_id="victim")
    result = cli(capsys, "plot", "operators", str(path), "--results-dir", str(results_dir))
    assert_one_line_error(result, "run id 'victim' is not one fbench makes", "with --output")
    assert not (results_dir / "plots").exists()
    # The user may name the output themselves.
    prefix = tmp_path / "mine" / "plot"
    result = cli(capsys, "plot", "operators", str(path), "-o", str(prefix), "--formats", "svg")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in prefix.parent.iterdir()) == ["plot.csv", "plot.svg"]


def test_every_run_id_fbench_makes_is_one_plot_accepts(tmp_path):
    from devices import BACKENDS, DEVICES

    for device in DEVICES:
        for backend in BACKENDS:
            made = results.new_run_id(tmp_path, device, backend)
            assert results.made_run_id(made, "x") == made
    (tmp_path / f"{made}.json").write_text("{}")
    assert results.made_run_id(results.new_run_id(tmp_path, device, backend), "x").endswith("-2")


def test_plot_does_not_follow_a_symlink_out_of_the_results_dir(tmp_path, capsys):
    results_dir, outside = tmp_path / "results", tmp_path / "outside"
    path = result_file(results_dir / f"{MADE_ID}.json")
    outside.mkdir()
    victim = outside / "victim.csv"
    victim.write_text("precious\n")
    # A results folder unpacked from an artifact may hold links: the plots folder itself...
    (results_dir / "plots").symlink_to(outside, target_is_directory=True)
    result = cli(capsys, "plot", "operators", str(path), "--results-dir", str(results_dir))
    assert_one_line_error(result, f"--results-dir {results_dir}: refusing to write", "outside")
    assert tree(outside) == {"victim.csv": b"precious\n"}
    # ...or an output file's name.
    (results_dir / "plots").unlink()
    (results_dir / "plots").mkdir()
    (results_dir / "plots" / f"operators-{MADE_ID}.csv").symlink_to(victim)
    result = cli(capsys, "plot", "operators", str(path), "--results-dir", str(results_dir))
    assert_one_line_error(result, "refusing to write", f"resolves to {victim}")
    assert victim.read_text() == "precious\n"
    assert not (results_dir / "plots" / f"operators-{MADE_ID}.png").exists()


@pytest.mark.parametrize("value", ["../../../../victim", "/etc/victim", "a\x00b", "a\nb", ".."])
@pytest.mark.parametrize(
    "field", ["cpu_model", "board_model", "machine", "torch", "device", "backend", "dtype"]
)
def test_baseline_names_stay_in_the_baselines_dir_whatever_the_file_says(
    tmp_path, capsys, field, value
):
    data = json.loads((FIXTURES / "cpu_table1.json").read_text())
    (data["config"] if field in ("device", "backend", "dtype") else data["environment"])[field] = (
        value
    )
    path = tmp_path / "in" / "run.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    baselines = tmp_path / "a" / "b" / "baselines"
    result = cli(capsys, "baseline", "save", str(path), "--baselines-dir", str(baselines))
    assert result.returncode == 0, result.stderr
    (stored,) = baselines.iterdir()
    assert stored.suffix == ".json" and "\x00" not in stored.name and "\n" not in stored.name
    assert {p for p in tmp_path.rglob("*") if not p.is_dir()} == {path, stored}
    # A calibration is looked up by the same identity: its name cannot leave the folder.
    environment = data["environment"]
    name = device_identity(environment, value, dtype=value).calibration_name()
    assert "/" not in name and "\x00" not in name and "\n" not in name and ".." not in name


def test_baseline_save_does_not_follow_a_symlink_out_of_its_folder(tmp_path, capsys):
    path = result_file(tmp_path / "run.json")
    baselines, victim = tmp_path / "baselines", tmp_path / "victim.json"
    victim.write_text("precious")
    baselines.mkdir()
    name = baseline_path(results.read_result(path), baselines).name
    (baselines / name).symlink_to(victim)
    result = cli(capsys, "baseline", "save", str(path), "--baselines-dir", str(baselines))
    assert_one_line_error(result, f"--baselines-dir {baselines}: refusing to write", "outside")
    assert victim.read_text() == "precious"
