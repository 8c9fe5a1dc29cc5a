"""The roofline's columns of Table 1 (`fbench report table1 --roofline`): a row's intensity,
attainable FLOPS and the share of it reached, per device. Importing this module adds the
column set to Table 1's (`fbench.reports.table1.columns.register_columns`); Table 1 cannot import
the roofline itself, which places rows in Table 1's operator order."""

from __future__ import annotations

from collections.abc import Callable

from fbench.bench.calibration import Calibration, calibration_for_run
from fbench.bench.results import ResultRow, RunResult
from fbench.reports.formatting import fixed, format_share
from fbench.reports.roofline.maths import roofline_point
from fbench.reports.table1.columns import ColumnSet, DeviceColumn, DeviceGroup, register_columns


class _LastCalibration:
    """The calibration of the run whose cells are being filled: Table 1 asks for it once
    per cell (4 columns × 16 rows a device), and finding it may read every stored
    calibration file. Holds one run, compared by identity: the table fills a device's
    cells one after another."""

    def __init__(self) -> None:
        self._key: tuple[RunResult, str] | None = None
        self._calibration: Calibration | None = None

    def __call__(self, run: RunResult, device: str) -> Calibration | None:
        if self._key is None or self._key[0] is not run or self._key[1] != device:
            self._key, self._calibration = (run, device), calibration_for_run(run, device)
        return self._calibration


_calibration_of = _LastCalibration()


def _field(name: str) -> Callable[[ResultRow, DeviceGroup], float | None]:
    """A Table 1 column reading one attribute of the row's roofline point."""

    def value(row: ResultRow, group: DeviceGroup) -> float | None:
        calibration = _calibration_of(group.run, row.device)
        point = roofline_point(row, calibration) if calibration else None
        return None if point is None else getattr(point, name)

    return value


ROOFLINE_COLUMNS = register_columns(
    ColumnSet(
        "roofline",
        "arithmetic intensity, attainable FLOPS and the share reached (needs fbench calibrate)",
        (
            DeviceColumn(
                "{device} FLOPs/B",
                _field("intensity_implementation"),
                fixed(2),
                name="intensity_mac_per_byte",
            ),
            DeviceColumn(
                "{device} attainable FLOPS (G/s)",
                _field("attainable_gflops_per_s"),
                fixed(1),
                name="attainable_gflops_per_s",
                short="{device} attainable (G/s)",
            ),
            DeviceColumn(
                "{device} share of attainable",
                _field("fraction_of_attainable"),
                format_share,
                average=True,
                name="fraction_of_attainable",
                short="{device} share",
            ),
            DeviceColumn(
                "{device} share of compute roof",
                _field("fraction_of_compute"),
                format_share,
                average=True,
                name="fraction_of_compute",
                short="{device} % of peak",
            ),
        ),
        note="Roofline (fbench calibrate): FLOPs/B, multiply-adds per byte the implementation "
        "moves; attainable, the roof at that intensity; share, the measured FLOPS's share of "
        "it; % of peak, of the compute roof (docs/roofline.md).",
    )
)
