"""The result file format (`fbench.result/3`): the only package that reads or writes it.

One JSON file per run, `results/<run-id>.json` (docs/result-format.md). The modules:
model.py (`ResultRow`, `RunResult`, the row key), store.py (atomic writes, the run's lock),
reading.py (a file or run id → `RunResult`; `load` → pandas), schema.py and checks.py (the
strict validator), migration.py (format history, /1 → /2), status.py (row statuses and
reason codes), identity.py (which device a run measured) and baselines.py.
"""

# The package's public API: what the CLI, the pipeline, reports and docs/python-api.md use.
# (The reading module is not named load.py: the `load` function would shadow it here.)
from fbench.bench.results.model import ResultRow, RunResult, now_iso, row_key
from fbench.bench.results.reading import (
    load,
    load_results,
    parse_result,
    read_json,
    read_result,
    resolve_path,
)
from fbench.bench.results.store import (
    RunLock,
    RunStore,
    StorageError,
    confined,
    json_text,
    made_run_id,
    new_run_id,
    write_atomic,
)

__all__ = [
    "ResultRow",
    "RunLock",
    "RunResult",
    "RunStore",
    "StorageError",
    "confined",
    "json_text",
    "load",
    "load_results",
    "made_run_id",
    "new_run_id",
    "now_iso",
    "parse_result",
    "read_json",
    "read_result",
    "resolve_path",
    "row_key",
    "write_atomic",
]
