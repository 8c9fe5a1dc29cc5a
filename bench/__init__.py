"""fbench core: configuration, the measurement runner, timing statistics and the result store.

Nothing here imports torch at import time, so `fbench --help` stays instant.
"""

__version__ = "0.1.0"
