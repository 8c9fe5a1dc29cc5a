"""The Raspberry Pi workflow rehearsed: `.github/workflows/pi4-regression.yml`'s own steps,
read from the file, run in order in the emulated Cortex-A72 root of scripts/arm-emulated.sh
as a non-root runner user with a fresh HOME, on simulated board telemetry.

scripts/pi-rehearsal.sh is the entry point (root, mounts checked); this file is the runner
and the scenarios. What the rehearsal stands in for, and nothing more:
- `actions/checkout`: a fresh copy of this checkout (tracked and untracked-but-not-ignored
  files) in the runner's workspace, with a smaller experiment in its bench.toml (two rows,
  timings scaled for an emulated CPU) and `[compare] threshold` raised above emulation noise;
- `astral-sh/setup-uv` and `uv sync --locked`: a `uv` on PATH whose `sync` is satisfied by
  the locked aarch64 venv already in the root and whose `run` runs the command in it;
- `actions/upload-artifact`: the files are copied to the scenario's log directory;
- the board: a tmpfs /sys with a thermal zone, cpufreq files and the device-tree model, a
  Pi 4 /proc/cpuinfo, and a `vcgencmd` answering `measure_clock arm` and `get_throttled`
  from fixture files the scenario sets (docs/raspberry-pi.md lists the formats).
Every `run:` step, its `if:`, `env:`, `continue-on-error`, `id` and `$GITHUB_OUTPUT` /
`$GITHUB_ENV` / `$GITHUB_STEP_SUMMARY` work as on GitHub (the expressions the workflow uses:
contexts github, inputs, vars, steps, env; `==`, `!=`, `!`, `&&`, `||`; always(), success(),
failure(), cancelled()). A `uses:` step the rehearsal does not know fails it.

Usage (as root): scripts/pi-rehearsal.sh [--short | SCENARIO...]; docs/ci.md has the
scenarios, what each expects and how long each takes.

One file of ~800 lines, longer than the project's modules: it is a script outside the
product, run by path inside a root, and its four parts (expressions, board, job runner,
scenarios) serve only each other.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "pi4-regression.yml"
RUNNER = "pi"  # the runner's user, as ./config.sh is often run on a Pi
RUNNER_UID = 1000
HOME = f"/home/{RUNNER}"
WORKSPACE = f"{HOME}/actions-runner/_work/fbench/fbench"
FIXTURES = "/var/lib/fbench-rehearsal"  # in the root: what the simulated board reports
VENV = "/opt/fbench-venv"  # the locked aarch64 venv of scripts/arm-emulated.sh

# A smaller experiment than Table 1 (an emulated A72 is tens of times slower than a Pi):
# two rows in two processes, so the process-level test and pooling run as on the board.
BENCH_TOML = """\
# scripts/pi-rehearsal.sh: the rehearsal's experiment (not the board's: see bench.toml)
[experiment]
device = "arm"
operators = ["conv", "pconv"]
layers = 2

[[stages]]
channels = 32
height = 8
width = 8

[timing]
processes = 2
# Under qemu the host probe's speed moves by far more than 10% (every row would be
# `disturbed`, host_moved), and a warm-up cap of 0.5 s or more makes an unsettled warm-up
# disturb the row too: the board's own disturbances are what the rehearsal checks.
host_probe = false

[devices.arm]
cooldown_below_c = 60.0   # and the default 120 s a wait: a board stuck hot meets the budget
cooldown_poll_s = 0.5

[devices.arm.timing]
min_samples = 12
min_rounds = 4
round_s = 0.1
max_row_s = 1.5
warmup_min_s = 0.1
warmup_max_s = 0.4

[compare]
threshold = 0.5   # emulated timings move by tens of percent; the planted slowdown is 2x
"""

UV_SHIM = f"""#!/bin/sh
# The rehearsal's uv: the locked aarch64 venv ({VENV}) is already installed offline.
case "$1" in
  sync) echo "uv (rehearsal): the locked aarch64 venv in {VENV} stands for uv sync"; exit 0 ;;
  run) shift
       while [ "${{1#-}}" != "$1" ]; do shift; done   # uv run's own flags (--frozen...)
       if [ "$1" = fbench ]; then shift; exec python -m fbench.cli "$@"; fi
       exec "$@" ;;
  --version) echo "uv (rehearsal shim)"; exit 0 ;;
