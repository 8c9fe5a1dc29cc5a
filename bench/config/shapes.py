"""The feature maps a run measures: bench.toml's [[stages]] and [[shape]] tables, the
--stages and --shape flags, and --quick's smaller maps."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from fbench.bench.config.model import PAPER_STAGES, QUICK_SPATIAL_DIVISOR, Overrides
from fbench.bench.config.toml import known_keys, typed
from fbench.bench.errors import FbenchError
from fbench.operators import StageShape


def run_shapes(raw: Mapping[str, Any], source: str, flags: Overrides) -> tuple[StageShape, ...]:
    """The file's stages and [[shape]] maps, or those the flags pick; one of each map."""
    stages = _stages(raw.get("stages"), source)
    custom_shapes = _custom_shapes(raw.get("shape"), source)
    if flags.stages is not None or flags.shapes is not None:
        # The command line picks the shapes: stages by number, plus --shape feature maps.
        stages = _select_stages(stages, flags.stages, source) if flags.stages is not None else ()
        custom_shapes = tuple(_parse_shape(text, "--shape:") for text in flags.shapes or ())
    return _unique_shapes((*stages, *custom_shapes))


def _stages(raw: Any, source: str) -> tuple[StageShape, ...]:
    if raw is None:
        return tuple(StageShape(i, c, h, w) for i, (c, h, w) in enumerate(PAPER_STAGES, 1))
    if not isinstance(raw, list) or not raw or not all(isinstance(s, dict) for s in raw):
        raise FbenchError(
            f"{source}: [[stages]] must be one or more tables with channels, height, width"
        )
    return tuple(
        StageShape(index, **_feature_map(f"{source}: [[stages]] #{index}", table))
        for index, table in enumerate(raw, 1)
    )


def _feature_map(where: str, table: Mapping[str, Any]) -> dict[str, int]:
    """channels, height and width of a [[stages]] or [[shape]] table, each a positive int."""
    known_keys(where, table, ("channels", "height", "width"))
    values = {}
    for key in ("channels", "height", "width"):
        if key not in table:
            raise FbenchError(f"{where} is missing {key}")
        value = typed(where, key, table[key], (int,))
        if value < 1:
            raise FbenchError(f"{where} {key} must be a positive integer, got {value}")
        values[key] = value
    return values


def _parse_shape(text: str, where: str) -> StageShape:
    """`64x56x56` (or 64×56×56): channels × height × width, recorded as stage 0."""
    parts = text.replace("×", "x").lower().split("x")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 3 or min(values) < 1:
        raise FbenchError(f"{where} expected CHANNELSxHEIGHTxWIDTH like 64x56x56, got {text!r}")
    return StageShape(0, *values)


def _custom_shapes(raw: Any, source: str) -> tuple[StageShape, ...]:
    """[[shape]] tables (channels, height, width): feature maps besides the stages."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise FbenchError(f"{source}: [[shape]] must be one or more tables")
    return tuple(
        StageShape(0, **_feature_map(f"{source}: [[shape]] #{index}", table))
        for index, table in enumerate(raw, 1)
    )


def _unique_shapes(shapes: Sequence[StageShape]) -> tuple[StageShape, ...]:
    """One of each feature map (a custom shape equal to a stage is that stage)."""
    by_size: dict[tuple[int, int, int], StageShape] = {}
    for shape in shapes:
        by_size.setdefault((shape.channels, shape.height, shape.width), shape)
    return tuple(by_size.values())


def _select_stages(
    stages: tuple[StageShape, ...], wanted: Sequence[int], source: str
) -> tuple[StageShape, ...]:
    by_number = {stage.stage: stage for stage in stages}
    for number in wanted:
        if number not in by_number:
            raise FbenchError(
                f"--stages: no stage {number}; {source} defines stages "
                f"{', '.join(map(str, by_number))}"
            )
    return tuple(by_number[number] for number in dict.fromkeys(wanted))


def quick_shapes(stages: tuple[StageShape, ...]) -> tuple[StageShape, ...]:
    """--quick: the stages at a quarter of their height and width (at least 1)."""
    return tuple(
        replace(
            stage,
            height=max(1, math.ceil(stage.height / QUICK_SPATIAL_DIVISOR)),
            width=max(1, math.ceil(stage.width / QUICK_SPATIAL_DIVISOR)),
        )
        if stage.stage  # a custom shape (stage 0) is measured as given
        else stage
        for stage in stages
    )
