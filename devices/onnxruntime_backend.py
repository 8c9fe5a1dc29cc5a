"""The ONNX Runtime backend: export the stack with `torch.onnx.export`, check it, time it.

Why each choice:
- Static shapes and a pinned opset: the graph ORT optimises is then the same every run,
  and a result names exactly what was exported (exporter, opset, torch version).
- The exporter is an option because it decides the graph: the TorchScript exporter turns
  the slicing PConv (clone + in-place slice assignment) into ~43 nodes per layer, the
  dynamo exporter into ~6. FasterNet users met that bloat (JierunChen/FasterNet #16, #30);
  node count and file size are recorded per row so the results show it.
- Parity with torch on the same input before timing: a mismatch fails the row with the
  error, so a fast wrong graph is never reported.
- One intra-op and one inter-op thread, sequential execution, all graph optimisations: the
  paper's single-thread CPU setting, with ORT doing what it does in deployment.
- Exported models are cached (by content: shape, weights, exporter, opset, torch version)
  under the results directory's cache/, because the dynamo export takes seconds per stack.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import os
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fbench.devices.registry import BackendSpec, DeviceSession, PreparedCall, register_backend

EXPORTERS = ("dynamo", "torchscript")
ORT_OPTIONS: dict[str, Any] = {"exporter": "dynamo", "opset": 18}
# Where models go when no results directory is given (tests, `fbench check`).
DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "fbench-onnx-cache"


@dataclass(frozen=True)
class ExportedModel:
    path: Path
    exporter: str
    opset: int
    nodes: int
    op_types: dict[str, int]
    file_bytes: int
    export_s: float | None  # None: taken from the cache

    def details(self) -> dict[str, Any]:
        return {
            "exporter": self.exporter,
            "opset": self.opset,
            "onnx_nodes": self.nodes,
            "onnx_op_types": self.op_types,
            "onnx_file_bytes": self.file_bytes,
            "onnx_export_s": self.export_s,
            "onnx_cached": self.export_s is None,
            "onnx_file": self.path.name,
        }


def model_digest(module: Any, example_input: Any, exporter: str, opset: int) -> str:
    """What determines the exported file: structure, weights, input shape, exporter, torch."""
    import torch

    digest = hashlib.sha256()
    for part in (repr(module), tuple(example_input.shape), exporter, opset, torch.__version__):
        digest.update(repr(part).encode())
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:20]


def export_place(
    module: Any, example_input: Any, cache_dir: Path | None, exporter: str, option: Any
) -> tuple[Any, Any, Path, str, str]:
    """Where an export starts, for the ONNX and the ExecuTorch backends alike: a float32 CPU
    copy of the module (eval mode) and of its input, the cache directory (created), the file
    name's stem (`<first layer>-<input shape>`) and the digest that ends it (model_digest of
    the copy with `exporter` and `option`, the opset or the dtype)."""
    import torch

    module = copy.deepcopy(module).to("cpu", torch.float32).eval()
    example_input = example_input.detach().to("cpu", torch.float32).contiguous()
    directory = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
    directory.mkdir(parents=True, exist_ok=True)
    first = next(iter(module.children()), module)
    stem = f"{type(first).__name__}-{'x'.join(map(str, example_input.shape))}"
    return (
        module,
        example_input,
        directory,
        stem,
        model_digest(module, example_input, exporter, option),
    )


def export_model(
    module: Any, example_input: Any, exporter: str, opset: int, cache_dir: Path | None
) -> ExportedModel:
    """The module exported to ONNX (fp32, CPU, static shapes), from the cache when possible."""
    import onnx
    import torch

    if exporter not in EXPORTERS:
        raise ValueError(f"unknown exporter {exporter!r}; known: {', '.join(EXPORTERS)}")
    module, example_input, directory, stem, digest = export_place(
        module, example_input, cache_dir, exporter, opset
    )
    path = directory / f"{stem}-{exporter}-opset{opset}-{digest}.onnx"

    export_s = None
    if not path.exists():
        handle, temporary = tempfile.mkstemp(suffix=".onnx", dir=directory)
        os.close(handle)
        start = time.perf_counter()
        try:
            # The exporters print progress and warn about things irrelevant to a fixed-shape
            # inference graph; the CLI owns the terminal.
            with (
                contextlib.redirect_stdout(io.StringIO()),
                warnings.catch_warnings(),
                torch.no_grad(),
            ):
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    module,
                    (example_input,),
                    temporary,
                    input_names=["input"],
                    output_names=["output"],
                    opset_version=opset,
                    dynamo=exporter == "dynamo",
                    external_data=False,
                )
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
        export_s = round(time.perf_counter() - start, 3)
    model = onnx.load(str(path), load_external_data=False)
    op_types = Counter(node.op_type for node in model.graph.node)
    return ExportedModel(
        path=path,
        exporter=exporter,
        opset=opset,
        nodes=len(model.graph.node),
        op_types=dict(sorted(op_types.items())),
        file_bytes=path.stat().st_size,
        export_s=export_s,
    )


def create_session(path: Path, torch_device: str, threads: int = 1) -> Any:
    """An InferenceSession with fbench's settings, on the EP matching `torch_device`."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: warnings would go to the CLI's terminal
    provider = (
        "CUDAExecutionProvider" if torch_device.startswith("cuda") else "CPUExecutionProvider"
    )
    session = ort.InferenceSession(str(path), sess_options=options, providers=[provider])
    if session.get_providers()[0] != provider:
        # Never time on the CPU under a cuda label.
        raise RuntimeError(f"onnxruntime did not use {provider} (got {session.get_providers()})")
    return session


