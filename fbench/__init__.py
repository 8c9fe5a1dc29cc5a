"""fbench, the one import name: the command here (cli.py, one module per verb in commands/,
the progress printer), which nothing imports, and the repository's folders mapped under it
(fbench.bench, .operators, .devices, .reports, .networks; docs/CONTRIBUTING.md)."""
