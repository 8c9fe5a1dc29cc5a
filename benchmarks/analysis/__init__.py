"""Analyses that only the research scripts use: the per-process effect, sweep precision and the
backend table of docs/backends.md. Built on fbench's result files; fbench never imports them."""
