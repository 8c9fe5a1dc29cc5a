"""Research scripts (run as `uv run python benchmarks/NAME.py`) and their helpers in
`benchmarks/analysis/`: not part of fbench, which imports nothing from here."""