esac
echo "uv (rehearsal): '$1' is not rehearsed" >&2; exit 2
"""

VCGENCMD = f"""#!/bin/sh
# The rehearsal's vcgencmd: answers from {FIXTURES}, as a Pi 4's firmware would.
case "$1 $2" in
  "measure_clock arm") cat {FIXTURES}/measure_clock ;;
  "get_throttled ") cat {FIXTURES}/get_throttled ;;
  "measure_temp ") t=$(cat /sys/class/thermal/thermal_zone0/temp); echo "temp=$((t / 1000)).0'C" ;;
  *) echo "vcgencmd (rehearsal): $* not simulated" >&2; exit 1 ;;
esac
"""

PI4_CPUINFO = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

Hardware\t: BCM2835
Revision\t: c03114
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""


# --- GitHub expressions (the subset the workflow uses) -------------------------------------

_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(\|\||&&|==|!=|!|\(|\))|([A-Za-z_][\w.\-]*)|(\d+))")


def evaluate(expression: str, contexts: dict[str, Any], status: dict[str, bool]) -> Any:
    """A GitHub Actions expression's value: `||`/`&&` return an operand, as there."""
    tokens, position = [], 0
    text = expression.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"cannot read expression {expression!r} at {text[position:]!r}")
        tokens.append(match.groups())
        position = match.end()
    index = 0

    def peek() -> str | None:
        return tokens[index][1] if index < len(tokens) else None

    def advance() -> tuple:
        nonlocal index
        index += 1
        return tokens[index - 1]

    def primary() -> Any:
        string, operator, name, number = advance()
        if string is not None:
            return string[1:-1].replace("''", "'")
        if number is not None:
            return int(number)
        if operator == "(":
            value = either()
            advance()
            return value
        if operator == "!":
            return not truthy(primary())
        if peek() == "(":
            advance(), advance()
            functions = {
                "always": True,
                "success": not status["failed"],
                "failure": status["failed"],
                "cancelled": False,
            }
            return functions[name]
        if name in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[name]
        value: Any = contexts
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None and name.split(".")[0] in ("vars", "steps") else value

    def comparison() -> Any:
        left = primary()
        if peek() in ("==", "!="):
            operator = advance()[1]
            right = primary()
            same = _loose(left) == _loose(right)
            return same if operator == "==" else not same
        return left

    def both() -> Any:
        value = comparison()
        while peek() == "&&":
            advance()
            right = comparison()
            value = right if truthy(value) else value
        return value

    def either() -> Any:
        value = both()
        while peek() == "||":
            advance()
            right = both()
            value = value if truthy(value) else right
        return value

    return either()


def _loose(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "")


def substitute(text: str, contexts: dict[str, Any], status: dict[str, bool]) -> str:
    def value(match: re.Match) -> str:
        result = evaluate(match.group(1), contexts, status)
        if isinstance(result, bool):
            return "true" if result else "false"
        return "" if result is None else str(result)

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def _value(raw: Any, contexts: dict[str, Any], status: dict[str, bool]) -> Any:
    """A key's value that may be a whole `${{ expression }}` (continue-on-error)."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if text.startswith("${{") and text.endswith("}}"):
        return evaluate(text[3:-2], contexts, status)
    return text


def condition(step: dict[str, Any], contexts: dict[str, Any], status: dict[str, bool]) -> bool:
    raw = step.get("if")
    if raw is None:
        return not status["failed"]
    text = str(raw).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if not re.search(r"\b(always|success|failure|cancelled)\(", text):
        text = f"success() && ({text})"
    return truthy(evaluate(text, contexts, status))


# --- the emulated board ---------------------------------------------------------------------


@dataclass
class Board:
    """What the simulated Pi reports; files the root's /sys and vcgencmd read."""

    root: Path
    temperature_c: float = 48.0
    throttled: str = "0x0"

    def sys(self) -> Path:
        return self.root / "sys"

    def write(self) -> None:
        fixtures = self.root / FIXTURES.lstrip("/")
        fixtures.mkdir(parents=True, exist_ok=True)
        (fixtures / "measure_clock").write_text("frequency(48)=1500398464\n")
        (fixtures / "get_throttled").write_text(f"throttled={self.throttled}\n")
        self.set_temperature(self.temperature_c)

    def set_temperature(self, celsius: float) -> None:
        self.temperature_c = celsius
        path = self.sys() / "class/thermal/thermal_zone0/temp"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(f"{round(celsius * 1000)}\n")
        os.replace(temporary, path)  # a reader never sees half a number

    def build_sys(self) -> None:
        """The board's /sys on a tmpfs: thermal zone, cpufreq of every core, model."""
        sys_dir = self.sys()
        cores = os.cpu_count() or 1
        (sys_dir / "class/thermal/thermal_zone0").mkdir(parents=True)
        cpu = sys_dir / "devices/system/cpu"
        for name in ("online", "possible", "present"):
            (cpu.parent / "cpu").mkdir(parents=True, exist_ok=True)
            (cpu / name).write_text(f"0-{cores - 1}\n" if cores > 1 else "0\n")
        for core in range(cores):
            freq = cpu / f"cpu{core}/cpufreq"
            freq.mkdir(parents=True)
            (freq / "scaling_cur_freq").write_text("1500000\n")
            (freq / "scaling_max_freq").write_text("1500000\n")
            (freq / "scaling_governor").write_text("performance\n")
        model = sys_dir / "firmware/devicetree/base"
        model.mkdir(parents=True)
        (model / "model").write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")


