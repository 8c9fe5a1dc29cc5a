"""Reading result files: a path or run id → a validated `RunResult`, or many files → one pandas
DataFrame (`load`, docs/python-api.md).

Loading migrates `fbench.result/1` files in memory (bench/results/migration.py) and
validates every known field (bench/results/schema.py), naming the file and field that is
wrong; a file is never rewritten in place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fbench.bench.errors import FbenchError, did_you_mean, odd_file, read_user_file
from fbench.bench.results.migration import upgrade
from fbench.bench.results.model import ResultRow, RunResult

if TYPE_CHECKING:
    import pandas

_RUN_KEYS = {f.name for f in fields(RunResult)} - {"extra"}


LATEST = "latest"  # a run id that means the newest run in the results directory


def run_ids(results_dir: Path) -> list[str]:
    """The run ids stored in `results_dir`, oldest first: an id starts with its creation time
    (YYYYMMDD-HHMMSS-device-backend), so name order is time order."""
    if not results_dir.is_dir():
        return []
    return sorted(path.stem for path in results_dir.glob("[0-9]*-[0-9]*-*.json"))


def resolve_path(reference: str | Path, results_dir: Path) -> Path:
    """A result given as a file path, as a run id looked up in `results_dir`, or as
    `latest`: the newest run there."""
    candidate = Path(reference)
    if candidate.is_file():
        return candidate
    if str(reference) == LATEST and not candidate.exists():
        stored = run_ids(results_dir)
        if not stored:
            raise FbenchError(f"no runs in {results_dir}/ yet: `fbench run` stores them there")
        return results_dir / f"{stored[-1]}.json"
    by_id = results_dir / f"{reference}.json"
    if by_id.is_file():
        return by_id
    if candidate.is_dir():
        raise FbenchError(
            f"{reference}: a directory; give a run id or a result file "
            f"(`latest --results-dir {reference}` for its newest run)"
        )
    odd = odd_file(candidate) or odd_file(by_id)
    if odd:  # there, but not a file to read: say what it is, not that it is missing
        raise FbenchError(f"{candidate if odd_file(candidate) else by_id}: {odd}")
    if candidate.suffix == ".json" or os.sep in str(reference):
        raise FbenchError(f"{reference}: no such result file")
    stored = run_ids(results_dir)
    newest = stored[-3:][::-1]
    known = f"newest: {', '.join(newest)}" if newest else "it holds no runs"
    raise FbenchError(
        f"no run {reference!r} in {results_dir}/ and no file of that name"
        f"{did_you_mean(str(reference), stored, most=1)} ({known}; --results-dir says where to "
        "look)"
    )


def parse_result(data: Any, source: str) -> RunResult:
    """Decoded JSON of a result file (/1 or /2) → a RunResult; /1 is migrated in memory and
    every known field validated (bench/results/schema.py). Errors name `source` and the field."""
    data = upgrade(data, source)
    try:
        rows = [ResultRow.from_dict(raw_row) for raw_row in data["rows"]]
    except (TypeError, KeyError, ValueError) as error:  # the validator should have said
        raise FbenchError(f"{source}: invalid result file: a row is malformed ({error})") from None
    # No two rows share a row key: one measurement told twice would be merged silently by
    # some readers and counted twice by others. (Here, not in schema.py: the key is the model's.)
    seen: dict[tuple, int] = {}
    for index, row in enumerate(rows):
        first = seen.setdefault(row.key(), index)
        if first != index:
            raise FbenchError(
                f"{source}: invalid result file: rows[{index}]: the same row as rows[{first}] "
                f"({row.operator} {row.shape_label}, {row.layers} layers); a row is stored once"
            )
    return RunResult(
        run_id=data["run_id"],
        created=data["created"],
        environment=data["environment"],
        config=data["config"],
        rows=rows,
        rows_planned=data.get("rows_planned", len(rows)),
        state=data.get("state", "complete"),
        finished=data.get("finished"),
        resumed=list(data.get("resumed", [])),
        processes_planned=data.get("processes_planned"),
        processes_finished=data.get("processes_finished"),
        worker_failures=list(data.get("worker_failures", [])),
        fbench_version=data.get("fbench_version", "unknown"),
        extra={key: value for key, value in data.items() if key not in _RUN_KEYS},
    )


def read_json(path: Path, kind: str, missing_hint: str = "") -> Any:
    """Decoded JSON of a `kind` file ("result", "calibration"), or one line saying what is wrong."""
    # A byte-order mark (Windows editors write one) is not part of the JSON: read past it.
    text = read_user_file(path, kind, f"no such {kind} file{missing_hint}").removeprefix("\ufeff")
    try:
        return json.loads(text)
    except RecursionError:
        raise FbenchError(f"{path}: corrupt {kind} file (nested too deeply)") from None
    except json.JSONDecodeError as error:
        if text.lstrip()[:1] not in ("{", "["):  # e.g. bench.toml given as a result
            raise FbenchError(f"{path}: not a {kind} file (not JSON at all)") from None
        raise FbenchError(
            f"{path}: corrupt {kind} file (invalid JSON at line {error.lineno}, column "
            f"{error.colno}: {error.msg})"
        ) from None


def read_result(path: Path) -> RunResult:
    return parse_result(read_json(path, "result"), str(path))


def load_results(references: Sequence[str | Path], results_dir: Path) -> list[RunResult]:
    """The runs `references` name, each once: a file named twice (or by two paths: a
    symlink, `./x.json` and `x.json`, a run id and its file) is read once, and a run id in
    two files counts once when the files agree; two files that disagree about one run are
    one line naming both."""
    paths: dict[Path, Path] = {}  # resolved → as given
    for reference in references:
        path = resolve_path(reference, results_dir)
        paths.setdefault(path.resolve(), path)
    runs: dict[str, tuple[RunResult, Path]] = {}
    for path in paths.values():
        run = read_result(path)
        first = runs.setdefault(run.run_id, (run, path))
        if first[0] is not run and first[0].to_dict() != run.to_dict():
            raise FbenchError(
                f"{first[1]} and {path} both hold run {run.run_id}, and differ; give one"
            )
    return [run for run, _ in runs.values()]


def load(paths: str | Path | Sequence[str | Path]) -> pandas.DataFrame:
    """Result files → one pandas DataFrame, one row per measured row.

    Latency statistics become `latency_ms.median`, ... columns and the run's environment is
    flattened into `env.<field>` columns, so rows from several files and devices can be
    filtered and grouped together (e.g. `df.groupby(["env.cpu_model", "operator"])`).
    """
    import pandas

    if isinstance(paths, str | Path):
        paths = [paths]
    records = []
    for path in paths:
        run = read_result(Path(path))
        environment = pandas.json_normalize(run.environment, sep=".").to_dict("records")[0]
        for row in run.rows:
            record = row.to_dict()
            record.pop("samples_ms")
            latency = record.pop("latency_ms") or {}
            record.update({f"latency_ms.{k}": v for k, v in latency.items()})
            record["latency"] = row.latency
            record.update({"run_id": run.run_id, "created": run.created, "file": str(path)})
            record.update({f"env.{k}": v for k, v in environment.items()})
            records.append(record)
    return pandas.DataFrame.from_records(records)