def prepare_onnxruntime(
    module: Any, example_input: Any, session: DeviceSession, options: Mapping[str, Any]
) -> PreparedCall:
    import numpy as np
    import torch

    from fbench.bench.parity import output_error, tolerance_for

    if example_input.dtype != torch.float32:
        raise ValueError("the onnxruntime backend exports and runs float32 only")
    exported = export_model(
        module, example_input, options["exporter"], options["opset"], options.get("cache_dir")
    )
    threads = int(getattr(session, "settings", {}).get("threads", 1))
    ort_session = create_session(exported.path, session.torch_device, threads)
    input_name = ort_session.get_inputs()[0].name

    with torch.inference_mode():
        reference = module(example_input)
    if session.torch_device.startswith("cuda"):
        call, output = _cuda_call(ort_session, input_name, example_input, reference)
    else:
        feeds = {input_name: np.ascontiguousarray(example_input.numpy())}

        def call() -> object:
            return ort_session.run(None, feeds)

        output = call()[0]
    error = output_error(reference.detach().cpu().float().numpy(), output)
    tolerance = tolerance_for("float32")
    if not error.within(tolerance):
        raise ValueError(
            f"onnxruntime output differs from torch: {error.describe()} > tolerance "
            f"{tolerance:g} × |ref|"
        )
    return PreparedCall(
        call=call,
        details={
            **exported.details(),
            "execution_provider": ort_session.get_providers()[0],
            "intra_op_threads": threads,
            "inter_op_threads": 1,
            "execution_mode": "sequential",
            "graph_optimization": "ORT_ENABLE_ALL",
            "parity_max_abs_error": error.max_abs,
            "parity_max_rel_error": error.max_rel,
        },
    )


def _cuda_call(ort_session: Any, input_name: str, example_input: Any, reference: Any):
    """Bind input and output to GPU memory so a call times the graph, not host copies."""
    import numpy as np
    import torch

    output = torch.empty_like(reference).contiguous()
    source = example_input.contiguous()
    binding = ort_session.io_binding()
    index = source.device.index or 0
    for bind, name, tensor in (
        (binding.bind_input, input_name, source),
        (binding.bind_output, ort_session.get_outputs()[0].name, output),
    ):
        bind(
            name=name,
            device_type="cuda",
            device_id=index,
            element_type=np.float32,
            shape=tuple(tensor.shape),
            buffer_ptr=tensor.data_ptr(),
        )

    def call() -> object:
        # run_with_iobinding returns when the GPU work is done (ORT synchronises its
        # stream), so CUDA events around a block of calls time the work.
        ort_session.run_with_iobinding(binding)
        return output

    call()
    return call, output.detach().cpu().float().numpy()


def onnxruntime_unavailable(device: str) -> str | None:
    try:
        import onnxruntime as ort
    except ImportError:
        return "the onnxruntime package is not installed"
    providers = ort.get_available_providers()
    if device == "cuda" and "CUDAExecutionProvider" not in providers:
        return (
            f"onnxruntime {ort.__version__} has no CUDAExecutionProvider "
            f"(has {', '.join(providers)}; install onnxruntime-gpu)"
        )
    if device != "cuda" and "CPUExecutionProvider" not in providers:
        return f"onnxruntime {ort.__version__} has no CPUExecutionProvider"
    return None


def _check_options(options: Mapping[str, Any]) -> str | None:
    if options["exporter"] not in EXPORTERS:
        return f"exporter must be one of {', '.join(EXPORTERS)}, got {options['exporter']!r}"
    if not 13 <= options["opset"] <= 23:
        return f"opset must be between 13 and 23, got {options['opset']}"
    if options["exporter"] == "dynamo" and options["opset"] < 18:
        return "the dynamo exporter writes opset 18 or later; use --opset 18 or higher"
    return None


register_backend(
    BackendSpec(
        name="onnxruntime",
        summary="ONNX Runtime, exported by torch.onnx (static shapes, pinned opset), "
        "parity-checked against torch, 1 thread, sequential, ORT_ENABLE_ALL",
        devices=("cpu", "cuda", "arm"),
        prepare=prepare_onnxruntime,
        unavailable_reason=onnxruntime_unavailable,
        options=ORT_OPTIONS,
        check_options=_check_options,
    )
)
