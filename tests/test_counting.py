"""FLOPs and memory access: the paper's Table 1 values, analytically and via fvcore."""

from __future__ import annotations

import math

import pytest
import torch

from fbench.bench.flop_count import count_flops
from fbench.operators import OPERATORS, StageShape, get_operator
from fbench.operators.counting import ConvPiece, LayerCost
from fbench.reports import paper

TABLE1 = sorted(paper.table1().values(), key=lambda r: (r.operator, r.stage))


def _shape(reference: paper.PaperTable1Row) -> StageShape:
    return StageShape(reference.stage, reference.channels, reference.height, reference.width)


def _matches_paper_rounding(flops: int, printed: float) -> bool:
    """The paper truncates: 162.57 M prints as 162, 13.5475 M as 13.54."""
    decimals = len(str(printed).split(".")[1].rstrip("0")) if "." in str(printed) else 0
    millions = flops / 1e6
    return 0 <= millions - printed < 10**-decimals + 1e-9


def test_paper_has_16_rows():
    assert len(TABLE1) == 16


@pytest.mark.parametrize("reference", TABLE1, ids=lambda r: f"{r.operator}-{r.stage}")
def test_analytic_flops_equal_the_papers(reference):
    spec = get_operator(reference.operator)
    flops = spec.flops(_shape(reference), spec.resolve_params(), layers=10)
    assert _matches_paper_rounding(flops, reference.flops_m), (flops, reference.flops_m)


@pytest.mark.parametrize("reference", TABLE1, ids=lambda r: f"{r.operator}-{r.stage}")
def test_fvcore_counts_the_real_module_as_the_paper(reference):
    spec = get_operator(reference.operator)
    params = spec.resolve_params()
    shape = _shape(reference)
    torch.manual_seed(0)
    module = spec.build(shape, params, layers=10)
    counted = count_flops(module, torch.randn(1, shape.channels, shape.height, shape.width))
    assert counted.flops == spec.flops(shape, params, layers=10)
    assert _matches_paper_rounding(counted.flops, reference.flops_m)


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_every_operator_analytic_count_matches_fvcore(name):
    spec = get_operator(name)
    params = spec.resolve_params()
    shape = StageShape(1, 64, 9, 7)
    module = spec.build(shape, params, layers=3)
    counted = count_flops(module, torch.randn(1, 64, 9, 7))
    assert counted.flops == spec.flops(shape, params, layers=3)


def test_fvcore_lists_pconv_copies_as_uncounted_not_hidden():
    spec = get_operator("pconv")
    module = spec.build(StageShape(1, 32, 8, 8), spec.resolve_params(), layers=2)
    counted = count_flops(module, torch.randn(1, 32, 8, 8))
    assert "aten::clone" in counted.uncounted_ops


def test_conv_memory_access_is_eq3():
    # h·w·2c + k²·c² for c=96 at 56×56: 3136·192 + 9·9216 = 602112 + 82944
    spec, shape = get_operator("conv"), StageShape(1, 96, 56, 56)
    assert spec.memory_access_elements(shape, {}, layers=1, batch=1) == 685_056


def test_dwconv_memory_access_is_eq2():
    # h·w·2c + k²·c for c=96: 602112 + 864
    spec, shape = get_operator("dwconv"), StageShape(1, 96, 56, 56)
    assert spec.memory_access_elements(shape, {}, layers=1, batch=1) == 602_976


def test_pconv_memory_access_is_eq5_and_a_quarter_of_conv_at_large_maps():
    # h·w·2c_p + k²·c_p² with c_p = 24: 3136·48 + 9·576 = 150528 + 5184
    spec, shape = get_operator("pconv"), StageShape(1, 96, 56, 56)
    pconv = spec.memory_access_elements(shape, spec.resolve_params(), layers=1, batch=1)
    assert pconv == 155_712
    conv = get_operator("conv").memory_access_elements(shape, {}, layers=1, batch=1)
    assert pconv / conv == pytest.approx(0.25, abs=0.025)  # "only 1/4 of a regular Conv"


def test_pconv_slicing_moves_far_more_than_eq5_counts():
    # clone: 2·96 channels, copy back: 2·24 channels, on top of eq. 5's 150528 + 5184.
    spec, shape = get_operator("pconv"), StageShape(1, 96, 56, 56)
    actual = spec.implementation_memory_access_elements(shape, spec.resolve_params(), 1, 1)
    assert actual == 155_712 + 3136 * (2 * 96 + 2 * 24)
    split_cat = get_operator("pconv_split_cat").implementation_memory_access_elements(
        shape, spec.resolve_params(), 1, 1
    )
    assert split_cat == 155_712 + 3136 * 2 * 96


def test_memory_access_scales_feature_maps_with_batch_not_weights():
    piece = ConvPiece(8, 8, 3)
    cost = LayerCost(convs=(piece,))
    one, four = cost.memory_access_elements(5, 5, 1), cost.memory_access_elements(5, 5, 4)
    assert four - one == 3 * 25 * 16
    assert one == 25 * 16 + 9 * 64


def test_gconv_and_pwconv_counts():
    shape = StageShape(1, 32, 4, 4)
    gconv = get_operator("gconv")
    assert gconv.flops(shape, {"groups": 16}, 1) == 16 * 9 * 2 * 32
    assert gconv.memory_access_elements(shape, {"groups": 16}, 1, 1) == 16 * 64 + 9 * 2 * 32
    pwconv = get_operator("pwconv")
    assert pwconv.flops(shape, {}, 1) == 16 * 32 * 32


def test_partial_channels_floor_is_robust_to_float_error():
    from fbench.operators import partial_channels

    assert partial_channels(96, {"partial_ratio": 0.25}) == 24
    assert partial_channels(100, {"partial_ratio": 0.29}) == 29
    assert partial_channels(10, {"partial_ratio": 0.7}) == 7


def test_table1_paper_flops_are_consistent_with_its_own_flops_column():
    # Sanity of the transcription: FLOPS = FLOPs / latency on CPU, within printing precision.
    for row in TABLE1:
        assert row.flops_m / row.cpu_latency_ms == pytest.approx(row.cpu_gflops, rel=0.02)
        assert math.isclose(row.flops_m * row.gpu_fps / 1e3, row.gpu_gflops, rel_tol=0.02)