class Mounts:
    """The root's mounts for a rehearsal, undone in reverse order."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.done: list[Path] = []

    def mount(self, *args: str) -> None:
        target = Path(args[-1])
        if not target.exists():
            target.mkdir(parents=True)
        subprocess.run(["mount", *args], check=True)
        self.done.append(target)

    def undo(self) -> None:
        for target in reversed(self.done):
            subprocess.run(["umount", "-l", str(target)], check=False)
        self.done.clear()


def prepare_root(root: Path, mounts: Mounts) -> Board:
    mounts.mount("-t", "proc", "proc", str(root / "proc"))
    mounts.mount("--rbind", "/dev", str(root / "dev"))
    mounts.mount("-t", "tmpfs", "-o", "size=4m,mode=0755", "fbench-sys", str(root / "sys"))
    board = Board(root)
    board.build_sys()
    cpuinfo = root / "tmp/pi4-cpuinfo"
    cpuinfo.write_text(PI4_CPUINFO)
    mounts.mount("--bind", str(cpuinfo), str(root / "proc/cpuinfo"))
    for name, text in (("uv", UV_SHIM), ("vcgencmd", VCGENCMD)):
        path = root / "usr/local/bin" / name
        path.write_text(text)
        path.chmod(0o755)
    passwd = (root / "etc/passwd").read_text()
    if f"\n{RUNNER}:" not in "\n" + passwd:
        subprocess.run(
            ["chroot", str(root), "useradd", "-u", str(RUNNER_UID), "-M", "-d", HOME, RUNNER],
            check=True,
        )
    board.write()
    return board


def fresh_home(root: Path) -> None:
    """A runner's HOME as `config.sh` leaves it: empty but for the runner's folder."""
    home = root / HOME.lstrip("/")
    shutil.rmtree(home, ignore_errors=True)
    (home / "actions-runner").mkdir(parents=True)
    _chown_tree(home)


def _chown_tree(path: Path) -> None:
    subprocess.run(["chown", "-R", f"{RUNNER_UID}:{RUNNER_UID}", str(path)], check=True)


def checkout(root: Path, plant: Callable[[Path], None] | None = None) -> None:
    """actions/checkout: this checkout's files, fresh (git clean -ffdx), with the rehearsal's
    experiment in bench.toml; `plant` changes the code (a planted slowdown)."""
    workspace = root / WORKSPACE.lstrip("/")
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    files = subprocess.run(
        ["git", "-c", f"safe.directory={REPO}", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    tar = subprocess.run(
        ["tar", "--null", "-T", "-", "-cf", "-"],
        cwd=REPO,
        input=files,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-C", str(workspace), "-xf", "-"], input=tar, check=True)
    (workspace / "bench.toml").write_text(BENCH_TOML)
    if plant is not None:
        plant(workspace)
    _chown_tree(root / HOME.lstrip("/"))


def plant_slowdown(workspace: Path) -> None:
    """A real 2x slowdown: the torch backend's timed call runs the stack twice."""
    path = workspace / "devices/torch_backend.py"
    text = path.read_text()
    old = "call=lambda: module(example_input),"
    if old not in text:
        raise SystemExit(f"pi-rehearsal: cannot plant the slowdown: {old!r} not in {path}")
    path.write_text(
        text.replace(old, "call=lambda: (module(example_input), module(example_input))[1],")
    )


# --- running the workflow's steps -----------------------------------------------------------


@dataclass
class StepResult:
    name: str
    ran: bool
    exit_code: int | None = None
    outcome: str = "skipped"  # success | failure | skipped
    seconds: float = 0.0
    output: str = ""


