"""One device identity (bench/results/identity.py): calibrations and baselines are named from it."""

from __future__ import annotations

from fbench.bench.results import read_result
from fbench.bench.results.identity import device_identity
from tests.conftest import FIXTURES


def test_calibration_name_is_device_model_and_dtype():
    environment = {"cpu_model": "AMD EPYC 9R14 96-Core Processor"}
    identity = device_identity(environment, "cpu", dtype="float32")
    assert identity.calibration_name() == "cpu-amd-epyc-9r14-96-core-processor-float32"
    gpu = {"cpu_model": "Intel Xeon", "gpu_name": "NVIDIA H100 80GB HBM3"}
    cuda = device_identity(gpu, "cuda", dtype="float16")
    assert cuda.calibration_name() == "cuda-nvidia-h100-80gb-hbm3-float16"
    assert cuda.model == "NVIDIA H100 80GB HBM3" and cuda.cpu_model == "Intel Xeon"


def test_baseline_name_is_board_cpu_device_backend_and_torch():
    environment = {
        "machine": "aarch64",
        "cpu_model": "Cortex-A72",
        "board_model": "Raspberry Pi 4 Model B Rev 1.4",
        "torch": "2.5.1",
    }
    identity = device_identity(environment, "arm", "torch", "float32")
    assert identity.baseline_name() == (
        "raspberry-pi-4-model-b-rev-1.4_cortex-a72_arm_torch_torch-2.5.1"
    )
    # Off a board, the machine names it; the same identity gives the calibration name too.
    x86 = device_identity({**environment, "board_model": None, "machine": "x86_64"}, "cpu")
    assert x86.baseline_name() == "x86_64_cortex-a72_cpu_torch-2.5.1"
    # --accept-difference torch: the same device's baselines under any torch version.
    assert identity.baseline_name_any_torch() == (
        "raspberry-pi-4-model-b-rev-1.4_cortex-a72_arm_torch_torch-*"
    )


def test_a_runs_identity_comes_from_its_environment_and_config():
    run = read_result(FIXTURES / "cpu_table1.json")
    config = run.config
    identity = device_identity(run.environment, config["device"], config["backend"], "float32")
    assert identity.device == "cpu" and identity.backend == "torch"
    assert identity.torch == run.environment["torch"]
