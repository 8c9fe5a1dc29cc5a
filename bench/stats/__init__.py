"""Statistics of measurements: medians and their intervals, pooling across processes, the
shared per-process effect, sweep precision. Pure functions over numbers; no I/O, no torch."""
