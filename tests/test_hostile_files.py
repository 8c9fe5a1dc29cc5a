"""Hostile result files: every field that reaches a path is confined to the folder the user
named (traversal, absolute paths, NUL bytes, newlines, symlinks); writes that cannot be
made exit 4 naming the file; odd files are called what they are (issue 27)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fbench.bench import results
from fbench.bench.errors import EXIT_INCOMPLETE, EXIT_INTERRUPTED
from fbench.bench.results.baselines import baseline_path
from fbench.bench.results.identity import device_identity
from tests.conftest import FIXTURES, REPO, assert_one_line_error, cli, start_fbench, tiny_tmpfs

MADE_ID = "20261201-120000-cpu-torch"  # of the form fbench makes


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
    from fbench.devices import BACKENDS, DEVICES

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


def test_a_calibration_is_not_looked_up_outside_its_folder(tmp_path, capsys):
    data = json.loads((FIXTURES / "cpu_table1.json").read_text())
    data["environment"].pop("calibration", None)
    for row in data["rows"]:
        row["device"] = "../../evil"
    path = tmp_path / "a" / "b" / "run.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    calibrations = tmp_path / "a" / "b" / "calibrations"
    calibrations.mkdir()
    # Where an unslugged name (calibrations/../../evil-<model>-float32.json) would lead:
    bait = tmp_path / "a" / "evil-hand-made-test-cpu-float32.json"
    bait.write_bytes((FIXTURES / "cpu_calibration.json").read_bytes())
    result = cli(capsys, "roofline", str(path), "--calibrations-dir", str(calibrations))
    assert_one_line_error(result, "no calibration for device '../../evil'")


def test_a_planted_lock_symlink_is_not_followed(tmp_path, capsys):
    from fbench.bench import environment

    results_dir, victim = tmp_path / "results", tmp_path / "victim.txt"
    data = json.loads((FIXTURES / "cpu_table1.json").read_text())
    here = environment.collect()
    data["environment"].update({key: here.get(key) for key in ("machine", "cpu_model", "torch")})
    data["state"] = "interrupted"
    path = results_dir / "stored.json"
    results_dir.mkdir()
    path.write_text(json.dumps(data))
    victim.write_text("precious")
    (results_dir / ".stored.json.lock").symlink_to(victim)
    result = cli(capsys, "run", "--resume", str(path), "--results-dir", str(results_dir))
    assert_one_line_error(result, ".stored.json.lock: a symlink where the run's lock file goes")
    assert victim.read_text() == "precious"


# --- files that cannot be written: exit 4, naming the file; no lock left ------------------


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a tiny tmpfs filled to the last byte (mounting needs root: else skip)."""
    with tiny_tmpfs(tmp_path / "disk", "64k") as disk:
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(filler, b"\0" * 4096):
                pass
        except OSError:  # full
            pass
        finally:
            os.close(filler)
        yield disk


