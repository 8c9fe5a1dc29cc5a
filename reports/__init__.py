"""Reports: tables and plots built from stored result files only; they never run a benchmark."""
