"""Table 1 from stored results: one device's table for `fbench show` (one_device.py), the
table across devices for `fbench report table1` (devices.py), the optional column sets a
device block can carry (columns.py) and what counts in the averages (averages.py)."""
