"""Benchmarks of rnncells' kernels: `python -m benchmarks.sweep --help` (see README.md)."""
