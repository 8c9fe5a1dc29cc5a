"""Statistics of measurements: medians and their intervals, pooling across processes. Pure
functions over numbers; no I/O, no torch."""