def test_outputs_that_cannot_be_written_exit_4_naming_the_file(tmp_path, capsys, fixture_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    prefix = blocker / "plot"  # its folder is a file
    result = cli(capsys, "plot", "operators", str(fixture_path), "-o", str(prefix))
    assert_one_line_error(result, f"{blocker}", "cannot write", code=EXIT_INCOMPLETE)
    for verb in (["table1"], ["claims"]):
        result = cli(capsys, "report", *verb, str(fixture_path), "-o", "/dev/full")
        assert_one_line_error(
            result, "/dev/full: cannot write (No space left on device)", code=EXIT_INCOMPLETE
        )
    # A --baselines-dir that cannot be created is a bad flag, named before anything is
    # written (exit 2, docs/regression-gate.md); a full disk inside a good one is exit 4 (below).
    result = cli(
        capsys, "baseline", "save", str(fixture_path), "--baselines-dir", str(blocker / "b")
    )
    assert_one_line_error(result, f"--baselines-dir {blocker / 'b'}", "cannot create it")
    assert blocker.read_text() == "not a folder"


def test_a_full_disk_is_exit_4_for_plot_and_baseline_save(full_disk, capsys, fixture_path):
    before = tree(full_disk)
    prefix = full_disk / "plots" / "p"
    result = cli(capsys, "plot", "operators", str(fixture_path), "-o", str(prefix))
    assert_one_line_error(result, "cannot write (No space left on device)", code=EXIT_INCOMPLETE)
    assert str(full_disk) in result.stderr
    result = cli(capsys, "baseline", "save", str(fixture_path), "--baselines-dir", str(full_disk))
    assert_one_line_error(
        result, f"--baselines-dir {full_disk}: cannot store the baseline", code=EXIT_INCOMPLETE
    )
    assert "No space left on device" in result.stderr
    assert {k: v for k, v in tree(full_disk).items() if k != "plots/p.png"} == before


@pytest.mark.slow
def test_run_on_a_full_disk_names_the_file_and_leaves_no_lock(full_disk):
    from tests.conftest import fbench

    before = tree(full_disk)
    result = fbench(
        "run", "--quick", "--operators", "dwconv", "--stages", "4", "--layers", "1",
        "--pin-core", "none", "--results-dir", str(full_disk), "--no-table",
    )  # fmt: skip
    assert_one_line_error(result, str(full_disk), "No space left on device", code=EXIT_INCOMPLETE)
    assert tree(full_disk) == before  # no result file, no lock (not even an empty one)
    assert not [p for p in full_disk.iterdir() if p.name.endswith(".lock")]


# --- odd files are called what they are ----------------------------------------------------


def test_odd_result_files_are_called_what_they_are(tmp_path, capsys, fixture_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # reading it would block forever
    loop = tmp_path / "loop.json"
    loop.symlink_to(tmp_path / "loop2.json")
    (tmp_path / "loop2.json").symlink_to(loop)
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "gone.json")
    spaced = result_file(tmp_path / "spaced.json", schema="fbench.result/2 ")
    for path, fragment in (
        (fifo, f"{fifo}: not a regular file (a FIFO or a device?)"),
        (loop, f"{loop}: a symlink loop"),
        (dangling, f"{dangling}: a symlink to a missing file"),
        (spaced, "schema 'fbench.result/2 ' is not an fbench result format"),
    ):
        for command in (["show", str(path)], ["report", "table1", str(path)]):
            result = cli(capsys, *command)
            assert_one_line_error(result, fragment)
            assert "no such result file" not in result.stderr
            assert "upgrade fbench" not in result.stderr
    # By run id in --results-dir too.
    result = cli(capsys, "show", "loop", "--results-dir", str(tmp_path))
    assert_one_line_error(result, f"{loop}: a symlink loop")
    # A byte-order mark is read past: the file is the JSON after it.
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + fixture_path.read_bytes())
    assert cli(capsys, "show", str(bom)).stdout == cli(capsys, "show", str(fixture_path)).stdout
    assert results.read_result(bom) == results.read_result(fixture_path)
    config = tmp_path / "bom.toml"
    config.write_bytes(b"\xef\xbb\xbf[compare]\nthreshold = 0.1\n")
    from fbench.bench.config.toml import load_compare_settings

    assert load_compare_settings(config)["threshold"] == 0.1


# --- SIGTERM: exit 130 for every verb ------------------------------------------------------