@dataclass
class Job:
    steps: list[StepResult] = field(default_factory=list)
    failed: bool = False
    summary: str = ""
    seconds: float = 0.0

    def step(self, prefix: str) -> StepResult:
        return next(s for s in self.steps if s.name.startswith(prefix))


def run_job(
    root: Path,
    event: str,
    inputs: dict[str, Any],
    variables: dict[str, str],
    log_dir: Path,
    during_measure: Callable[[Path], None] | None = None,
) -> Job:
    """Run the workflow's job as GitHub would on the board, from the YAML itself."""
    data = yaml.safe_load(WORKFLOW.read_text())
    (job_spec,) = data["jobs"].values()
    started = time.monotonic()
    job = Job()
    status = {"failed": False}
    runner_temp = root / HOME.lstrip("/") / "actions-runner/_work/_temp"
    runner_temp.mkdir(parents=True, exist_ok=True)
    files = {name: runner_temp / name for name in ("output", "env", "summary")}
    files["summary"].write_text("")
    _chown_tree(runner_temp)
    contexts: dict[str, Any] = {
        "github": {
            "event_name": event,
            "repository": "fbench/fbench",
            "run_id": "4242",
            "event": {"pull_request": {"head": {"repo": {"full_name": "fbench/fbench"}}}},
        },
        "inputs": inputs,
        "vars": variables,
        "steps": {},
        "env": {},
    }
    job_env = {
        key: substitute(str(value), contexts, status)
        for key, value in (job_spec.get("env") or {}).items()
    }
    contexts["env"] = dict(job_env)
    extra_env: dict[str, str] = {}
    for number, step in enumerate(job_spec["steps"], 1):
        name = step.get("name") or step.get("uses") or f"step {number}"
        result = StepResult(name, ran=False)
        job.steps.append(result)
        if not condition(step, contexts, status):
            _record_step(contexts, step, result)
            continue
        began = time.monotonic()
        result.ran = True
        if "uses" in step:
            code = _uses(step["uses"], root, log_dir)
        else:
            env = {**job_env, **extra_env}
            for key, value in (step.get("env") or {}).items():
                env[key] = substitute(str(value), contexts, status)
            script = substitute(step["run"], contexts, status)
            files["output"].write_text("")
            files["env"].write_text("")
            _chown_tree(runner_temp)
            watcher = None
            if during_measure is not None and step.get("id") == "measure":
                watcher = threading.Thread(target=during_measure, args=(root,), daemon=True)
                watcher.start()
            code, result.output = _run_in_root(root, script, env, files, runner_temp)
            outputs = _key_values(files["output"].read_text())
            contexts["steps"].setdefault(step.get("id", f"_{number}"), {})["outputs"] = outputs
            extra_env.update(_key_values(files["env"].read_text()))
        result.seconds = time.monotonic() - began
        result.exit_code = code
        result.outcome = "success" if code == 0 else "failure"
        allowed = truthy(_value(step.get("continue-on-error", False), contexts, status))
        if code != 0 and not allowed:
            status["failed"] = True
        _record_step(contexts, step, result, conclusion_ok=code == 0 or allowed)
        (log_dir / f"step-{number:02d}.log").write_text(f"$ {name}\n{result.output}")
    job.failed = status["failed"]
    job.summary = files["summary"].read_text()
    (log_dir / "job-summary.md").write_text(job.summary)
    job.seconds = time.monotonic() - started
    return job


def _record_step(
    contexts: dict, step: dict, result: StepResult, conclusion_ok: bool = True
) -> None:
    if "id" in step:
        entry = contexts["steps"].setdefault(step["id"], {"outputs": {}})
        entry["outcome"] = result.outcome
        entry["conclusion"] = "success" if conclusion_ok and result.ran else result.outcome


def _key_values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _uses(action: str, root: Path, log_dir: Path) -> int:
    name = action.split("@", 1)[0]
    if name in ("actions/checkout", "astral-sh/setup-uv"):
        return 0  # done before the job (checkout) / the uv shim in the root
    if name == "actions/upload-artifact":
        results = root / WORKSPACE.lstrip("/") / "results"
        for path in results.glob("*.json"):
            shutil.copy(path, log_dir / path.name)
        return 0
    print(
        f"pi-rehearsal: the workflow uses {action}, which the rehearsal does not know",
        file=sys.stderr,
    )
    return 1


