"""A device's roofline ceilings: model.py (`Calibration`, `Ceiling`, `Peak`, the theoretical
peak), store.py (the `fbench.calibration/2` file format, finding a device's calibration),
ceilings.py (the probes `fbench calibrate` measures). docs/roofline.md shows measured ones.
"""

# The package's public API: what the CLI, reports and the tests use.
from fbench.bench.calibration.model import (
    SCHEMA,
    Calibration,
    Ceiling,
    ceiling_from_latencies,
    theoretical_peak,
)
from fbench.bench.calibration.store import (
    DEFAULT_CALIBRATIONS_DIR,
    SCHEMA_V1,
    calibration_for_run,
    calibration_record,
    calibrations_for_runs,
    default_path,
    from_result_environment,
    read_calibration,
    write_calibration,
)

__all__ = [
    "DEFAULT_CALIBRATIONS_DIR",
    "SCHEMA",
    "SCHEMA_V1",
    "Calibration",
    "Ceiling",
    "calibration_for_run",
    "calibration_record",
    "calibrations_for_runs",
    "ceiling_from_latencies",
    "default_path",
    "from_result_environment",
    "read_calibration",
    "theoretical_peak",
    "write_calibration",
]
