"""Benchmarks that print figures (never pass/fail). `python -m bench --help`."""