def _handles_sigterm(pid: int) -> bool:
    """Whether the process has installed a SIGTERM handler (Linux: SigCgt in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


def _terminate_once_handled(process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not _handles_sigterm(process.pid):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)


def test_sigterm_ends_plot_with_130(tmp_path, fixture_path):
    plot = start_fbench("plot", "operators", str(fixture_path), "-o", str(tmp_path / "p"))
    _terminate_once_handled(plot)
    rest = plot.stderr.read()
    assert plot.wait(timeout=60) == EXIT_INTERRUPTED, rest
    assert rest.strip() == "fbench plot: interrupted"


def test_an_interrupt_caught_inside_exec_still_exits_130(tmp_path):
    # A signal that lands in exec() of a string (a dataclass's __init__ being built during a
    # lazy import) leaves CPython 3.11 believing the KeyboardInterrupt went unhandled; under
    # `python -m`, a plain sys.exit(130) then ends in SIGINT (-2). The entry must say 130.
    (tmp_path / "interrupted_in_exec.py").write_text(
        "import fbench.cli as cli\n"
        "def interrupted_in_exec():\n"
        "    try:\n"
        "        exec('raise KeyboardInterrupt')\n"
        "    except KeyboardInterrupt:\n"
        "        return cli.EXIT_INTERRUPTED\n"
        "cli.main = interrupted_in_exec\n"
        "cli.entry()\n"
    )
    finished = subprocess.run(
        [sys.executable, "-m", "interrupted_in_exec"], cwd=tmp_path, capture_output=True
    )
    assert finished.returncode == EXIT_INTERRUPTED, finished.stderr


def test_sigterm_ends_show_blocked_on_its_output_with_130(tmp_path, fixture_path):
    data = json.loads(fixture_path.read_text())
    rows = data["rows"]
    # Far more than a pipe holds (64 KiB), so show is still printing when the signal comes.
    data["rows"] = [{**row, "channels": index + 1} for index in range(200) for row in rows]
    data["rows_planned"] = len(data["rows"])
    path = tmp_path / "big.json"
    path.write_text(json.dumps(data))
    show = subprocess.Popen(
        [sys.executable, "-m", "fbench.cli", "show", str(path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    first = show.stdout.read(100)  # it is printing, and blocks once the pipe is full
    assert first.startswith(b"run ")
    _terminate_once_handled(show)
    show.stdout.read()
    err = show.stderr.read().decode()
    assert show.wait(timeout=60) == EXIT_INTERRUPTED, err
    assert err.strip() == "fbench show: interrupted"


# --- duplicate inputs are read once and said once ------------------------------------------


def test_duplicate_inputs_are_read_once_and_said_once(tmp_path, capsys, fixture_path):
    link = tmp_path / "link.json"
    link.symlink_to(fixture_path)
    copy = tmp_path / "copy.json"
    copy.write_bytes(fixture_path.read_bytes())
    once = cli(capsys, "report", "table1", str(fixture_path), "--format", "csv")
    assert once.returncode == 0, once.stderr
    many = [str(fixture_path), str(link), str(copy), str(fixture_path)] * 50
    for command in (["report", "table1", "--format", "csv"], ["report", "claims"]):
        single = cli(capsys, *command, str(fixture_path))
        repeated = cli(capsys, *command, *many)
        assert repeated.returncode == 0 == single.returncode, repeated.stderr
        assert repeated.stdout == single.stdout
    loaded = results.load_results(many, tmp_path)
    assert [run.run_id for run in loaded] == ["fixture-cpu"]
    # The same run id in two files that disagree is not silently merged.
    data = json.loads(fixture_path.read_text())
    data["rows"] = data["rows"][:-1]
    copy.write_text(json.dumps(data))
    result = cli(capsys, "report", "table1", str(fixture_path), str(copy))
    assert_one_line_error(result, f"{fixture_path} and {copy} both hold run fixture-cpu")


def test_plot_of_one_file_given_many_times_draws_it_once(tmp_path, capsys, fixture_path):
    one = cli(capsys, "plot", "operators", str(fixture_path), "-o", str(tmp_path / "one"))
    copies = []
    for index in range(20):
        copies.append(tmp_path / f"copy-{index}.json")
        copies[-1].write_bytes(fixture_path.read_bytes())
    many = [str(fixture_path)] * 200 + [str(copy) for copy in copies]
    again = cli(capsys, "plot", "operators", *many, "-o", str(tmp_path / "many"))
    assert one.returncode == 0 == again.returncode, again.stderr
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "many.csv").read_text()


# --- operator parameters: stored exactly, or refused ---------------------------------------

FILE_OPS = "tests/custom_ops/file_ops.py:make_depthwise"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ("d=1979-05-27", "parameter d = 1979-05-27: a TOML date"),
        ("ratio=nan", "parameter ratio = nan: not a finite number"),
        ("ratio=inf", "parameter ratio = inf: not a finite number"),
        ("ratio=-inf", "parameter ratio = -inf: not a finite number"),
        ("xs=[nan]", "parameter xs[0] = nan"),
        ("k=1,k=3", "parameter k is given twice"),
    ],
)
def test_operator_flag_values_a_result_cannot_store_are_refused(tmp_path, capsys, params, fragment):
    results_dir = tmp_path / "results"
    result = cli(
        capsys, "run", "--quick", "--operator", f"{FILE_OPS}:{params}",
        "--results-dir", str(results_dir),
    )  # fmt: skip
    assert_one_line_error(result, f"--operator {FILE_OPS}:{params}:", fragment)
    assert not results_dir.exists()


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("1979-05-27", "parameter d = 1979-05-27: a TOML date"),
        ("07:32:00", "parameter d = 07:32:00: a TOML time"),
        ("1979-05-27T07:32:00Z", "parameter d = 1979-05-27 07:32:00+00:00: a TOML datetime"),
        ("nan", "parameter d = nan: not a finite number"),
        ("-inf", "parameter d = -inf: not a finite number"),
        ("{ inner = [1, inf] }", "parameter d.inner[1] = inf"),
    ],
)
def test_config_values_a_result_cannot_store_are_refused(tmp_path, capsys, value, fragment):
    config = tmp_path / "bench.toml"
    config.write_text(
        f'[[operator]]\nname = "mine"\nfactory = "{REPO / FILE_OPS}"\nparams = {{ d = {value} }}\n'
    )
    results_dir = tmp_path / "results"
    result = cli(
        capsys, "run", "--quick", "--config", str(config), "--results-dir", str(results_dir)
    )
    assert_one_line_error(result, f"{config}: [[operator]] 'mine':", fragment)
    assert "Traceback" not in result.stderr and not results_dir.exists()


def test_a_builtin_operator_table_refuses_a_non_finite_number(tmp_path, capsys):
    config = tmp_path / "bench.toml"
    config.write_text("[operators.pconv]\npartial_ratio = nan\n")
    result = cli(capsys, "run", "--quick", "--config", str(config), "--results-dir", str(tmp_path))
    assert_one_line_error(
        result, f"{config}: [operators.pconv] partial_ratio must be a finite number"
    )


def test_a_quoted_date_is_a_string_and_stored_as_given():
    from fbench.operators.custom import parse_flag

    assert parse_flag(f'{FILE_OPS}:d="1979-05-27"').params == {"d": "1979-05-27"}
    assert parse_flag(f"{FILE_OPS}:kernel=5,tag=wide").params == {"kernel": 5, "tag": "wide"}


def test_resume_of_a_config_naming_an_unknown_operator_is_one_line(tmp_path, capsys):
    from fbench.bench import environment

    data = json.loads((FIXTURES / "cpu_table1.json").read_text())
    here = environment.collect()
    data["environment"].update({key: here.get(key) for key in ("machine", "cpu_model", "torch")})
    data["state"] = "interrupted"
    data["config"]["operators"] = ["conv", "hyperconv"]
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    before = tree(tmp_path)
    result = cli(capsys, "run", "--resume", str(path), "--results-dir", str(tmp_path))
    assert_one_line_error(
        result, f"{path}: cannot resume: its config names an unknown operator 'hyperconv'"
    )
    assert tree(tmp_path) == before  # no lock left either


# --- the validator: numbers that contradict each other, values run never accepts -----------


def _huge_median(data: dict) -> None:
    latency = data["rows"][0]["latency_ms"]
    latency.update(median=1e300, ci95_high=1e301)


def _scaled(name: str, factor: float):
    def change(data: dict) -> None:
        data["rows"][0][name] *= factor

    return change


def _set(*path: str | int, value: object):
    def change(data: dict) -> None:
        target = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _duplicate_row(data: dict) -> None:
    data["rows"].append(dict(data["rows"][3]))
    data["rows_planned"] += 1


CONTRADICTIONS = [
    (_huge_median, "rows[0].latency_ms.median: 1e+300 lies outside its samples' range"),
    (_scaled("gflops_per_s", 2), "rows[0].gflops_per_s: "),
    (_scaled("gflops_per_s", 1.001), "but its FLOPs, batch and latency make it"),
    (_scaled("throughput_per_s", 0.5), "rows[0].throughput_per_s: "),
    (_duplicate_row, "rows[16]: the same row as rows[3]"),
    (_set("config", "layers", value=10**20), "config.layers: 100000000000000000000 is above 1000"),
    (_set("config", "layers_sweep", value=[1, 5000]), "config.layers_sweep[1]: 5000 is above"),
    (_set("config", "timing", "processes", value=65), "config.timing.processes: 65 is above 64"),
    (_set("config", "timing", "ci_target", value=5), "config.timing.ci_target: 5 is not below 1"),
    (_set("config", "stages", 0, "channels", value=0), "config.stages[0].channels: 0 is below 1"),
    (_set("rows", 2, "layers", value=10**20), "rows[2].layers: 100000000000000000000 is above"),
]


@pytest.mark.parametrize(("change", "fragment"), CONTRADICTIONS)
def test_numbers_that_contradict_each_other_are_refused(tmp_path, capsys, change, fragment):
    data = json.loads((FIXTURES / "cpu_table1.json").read_text())
    change(data)
    path = tmp_path / "doctored.json"
    path.write_text(json.dumps(data))
    result = cli(capsys, "show", str(path))
    assert_one_line_error(result, f"{path}: invalid result file: ", fragment)


def test_compare_does_not_call_a_doctored_median_the_same(tmp_path, capsys, fixture_path):
    data = json.loads(fixture_path.read_text())
    _huge_median(data)
    path = tmp_path / "doctored.json"
    path.write_text(json.dumps(data))
    result = cli(capsys, "compare", str(fixture_path), str(path))
    assert_one_line_error(result, "rows[0].latency_ms.median")
    assert result.stdout == ""


def test_every_example_and_fixture_result_is_consistent():
    stored = [*FIXTURES.glob("*_table1.json"), *FIXTURES.glob("*_networks.json")]
    stored += [*(FIXTURES / "v1").glob("*.json"), *(REPO / "examples" / "results").glob("2*.json")]
    assert len(stored) >= 15
    for path in stored:
        assert results.read_result(path).rows, path
