"""The known slowdown benchmarks/noise.py plants (tests/custom_ops/extra_work.py): 5% and 10%
more of the same work, in a row the gate treats as the same row."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import fbench
from tests.custom_ops import extra_work


def test_the_extra_work_is_five_and_ten_percent_more_of_the_same_convolution(monkeypatch):
    assert [extra_work.convs(e) for e in (0.0, 0.05, 0.10)] == [20, 21, 22]
    for extra, expected in (("0", 20), ("0.05", 21), ("0.10", 22)):
        monkeypatch.setenv(extra_work.VARIABLE, extra)
        block = extra_work.make_block(8)
        assert len(block) == expected
        assert {tuple(layer.weight.shape) for layer in block} == {(8, 8, 3, 3)}
        assert block(torch.ones(1, 8, 4, 4)).shape == (1, 8, 4, 4)


@pytest.mark.slow
def test_rows_with_and_without_extra_work_are_the_same_row_to_the_gate(tmp_path, monkeypatch):
    operator = "--operator=extra=tests/custom_ops/extra_work.py:make_block"
    common = ["run", "--device", "cpu", "--operators", "extra", operator, "--shape", "8x4x4",
              "--layers", "1", "--processes", "1", "--quick", "--no-table", "--pin-core", "none",
              "--results-dir", str(tmp_path)]  # fmt: skip
    files = []
    for extra in ("0", "0.10"):
        monkeypatch.setenv(extra_work.VARIABLE, extra)
        result = fbench(*common)
        assert result.returncode == 0, result.stderr
        files.append(max(tmp_path.glob("*.json"), key=lambda p: p.stat().st_mtime))
    rows = [json.loads(f.read_text())["rows"][0] for f in files]
    assert rows[1]["flops"] == rows[0]["flops"] * 22 // 20
    compared = fbench("compare", str(files[0]), str(files[1]), "--format", "json")
    (record,) = json.loads(compared.stdout)  # one tidy record per row
    assert record["operator"] == "extra"
    assert record["verdict"] not in ("missing", "new")  # matched as the same row
