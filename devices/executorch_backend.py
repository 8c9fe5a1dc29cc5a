"""The ExecuTorch backend: what ships on a Raspberry Pi. The stack is exported with
`torch.export`, lowered with `to_edge_transform_and_lower` and the XNNPACK partitioner, and
`Method.execute` of ExecuTorch's Python runtime is timed with fbench's own warm-up, rounds
and statistics (docs/backends.md).

Why each choice:
- ExecuTorch 1.0.1 links libtorch 2.9, so the backend declares torch 2.9.1 with it
  (`requires`): on x86_64, where the project's torch is newer, the workers run in an
  environment built for it (bench/measure/stack.py); nothing more for the user to type.
- One XNNPACK thread (its threadpool is reset to the device's `threads`), as the paper
  measures the CPU; the count is recorded.
- How many nodes XNNPACK took is recorded; a stack it did not take whole gets a note, since
  then part of it runs in ExecuTorch's portable kernels.
- Parity with eager torch on the same input before timing (int8: with the quantized model
  run in eager torch, which computes what XNNPACK should), as for ONNX Runtime.
- int8 (`--dtype int8`): XNNPACK's quantizer, static, per-channel weights, calibrated on
  random inputs; FLOPs stay the multiply-adds of the float stack.
- Programs (.pte) are cached by content under the results' cache/, as ONNX models are: an
  export takes seconds a stack and every worker process would repeat it.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fbench.devices.onnxruntime_backend import export_place
from fbench.devices.registry import BackendSpec, DeviceSession, PreparedCall, register_backend

EXECUTORCH_VERSION = "1.0.1"
# ExecuTorch 1.0.x requires torch >= 2.9.0, < 2.10 (its Python runtime links libtorch).
TORCH_VERSION = "2.9.1"
DTYPES = ("float32", "int8")
CALIBRATION_BATCHES = 4


def requires(device: str, dtype: str) -> tuple[str, ...]:
    return (f"torch=={TORCH_VERSION}", f"executorch=={EXECUTORCH_VERSION}")


def executorch_unavailable(device: str) -> str | None:
    """Whether this machine can run it: here, or in an environment fbench can build."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("executorch") is not None:
        return None
    if not (os.environ.get("UV") or shutil.which("uv")):
        return (
            f"executorch is not installed and building an environment with it "
            f"(torch {TORCH_VERSION}, executorch {EXECUTORCH_VERSION}) needs uv"
        )
    return None


def _quantized(module: Any, example_input: Any) -> Any:
    """`module` quantised by XNNPACK's quantizer (static, per-channel weights), calibrated
    on random inputs of the example's shape: an eager module computing what XNNPACK should."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False)
    )
    captured = torch.export.export(module, (example_input,)).module()
    prepared = prepare_pt2e(captured, quantizer)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(CALIBRATION_BATCHES):
            prepared(torch.randn(example_input.shape, generator=generator))
    return convert_pt2e(prepared)


def _lower(module: Any, example_input: Any, dtype: str) -> Any:
    """The ExecuTorch program of `module` (quantised first for int8) lowered to XNNPACK."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    if dtype == "int8":
        module = _quantized(module, example_input)
    exported = torch.export.export(module, (example_input,))
    return to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])


def _graph_counts(edge: Any) -> tuple[int, dict[str, int]]:
    """How many XNNPACK delegate calls the lowered graph has, and the ops left outside."""
    delegates, outside = 0, Counter()
    for node in edge.exported_program().graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        name = getattr(node.target, "__name__", str(node.target))
        if "executorch_call_delegate" in name:
            delegates += 1
        elif name != "getitem":
            outside[name] += 1
    return delegates, dict(sorted(outside.items()))


