"""Rebuild docs/figures/ from examples/results/ with the fbench plot commands.

    uv run python scripts/make-doc-figures.py                # examples/results → docs/figures
    uv run python scripts/make-doc-figures.py --out DIR      # elsewhere (tests use this)

Each figure is a PNG with the CSV of its points beside it (the roofline adds an SVG).
Example files are told apart by their content (schema, suite, depth sweep, device), not
by name, because scripts/make-examples.sh names them by run id.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "results"
FIGURES = ROOT / "docs" / "figures"


@dataclass
class Examples:
    """The example files by kind; `operators` maps a device to its Table 1 run."""

    operators: dict[str, Path] = field(default_factory=dict)
    networks: list[Path] = field(default_factory=list)
    depth: list[Path] = field(default_factory=list)
    calibrations: dict[str, Path] = field(default_factory=dict)  # device → calibration
    unknown: list[Path] = field(default_factory=list)


def find_examples(directory: Path = EXAMPLES) -> Examples:
    found = Examples()
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        schema = str(data.get("schema", ""))
        config = data.get("config") or {}
        if schema.startswith("fbench.calibration/"):
            found.calibrations[data["device"]] = path
        elif not schema.startswith("fbench.result/"):
            found.unknown.append(path)
        elif config.get("suite") == "networks":
            found.networks.append(path)
        elif config.get("layers_sweep"):
            found.depth.append(path)
        else:
            found.operators[config["device"]] = path  # the newest per device (sorted by id)
    return found


def figure_commands(examples: Examples, out: Path) -> list[list[str]]:
    """The fbench command lines that draw every doc figure, in order."""
    png = ["--formats", "png"]  # the SVGs would double the size of docs/figures
    commands = []
    operators = list(examples.operators.values())
    if "cpu" in examples.operators:
        cpu = str(examples.operators["cpu"])
        commands.append(
            ["plot", "operators", cpu, "--paper", *png, "-o", str(out / "operators-cpu")]
        )
    if len(operators) > 1:
        paths = [str(p) for p in operators]
        commands.append(
            ["plot", "operators", *paths, "--paper", *png, "-o", str(out / "operators")]
        )
    for path in examples.networks:
        device = json.loads(path.read_text(encoding="utf-8"))["config"]["device"]
        commands.append(
            ["plot", "figure2", str(path), "--paper", *png, "-o", str(out / f"figure2-{device}")]
        )
    for device, run in examples.operators.items():
        if device in examples.calibrations:
            calibration = str(examples.calibrations[device])
            commands.append(
                [
                    "roofline",
                    str(run),
                    "--calibration",
                    calibration,
                    "--plot",
                    str(out / f"roofline-{device}"),
                ]
            )
    return commands


def build(examples_dir: Path = EXAMPLES, out: Path = FIGURES) -> list[list[str]]:
    """Draw every figure into `out`; raises if a command fails. Returns the commands run."""
    sys.path.insert(0, str(ROOT))
    from fbench.cli import main

    out.mkdir(parents=True, exist_ok=True)
    commands = figure_commands(find_examples(examples_dir), out)
    for command in commands:
        code = main(command)
        if code != 0:
            raise RuntimeError(f"fbench {' '.join(command)} exited {code}")
    return commands


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=Path, default=EXAMPLES)
    parser.add_argument("--out", type=Path, default=FIGURES)
    options = parser.parse_args()
    for command in build(options.examples, options.out):
        print("fbench", " ".join(command))
