"""The backend comparison table, laid out from hand-made rows (nothing is measured)."""

from __future__ import annotations

from benchmarks.analysis.backends_table import backend_label, backends_table
from fbench.bench.results import ResultRow


def _row(operator: str, stage: int, gflops: float, backend: str = "torch", **options) -> ResultRow:
    channels = {1: 96, 2: 192}[stage]
    return ResultRow(
        operator=operator, operator_params={}, stage=stage, channels=channels,
        height=56 // stage, width=56 // stage, layers=10, batch=1, device="cpu",
        backend=backend, dtype="float32", method="adaptive", flops=1,
        memory_access_bytes=None, implementation_memory_access_bytes=None, status="ok",
        gflops_per_s=gflops, backend_options=options,
    )  # fmt: skip


def test_backends_table_puts_each_backend_in_a_column_with_the_ratio_under_it():
    runs = {
        "torch": [_row("dwconv", 1, 2.0), _row("dwconv", 2, 4.0), _row("pconv", 1, 30.0),
                  _row("pconv", 2, 30.0)],
        "onnxruntime (dynamo)": [_row("dwconv", 1, 10.0, "onnxruntime"),
                                 _row("pconv", 1, 20.0, "onnxruntime")],
    }  # fmt: skip
    table = backends_table(runs)
    assert table.headers[2:] == ["torch FLOPS (G/s)", "onnxruntime (dynamo) FLOPS (G/s)"]
    lines = {(line[0], line[1]): line[2:] for line in table.rows}
    assert lines[("DWConv 3×3", "96×56×56")] == ["2.00", "10.00"]
    assert lines[("", "192×28×28")][1] == "—"  # a row one backend did not measure
    averages = [line[2:] for line in table.rows if line[1] == "Average"]
    assert averages == [["3.00", "10.00"], ["30.00", "20.00"]]
    assert table.rows[-1] == ["PConv/DWConv", "", "10.0×", "2.0×"]


def test_backend_label_names_the_options_that_change_the_measurement():
    assert backend_label(_row("conv", 1, 1.0)) == "torch"
    assert backend_label(_row("conv", 1, 1.0, channels_last=True)) == "torch channels-last"
    onnx = _row("conv", 1, 1.0, "onnxruntime", exporter="torchscript", opset=18)
    assert backend_label(onnx) == "onnxruntime (torchscript)"