def export_program(
    module: Any, example_input: Any, dtype: str, cache_dir: Path | None
) -> tuple[Path, dict[str, Any], float | None]:
    """The .pte file of the lowered stack (from the cache when possible), what the lowering
    recorded about it, and the export's seconds (None: cached)."""
    module, example_input, directory, stem, digest = export_place(
        module, example_input, cache_dir, f"executorch-{EXECUTORCH_VERSION}", dtype
    )
    path = directory / f"{stem}-xnnpack-{dtype}-{digest}.pte"
    sidecar = path.with_suffix(".json")
    if path.exists() and sidecar.exists():
        return path, json.loads(sidecar.read_text(encoding="utf-8")), None
    start = time.perf_counter()
    edge = _lower(module, example_input, dtype)
    delegates, outside = _graph_counts(edge)
    program = edge.to_executorch()
    info = {"xnnpack_delegates": delegates, "ops_outside_xnnpack": outside}
    for target, text in ((path, None), (sidecar, json.dumps(info))):
        handle, temporary = tempfile.mkstemp(suffix=target.suffix, dir=directory)
        with os.fdopen(handle, "wb") as stream:
            stream.write(program.buffer if text is None else text.encode())
        os.replace(temporary, target)
    return path, info, round(time.perf_counter() - start, 3)


def _reference_output(module: Any, example_input: Any, dtype: str) -> Any:
    import torch

    reference = module
    if dtype == "int8":  # the quantised model in eager torch (the same calibration)
        reference = _quantized(copy.deepcopy(module).to("cpu", torch.float32).eval(), example_input)
    with torch.no_grad():
        return reference(example_input)


def prepare_executorch(
    module: Any, example_input: Any, session: DeviceSession, options: Mapping[str, Any]
) -> PreparedCall:
    import torch

    from fbench.bench.parity import output_error, tolerance_for

    dtype = options.get("dtype") or "float32"
    if example_input.dtype != torch.float32:
        raise ValueError("the executorch backend takes float32 modules (int8: --dtype int8)")
    path, info, export_s = export_program(module, example_input, dtype, options.get("cache_dir"))
    threads = int(getattr(session, "settings", {}).get("threads", 1))
    from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
    from executorch.runtime import Runtime

    _unsafe_reset_threadpool(threads)
    program = Runtime.get().load_program(path)
    method = program.load_method("forward")
    inputs = [example_input.contiguous()]

    def call() -> object:
        return method.execute(inputs)

    output = call()[0]
    reference = _reference_output(module, example_input, dtype)
    error = output_error(reference.detach().float().numpy(), output.detach().float().numpy())
    # int8 against the quantized model in eager torch: the same arithmetic up to the
    # rounding of the requantisation between layers (bench/parity.py's int8 tolerance).
    tolerance = tolerance_for(dtype)
    if not error.within(tolerance):
        raise ValueError(
            f"executorch output differs from torch: {error.describe()} > tolerance "
            f"{tolerance:g} × |ref|"
        )
    notes = []
    if info["ops_outside_xnnpack"]:
        outside = ", ".join(
            f"{name} ×{count}" for name, count in info["ops_outside_xnnpack"].items()
        )
        notes.append(f"XNNPACK did not take the whole stack: {outside} run outside it")
    return PreparedCall(
        call=call,
        details={
            "executorch": EXECUTORCH_VERSION,
            "delegate": "XnnpackPartitioner",
            "quantization": "static per-channel int8 (XNNPACKQuantizer)"
            if dtype == "int8"
            else None,
            "xnnpack_delegates": info["xnnpack_delegates"],
            "ops_outside_xnnpack": info["ops_outside_xnnpack"],
            "pte_file": path.name,
            "pte_file_bytes": path.stat().st_size,
            "export_s": export_s,
            "pte_cached": export_s is None,
            "xnnpack_threads": threads,
            "parity_max_abs_error": error.max_abs,
            "parity_max_rel_error": error.max_rel,
            **({"notes": notes} if notes else {}),
        },
    )


register_backend(
    BackendSpec(
        name="executorch",
        summary=f"ExecuTorch {EXECUTORCH_VERSION} with the XNNPACK delegate (torch "
        f"{TORCH_VERSION}, its own environment where needed), parity-checked, 1 thread; "
        "float32 or int8",
        devices=("cpu", "arm"),
        prepare=prepare_executorch,
        unavailable_reason=executorch_unavailable,
        requires=requires,
        dtypes=DTYPES,
    )
)
