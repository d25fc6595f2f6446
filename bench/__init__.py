"""Benchmarks: run with `make bench`; they write their figures to docs/performance.md."""
