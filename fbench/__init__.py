"""The `fbench` command: the parser (cli.py), one module per verb (commands/) and the
terminal progress printer. It imports the pipeline (bench/) and the reports; nothing imports it."""