def _run_in_root(
    root: Path, script: str, env: dict[str, str], files: dict[str, Path], runner_temp: Path
) -> tuple[int, str]:
    """One `run:` step as the runner user: GitHub's `bash --noprofile --norc -eo pipefail`."""
    script_path = runner_temp / "step.sh"
    script_path.write_text(script)
    _chown_tree(runner_temp)
    inside = lambda path: "/" + str(path.relative_to(root))  # noqa: E731
    base = {
        "HOME": HOME,
        "USER": RUNNER,
        "LANG": "C.UTF-8",
        "PATH": f"/usr/local/bin:{VENV}/bin:/usr/bin:/bin",
        "PYTHONPATH": WORKSPACE,  # `uv run` in a project puts it on the path
        "QEMU_CPU": "cortex-a72",  # an instruction the A72 lacks fails the rehearsal
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": WORKSPACE,
        "RUNNER_TEMP": inside(runner_temp),
        "GITHUB_OUTPUT": inside(files["output"]),
        "GITHUB_ENV": inside(files["env"]),
        "GITHUB_STEP_SUMMARY": inside(files["summary"]),
    }
    command = [
        "chroot",
        f"--userspec={RUNNER_UID}:{RUNNER_UID}",
        str(root),
        "/usr/bin/env",
        "-i",
        *(f"{k}={v}" for k, v in {**base, **env}.items()),
        "/bin/bash",
        "--noprofile",
        "--norc",
        "-eo",
        "pipefail",
        "-c",
        f"cd {WORKSPACE} && exec /bin/bash --noprofile --norc -eo pipefail {inside(script_path)}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout + done.stderr


# --- the scenarios --------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    passed: bool
    seconds: float
    words: str


def _baselines(root: Path) -> list[Path]:
    return sorted((root / HOME.lstrip("/") / "fbench-baselines").glob("*.json"))


def _digest(paths: list[Path]) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def _result(log_dir: Path) -> dict[str, Any] | None:
    files = sorted(log_dir.glob("*.json"))
    return json.loads(files[-1].read_text()) if files else None


VARIABLES = {"FBENCH_TIME_BUDGET": "6m"}


def scenario_first_run(root: Path, board: Board, log: Path) -> tuple[bool, str]:
    fresh_home(root)
    checkout(root)
    job = run_job(root, "push", {}, VARIABLES, log)
    compare = job.step("Compare")
    told = (
        "no baseline for this board yet" in compare.output and "refresh_baseline" in compare.output
    )
    ok = job.failed and compare.exit_code == 3 and told and not _baselines(root)
    return ok, f"compare exit {compare.exit_code}, says how to store one: {told}"


def scenario_manual_refresh(root: Path, board: Board, log: Path) -> tuple[bool, str]:
    checkout(root)
    job = run_job(root, "workflow_dispatch", {"refresh_baseline": True}, VARIABLES, log)
    refresh = job.step("Refresh")
    stored = _baselines(root)
    ok = not job.failed and refresh.exit_code == 0 and len(stored) == 1
    forced = stored and json.loads(stored[0].read_text())["baseline"]["forced"]
    return ok and not forced, f"job green, baseline stored: {[p.name for p in stored]}"


def scenario_unchanged(root: Path, board: Board, log: Path) -> tuple[bool, str]:
    checkout(root)
    job = run_job(root, "push", {}, VARIABLES, log)
    compare = job.step("Compare")
    return (not job.failed and compare.exit_code == 0), f"compare exit {compare.exit_code}"


def scenario_slowdown(root: Path, board: Board, log: Path) -> tuple[bool, str]:
    checkout(root, plant=plant_slowdown)
    job = run_job(root, "pull_request", {}, VARIABLES, log)
    compare = job.step("Compare")
    slower = "SLOWER" in compare.output
    return (job.failed and compare.exit_code == 1 and slower), (
        f"compare exit {compare.exit_code}, rows SLOWER: {slower}"
    )


def scenario_hot_board(root: Path, board: Board, log: Path) -> tuple[bool, str]:
    """Cool for the first process, then stuck at 75 °C: the budget ends the run."""
    checkout(root)
    budget_s = 240

    def heat_after_first_process(root: Path) -> None:
        results = root / WORKSPACE.lstrip("/") / "results"
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline:
            for path in results.glob("*.json"):
                try:
                    if (json.loads(path.read_text()).get("processes_finished") or 0) >= 1:
                        board.set_temperature(75.0)
                        return
                except (OSError, ValueError):
                    pass
            time.sleep(0.5)

    try:
        job = run_job(
            root,
            "push",
            {},
            {"FBENCH_TIME_BUDGET": f"{budget_s}s"},
            log,
            during_measure=heat_after_first_process,
        )
    finally:
        board.set_temperature(48.0)
    measure = job.step("Measure")
    result = _result(log)
    kept = len(result["rows"]) if result else 0
    said = "time budget" in measure.output
    ok = (
        measure.exit_code == 4
        and said
        and kept > 0
        and result["state"] == "incomplete"
        and measure.seconds <= budget_s + 5
        and job.step("Compare").ran is False
    )
    return ok, (
        f"measure exit {measure.exit_code} after {measure.seconds:.0f} s of a {budget_s} s "
        f"budget, says so: {said}, rows kept: {kept}"
    )


def scenario_throttled(root: Path, board: Board, log: Path) -> tuple[bool, str]:
    """Under-voltage and throttled now (0x50005); a refresh is asked for and refused."""
    checkout(root)
    before = _digest(_baselines(root))
    board.throttled = "0x50005"
    board.write()
    try:
        job = run_job(root, "workflow_dispatch", {"refresh_baseline": True}, VARIABLES, log)
    finally:
        board.throttled = "0x0"
        board.write()
    result = _result(log)
    statuses = {row["status"] for row in result["rows"]} if result else set()
    compare, refresh = job.step("Compare"), job.step("Refresh")
    ok = (
        statuses == {"disturbed"}
        and compare.exit_code == 3
        and refresh.exit_code == 3
        and job.failed
        and _digest(_baselines(root)) == before
    )
    return ok, (
        f"rows {sorted(statuses)}, compare exit {compare.exit_code}, baseline save exit "
        f"{refresh.exit_code}, baseline unchanged: {_digest(_baselines(root)) == before}"
    )


def scenario_failed_measure(root: Path, board: Board, log: Path) -> tuple[bool, str]:
    """The measure step fails (here: a budget too small to plan), a refresh was asked for."""
    checkout(root)
    before = _digest(_baselines(root))
    job = run_job(
        root, "workflow_dispatch", {"refresh_baseline": True}, {"FBENCH_TIME_BUDGET": "2s"}, log
    )
    measure, refresh = job.step("Measure"), job.step("Refresh")
    unchanged = _digest(_baselines(root)) == before
    ok = job.failed and measure.exit_code == 2 and not refresh.ran and unchanged
    return ok, (
        f"measure exit {measure.exit_code}, refresh ran: {refresh.ran}, baselines unchanged: "
        f"{unchanged}"
    )


SCENARIOS: dict[str, Callable[[Path, Board, Path], tuple[bool, str]]] = {
    "first-run": scenario_first_run,
    "failed-measure": scenario_failed_measure,
    "manual-refresh": scenario_manual_refresh,
    "unchanged": scenario_unchanged,
    "slowdown": scenario_slowdown,
    "throttled": scenario_throttled,
    "hot-board": scenario_hot_board,
}
# What .ci/run rehearses: one emulated measurement in all (docs/ci.md has the times).
SHORT = ("failed-measure", "first-run")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--logs", type=Path, default=None)
    parser.add_argument("--short", action="store_true", help=f"only {', '.join(SHORT)}")
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"some of: {', '.join(SCENARIOS)}"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    names = list(SHORT) if args.short else (args.scenarios or list(SCENARIOS))
    logs = args.logs or Path(tempfile.mkdtemp(prefix="pi-rehearsal-"))
    mounts = Mounts(args.root)
    outcomes = []
    try:
        board = prepare_root(args.root, mounts)
        fresh_home(args.root)  # a new board: no baseline, nothing in HOME
        for name in names:
            log = logs / name
            log.mkdir(parents=True, exist_ok=True)
            print(f"pi-rehearsal: {name} ...", file=sys.stderr, flush=True)
            began = time.monotonic()
            passed, words = SCENARIOS[name](args.root, board, log)
            outcome = Outcome(name, passed, time.monotonic() - began, words)
            outcomes.append(outcome)
            verdict = "passed" if passed else "FAILED"
            print(
                f"pi-rehearsal: {name} {verdict} in {outcome.seconds:.0f} s: {words} "
                f"(steps' logs: {log})",
                file=sys.stderr,
                flush=True,
            )
    finally:
        mounts.undo()
    failed = [o.name for o in outcomes if not o.passed]
    total = sum(o.seconds for o in outcomes)
    print(
        f"pi-rehearsal: {len(outcomes) - len(failed)} of {len(outcomes)} scenarios passed in "
        f"{total:.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""),
        file=sys.stderr,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
