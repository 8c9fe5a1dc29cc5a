"""bench.toml and flags: defaults, overrides, and one clear error per kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from fbench.bench import config
from fbench.bench.errors import FbenchError
from tests.conftest import REPO


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def test_repository_bench_toml_equals_the_built_in_defaults():
    from_file = config.load(REPO / "bench.toml")
    built_in = config.load(None)
    assert from_file.to_dict() | {"source": None} == built_in.to_dict() | {"source": None}


def test_defaults_are_the_papers_table1():
    resolved = config.load(None)
    assert resolved.operators == ("conv", "gconv", "dwconv", "pconv")
    assert [(s.channels, s.height, s.width) for s in resolved.stages] == list(config.PAPER_STAGES)
    assert resolved.layers == 10
    assert resolved.batch == 1
    assert resolved.device_settings["threads"] == 1
    assert resolved.operator_params["gconv"] == {"groups": 16}
    assert resolved.operator_params["pconv"] == {"partial_ratio": 0.25}
    assert resolved.timing.method == "adaptive" and resolved.timing.ci_target == 0.01


def test_round_trip_through_a_result_file_dict():
    resolved = config.load(None, config.Overrides(operators=["pconv", "pwconv"], stages=[2]))
    assert config.RunConfig.from_dict(resolved.to_dict()) == resolved


def test_overrides_select_and_quick_shrinks():
    resolved = config.load(
        None, config.Overrides(operators=["dwconv"], stages=[4, 1], layers=3, quick=True)
    )
    assert resolved.operators == ("dwconv",)
    assert [s.stage for s in resolved.stages] == [4, 1]
    assert [(s.height, s.width) for s in resolved.stages] == [(2, 2), (14, 14)]
    assert resolved.layers == 3  # an explicit --layers wins over --quick's 2
    assert resolved.quick and resolved.timing.max_row_s < 1


def test_method_override():
    assert config.load(None, config.Overrides(method="official")).timing.method == "official"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("[experiment\n", ["invalid TOML", "line 1"]),
        ("[experimnt]\n", ["unknown key 'experimnt'"]),
        ("[experiment]\nlayer = 3\n", ["[experiment]", "unknown key 'layer'"]),
        ("[experiment]\nlayers = 0\n", ["layers must be a positive integer"]),
        ("[experiment]\nlayers = 'ten'\n", ["layers must be an integer"]),
        ("[experiment]\noperators = ['hyperconv']\n", ["unknown operator 'hyperconv'", "known:"]),
        ("[experiment]\noperators = []\n", ["non-empty list"]),
        ("[experiment]\noperators = ['conv', 'conv']\n", ["more than once"]),
        ("[experiment]\ndtype = 'float64'\n", ["dtype must be one of"]),
        ("[experiment]\ndevice = 'tpu'\n", ["unknown device 'tpu'"]),
        ("[[stages]]\nchannels = 96\nheight = 0\nwidth = 56\n", ["height must be a positive"]),
        ("[[stages]]\nchannels = 96\nheight = 56\n", ["missing width"]),
        (
            "[[stages]]\nchannels = 100\nheight = 8\nwidth = 8\n",
            ["gconv at stage 1", "not divisible by 16 groups"],
        ),
        ("[operators.gconv]\ngroups = 7\n", ["not divisible by 7 groups"]),
        ("[operators.pconv]\npartial_ratio = 2.0\n", ["partial_ratio must be in (0, 1]"]),
        ("[operators.pconv]\nratio = 0.5\n", ["[operators.pconv]", "unknown key 'ratio'"]),
        ("[operators.hyperconv]\n", ["unknown operator"]),
        ("[timing]\nci_target = 2\n", ["ci_target must be in (0, 1)"]),
        ("[timing]\nmethod = 'fast'\n", ["method must be"]),
        ("[timing]\nmin_samples = 3\n", ["min_samples must be at least 6"]),
        ("[timing]\nwarmup_min_s = 3.0\nwarmup_max_s = 1.0\n", ["below warmup_min_s"]),
        ("[timing]\nmax_row_s = true\n", ["max_row_s must be a number"]),
        ("[devices.cpu]\nbatch = 0\n", ["batch must be a positive integer"]),
        ("[devices.cpu]\npin_core = 'fast'\n", ["pin_core must be"]),
        ("[devices.cpu]\nmalloc = 'jemalloc'\n", ['malloc must be "steady" or "system"']),
        ("[timing]\nhost_probe = 1\n", ["host_probe must be"]),
        ("[compare]\nhost_tolerance = 2\n", ["host_tolerance must be in (0, 1)"]),
        ("[compare]\nhost_correction = 'yes'\n", ["host_correction must be"]),
        ("[devices.cpu]\nturbo = true\n", ["unknown key 'turbo'"]),
        ("[devices.gpu]\n", ["unknown device"]),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path, text, fragments):
    path = _write(tmp_path, text)
    with pytest.raises(FbenchError) as error:
        config.load(path)
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_unknown_stage_flag_names_the_flag():
    with pytest.raises(FbenchError, match=r"--stages: no stage 5"):
        config.load(None, config.Overrides(stages=[5]))


def test_unknown_operator_flag_names_the_flag():
    with pytest.raises(FbenchError, match=r"--operators: unknown operator 'nope'"):
        config.load(None, config.Overrides(operators=["nope"]))


def test_missing_config_file(tmp_path):
    with pytest.raises(FbenchError, match="config file not found"):
        config.load(tmp_path / "absent.toml")


def test_custom_stage_list_and_ints_accepted_as_floats(tmp_path):
    path = _write(
        tmp_path,
        "[experiment]\noperators = ['pconv']\n[[stages]]\nchannels = 64\nheight = 10\n"
        "width = 12\n[operators.pconv]\npartial_ratio = 1\n[timing]\nmax_row_s = 3\n",
    )
    resolved = config.load(path)
    assert [(s.stage, s.channels, s.height, s.width) for s in resolved.stages] == [(1, 64, 10, 12)]
    assert resolved.operator_params["pconv"]["partial_ratio"] == 1.0
    assert resolved.timing.max_row_s == 3.0
