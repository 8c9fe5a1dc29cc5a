"""`fbench show` on a network-suite run: the networks table, and load() on the fixtures."""

from __future__ import annotations

import pandas
import pytest

from fbench.bench.results import load, read_result
from fbench.reports.networks import networks_table
from tests.conftest import FIXTURES, fbench

NETWORKS = FIXTURES / "cpu_networks.json"


def _line(table, network):
    return next(line for line in table.rows if line[0] == network)


def _cell(table, network, header):
    return _line(table, network)[table.headers.index(header)]


def test_networks_table_cells():
    table = networks_table(read_result(NETWORKS).rows)
    assert [line[0] for line in table.rows] == [  # by FLOPs
        "MobileNetV2",
        "FasterNet-T0",
        "FasterNet-T1",
        "PoolFormer-S12",
        "PVT-Tiny",
        "ResNet50",
    ]
    assert _cell(table, "ResNet50", "Params (M)") == pytest.approx(25.6)
    assert _cell(table, "ResNet50", "FLOPs (G)") == pytest.approx(4.11)
    assert _cell(table, "ResNet50", "Latency (ms)") == 80.0
    assert _cell(table, "ResNet50", "FLOPS (G/s)") == pytest.approx(4.11 / 0.080)
    assert _cell(table, "ResNet50", "Paper latency (ms)") == 73.0
    assert _cell(table, "FasterNet-T0", "Latency measured/paper") == pytest.approx(10.0 / 9.2)
    assert _cell(table, "FasterNet-T0", "95% CI") == "±1.0%"
    assert _cell(table, "MobileNetV2", "Status") == "imprecise"
    assert _cell(table, "PVT-Tiny", "Latency (ms)") is None
    assert _cell(table, "PVT-Tiny", "Status").startswith("failed: NotImplementedError")
    assert "Paper latency (ms)" not in networks_table(read_result(NETWORKS).rows, False).headers


def test_show_prints_the_networks_table():
    result = fbench("show", str(NETWORKS))
    assert result.returncode == 0, result.stderr
    assert "Network" in result.stdout and "FasterNet-T0" in result.stdout
    assert "Operator" not in result.stdout  # no empty Table 1 for a network run
    line = next(line for line in result.stdout.splitlines() if line.startswith("ResNet50"))
    assert line.split()[1:6] == ["25.6", "4.11", "80.00", "±1.0%", "51.38"]


def test_load_gives_one_dataframe_row_per_stored_row():
    files = [FIXTURES / name for name in ("cuda_table1.json", "cpu_table1.json", "arm_table1.json")]
    frame = load([*files, NETWORKS])
    assert isinstance(frame, pandas.DataFrame)
    assert len(frame) == 16 + 16 + 12 + 6
    assert {"latency_ms.median", "env.cpu_model", "run_id", "suite", "gflops_per_s"} <= set(
        frame.columns
    )
    operators = frame[frame["suite"] == "operators"]
    by_device = operators[operators["status"] == "ok"].groupby(["device", "operator"])
    assert by_device["gflops_per_s"].mean()[("cuda", "conv")] == pytest.approx(
        (8323.596288 * 2 + 13005.6192 + 10404.49536) / 4
    )
    networks = frame[frame["suite"] == "networks"].set_index("network")
    assert networks.loc["ResNet50", "latency_ms.median"] == 80.0
    assert networks.loc["FasterNet-T0", "family"] == "FasterNet"
    assert networks.loc["ResNet50", "params"] == 25_600_000
