"""Benchmarks: run one with ``python -m bench.<name>`` from the project root (not tests)."""
