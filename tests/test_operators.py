"""The operator stacks are what the paper describes: depth, no bias, eval mode, PConv forms."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fbench.operators import OPERATORS, StageShape, get_operator
from fbench.operators.modules import PartialConv3


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_stack_depth_eval_mode_and_no_bias(name):
    spec = get_operator(name)
    stack = spec.build(StageShape(1, 32, 6, 6), spec.resolve_params(), layers=4)
    assert len(stack) == 4
    assert not stack.training
    convs = [m for m in stack.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(conv.bias is None for conv in convs)
    with torch.inference_mode():
        out = stack(torch.randn(1, 32, 6, 6))
    assert out.shape == (1, 32, 6, 6)


def test_pconv_slicing_and_split_cat_compute_the_same_function():
    shape, params = StageShape(1, 96, 14, 14), {"partial_ratio": 0.25}
    torch.manual_seed(3)
    slicing = get_operator("pconv").build(shape, params, layers=10)
    torch.manual_seed(3)
    split_cat = get_operator("pconv_split_cat").build(shape, params, layers=10)
    x = torch.randn(2, 96, 14, 14)
    with torch.inference_mode():
        assert torch.equal(slicing(x), split_cat(x))


def test_pconv_convolves_only_the_first_quarter_and_keeps_its_input():
    layer = PartialConv3(16, 4, "slicing").eval()
    x = torch.randn(1, 16, 5, 5)
    before = x.clone()
    with torch.inference_mode():
        y = layer(x)
    assert torch.equal(x, before)  # the clone keeps the input intact
    assert torch.equal(y[:, 4:], x[:, 4:])  # untouched channels pass through
    assert not torch.allclose(y[:, :4], x[:, :4])
    assert layer.partial_conv3.weight.shape == (4, 4, 3, 3)


def test_gconv_and_dwconv_group_counts():
    shape = StageShape(1, 96, 4, 4)
    gconv = get_operator("gconv").build(shape, {"groups": 16}, layers=1)
    dwconv = get_operator("dwconv").build(shape, {}, layers=1)
    assert gconv[0].groups == 16 and gconv[0].weight.shape == (96, 6, 3, 3)
    assert dwconv[0].groups == 96 and dwconv[0].weight.shape == (96, 1, 3, 3)


def test_same_seed_same_weights():
    spec, shape = get_operator("conv"), StageShape(1, 8, 4, 4)
    torch.manual_seed(0)
    a = spec.build(shape, {}, 2)
    torch.manual_seed(0)
    b = spec.build(shape, {}, 2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_checks_reject_shapes_that_do_not_fit():
    assert "not divisible" in get_operator("gconv").check(100, {"groups": 16})
    assert get_operator("gconv").check(96, {"groups": 16}) is None
    assert "no channel" in get_operator("pconv").check(3, {"partial_ratio": 0.25})
    assert "(0, 1]" in get_operator("pconv").check(96, {"partial_ratio": 1.5})


def test_paper_match_needs_the_papers_parameters():
    assert get_operator("gconv").matches_paper({"groups": 16})
    assert not get_operator("gconv").matches_paper({"groups": 8})
    assert get_operator("pconv").matches_paper({"partial_ratio": 0.25})
    assert not get_operator("pwconv").matches_paper({})
