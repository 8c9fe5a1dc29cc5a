"""Measuring: the in-process runner (sampling rounds, stopping rule), the worker processes
and their protocol, the host probe. Takes a resolved config and its plan; yields result rows."""
