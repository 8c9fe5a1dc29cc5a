"""bench.toml and CLI flags → one validated, frozen `RunConfig`.

Every check on user input happens in this package and fails with one line that names the file
or flag, the key, what is wrong and what would be right. The built-in defaults are the same
experiment as the repository's commented bench.toml (a test keeps the two equal), so fbench
also runs from a directory without one. The modules, in the order a config flows through them:

- model.py: the data types and defaults that need no registry (`TimingConfig`, `Overrides`,
  the gate's `COMPARE_DEFAULTS`); reports import from here.
- toml.py: reading the file, checking its tables, keys and value types; [compare].
- shapes.py, operator_choice.py: the feature maps and the operators a run measures.
- resolve.py: `load`/`resolve`, each part checked against the registries and the flags.
- run_config.py: `RunConfig`, the result, as stored in a result file.
"""

# The package's public API: what the CLI, the pipeline and the tests import from
# fbench.bench.config.
from fbench.bench.config.model import (
    DTYPES,
    NETWORK_TIMING,
    PAPER_STAGES,
    Overrides,
    TimingConfig,
    check_timing,
    parse_duration,
)
from fbench.bench.config.resolve import load, resolve
from fbench.bench.config.run_config import RunConfig
from fbench.bench.config.toml import default_config_path, load_compare_settings, load_run_settings
from fbench.bench.errors import FbenchError

__all__ = [
    "DTYPES",
    "NETWORK_TIMING",
    "PAPER_STAGES",
    "FbenchError",
    "Overrides",
    "RunConfig",
    "TimingConfig",
    "check_timing",
    "default_config_path",
    "load",
    "load_compare_settings",
    "load_run_settings",
    "parse_duration",
    "resolve",
]
